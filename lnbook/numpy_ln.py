"""Layer norm, RMSNorm and batch norm from scratch in NumPy.

Every function mirrors the signature and semantics of its ``torch.nn.functional`` namesake,
so torch can serve as the test oracle. Inputs are float32 or float64 arrays; the output has
the input's dtype. Layer norm and RMSNorm also take float16 and bfloat16 (``ml_dtypes``'
bfloat16, which NumPy lacks) and compute their statistics in float32, as torch's kernels do.

Notation (used in the book's derivation too), for one example's ``D`` normalized values::

    mu    = mean(x)                     # per-example mean
    var   = mean((x - mu)**2)           # biased variance (divide by N, not N - 1)
    rstd  = 1 / sqrt(var + eps)         # eps inside the square root, as torch does
    x_hat = (x - mu) * rstd             # zero mean, unit variance
    y     = gamma * x_hat + beta        # learned scale (weight) and shift (bias)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._validate import check_eps, check_momentum, check_normalized_shape, check_param_shape

__all__ = [
    "LayerNormCache",
    "batch_norm",
    "group_norm",
    "instance_norm",
    "layer_norm",
    "layer_norm_backward",
    "layer_norm_forward",
    "rms_norm",
]

_FLOATS = (np.float32, np.float64)


def _is_half(dtype: np.dtype) -> bool:
    """float16, or bfloat16 (an ``ml_dtypes`` type: NumPy sees it by name, kind 'V')."""
    return dtype == np.float16 or dtype.name == "bfloat16"


def _as_float_array(name: str, a, *, half: bool = False) -> np.ndarray:
    """Return ``a`` as an ndarray, refusing integer, bool and complex data (and float16 and
    bfloat16 unless ``half``)."""
    a = np.asarray(a)
    if a.dtype not in _FLOATS and not (half and _is_half(a.dtype)):
        kinds = "float16, bfloat16, float32 or float64" if half else "float32 or float64"
        raise TypeError(f"{name} must be a {kinds} array, got dtype {a.dtype}")
    return a


def _check_param(name: str, p, x: np.ndarray, expected: tuple[int, ...]) -> np.ndarray | None:
    """Validate an optional per-feature parameter: float array, exact shape, x's dtype (or
    float32 beside a float16 or bfloat16 x: torch's "mixed" layer norm, on CPU and GPU)."""
    if p is None:
        return None
    p = _as_float_array(name, p, half=True)
    check_param_shape(name, p.shape, expected)
    if p.dtype != x.dtype and not (_is_half(x.dtype) and p.dtype == np.float32):
        # Mixing would silently upcast the output; torch refuses it too.
        raise TypeError(f"{name} has dtype {p.dtype} but x has dtype {x.dtype}; they must match")
    return p


def _prepare(x, normalized_shape, weight, bias, eps, *, allow_none_eps=False):
    """Shared input checks; returns (x, normalized_shape tuple, axes, weight, bias)."""
    x = _as_float_array("x", x, half=True)
    shape = check_normalized_shape(x.shape, normalized_shape)
    weight = _check_param("weight", weight, x, shape)
    bias = _check_param("bias", bias, x, shape)
    if weight is not None and bias is not None and weight.dtype != bias.dtype:
        raise TypeError(f"weight ({weight.dtype}) and bias ({bias.dtype}) must have one dtype")
    check_eps(eps, allow_none=allow_none_eps)
    axes = tuple(range(x.ndim - len(shape), x.ndim))  # the normalized (trailing) axes
    return x, shape, axes, weight, bias


@dataclass(frozen=True)
class LayerNormCache:
    """What the forward pass keeps for the backward pass.

    Attributes
    ----------
    x_hat : (..., *normalized_shape)
        The normalized input, ``(x - mean) * rstd``.
    mean, rstd : (..., 1, ..., 1)
        Per-example mean and reciprocal standard deviation, with the normalized axes kept
        as size 1 so they broadcast against ``x``.
    weight : (*normalized_shape) or None
    has_bias : bool
    axes : tuple of int
        The normalized (trailing) axes of ``x``.
    dtype, param_dtype : np.dtype or None
        x's dtype and the parameters' (None: ``x_hat``'s). A float16 or bfloat16 forward
        keeps ``x_hat``, ``mean``, ``rstd`` and ``weight`` in float32.
    """

    x_hat: np.ndarray
    mean: np.ndarray
    rstd: np.ndarray
    weight: np.ndarray | None
    has_bias: bool
    axes: tuple[int, ...]
    dtype: np.dtype | None = None
    param_dtype: np.dtype | None = None


