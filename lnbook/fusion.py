"""The residual add fused with the layer norm that follows it (chapter 15).

A pre-norm block ends with ``h = x + residual`` (the new residual stream) and the next
block starts with ``y = LN(h)``. Run as two operations, the sum is written to memory and
read back at once::

    unfused: read x, read residual, write h  |  read h, write y    = 5 arrays moved
    fused:   read x, read residual, write h and y                  = 4 arrays moved

Both do the same arithmetic; the fused one keeps each block of ``h`` in the CPU's cache
between the add and the norm, so for arrays larger than the cache it moves a fifth fewer
bytes. Real kernels do this: FlashAttention's Triton ``layer_norm_fn(x, weight, bias,
residual=..., prenorm=True)`` returns ``(y, h)``, vLLM's ``fused_add_rms_norm`` writes both
in place. :func:`add_layer_norm` is the NumPy version, blocked over rows with the row-block
kernel of :func:`lnbook.numpy_ln.layer_norm`; :func:`compiled_add_layer_norm` asks
``torch.compile`` for the same fusion.

This module needs NumPy only; the torch functions import torch when called.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from contextlib import nullcontext

import numpy as np

from . import numpy_ln
from ._validate import check_int, check_nd_shape
from .numpy_ln import _check_out, _layer_norm_rows, _prepare, _row_blocks

__all__ = [
    "ARRAYS_MOVED",
    "add_layer_norm",
    "add_layer_norm_unfused",
    "add_norm_runs",
    "alternate",
    "format_fused",
    "bytes_moved",
    "compiled_add_layer_norm",
    "generated_kernels",
]

# Arrays of x's size that cross main memory, at the least, for one add + layer norm.
ARRAYS_MOVED = {"unfused": 5, "fused": 4}


def bytes_moved(shape: Sequence[int], itemsize: int, kind: str) -> int:
    """The bytes an add + layer norm of ``shape`` must move at least: :data:`ARRAYS_MOVED`
    arrays of ``prod(shape) * itemsize`` bytes (weight and bias are negligible)."""
    if kind not in ARRAYS_MOVED:
        raise ValueError(f"kind must be one of {tuple(ARRAYS_MOVED)}, got {kind!r}")
    check_int("itemsize", itemsize, 1)
    return ARRAYS_MOVED[kind] * math.prod(shape) * itemsize


def _check_residual(x: np.ndarray, residual) -> np.ndarray:
    residual = np.asarray(residual)
    if residual.shape != x.shape:
        raise ValueError(f"residual must have x's shape {x.shape}, got {residual.shape}")
    if residual.dtype != x.dtype:
        raise TypeError(f"residual has dtype {residual.dtype} but x has dtype {x.dtype}")
    return residual


def add_layer_norm(
    x: np.ndarray,
    residual: np.ndarray,
    normalized_shape: int | Sequence[int],
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    eps: float = 1e-5,
    *,
    out: np.ndarray | None = None,
    residual_out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``h = x + residual`` and ``y = layer_norm(h)``, in one pass over blocks of rows.

    Parameters
    ----------
    x, residual : (..., *normalized_shape) float32 or float64 arrays of one dtype
        The sublayer's output and the residual stream it joins.
    normalized_shape, weight, bias, eps
        As in :func:`lnbook.numpy_ln.layer_norm`.
    out, residual_out : arrays of x's shape and dtype, C-contiguous, optional
        Where to write ``y`` and ``h`` (fresh arrays if not given). Neither may overlap
        ``x`` or ``residual``.

    Returns
    -------
    y : the layer norm of the sum (``out``)
    h : the sum, the new residual stream (``residual_out``): a pre-norm block adds to it
    """
    x, shape, _, weight, bias = _prepare(x, normalized_shape, weight, bias, eps)
    residual = _check_residual(x, residual)
    y = _check_out("out", out, x)
    h = _check_out("residual_out", residual_out, x)
    if np.may_share_memory(y, h) or any(
        np.may_share_memory(o, i) for o in (y, h) for i in (x, residual)
    ):
        raise ValueError("out and residual_out must be separate arrays, apart from x and residual")
    d = math.prod(shape)
    x2, r2 = np.ascontiguousarray(x).reshape(-1, d), np.ascontiguousarray(residual).reshape(-1, d)
    h2, y2 = h.reshape(-1, d), y.reshape(-1, d)  # (N, D) views
    w = None if weight is None else weight.reshape(d)
    b = None if bias is None else bias.reshape(d)
    # One block of rows at a time: the block of h just written is still in the cache when
    # the norm reads it, so h crosses main memory once (written), not twice.
    for rows in _row_blocks(len(x2), d * x2.itemsize):
        np.add(x2[rows], r2[rows], out=h2[rows])
        _layer_norm_rows(h2[rows], y2[rows], w, b, x.dtype.type(eps))
    return y, h


