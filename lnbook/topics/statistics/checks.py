"""DOCSTRING statistics:checks"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ... import numpy_ln
from ...checking import (
    CORRECT,
    Verdict,
    as_array,
    as_number,
    call,
    check_predictions,
    checker,
    close,
    diagnose_layer_norm,
    distinct_digits,
    parts_of,
    worst,
    wrong,
)

_HAND_X = np.array([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])


@checker
def layer_norm_by_hand(answer: Callable[[], tuple]) -> Verdict:
    """Chapter 1: ``answer()`` returns ``(mu, var, x_hat)`` for x = [2, 4, 4, 4, 5, 5, 7, 9]
    with eps = 0."""
    result, verdict = call(answer)
    if verdict:
        return verdict
    parts = parts_of(result, 3)
    if parts is None:
        return wrong("Return three things: `return mu, var, x_hat`.")
    mu, var, x_hat = parts
    x = _HAND_X
    mu, verdict = as_number(mu, "mu")
    if verdict:
        return verdict
    var, verdict = as_number(var, "var")
    if verdict:
        return verdict
    if not math.isclose(mu, x.mean(), abs_tol=1e-9):
        given, expected = distinct_digits(mu, x.mean(), "g")
        return wrong(
            f"You have mu = {given}, but mu should be the mean of the 8 values: add them up "
            "and divide by 8.",
            answer=f"Expected mu = {expected}.",
        )
    if math.isclose(var, x.var(ddof=1), abs_tol=1e-6):
        return wrong(
            f"var = {var:g} is the unbiased variance (the squares summed, divided by 7). "
            "Layer norm divides by the number of features, 8: var = mean((x - mu)**2).",
            answer=f"Expected var = {x.var():g}.",
        )
    if math.isclose(var, x.std(), abs_tol=1e-9):
        return wrong(
            f"var = {var:g} is the standard deviation; var is its square, mean((x - mu)**2).",
            answer=f"Expected var = {x.var():g}.",
        )
    if not math.isclose(var, x.var(), abs_tol=1e-9):
        given, expected = distinct_digits(var, x.var(), "g")
        return wrong(
            f"You have var = {given}, but var should be mean((x - mu)**2): square each "
            "value's distance from mu, then average the 8 squares.",
            answer=f"Expected var = {expected}.",
        )
    x_hat, verdict = as_array(x_hat, "x_hat", (8,))
    if verdict:
        return verdict
    expected = (x - x.mean()) / x.std()
    if close(x_hat, (x - x.mean()) / x.var()):
        return wrong("x_hat divides by var; divide by the standard deviation sqrt(var).")
    if not close(x_hat, expected):
        (i,) = worst(x_hat, expected)
        given, _ = distinct_digits(float(x_hat[i]), float(expected[i]), "g")
        return wrong(
            f"x_hat should be (x - mu) / sqrt(var), value by value; your x_hat[{i}] = "
            f"{given} is not (x[{i}] - mu) / sqrt(var) for x[{i}] = {x[i]:g}.",
            answer=f"Expected x_hat = {expected.tolist()} (x_hat[{i}] = {expected[i]:g}).",
        )
    return Verdict(CORRECT, "mu = 5, var = 4, and x_hat has mean 0 and variance 1.")


@checker
def layer_norm_rows(fn: Callable[[np.ndarray, float], np.ndarray]) -> Verdict:
    """Chapter 1: ``fn(x, eps)`` is layer norm of each row of a (N, D) array (no gamma/beta)."""
    rng = np.random.default_rng(7)
    # Rows of very different spread, one nearly constant (where eps matters), N != D so a
    # wrong axis shows up.
    x = rng.standard_normal((5, 6)) * np.array([[1.0], [5.0], [0.01], [2.0], [0.3]]) + 3.0
    eps = 1e-3
    result, verdict = call(fn, x.copy(), eps)
    if verdict:
        return verdict
    y, verdict = as_array(result, "The result", x.shape)
    if verdict:
        if "got (5,)" in verdict.message or "got (5, 1)" in verdict.message:
            return wrong(
                "The result has one number per row. Keep the features: compute mu and var "
                "with keepdims=True, then return (x - mu) / sqrt(var + eps)."
            )
        return verdict
    expected = numpy_ln.layer_norm(x, 6, eps=eps)
    if close(y, expected):
        return Verdict(
            CORRECT, "Each row now has mean 0 and variance var/(var + eps), just under 1."
        )
    return wrong(diagnose_layer_norm(y, x, eps))


INVARIANCE_QUESTIONS = {
    "add 5 to every feature": "shift",
    "multiply every feature by 3": "scale",
    "multiply every feature by -2": "negative",
    "add 0, 1, 2, ... to the features": "ramp",
    "multiply every feature by 0": "zero",
    "change another example of the batch": "other",
}


def _invariance_truth() -> dict[str, bool]:
    """Which transformations of one example leave its layer-norm output unchanged (computed)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 8))
    d = x.shape[1]

    def out(batch):
        return numpy_ln.layer_norm(batch, d)[0]

    row = x[0]
    changed = {
        "shift": row + 5,
        "scale": row * 3,
        "negative": row * -2,
        "ramp": row + np.arange(d),
        "zero": row * 0,
    }
    truth = {}
    for key, new in changed.items():
        x2 = x.copy()
        x2[0] = new
        truth[key] = close(out(x2), out(x), rtol=1e-4, atol=1e-4)
    x2 = x.copy()
    x2[1] = rng.standard_normal(d) * 10
    truth["other"] = close(out(x2), out(x))
    return truth


_INVARIANCE_WHY = {
    "shift": "adding a constant moves the mean by the same constant, which is subtracted",
    "scale": "a positive factor multiplies the deviations and the standard deviation alike",
    "negative": "the standard deviation stays positive, so the output flips its sign",
    "ramp": "a different amount per feature changes the pattern, not just the level",
    "zero": "every feature becomes 0: the output is all zeros (eps keeps it finite)",
    "other": "layer norm only uses the example's own features",
}


@checker
def invariance_predictions(fn: Callable[[], dict]) -> Verdict:
    """Chapter 1: ``fn()`` returns ``{question: True if the output is unchanged}``."""
    truth = _invariance_truth()

    def explain(question: str, key: str) -> str:
        state = "unchanged" if truth[key] else "changed"
        return f"{question!r}: the output is {state} ({_INVARIANCE_WHY[key]})"

    return check_predictions(
        fn,
        INVARIANCE_QUESTIONS,
        truth,
        "Try each one on an array to see it.",
        "All six right: a shift, a positive scale and changes to other examples leave the "
        "output unchanged; a negative scale, a ramp and zeroing do not.",
        explain,
    )
