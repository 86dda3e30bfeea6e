"""Layer norm, RMSNorm and batch norm from scratch in NumPy.

Every function mirrors the signature and semantics of its ``torch.nn.functional`` namesake,
so torch can serve as the test oracle. Inputs are float32 or float64 arrays; the output has
the input's dtype.

Notation (used in the book's derivation too), for one example's ``D`` normalized values::

    mu    = mean(x)                     # per-example mean
    var   = mean((x - mu)**2)           # biased variance (divide by N, not N - 1)
    rstd  = 1 / sqrt(var + eps)         # eps inside the square root, as torch does
    x_hat = (x - mu) * rstd             # zero mean, unit variance
    y     = gamma * x_hat + beta        # learned scale (weight) and shift (bias)
"""

from __future__ import annotations

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


def _as_float_array(name: str, a) -> np.ndarray:
    """Return ``a`` as an ndarray, refusing integer, bool and complex data."""
    a = np.asarray(a)
    if a.dtype not in _FLOATS:
        raise TypeError(f"{name} must be a float32 or float64 array, got dtype {a.dtype}")
    return a


def _check_param(name: str, p, x: np.ndarray, expected: tuple[int, ...]) -> np.ndarray | None:
    """Validate an optional per-feature parameter: float array, exact shape, x's dtype."""
    if p is None:
        return None
    p = _as_float_array(name, p)
    check_param_shape(name, p.shape, expected)
    if p.dtype != x.dtype:
        # Mixing would silently upcast the output; torch refuses it too.
        raise TypeError(f"{name} has dtype {p.dtype} but x has dtype {x.dtype}; they must match")
    return p


def _prepare(x, normalized_shape, weight, bias, eps, *, allow_none_eps=False):
    """Shared input checks; returns (x, normalized_shape tuple, axes, weight, bias)."""
    x = _as_float_array("x", x)
    shape = check_normalized_shape(x.shape, normalized_shape)
    weight = _check_param("weight", weight, x, shape)
    bias = _check_param("bias", bias, x, shape)
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
    """

    x_hat: np.ndarray
    mean: np.ndarray
    rstd: np.ndarray
    weight: np.ndarray | None
    has_bias: bool
    axes: tuple[int, ...]


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
    x : (..., *normalized_shape) float32 or float64 array
    normalized_shape : int or tuple of int
        The trailing dimensions of ``x`` to normalize over.
    weight, bias : (*normalized_shape) arrays of x's dtype, optional
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
    cache = LayerNormCache(x_hat, mu, rstd, weight, bias is not None, axes)
    return y.astype(x.dtype, copy=False), cache


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
    dx : array of x's shape
    dweight, dbias : (*normalized_shape) arrays, or None where weight/bias was None
    """
    if not isinstance(cache, LayerNormCache):
        raise TypeError(
            f"cache must be the LayerNormCache from layer_norm_forward, got {type(cache).__name__}"
        )
    x_hat, rstd, axes = cache.x_hat, cache.rstd, cache.axes
    dy = _as_float_array("dy", dy)
    if dy.shape != x_hat.shape:
        raise ValueError(f"dy must have the output's shape {x_hat.shape}, got {dy.shape}")
    if dy.dtype != x_hat.dtype:
        # Mixing would give gradients of mixed dtypes (dx cast back, dweight upcast).
        raise TypeError(f"dy has dtype {dy.dtype} but the forward ran in {x_hat.dtype}")
    batch_axes = tuple(range(x_hat.ndim - len(axes)))  # every axis that is not normalized

    g = dy if cache.weight is None else dy * cache.weight  # dL/dx_hat
    c1 = (x_hat * g).mean(axis=axes, keepdims=True)  # (..., 1, ..., 1)
    c2 = g.mean(axis=axes, keepdims=True)  # (..., 1, ..., 1)
    dx = rstd * (g - c2 - x_hat * c1)

    dweight = None if cache.weight is None else (dy * x_hat).sum(axis=batch_axes)
    dbias = dy.sum(axis=batch_axes) if cache.has_bias else None
    return dx.astype(x_hat.dtype, copy=False), dweight, dbias


def layer_norm(
    x: np.ndarray,
    normalized_shape: int | Sequence[int],
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    eps: float = 1e-5,
) -> np.ndarray:
    """Layer norm with the semantics of ``torch.nn.functional.layer_norm``.

    See :func:`layer_norm_forward` for the parameters; this returns only ``y``.
    """
    y, _ = layer_norm_forward(x, normalized_shape, weight, bias, eps)
    return y


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
    x : (..., *normalized_shape) float32 or float64 array
    normalized_shape : int or tuple of int
    weight : (*normalized_shape) array of x's dtype, optional
    eps : float or None
        ``None`` means ``np.finfo(x.dtype).eps``, as in torch. Must be finite and >= 0.

    Returns
    -------
    y : array of x's shape and dtype
    """
    x, shape, axes, weight, _ = _prepare(
        x, normalized_shape, weight, None, eps, allow_none_eps=True
    )
    eps = np.finfo(x.dtype).eps if eps is None else eps
    ms = (x * x).mean(axis=axes, keepdims=True)  # mean square, (..., 1, ..., 1)
    y = x * (1.0 / np.sqrt(ms + x.dtype.type(eps)))
    if weight is not None:
        y = y * weight
    return y.astype(x.dtype, copy=False)


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
    x : (N, C, *) float32 or float64 array
    running_mean, running_var : (C,) arrays of x's dtype, or None
        In training they are updated **in place**:
        ``running = (1 - momentum) * running + momentum * batch_stat``, where the variance
        stored is the unbiased one (divide by n - 1) while the variance used to normalize
        is the biased one, as torch does. In evaluation (``training=False``) they are used
        to normalize; there they must be given.
    weight, bias : (C,) arrays of x's dtype, optional
    training : bool
    momentum : float in [0, 1]
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