def add_layer_norm_unfused(
    x: np.ndarray,
    residual: np.ndarray,
    normalized_shape: int | Sequence[int],
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    eps: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray]:
    """The same as :func:`add_layer_norm`, as two operations: NumPy's add over the whole
    array, then :func:`lnbook.numpy_ln.layer_norm` over the whole sum."""
    x = numpy_ln._as_float_array("x", x)
    residual = _check_residual(x, residual)
    h = x + residual  # written to memory in full ...
    return numpy_ln.layer_norm(h, normalized_shape, weight, bias, eps), h  # ... and read back


def _add_layer_norm_torch(x, residual, weight, bias, eps: float = 1e-5):
    """The plain function ``torch.compile`` is given: the add, then torch's layer norm."""
    import torch.nn.functional as F

    h = x + residual
    return F.layer_norm(h, h.shape[-1:], weight, bias, eps), h


def compiled_add_layer_norm() -> Callable:
    """``torch.compile`` of ``h = x + residual; y = F.layer_norm(h)``: a function of
    ``(x, residual, weight, bias, eps)`` returning ``(y, h)``. It compiles on its first call
    (seconds on a CPU: Inductor writes C++ and compiles it), and again for a new shape."""
    from ._optional import require_torch

    torch = require_torch()
    return torch.compile(_add_layer_norm_torch, dynamic=False)


def generated_kernels(fn: Callable, *args) -> list[str]:
    """The names of the kernels Inductor generated for ``fn(*args)`` (``fn`` compiled by
    :func:`compiled_add_layer_norm`, and this its first call): ``cpp_fused_...`` on a CPU,
    ``triton_...`` on a GPU. The name lists the operations fused into that kernel.

    On an x86 CPU with AVX2, Inductor is told to use AVX2 without first testing which
    vector instructions work: that test compiles a C++ program for each candidate (AMX,
    AVX-512, AVX2), and on a cold start it took about four fifths of the first call here.
    ``cpp.vec_isa_ok`` is the option that skips it; the CPU's own flags still decide.
    """
    import torch._inductor.config as inductor_config
    from torch._inductor import cpu_vec_isa
    from torch._inductor.utils import run_and_get_code

    skip_test = "avx2" in cpu_vec_isa.x86_isa_checker()  # the CPU's flags, read from the OS
    options = {"cpp.vec_isa_ok": True, "cpp.simdlen": 256} if skip_test else {}
    with inductor_config.patch(options):
        _, sources = run_and_get_code(fn, *args)
    cpu_vec_isa.valid_vec_isa_list.cache_clear()  # later compiles test as usual
    return [k for src in sources for k in re.findall(r"^(cpp_fused_\w+|triton_\w+) = ", src, re.M)]


