"""Layer norm as two Triton kernels, a fused forward and a fused backward, for a CUDA GPU.

``layer_norm`` has the signature of ``torch.nn.functional.layer_norm`` and a hand-written
backward (an ``autograd.Function`` launching the backward kernel). It runs only where Triton
and a CUDA device are present; :func:`available` says whether, and why not.

The kernels follow Triton's tutorial "Layer Normalization" (``python/tutorials/05-layer-norm.py``
in triton-lang/triton): one program per row, statistics in float32 whatever the input's dtype,
``mean`` and ``rstd`` saved for the backward, whose two row sums are the tutorial's ``c1`` and
``c2``. Two choices differ from it. The forward loads a row once and keeps it in registers
(the tutorial's kernel reads it three times, in one loop over the row each for the mean, the
variance and the output). The
backward sums ``dgamma`` and ``dbeta`` over a strip of rows per program into float32 partial
sums, added up by torch afterwards: no locks and no atomics, so the sums come out the same on
every run (the tutorial's locked accumulation adds rows in whatever order the programs reach
the lock).

Importing this module imports torch, never triton: triton is imported at the first launch,
so ``import lnbook`` stays cheap and ``TRITON_INTERPRET=1`` (Triton's interpreter, which runs
the kernels on CPU tensors with NumPy, slowly: the tests use it) can still be set before then.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

from ._optional import torch_missing

try:
    import torch
    from torch import Tensor
except ImportError as e:  # the browser edition: say where this module runs instead
    raise torch_missing("lnbook.triton_ln") from e

from .torch_ln import _check_inputs  # the same argument checks as the book's torch layer norm

__all__ = ["Availability", "LayerNormFunction", "available", "interpreting", "layer_norm"]

# The Triton that torch 2.13's CUDA wheels require (their metadata pins triton==3.7.1).
TRITON_VERSION = "3.7.1"
DTYPES = (torch.float32, torch.float16, torch.bfloat16)
# A row is one block of registers: at most 64 KiB of it, as in the tutorial.
MAX_ROW_BYTES = 65536
# Backward programs per streaming multiprocessor: each sums a strip of rows. Not tuned on a GPU
# (none was available when this was written): `python -m lnbook.bench --device cuda` measures it.
PROGRAMS_PER_SM = 4

tl = None  # triton.language, bound at the first launch (see _kernels)


@dataclass(frozen=True)
class Availability:
    """Whether the Triton path can run here (``bool(a)``), and ``reason`` when it cannot."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


