"""Checkers of chapter 1's exercises (per-example statistics): layer norm of one example by
hand (:func:`layer_norm_by_hand`), of every row of a batch (:func:`layer_norm_rows`), and
which changes of an example its output ignores (:func:`invariance_predictions`).

Every input is chosen so that the classic mistakes show: rows of very different spread,
one nearly constant (where eps matters), and N != D (a wrong axis changes the shape). The
rest, calling the answer safely, tolerances and hints before answers, is the harness's
(:mod:`lnbook.checking`); the invariance answers are computed, not written down.
"""

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
    checker,
    close,
    diagnose_layer_norm,
    distinct_digits,
    parts_of,
    predictions,
    returned_array,
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
        return _differs("mu", mu, x.mean(), "the mean of the 8 values: add them up and divide by 8")
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
        return _differs(
            "var",
            var,
            x.var(),
            "mean((x - mu)**2): square each value's distance from mu, then average the 8 squares",
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


def _differs(name: str, given: float, expected: float, should: str) -> Verdict:
    """``name`` is ``given``, not ``expected``: what it ``should`` be first, the value later."""
    given_text, expected_text = distinct_digits(given, expected, "g")
    return wrong(
        f"You have {name} = {given_text}, but {name} should be {should}.",
        answer=f"Expected {name} = {expected_text}.",
    )


@checker
def layer_norm_rows(fn: Callable[[np.ndarray, float], np.ndarray]) -> Verdict:
    """Chapter 1: ``fn(x, eps)`` is layer norm of each row of a (N, D) array (no gamma/beta)."""
    rng = np.random.default_rng(7)
    # Rows of very different spread, one nearly constant (where eps matters), N != D so a
    # wrong axis shows up.
    x = rng.standard_normal((5, 6)) * np.array([[1.0], [5.0], [0.01], [2.0], [0.3]]) + 3.0
    eps = 1e-3
    one_per_row = (
        "The result has one number per row. Keep the features: compute mu and var "
        "with keepdims=True, then return (x - mu) / sqrt(var + eps)."
    )
    y, verdict = returned_array(
        fn, (x.copy(), eps), x.shape, wrong_shapes={(5,): one_per_row, (5, 1): one_per_row}
    )
    if verdict:
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


_INVARIANCE_WHY = {
    "shift": "adding a constant moves the mean by the same constant, which is subtracted",
    "scale": "a positive factor multiplies the deviations and the standard deviation alike",
    "negative": "the standard deviation stays positive, so the output flips its sign",
    "ramp": "a different amount per feature changes the pattern, not just the level",
    "zero": "every feature becomes 0: the output is all zeros (eps keeps it finite)",
    "other": "layer norm only uses the example's own features",
}


@predictions(
    INVARIANCE_QUESTIONS,
    "Try each one on an array to see it.",
    "All six right: a shift, a positive scale and changes to other examples leave the "
    "output unchanged; a negative scale, a ramp and zeroing do not.",
    explain=lambda key, unchanged: (
        f"the output is {'unchanged' if unchanged else 'changed'} ({_INVARIANCE_WHY[key]})"
    ),
)
def invariance_predictions() -> dict[str, bool]:
    """Chapter 1: ``invariance_predictions(fn)``, where ``fn()`` returns ``{question: True
    if the output is unchanged}`` for INVARIANCE_QUESTIONS. The truth, computed here: which
    changes of one example leave its layer-norm output unchanged."""
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
