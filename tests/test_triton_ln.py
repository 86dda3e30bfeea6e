"""The Triton layer norm (lnbook.triton_ln): its refusals, and its kernels against torch.

Without a GPU the kernels run in Triton's interpreter (TRITON_INTERPRET=1, which executes them
on CPU tensors with NumPy), in a subprocess, so that the variable, read when triton is
imported, cannot leak into other tests; on a machine with a CUDA GPU the same checks run the
compiled kernels too. The oracle is torch.nn.functional.layer_norm in float64 on the same
inputs, forward and gradients.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from lnbook import triton_ln

ROOT = Path(__file__).resolve().parents[1]


def test_available_says_why_not_without_triton_or_a_gpu(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    a = triton_ln.available()
    assert not a and "triton is not installed" in a.reason and triton_ln.TRITON_VERSION in a.reason
    monkeypatch.undo()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    a = triton_ln.available()
    assert not a and ("no CUDA device" in a.reason or "triton is not installed" in a.reason)


def test_layer_norm_refuses_a_cpu_tensor_outside_the_interpreter(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    x = torch.randn(4, 8)
    with pytest.raises(RuntimeError, match="needs x on a CUDA device, got x on cpu"):
        triton_ln.layer_norm(x, 8)


def test_layer_norm_refuses_bad_arguments_before_launching(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # past the device check; nothing launches
    with pytest.raises(TypeError, match="float32, float16 or bfloat16"):
        triton_ln.layer_norm(torch.randn(4, 8, dtype=torch.float64), 8)
    with pytest.raises(ValueError, match="65536 bytes"):
        triton_ln.layer_norm(torch.randn(2, 16385), 16385)  # 64 KiB + 4 bytes of float32
    with pytest.raises(ValueError, match="normalized_shape"):
        triton_ln.layer_norm(torch.randn(4, 8), 7)
    with pytest.raises(ValueError, match="weight must have shape"):
        triton_ln.layer_norm(torch.randn(4, 8), 8, torch.ones(4))


# Run in a fresh interpreter, on CPU tensors with TRITON_INTERPRET=1 or on a GPU.
# Tolerances: against float64 rounded to the dtype, the kernels (float32 inside) may differ
# by about one unit in the last place of the dtype (rtol 2 eps) plus float32's own rounding
# near zero (atol).
INTERPRETER_CHECKS = textwrap.dedent(
    """
    import os
    import sys
    import torch
    import torch.nn.functional as F
    import lnbook, lnbook.bench
    from lnbook import triton_ln

    assert "triton" not in sys.modules, "importing lnbook imported triton"
    DEVICE = os.environ["LNBOOK_TEST_DEVICE"]  # cpu: Triton's interpreter; cuda: compiled
    assert triton_ln.interpreting() == (DEVICE == "cpu")
    ATOL = {torch.float32: 1e-5, torch.float16: 1e-5, torch.bfloat16: 1e-4}

    def check(shape, normalized_shape, dtype, affine=True, seed=0):
        g = torch.Generator().manual_seed(seed)
        d = normalized_shape
        x = (3 + 2 * torch.randn(shape, generator=g)).to(DEVICE, dtype)  # an offset: centring
        w = (0.5 + torch.rand(d, generator=g)).to(DEVICE, dtype) if affine else None
        b = torch.randn(d, generator=g).to(DEVICE, dtype) if affine else None
        dy = torch.randn(shape, generator=g).to(DEVICE, dtype)
        leaves = [t for t in (x, w, b) if t is not None]
        for t in leaves:
            t.requires_grad_(True)
        y = triton_ln.layer_norm(x, d, w, b, 1e-5)
        grads = torch.autograd.grad(y, leaves, dy)
        ref = [t.detach().double().requires_grad_(True) for t in leaves]
        r = dict(zip(("x", "w", "b"), ref))
        y64 = F.layer_norm(r["x"], d, r.get("w"), r.get("b"), 1e-5)
        grads64 = torch.autograd.grad(y64, ref, dy.double())
        tol = dict(rtol=2 * torch.finfo(dtype).eps if dtype != torch.float32 else 1e-5,
                   atol=ATOL[dtype])
        assert y.dtype == dtype and y.shape == x.shape
        for name, got, want in zip(("y", "dx", "dgamma", "dbeta"), (y, *grads), (y64, *grads64)):
            torch.testing.assert_close(got, want.to(dtype), **tol,
                                       msg=lambda m: f"{name} {dtype} {shape}: {m}")

    # 15 rows: four backward programs of 4, 4, 4 and 3 rows; 37 features: padded lanes.
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        check((3, 5, 37), (37,), dtype)
    check((4, 2, 8), (2, 8), torch.float32, seed=1)  # two normalized axes
    check((6, 16), (16,), torch.float32, affine=False, seed=2)  # no weight, no bias
    y = triton_ln.layer_norm(torch.randn(0, 8, device=DEVICE), 8)  # an empty batch
    assert y.shape == (0, 8)

    # The benchmark's runner of the Triton row: each pass, the backward run twice on one
    # graph (as the timing rounds do), against F.layer_norm's.
    import numpy as np
    from lnbook import bench

    rng = np.random.default_rng(3)
    x, dy = (rng.standard_normal((8, 16)).astype(np.float32) for _ in range(2))
    w, b = rng.uniform(0.5, 1.5, 16).astype(np.float32), rng.standard_normal(16).astype(np.float32)
    native = next(i for i in bench.IMPLS if i.name == "PyTorch, F.layer_norm")
    for pass_ in bench.PASSES:
        run = bench._torch_runner(bench.KERNEL_IMPLS[0], pass_, x, w, b, dy, DEVICE)
        ref = bench._torch_runner(native, pass_, x, w, b, dy, DEVICE)()
        as_list = (lambda out: [out]) if pass_ == "forward" else list
        for got in (run(), run()):
            for g, r in zip(as_list(got), as_list(ref), strict=True):
                torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-5)
    print("kernel checks passed")
    """
)


def _run_checks(device: str) -> None:
    path = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
    env = {**os.environ, "PYTHONPATH": path, "LNBOOK_TEST_DEVICE": device}
    env.pop("TRITON_INTERPRET", None)
    if device == "cpu":
        env["TRITON_INTERPRET"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", INTERPRETER_CHECKS],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "kernel checks passed" in done.stdout


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton not installed")
def test_kernels_match_torch_in_the_interpreter_forward_and_backward():
    _run_checks("cpu")


@pytest.mark.skipif(not triton_ln.available(), reason="needs a CUDA GPU and triton")
def test_kernels_match_torch_on_the_gpu_forward_and_backward():
    _run_checks("cuda")  # the same checks, compiled for the GPU
