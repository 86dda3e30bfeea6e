"""Checkers of chapter 15's exercises on reduced precision: what eps and sums become in
float16 and bfloat16 (:func:`half_predictions`, truth computed with NumPy's float16 and
this topic's bfloat16 rounding), and a layer norm that takes float16 and keeps float32
statistics (:func:`layer_norm_half`, judged against ``torch.nn.functional.layer_norm``,
whose CPU kernel computes float16 statistics in float32).

The layer norm's input has a row whose squares overflow float16 (|x| ~ 300), a row of
offset 2000 (where E[x^2] - E[x]^2 in float32 loses the variance) and a row of tiny spread
(where eps shows), so that statistics in float16, the one-pass formula and a lost eps each
fail. The checker harness: :mod:`lnbook.checking`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..._optional import require_torch
from ...checking import (
    CORRECT,
    Verdict,
    as_array,
    call,
    checker,
    compare,
    ln_rows,
    numpy_of,
    predictions,
    shape_of,
    wrong,
)

HALF_QUESTIONS = {
    "eps = 1e-5 written in float16 is a normal float16 number": "eps5_normal",
    "eps = 1e-8 written in float16 is exactly 0": "eps8_zero",
    "eps = 1e-8 written in bfloat16 is exactly 0": "eps8_zero_bf16",
    "In float16, 1.0 + 1e-5 equals 1.0": "absorbed",
    "300.0 squared in float16 is inf": "square_overflow",
    "In float16, 2048.0 + 1.0 equals 2049.0": "stall",
}


@predictions(
    HALF_QUESTIONS,
    "Hint: compute each with NumPy: `np.float16(1e-5)`, `np.finfo(np.float16).tiny`, "
    "`np.float16(300.0) ** 2`, `np.float16(2048.0) + np.float16(1.0)`; "
    'bfloat16 with `experiments.round_to(1e-8, "bfloat16")`.',
    "float16's normal range starts at 6.1e-5, so 1e-5 is subnormal (stored with fewer "
    "significant bits) and 1e-8 is below even the subnormals; bfloat16 keeps float32's "
    "exponent range and represents it. Squares past 256 overflow in float16, and a running "
    "sum stops growing once the gap at its size reaches twice what is added (2049 is not "
    "a float16 number): statistics are computed in float32.",
)
def half_predictions() -> dict[str, bool]:
    """Chapter 15: ``half_predictions(fn)``, where ``fn()`` returns ``{question: True or
    False}`` for HALF_QUESTIONS. The truth, computed here with NumPy's float16; bfloat16
    has float32's exponent range, so a number rounds to 0 there only below float32's
    subnormals (the checker does not use the chapter's own rounding code)."""
    with np.errstate(over="ignore"):
        square = np.float16(300.0) * np.float16(300.0)
    return {
        "eps5_normal": bool(abs(float(np.float16(1e-5))) >= float(np.finfo(np.float16).tiny)),
        "eps8_zero": float(np.float16(1e-8)) == 0.0,
        "eps8_zero_bf16": 1e-8 < float(np.finfo(np.float32).smallest_subnormal) / 2,
        "absorbed": bool(np.float16(1.0) + np.float16(1e-5) == np.float16(1.0)),
        "square_overflow": bool(np.isinf(square)),
        "stall": bool(float(np.float16(2048.0) + np.float16(1.0)) == 2049.0),
    }


def _half_input() -> np.ndarray:
    """(4, 64) float16: squares that overflow (|x| ~ 300), an offset of 2000 (spread 1: the
    one-pass variance in float32 is off by a third there, whatever the order of the sums),
    a plain row, and a row of spread 1e-4 (variance 1e-8, far below eps)."""
    z = np.random.default_rng(15).standard_normal((4, 64))
    z[1] = 2000.0 + np.random.default_rng(3).standard_normal(64)
    return (z * np.array([[300.0], [1.0], [1.0], [1e-4]])).astype(np.float16)


def _finite(value) -> bool:
    """Whether a learner's array (or tensor) of numbers holds no inf or NaN (True for what
    is not numbers: :func:`lnbook.checking.as_array` says what it is)."""
    try:
        return bool(np.isfinite(np.asarray(numpy_of(value))).all())
    except Exception:
        return True


@checker
def layer_norm_half(fn: Callable[[np.ndarray, float], np.ndarray]) -> Verdict:
    """Chapter 15: ``fn(x, eps)`` is layer norm over the last axis of a float16 (N, D)
    array, without gamma and beta, with its statistics computed in float32 and the result
    returned as float16; checked against ``torch.nn.functional.layer_norm`` on float16."""
    torch = require_torch()
    x, eps = _half_input(), 1e-5
    result, verdict = call(fn, x.copy(), eps)
    if verdict:
        return verdict
    dtype = getattr(result, "dtype", None)
    if shape_of(result) == x.shape and not _finite(result):
        return wrong(
            "Your result has inf or NaN: in float16, (x - mu)**2 overflows past 256 (the "
            "first row reaches hundreds) and sums past 65504. Convert x to float32 first "
            "(`x.astype(np.float32)`), compute there, and convert the result back."
        )
    y, verdict = as_array(result, "The result", x.shape)
    if verdict:
        return verdict
    expected = torch.nn.functional.layer_norm(torch.from_numpy(x), (64,), eps=eps).float().numpy()
    x32 = x.astype(np.float32)
    with np.errstate(all="ignore"):
        xc16 = x - x.mean(axis=-1, keepdims=True)
        in_half = xc16 / np.sqrt((xc16 * xc16).mean(axis=-1, keepdims=True) + np.float16(eps))
        mu = x32.mean(axis=-1, keepdims=True)
        one_pass = (x32 - mu) / np.sqrt((x32 * x32).mean(axis=-1, keepdims=True) - mu * mu + eps)
    known = [
        (ln_rows(x32, 0.0), "Close, but eps is missing: the row of tiny spread shows it."),
        (
            in_half,
            "You computed the statistics in float16: the squares of the first row (|x| in the "
            "hundreds) overflow to inf, and its output collapses to 0. Convert x to float32 "
            "first.",
        ),
        (
            one_pass,
            "You used the one-pass variance E[x**2] - E[x]**2: on the row of offset 2000, "
            "float32 loses the variance to cancellation. Subtract the mean first: "
            "mean((x - mu)**2).",
        ),
        (
            ln_rows(x32, eps, ddof=1),
            "You used the unbiased variance (D - 1); layer norm divides by D.",
        ),
        (
            ln_rows(x32, eps, eps_outside=True),
            "You added eps to the standard deviation; it goes inside the square root.",
        ),
    ]
    verdict = compare(
        y,
        expected,
        known,
        "The values differ from layer norm's, (x - mu) / sqrt(var + eps) per row, computed "
        "in float32.",
        rtol=3e-3,  # three float16 steps: the unbiased variance (0.8% off) shows
        atol=3e-3,
    )
    if not verdict.passed:
        return verdict
    if str(dtype).removeprefix("torch.") != "float16":
        return wrong(
            f"The values are right, but the result has dtype {dtype}: return it in x's "
            "dtype, float16 (`.astype(np.float16)`), as torch's kernels do."
        )
    return Verdict(
        CORRECT,
        "float16 in, float32 statistics, float16 out: the row of |x| ~ 300 is normalized "
        "without overflow and the row at offset 2000 keeps its variance, as in "
        "torch.nn.functional.layer_norm.",
    )