def add_norm_runs(
    shape: tuple[int, int] = (4096, 1024),
    *,
    backend: str = "numpy",
    seed: int = 0,
    device: str = "cpu",
) -> dict:
    """What :func:`lnbook.fusion.alternate` times for chapter 15: residual add +
    layer norm of float32 ``shape``, unfused and fused, as calls without arguments.

    ``backend="numpy"``: :func:`add_layer_norm` against NumPy's add then
    :func:`lnbook.numpy_ln.layer_norm`, both writing into the same preallocated outputs (no
    page faults in either). ``backend="torch"``: torch eager (``x + r`` then
    ``F.layer_norm``) against :func:`compiled_add_layer_norm`, compiled here, for one
    thread, by a first call whose generated kernels are kept. ``device``: where the torch
    tensors live (``"cuda"`` for ``python -m lnbook.bench --device cuda``; NumPy runs on
    the CPU only).

    Returns
    -------
    dict: ``unfused``, ``fused``: callables; for torch also ``compile_s`` (the seconds of
    the compiling call) and ``kernels`` (:func:`generated_kernels` of that call)
    """
    if backend not in ("numpy", "torch"):
        raise ValueError(f"backend must be 'numpy' or 'torch', got {backend!r}")
    if backend == "numpy" and device != "cpu":
        raise ValueError(f"backend 'numpy' runs on the CPU only, got device={device!r}")
    n, d = check_nd_shape("shape", shape)
    rng = np.random.default_rng(seed)
    x, r = (rng.standard_normal((n, d)).astype(np.float32) for _ in range(2))
    w = rng.uniform(0.5, 1.5, d).astype(np.float32)
    b = rng.standard_normal(d).astype(np.float32)
    if backend == "numpy":
        y, h = np.empty_like(x), np.empty_like(x)

        def unfused():
            np.add(x, r, out=h)
            numpy_ln.layer_norm(h, d, w, b, out=y)

        return {
            "unfused": unfused,
            "fused": lambda: add_layer_norm(x, r, d, w, b, out=y, residual_out=h),
        }
    import time

    import torch

    tx, tr, tw, tb = (torch.from_numpy(a).to(device) for a in (x, r, w, b))
    fn = compiled_add_layer_norm()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # Inductor writes the thread count into the kernel: time it on one
    try:
        start = time.perf_counter()
        kernels = generated_kernels(fn, tx, tr, tw, tb)  # the first call compiles
    finally:
        torch.set_num_threads(threads)
    return {
        "unfused": lambda: _add_layer_norm_torch(tx, tr, tw, tb),
        "fused": lambda: fn(tx, tr, tw, tb),
        "compile_s": time.perf_counter() - start,
        "kernels": kernels,
    }


def alternate(
    runs: dict, timer: Callable, *, repeats: int = 3, within: Callable = nullcontext, **timer_args
) -> dict:
    """Each callable of ``runs`` timed ``repeats`` times by ``timer(fn, **timer_args)``
    (seconds per call), taking turns, so that a slow spell of a shared machine falls on
    every one of them alike, all inside the context ``within()`` (the chapter passes
    :func:`lnbook.bench.median_seconds` and :func:`lnbook.bench.single_thread`). Entries of
    ``runs`` that are not callable pass through.

    Returns
    -------
    dict: name -> (repeats,) array of seconds per call, and the passed-through entries
    """
    if not isinstance(runs, dict):
        raise TypeError(f"runs must be a dict of name -> callable, got {type(runs).__name__}")
    if not (isinstance(repeats, int) and repeats >= 1):
        raise ValueError(f"repeats must be an int >= 1, got {repeats!r}")
    calls = {k: v for k, v in runs.items() if callable(v)}
    times: dict = {k: [] for k in calls}
    with within():
        for _ in range(repeats):
            for key, fn in calls.items():
                times[key].append(timer(fn, **timer_args))
    return {**runs, **{k: np.asarray(v) for k, v in times.items()}}


def format_fused(shape: Sequence[int], costs: dict) -> str:
    """Timings of the residual add + layer norm, fused and unfused (``costs``: backend ->
    :func:`alternate` of :func:`lnbook.fusion.add_norm_runs`), as lines of text."""
    n, d = shape
    lines = [f"Residual add + layer norm, {n}x{d} float32, one thread: fused vs unfused"]
    for backend, t in costs.items():
        ratios = ", ".join(f"{v:.2f}" for v in t["unfused"] / t["fused"])
        lines.append(f"  {backend}: unfused {1e3 * np.median(t['unfused']):.2f} ms, fused "
                     f"{1e3 * np.median(t['fused']):.2f} ms; unfused/fused {ratios}")  # fmt: skip
    return "\n".join(lines)