def layer_norm_forward(
    x: np.ndarray,
    normalized_shape: int | Sequence[int],
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    eps: float = 1e-5,
) -> tuple[np.ndarray, LayerNormCache]:
    """Layer norm forward pass that also returns the cache for :func:`layer_norm_backward`.

    Parameters
    ----------
    x : (..., *normalized_shape) float16, bfloat16, float32 or float64 array
        float16 and bfloat16 are normalized in float32 and the result rounded back once.
    normalized_shape : int or tuple of int
        The trailing dimensions of ``x`` to normalize over.
    weight, bias : (*normalized_shape) arrays of x's dtype (or both float32 for a float16
        or bfloat16 x), optional
        gamma and beta. ``None`` means 1 and 0.
    eps : float
        Added to the variance inside the square root. Must be finite and >= 0 (torch also
        accepts a negative eps; here it is an error, because it can make ``var + eps``
        negative).

    Returns
    -------
    y : array of x's shape and dtype
    cache : LayerNormCache
    """
    x, shape, axes, weight, bias = _prepare(x, normalized_shape, weight, bias, eps)
    x_dtype, p_dtype = x.dtype, (weight if weight is not None else bias)
    p_dtype = x_dtype if p_dtype is None else p_dtype.dtype
    # float16's x*x overflows past 256 and its sums lose digits: statistics in float32.
    x, weight, bias = (
        None if a is None else a.astype(_compute(a.dtype)) for a in (x, weight, bias)
    )
    # Shift every example by its first value before averaging. For data with a large common
    # offset (1e4 + noise) the subtraction x - x0 is exact (Sterbenz lemma), so the
    # statistics below are computed on O(1) numbers and keep full float32 accuracy.
    # A constant example becomes exactly zero: x_hat = 0 and y = bias (with eps = 0 it is
    # 0/0 = NaN, as in torch: eps is what makes it finite).
    x0 = x[(Ellipsis,) + (slice(0, 1),) * len(axes)]  # (..., 1, ..., 1)
    s = x - x0
    s_mean = s.mean(axis=axes, keepdims=True)  # (..., 1, ..., 1)
    xc = s - s_mean  # centred input, x - mu (two-pass: never E[x^2] - E[x]^2)
    var = (xc * xc).mean(axis=axes, keepdims=True)  # biased variance
    rstd = 1.0 / np.sqrt(var + x.dtype.type(eps))  # (..., 1, ..., 1)
    x_hat = xc * rstd
    y = x_hat
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    mu = x0 + s_mean
    cache = LayerNormCache(x_hat, mu, rstd, weight, bias is not None, axes, x_dtype, p_dtype)
    return y.astype(x_dtype, copy=False), cache


def _compute(dtype: np.dtype) -> np.dtype:
    """The dtype the statistics are computed in: float32 for float16 and bfloat16."""
    return np.dtype(np.float32) if _is_half(dtype) else dtype