def interpreting() -> bool:
    """True when Triton's interpreter is asked for (``TRITON_INTERPRET=1``): the kernels then
    run on CPU tensors, with NumPy, for testing."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def available() -> Availability:
    """Can the Triton kernels run on a GPU here? Checks, without importing triton, that it is
    installed and that torch sees a CUDA device."""
    if importlib.util.find_spec("triton") is None:
        return Availability(
            False, f"triton is not installed (pip install triton=={TRITON_VERSION})"
        )
    if not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        return Availability(False, f"no CUDA device (torch {torch.__version__}, {build})")
    return Availability(True)


def _forward_kernel(X, Y, W, B, Mean, Rstd, stride, D, eps, BLOCK_D: tl.constexpr):
    """One program normalizes one row of ``X`` (D values, padded to BLOCK_D lanes)."""
    row = tl.program_id(0).to(tl.int64)  # int64: row * stride can pass 2**31 on a big batch
    cols = tl.arange(0, BLOCK_D)
    mask = cols < D
    # The row is read from memory once; everything after happens in registers, in float32.
    x = tl.load(X + row * stride + cols, mask=mask, other=0.0).to(tl.float32)
    mu = tl.sum(x, axis=0) / D
    xc = tl.where(mask, x - mu, 0.0)  # the padding lanes must not enter the variance
    var = tl.sum(xc * xc, axis=0) / D  # two passes over registers: no E[x^2] - mu^2
    rstd = 1 / tl.sqrt(var + eps)
    gamma = tl.load(W + cols, mask=mask).to(tl.float32)  # shared by every row: from cache
    beta = tl.load(B + cols, mask=mask).to(tl.float32)
    y = xc * rstd * gamma + beta
    # Two float32 per row for the backward, then the output, written once.
    tl.store(Mean + row, mu)
    tl.store(Rstd + row, rstd)
    tl.store(Y + row * stride + cols, y.to(Y.dtype.element_ty), mask=mask)


def _backward_kernel(
    X, DY, DX, W, Mean, Rstd, DW, DB, stride, N, D, rows_per_program, BLOCK_D: tl.constexpr
):
    """One program computes dx for a strip of rows and its partial sums of dgamma, dbeta."""
    program = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK_D)
    mask = cols < D
    gamma = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
    dgamma = tl.zeros([BLOCK_D], dtype=tl.float32)  # this strip's share, kept in registers
    dbeta = tl.zeros([BLOCK_D], dtype=tl.float32)
    first = program * rows_per_program
    for row in range(first, tl.minimum(first + rows_per_program, N)):
        x = tl.load(X + row * stride + cols, mask=mask, other=0.0).to(tl.float32)
        dy = tl.load(DY + row * stride + cols, mask=mask, other=0.0).to(tl.float32)
        mu = tl.load(Mean + row)
        rstd = tl.load(Rstd + row)
        x_hat = tl.where(mask, (x - mu) * rstd, 0.0)  # recomputed: cheaper than storing it
        g = dy * gamma
        # The backward's two row sums (chapter 3): c1 = mean(x_hat * g), c2 = mean(g).
        c1 = tl.sum(x_hat * g, axis=0) / D
        c2 = tl.sum(g, axis=0) / D
        dx = (g - (x_hat * c1 + c2)) * rstd
        tl.store(DX + row * stride + cols, dx.to(DX.dtype.element_ty), mask=mask)
        dgamma += dy * x_hat
        dbeta += dy
    tl.store(DW + program * D + cols, dgamma, mask=mask)
    tl.store(DB + program * D + cols, dbeta, mask=mask)


@functools.cache
def _kernels():
    """Import triton (at the first launch, never at import) and compile-wrap the kernels."""
    global tl
    import triton
    import triton.language

    tl = triton.language  # the kernels' `tl`, read when triton compiles them
    return triton, triton.jit(_forward_kernel), triton.jit(_backward_kernel)


def _check_device(x: Tensor) -> None:
    if x.is_cuda or (x.device.type == "cpu" and interpreting()):
        return
    why = available().reason or "it runs on CUDA tensors"
    raise RuntimeError(
        f"Triton's layer norm needs x on a CUDA device, got x on {x.device} ({why}); "
        "TRITON_INTERPRET=1, set before triton is imported, runs it on CPU tensors, slowly"
    )


def _launch_shape(d: int, itemsize: int) -> tuple[int, int]:
    """The block of lanes holding one row, and the warps per program (the tutorial's rule)."""
    block = 1 << max(d - 1, 0).bit_length()  # the next power of two >= d
    if block * itemsize > MAX_ROW_BYTES:
        raise ValueError(
            f"a row of {d} values of {itemsize} bytes is over the {MAX_ROW_BYTES} bytes one "
            "program holds in registers; use torch.nn.functional.layer_norm"
        )
    return block, min(max(block // 256, 1), 8)


class LayerNormFunction(torch.autograd.Function):
    """Rows of ``x`` (N, D) normalized by the forward kernel; the backward kernel's dx and
    partial dgamma, dbeta (their sum over programs is taken here). ``launch``: the block of
    lanes per row and the warps per program (:func:`_launch_shape`)."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor, eps: float, launch) -> Tensor:
        _, forward_kernel, _ = _kernels()
        n, d = x.shape
        block, warps = launch
        y = torch.empty_like(x)
        mean = torch.empty(n, dtype=torch.float32, device=x.device)
        rstd = torch.empty(n, dtype=torch.float32, device=x.device)
        if n:  # an empty batch: nothing to launch
            forward_kernel[(n,)](x, y, weight, bias, mean, rstd, x.stride(0), d, eps,
                                 BLOCK_D=block, num_warps=warps)  # fmt: skip
        ctx.save_for_backward(x, weight, mean, rstd)
        ctx.launch = launch
        return y

    @staticmethod
    def backward(ctx, dy: Tensor):
        triton, _, backward_kernel = _kernels()
        x, weight, mean, rstd = ctx.saved_tensors
        block, warps = ctx.launch
        n, d = x.shape
        dy = dy.contiguous()
        sms = torch.cuda.get_device_properties(x.device).multi_processor_count if x.is_cuda else 1
        # A strip of rows per program: enough programs to fill the GPU, few partial sums.
        rows_per_program = triton.cdiv(n, max(1, min(n, PROGRAMS_PER_SM * sms)))
        programs = triton.cdiv(n, rows_per_program) if n else 0
        dx = torch.empty_like(x)
        dw = torch.zeros(max(programs, 1), d, dtype=torch.float32, device=x.device)
        db = torch.zeros_like(dw)
        if programs:
            backward_kernel[(programs,)](x, dy, dx, weight, mean, rstd, dw, db, x.stride(0),
                                         n, d, rows_per_program,
                                         BLOCK_D=block, num_warps=warps)  # fmt: skip
        dgamma = dw.sum(0).to(weight.dtype) if ctx.needs_input_grad[1] else None
        dbeta = db.sum(0).to(weight.dtype) if ctx.needs_input_grad[2] else None
        return dx, dgamma, dbeta, None, None


def layer_norm(
    x: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer norm with the semantics of ``torch.nn.functional.layer_norm``, in Triton.

    Parameters
    ----------
    x : (..., *normalized_shape) float32, float16 or bfloat16 CUDA tensor (a CPU tensor under
        ``TRITON_INTERPRET=1``); statistics in float32, output in x's dtype
    normalized_shape : int or tuple of int; its product D times x's itemsize <= 64 KiB
    weight, bias : (*normalized_shape) tensors of x's dtype, optional
    eps : float, finite and >= 0

    Returns
    -------
    y : tensor of x's shape and dtype, differentiable through the backward kernel.
    """
    dims = _check_inputs(x, normalized_shape, weight, bias, eps)
    if x.dtype not in DTYPES:
        raise TypeError(f"x must be float32, float16 or bfloat16 for Triton, got {x.dtype}")
    _check_device(x)
    d = math.prod(x.shape[dims[0] :]) if dims else 1
    launch = _launch_shape(d, x.element_size())  # refuses a row too long for one program
    x2 = x.contiguous().reshape(-1, d)  # (N, D): the kernels see rows
    # Absent parameters become ones and zeros: one kernel, not four variants.
    ones = torch.ones(d, dtype=x.dtype, device=x.device)
    w = ones if weight is None else weight.reshape(d).contiguous()  # the kernels read stride 1
    b = torch.zeros_like(ones) if bias is None else bias.reshape(d).contiguous()
    return LayerNormFunction.apply(x2, w, b, float(eps), launch).reshape(x.shape)
