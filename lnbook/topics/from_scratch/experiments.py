"""Chapter 3's experiments: checking a hand-written layer norm, and where one can go wrong.

:func:`layer_norm_one_pass` is the pitfall the chapter shows (the one-pass variance) and
:func:`variance_pitfall` measures it against the two-pass form as the data's offset grows;
:func:`finite_difference_grad` is the independent check of a hand-derived backward pass.
NumPy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ... import numpy_ln
from ..._validate import check_floats, check_int, check_size, float_array
from ...data import activations


def layer_norm_one_pass(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Layer norm over the last axis with the *one-pass* variance ``E[x^2] - E[x]^2``.

    Shown in the book as a pitfall, never used elsewhere: in float32 the two terms are
    huge and nearly equal when the data has a large offset, and their difference loses
    every significant digit (it can even come out negative, giving NaN).

    Parameters
    ----------
    x : (..., D) array
    eps : float

    Returns
    -------
    y : array of x's shape and dtype
    """
    x = float_array(x)  # an array as it is; a list, ints as float64; ragged rows refused
    mu = x.mean(axis=-1, keepdims=True)  # (..., 1)
    var = (x * x).mean(axis=-1, keepdims=True) - mu * mu  # (..., 1), catastrophic cancellation
    with np.errstate(invalid="ignore"):  # a negative var gives NaN: that is the lesson
        return (x - mu) / np.sqrt(var + x.dtype.type(eps))


def variance_pitfall(
    offsets: Sequence[float],
    *,
    n_examples: int = 64,
    n_features: int = 256,
    shown_features: int = 32,
    eps: float = 1e-5,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """One-pass vs two-pass layer norm in float32, as the data's offset grows.

    For each offset the same unit-variance noise is shifted by the offset and rounded to
    float32. The reference is layer norm in float64 *of that float32 input*, so the errors
    measure the algorithm, not the rounding of the input.

    Returns
    -------
    dict with
        offsets : (K,)
        err_one_pass, err_two_pass : (K,) worst absolute error of the normalized values
            (a NaN counts as an infinite error)
        err_one_pass_finite : (K,) worst one-pass error over the examples that are not NaN
        nan_one_pass : (K,) fraction of examples whose one-pass output is NaN
        x_hat_ref, x_hat_one_pass, x_hat_two_pass : (K, shown_features) first example's
            normalized features, for plotting
    """
    offsets = np.asarray(check_floats("offsets", offsets), dtype=np.float64)
    n_features = check_size("n_features", n_features)  # named here, not as normalized_shape
    check_size("n_examples", n_examples)
    check_int("shown_features", shown_features, 1)
    ref_rows, one_rows, two_rows = [], [], []
    err_one, err_one_finite, err_two, nan_one = [], [], [], []
    for offset in offsets:
        x32 = activations(n_examples, n_features, offset=offset, dtype=np.float32, seed=seed)
        ref = numpy_ln.layer_norm(x32.astype(np.float64), n_features, eps=eps)
        one = layer_norm_one_pass(x32, eps)
        two = numpy_ln.layer_norm(x32, n_features, eps=eps)
        # NaN counts as an infinitely wrong answer, not as a skipped one.
        err_one.append(np.nan_to_num(np.abs(one - ref), nan=np.inf).max())
        err_two.append(np.abs(two - ref).max())
        finite = ~np.isnan(one).any(axis=-1)  # (n_examples,)
        err_one_finite.append(np.abs(one[finite] - ref[finite]).max() if finite.any() else np.nan)
        nan_one.append(1.0 - finite.mean())
        ref_rows.append(ref[0, :shown_features])
        one_rows.append(one[0, :shown_features])
        two_rows.append(two[0, :shown_features])
    return {
        "offsets": offsets,
        "err_one_pass": np.array(err_one),
        "err_one_pass_finite": np.array(err_one_finite),
        "err_two_pass": np.array(err_two),
        "nan_one_pass": np.array(nan_one),
        "x_hat_ref": np.array(ref_rows),
        "x_hat_one_pass": np.array(one_rows),
        "x_hat_two_pass": np.array(two_rows),
    }


def finite_difference_grad(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar function ``f`` at ``x`` (float64).

    ``dL/dx[i] ~ (f(x + h e_i) - f(x - h e_i)) / (2 h)``, one coordinate at a time: slow
    (two calls of ``f`` per element) but independent of any derivation, which is what makes
    it a good check of a hand-written backward pass.

    Parameters
    ----------
    f : callable taking an array of x's shape and returning a float
    x : float64 array
    h : float, the step

    Returns
    -------
    grad : array of x's shape
    """
    if not callable(f):
        raise TypeError(f"f must be callable (the loss as a function of x), got {type(f).__name__}")
    x = np.array(x, dtype=np.float64)  # a copy we may perturb in place
    grad = np.empty_like(x)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + h
        f_plus = _scalar_loss(f(x))
        x[i] = saved - h
        f_minus = _scalar_loss(f(x))
        x[i] = saved
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def _scalar_loss(value):
    """``f``'s value, or a ValueError when it is not one number: a loss that forgot its
    ``.sum()`` returns an array, which NumPy would refuse deep inside the loop."""
    if np.ndim(value) != 0:
        raise ValueError(
            "f must return one number (a scalar loss); it returned an array of shape "
            f"{np.shape(value)}: sum or average it"
        )
    try:
        float(value)
    except (TypeError, ValueError):
        raise TypeError(f"f must return one number (a scalar loss), got {value!r}") from None
    return value  # as it is: a float32 loss keeps float32's differences