def layer_norm_backward(
    dy: np.ndarray, cache: LayerNormCache
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Hand-derived layer norm backward pass.

    With ``g = dy * gamma`` (the gradient reaching ``x_hat``) and means over the ``D``
    normalized values of each example::

        c1 = mean(x_hat * g)
        c2 = mean(g)
        dx = rstd * (g - c2 - x_hat * c1)

    ``c2`` removes the part of ``g`` that would shift the mean (which normalization
    ignores) and ``x_hat * c1`` the part that would change the scale.

    Parameters
    ----------
    dy : array of y's shape and dtype
        Gradient of the loss with respect to the output ``y``.
    cache : LayerNormCache
        From :func:`layer_norm_forward`.

    Returns
    -------
    dx : array of x's shape and dtype (the sums are taken in float32 for half inputs)
    dweight, dbias : (*normalized_shape) arrays of the parameters' dtype, or None where
        weight/bias was None
    """
    if not isinstance(cache, LayerNormCache):
        raise TypeError(
            f"cache must be the LayerNormCache from layer_norm_forward, got {type(cache).__name__}"
        )
    x_hat, rstd, axes = cache.x_hat, cache.rstd, cache.axes
    x_dtype = x_hat.dtype if cache.dtype is None else cache.dtype
    p_dtype = x_dtype if cache.param_dtype is None else cache.param_dtype
    dy = _as_float_array("dy", dy, half=True)
    if dy.shape != x_hat.shape:
        raise ValueError(f"dy must have the output's shape {x_hat.shape}, got {dy.shape}")
    if dy.dtype != x_dtype:
        # Mixing would give gradients of mixed dtypes (dx cast back, dweight upcast).
        raise TypeError(f"dy has dtype {dy.dtype} but the forward ran in {x_dtype}")
    dy = dy.astype(x_hat.dtype, copy=False)  # float32 for a half forward, as x_hat
    # The examples as one batch axis: (M, *normalized_shape), views where possible.
    shape = x_hat.shape[x_hat.ndim - len(axes) :]
    x_hat, dy = x_hat.reshape(-1, *shape), dy.reshape(-1, *shape)
    rstd = rstd.reshape(-1, *(1,) * len(shape))
    axes = tuple(range(1, 1 + len(shape)))  # the normalized axes, now after the batch axis
    weight = cache.weight
    dx = np.empty_like(x_hat)
    dweight = None if weight is None else np.zeros(shape, x_hat.dtype)
    dbias = np.zeros(shape, x_hat.dtype) if cache.has_bias else None

    # A block of examples at a time, so that the temporaries stay in the CPU's cache
    # (chapter 8); the formula is the same for every block.
    for b in _row_blocks(len(x_hat), math.prod(shape) * x_hat.itemsize):
        g = dy[b] if weight is None else dy[b] * weight  # dL/dx_hat
        c1 = (x_hat[b] * g).mean(axis=axes, keepdims=True)  # (B, 1, ..., 1)
        c2 = g.mean(axis=axes, keepdims=True)  # (B, 1, ..., 1)
        dx[b] = rstd[b] * (g - c2 - x_hat[b] * c1)
        if dweight is not None:
            dweight += (dy[b] * x_hat[b]).sum(axis=0)
        if dbias is not None:
            dbias += dy[b].sum(axis=0)
    dweight, dbias = (
        None if g is None else g.astype(p_dtype, copy=False) for g in (dweight, dbias)
    )
    return dx.reshape(cache.x_hat.shape).astype(x_dtype, copy=False), dweight, dbias


# The signature of torch.nn.functional.layer_norm, as layer_norm_forward's: a deliberate
# parallel, so the implementations are interchangeable and torch is the oracle.
def layer_norm(
    x: np.ndarray,
    normalized_shape: int | Sequence[int],
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    eps: float = 1e-5,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Layer norm with the semantics of ``torch.nn.functional.layer_norm``, fast and accurate.

    The same computation as :func:`layer_norm_forward` (which is written to be read, and
    keeps a cache for the backward pass), organized for memory: layer norm does a few
    operations per value, so its time goes into moving data, and NumPy runs every operation
    as a separate pass over its arrays. Here the passes run over blocks of rows small
    enough to stay in the CPU's cache, so the whole array crosses main memory about twice
    (x read, y written) instead of once per operation. Each row's result depends on that
    row alone, bit for bit, whatever else is in the batch (row sums are taken row by row
    with ``einsum``; a BLAS matrix-vector product would be a little faster, but it groups
    rows and its rounding then depends on the neighbours).

    For accuracy, the variance is the two-pass one with a residual-mean correction (Chan,
    Golub and LeVeque): after subtracting the computed mean, the mean ``r`` of what is left
    is the mean's own rounding error, and ``var = mean(xc**2) - r**2``, ``x_hat = (xc - r) *
    rstd``. On float32 data with a large offset (``1e4 + randn``) that keeps the output
    accurate to about 1e-6, where a kernel that rounds the mean is off by about 1e-3.

    Parameters
    ----------
    x, normalized_shape, weight, bias, eps
        As in :func:`layer_norm_forward`.
    out : array of x's shape and dtype, C-contiguous, optional
        Where to write ``y`` (``out=x`` normalizes in place). Reusing an output array
        avoids allocating a fresh one per call, which for large arrays costs page faults.
        A float16 or bfloat16 ``x`` is normalized in a float32 copy, then rounded into it.

    Returns
    -------
    y : array of x's shape and dtype (``out`` if given)
    """
    x, shape, axes, weight, bias = _prepare(x, normalized_shape, weight, bias, eps)
    out = _check_out("out", out, x)
    if np.may_share_memory(out, x) and not (
        out.__array_interface__["data"] == x.__array_interface__["data"]
        and out.strides == x.strides
    ):
        raise ValueError("out overlaps x only partly; pass out=x or a separate array")
    d = math.prod(shape)
    x2, y2 = np.ascontiguousarray(x).reshape(-1, d), out.reshape(-1, d)  # (N, D) views
    w, b = (None if a is None else a.reshape(d).astype(_compute(a.dtype)) for a in (weight, bias))
    if _is_half(x.dtype):  # the kernel in float32, rounded to x's dtype once at the end
        y32 = x2.astype(np.float32)
        _layer_norm_rows(y32, y32, w, b, np.float32(eps))
        y2[...] = y32
    else:
        _layer_norm_rows(x2, y2, w, b, x.dtype.type(eps))
    return out


# Input bytes per block: with the block's output beside it, well inside a 1 MiB L2 cache.
_BLOCK_BYTES = 1 << 18


def _check_out(name: str, a, x: np.ndarray) -> np.ndarray:
    """An output array given by the caller (``out=``): x's shape and dtype, C-contiguous,
    writeable; a new one where none is given."""
    if a is None:
        return np.empty(x.shape, x.dtype)
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(a).__name__}")
    if a.shape != x.shape or a.dtype != x.dtype:
        raise ValueError(
            f"{name} must have x's shape {x.shape} and dtype {x.dtype}, "
            f"got shape {a.shape} and dtype {a.dtype}"
        )
    if not a.flags.c_contiguous or not a.flags.writeable:
        raise ValueError(f"{name} must be a writeable, C-contiguous array")
    return a


def _row_blocks(n: int, row_bytes: int) -> list[slice]:
    """Slices of ``n`` rows, each block about ``_BLOCK_BYTES`` (at least one row)."""
    rows = max(1, _BLOCK_BYTES // max(1, row_bytes))
    return [slice(start, start + rows) for start in range(0, n, rows)]


def _layer_norm_rows(x, y, weight, bias, eps, *, correct: bool = True) -> None:
    """The kernel of :func:`layer_norm`: ``x``, ``y`` (N, D); ``weight``, ``bias`` (D,).

    ``correct=False`` skips the residual-mean correction (chapter 8 times what it costs).
    """
    n, d = x.shape
    inv_d = x.dtype.type(1.0 / d)
    for b in _row_blocks(n, d * x.itemsize):
        xb, yb = x[b], y[b]  # (B, D) blocks
        mu = np.einsum("ij->i", xb)  # (B,) row sums, one pass, no temporary
        mu *= inv_d
        np.subtract(xb, mu[:, None], out=yb)  # xc, exact where x and mu are close
        var = np.einsum("ij,ij->i", yb, yb)  # (B,) sum of squares, without a temporary
        var *= inv_d
        r = None
        if correct:
            r = np.einsum("ij->i", yb)  # (B,) the rounding error left in the mean
            r *= inv_d
            var -= r * r  # the corrected two-pass variance: mean(xc**2) - mean(xc)**2
            np.maximum(var, 0, out=var)  # rounding must not make a constant row negative
        rstd = 1.0 / np.sqrt(var + eps)
        if r is not None:
            # Subtract r only from rows where it shows at the dtype's resolution, relative
            # to the row's spread (a constant row always gets it, and comes out exactly 0);
            # where no row needs it (data without a large offset), skip the pass.
            # Subtracting 0 leaves a row's bits as they are, so each row's result still
            # depends on that row alone.
            r[np.abs(r) <= np.finfo(x.dtype).eps * np.sqrt(var)] = 0
            if r.any():
                yb -= r[:, None]
        yb *= rstd[:, None]
        if weight is not None:
            yb *= weight
        if bias is not None:
            yb += bias


def rms_norm(
    x: np.ndarray,
    normalized_shape: int | Sequence[int],
    weight: np.ndarray | None = None,
    eps: float | None = None,
) -> np.ndarray:
    """RMSNorm with the semantics of ``torch.nn.functional.rms_norm``.

    ``y = x / sqrt(mean(x**2) + eps) * weight``: no mean subtraction and no bias.

    Parameters
    ----------
    x : (..., *normalized_shape) float16, bfloat16, float32 or float64 array (the first two
        normalized in float32, as for :func:`layer_norm_forward`)
    normalized_shape : int or tuple of int
    weight : (*normalized_shape) array of x's dtype (or float32 for a half x), optional
    eps : float or None
        ``None`` means the machine epsilon of the dtype the statistics are computed in, as
        in torch: x's for float32 and float64, float32's for float16 and bfloat16 (not
        bfloat16's 2**-7). Must be finite and >= 0.

    Returns
    -------
    y : array of x's shape and dtype
    """
    x, shape, axes, weight, _ = _prepare(
        x, normalized_shape, weight, None, eps, allow_none_eps=True
    )
    x_dtype = x.dtype  # eps=None: finfo of the compute dtype (float32 for half), as torch
    eps = np.finfo(_compute(x_dtype)).eps if eps is None else eps
    x, weight = (None if a is None else a.astype(_compute(a.dtype)) for a in (x, weight))
    ms = (x * x).mean(axis=axes, keepdims=True)  # mean square, (..., 1, ..., 1)
    y = x * (1.0 / np.sqrt(ms + x.dtype.type(eps)))
    if weight is not None:
        y = y * weight
    return y.astype(x_dtype, copy=False)


def _channel_affine(y: np.ndarray, weight, bias) -> np.ndarray:
    """Per-channel scale and shift of a (N, C, *) array (batch, group, instance norm)."""
    bshape = (1, y.shape[1]) + (1,) * (y.ndim - 2)  # (1, C, 1, ...) broadcasts against y
    if weight is not None:
        y = y * weight.reshape(bshape)
    if bias is not None:
        y = y + bias.reshape(bshape)
    return y


def batch_norm(
    x: np.ndarray,
    running_mean: np.ndarray | None,
    running_var: np.ndarray | None,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> np.ndarray:
    """Batch norm with the semantics of ``torch.nn.functional.batch_norm``.

    Statistics are per channel (axis 1), taken over the batch axis 0 and every axis after
    the channel axis: across *examples*, which is the point of contrast with layer norm.

    Parameters
    ----------
    x : (N, C, *) float32 or float64 array, at least 2-D. A deliberate difference from
        torch: ``F.batch_norm`` returns an empty output for *any* empty input, a 1-D
        ``(0,)`` included, without checking it (it returns before looking at the shapes, so
        running statistics of any length pass too); a 1-D x has no channel axis, so here it
        is an error, empty or not (``torch.nn.BatchNorm1d`` refuses 1-D input as well).
    running_mean, running_var : (C,) arrays of x's dtype, or None
        In training they are updated **in place**:
        ``running = (1 - momentum) * running + momentum * batch_stat``, where the variance
        stored is the unbiased one (divide by n - 1) while the variance used to normalize
        is the biased one, as torch does. In evaluation (``training=False``) they are used
        to normalize; there they must be given.
    weight, bias : (C,) arrays of x's dtype, optional
    training : bool
    momentum : float in [0, 1]. A deliberate difference from torch, which accepts any
        float: outside [0, 1] the update is no longer an average of the old and the batch
        statistic but an extrapolation, so ``running_var`` can turn negative (momentum 2
        does it for a batch whose variance is below half the running one) and evaluation
        then returns NaN. Here it is an error, like a negative eps.
    eps : float, finite and >= 0. Two deliberate differences from torch: a negative eps is
        an error here (torch accepts it), and eps = 0 is allowed in training (torch refuses
        it), which the book uses to compute exact invariances.

    Returns
    -------
    y : array of x's shape and dtype
    """
    x = _as_float_array("x", x)
    if training:
        for name, r in (("running_mean", running_mean), ("running_var", running_var)):
            if r is not None and not isinstance(r, np.ndarray):
                # np.asarray would copy a list, and the in-place update would be lost.
                raise TypeError(
                    f"{name} must be a NumPy array (it is updated in place in training), "
                    f"got {type(r).__name__}"
                )
    if x.ndim < 2:
        raise ValueError(f"x must have shape (N, C, *) with at least 2 dimensions, got {x.shape}")
    C = x.shape[1]
    weight = _check_param("weight", weight, x, (C,))
    bias = _check_param("bias", bias, x, (C,))
    running_mean = _check_param("running_mean", running_mean, x, (C,))
    running_var = _check_param("running_var", running_var, x, (C,))
    check_eps(eps)
    check_momentum(momentum)
    axes = (0,) + tuple(range(2, x.ndim))  # everything except the channel axis
    bshape = (1, C) + (1,) * (x.ndim - 2)  # per-channel values broadcast against x

    if training:
        n = x.size // C if C else 0  # values per channel
        if n <= 1:
            raise ValueError(
                "batch_norm in training needs more than 1 value per channel, "
                f"got x.shape = {x.shape}"
            )
        # As in layer norm: shift each channel by its first value, so a large common offset
        # costs no float32 accuracy (x - x0 is exact), then take two-pass statistics.
        x0 = x[(slice(0, 1), slice(None)) + (slice(0, 1),) * (x.ndim - 2)]  # (1, C, 1, ...)
        s = x - x0
        s_mean = s.mean(axis=axes, keepdims=True)  # (1, C, 1, ...)
        xc = s - s_mean
        var = (xc * xc).mean(axis=axes)  # (C,), biased, used to normalize
        mu = (x0 + s_mean).reshape(C)  # (C,)
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mu
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += momentum * var * (n / (n - 1))  # unbiased, as torch stores it
    else:
        if running_mean is None or running_var is None:
            raise ValueError(
                "batch_norm in evaluation (training=False) needs running_mean and running_var"
            )
        mu, var = running_mean, running_var
        xc = x - mu.reshape(bshape)

    y = xc * (1.0 / np.sqrt(var + x.dtype.type(eps))).reshape(bshape)
    return _channel_affine(y, weight, bias).astype(x.dtype, copy=False)


def group_norm(
    x: np.ndarray,
    num_groups: int,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    eps: float = 1e-5,
) -> np.ndarray:
    """Group norm with the semantics of ``torch.nn.functional.group_norm``.

    The C channels are split into ``num_groups`` groups of consecutive channels; each
    example's each group is normalized over its channels and all positions (Wu and He,
    2018). With one group this is layer norm over (C, *); with C groups, instance norm.

    Parameters
    ----------
    x : (N, C, *) float32 or float64 array
    num_groups : int dividing C
    weight, bias : (C,) arrays of x's dtype, optional: a scale and shift per *channel*
    eps : float, finite and >= 0

    Returns
    -------
    y : array of x's shape and dtype
    """
    x = _as_float_array("x", x)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (N, C, *) with at least 2 dimensions, got {x.shape}")
    n, c = x.shape[:2]
    if isinstance(num_groups, bool) or not isinstance(num_groups, int | np.integer):
        raise TypeError(f"num_groups must be an int, got {type(num_groups).__name__}")
    if num_groups < 1 or c % num_groups:
        raise ValueError(
            f"num_groups must be a positive divisor of the {c} channels of x "
            f"(x.shape = {x.shape}), got {num_groups}"
        )
    weight = _check_param("weight", weight, x, (c,))
    bias = _check_param("bias", bias, x, (c,))
    check_eps(eps)
    # Each (example, group) is one row: layer norm of the rows is group norm.
    per_group = (c // num_groups) * int(np.prod(x.shape[2:], dtype=np.int64))
    if per_group == 1:
        # Statistics of a single value are meaningless (its variance is 0); torch refuses too.
        raise ValueError(
            f"group_norm needs more than 1 value per group, got x.shape = {x.shape} "
            f"with num_groups = {num_groups}"
        )
    rows = x.reshape(n, num_groups, per_group)  # (N, G, C/G * prod(*)); N may be 0
    y = layer_norm(rows, rows.shape[-1], eps=eps).reshape(x.shape)
    return _channel_affine(y, weight, bias).astype(x.dtype, copy=False)


def instance_norm(
    x: np.ndarray,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    eps: float = 1e-5,
) -> np.ndarray:
    """Instance norm: each example's each channel normalized over its positions.

    The semantics of ``torch.nn.functional.instance_norm`` with its defaults (statistics
    of the input itself, no running statistics). It is :func:`group_norm` with one group
    per channel.

    Parameters
    ----------
    x : (N, C, *) float32 or float64 array, with at least one position (* non-empty)
    weight, bias : (C,) arrays of x's dtype, optional
    eps : float, finite and >= 0
    """
    x = _as_float_array("x", x)
    if x.ndim < 3:
        raise ValueError(
            f"x must have shape (N, C, L, ...) with at least 3 dimensions, got {x.shape}"
        )
    return group_norm(x, x.shape[1], weight, bias, eps)
