"""Checkers of chapter 6's exercises (covariate shift): the percentile bands of a unit's
inputs over training (:func:`percentile_bands`), what layer norm's scale invariance does to
the gradient (:func:`scale_invariance_predictions`), and Santurkar et al.'s gradient
predictiveness (:func:`gradient_predictiveness`).

The percentiles are taken of skewed data, where mean +- std differs from them; the
predictiveness is checked on functions where the largest change is not at the largest step.
Any of NumPy's percentile methods passes. For calling answers and tolerances, see
:mod:`lnbook.checking`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..._optional import require_torch
from ...checking import (
    CORRECT,
    Verdict,
    as_number,
    call,
    checker,
    compare,
    known_mistake,
    predictions,
    returned_array,
    shape_of,
    tolerance,
    worst,
    wrong,
)


@checker
def percentile_bands(fn: Callable[[np.ndarray], np.ndarray]) -> Verdict:
    """Chapter 6: ``fn(h)`` takes one unit's inputs, ``h`` (C, P): C checkpoints of P
    images, and returns the 15th, 50th and 85th percentiles at each checkpoint, (C, 3)."""
    rng = np.random.default_rng(11)
    c, p = 5, 401
    # Skewed data, so that mean +- std and the percentiles differ clearly.
    h = rng.exponential(1.0, size=(c, p)) * np.arange(1, c + 1)[:, None] - 1.0
    over_checkpoints = (
        f"The result has {p} rows or columns, one per image: the percentiles were taken "
        "over the checkpoints. Take them over the images, the second axis of h."
    )
    per_percentile = (
        "The result has shape (3, C): one row per percentile. Return one row per "
        "checkpoint, shape (C, 3)."
    )
    wrong_shapes = {(3, p): over_checkpoints, (p, 3): over_checkpoints, (3, c): per_percentile}
    y, verdict = returned_array(fn, (h.copy(),), (c, 3), wrong_shapes=wrong_shapes)
    if verdict:
        return verdict
    expected = np.percentile(h, (15, 50, 85), axis=1).T  # (C, 3)
    # Any of NumPy's methods is fine (and any textbook definition): each picks, or
    # interpolates between, the sorted values next to position q * (P - 1). So a value is
    # right if it lies between the sorted values one further out on either side.
    ranked = np.sort(h, axis=1)
    at = np.array([15, 50, 85]) / 100 * (p - 1)
    low = ranked[:, np.maximum(np.floor(at).astype(int) - 1, 0)]  # (C, 3)
    high = ranked[:, np.minimum(np.ceil(at).astype(int) + 1, p - 1)]
    _, atol = tolerance(y)
    if ((low - atol <= y) & (y <= high + atol)).all():
        return Verdict(CORRECT, "One row per checkpoint: the 15th, 50th and 85th percentiles.")
    mean, std = h.mean(axis=1), h.std(axis=1)
    known = [
        (
            np.percentile(h, (0.15, 0.5, 0.85), axis=1).T,
            "np.percentile takes percents (15, 50, 85); fractions (0.15, ...) are what "
            "np.quantile takes",
        ),
        (expected[:, ::-1], "The columns are in reverse order: 15th, 50th, then 85th"),
        (
            np.stack([mean - std, mean, mean + std], axis=1),
            "That is mean - std, mean, mean + std; they match the 15th, 50th and 85th "
            "percentiles only for a normal distribution, and these inputs are skewed",
        ),
    ]
    mistake = known_mistake(y, known, rtol=0, atol=0.05)
    if mistake:
        return wrong(mistake + ".")
    i, j = worst(y, expected)
    return wrong(
        f"The values differ from the expected percentiles: at checkpoint {i}, column "
        f"{j}, you have {y[i, j]:.3f}. Take the 15th, 50th and 85th percentiles of "
        "each checkpoint's images.",
        answer=f"Expected {expected[i, j]:.3f} there.",
    )


SCALE_QUESTIONS = {
    "multiplying W by 10 changes the layer's output": "output",
    "multiplying W by 10 divides the gradient with respect to W by 10": "grad",
    "the gradient with respect to W is orthogonal to W": "orthogonal",
    "a plain SGD step on W makes the norm of W grow": "grows",
}


@predictions(
    SCALE_QUESTIONS,
    "Hint: layer norm divides out any positive factor of its input; compute each "
    "answer with torch (W.requires_grad_(), backward(), W.grad).",
    "Layer norm makes the loss blind to the scale of W: the gradient has no component "
    "along W and shrinks as W grows, so SGD can only lengthen W, and a longer W takes "
    "smaller effective steps.",
)
def scale_invariance_predictions() -> dict[str, bool]:
    """Chapter 6: ``scale_invariance_predictions(fn)``, where ``fn()`` returns ``{question:
    True or False}`` for SCALE_QUESTIONS. The truth, computed here with torch for
    ``sigmoid(LN(x W^T))``."""
    torch = require_torch()

    from ...torch_ln import LayerNorm

    g = torch.Generator().manual_seed(12)
    x = torch.randn(16, 8, generator=g, dtype=torch.float64)
    target = torch.randn(16, 6, generator=g, dtype=torch.float64)
    ln = LayerNorm(6).double()

    def output_and_grad(W: torch.Tensor):
        W = W.clone().requires_grad_(True)
        y = torch.sigmoid(ln(x @ W.T))
        ((y - target) ** 2).sum().backward()
        return y.detach(), W.grad

    W = torch.randn(6, 8, generator=g, dtype=torch.float64)
    y1, g1 = output_and_grad(W)
    y10, g10 = output_and_grad(10 * W)
    step = W - 0.5 * g1
    # eps (1e-5, against a variance near 8) breaks the invariance by about 1e-6: the
    # tolerances are set well above that and far below the effects asked about.
    return {
        "output": not torch.allclose(y1, y10, rtol=1e-4, atol=1e-6),
        "grad": float((g10 - g1 / 10).norm()) < 1e-4 * float((g1 / 10).norm()),
        "orthogonal": abs(float((W * g1).sum())) < 1e-4 * float(W.norm() * g1.norm()),
        "grows": bool(step.norm() > W.norm()),
    }


@checker
def gradient_predictiveness(fn: Callable) -> Verdict:
    """Chapter 6: ``fn(grad, w, etas)``: with ``g = grad(w)``, the largest
    ``|grad(w - eta g) - g|`` over ``etas`` (Santurkar et al.'s "gradient predictiveness")."""
    a = np.array([1.0, 4.0, 9.0])
    cases = [
        # A quadratic: grad(w - eta g) - g = -eta A g exactly, a closed form.
        ("a quadratic", lambda w: a * w, np.array([1.0, -1.0, 0.5])),
        # sum(cos(w)): the change is not monotone in eta and depends on the step's sign.
        ("sum(cos(w))", lambda w: -np.sin(w), np.array([0.4, -1.3, 2.0])),
        # sum(cos(3 w)): the change peaks at eta = 0.5, not at the last, largest eta (on
        # the two above it grows with eta, so the last value would pass for the largest).
        ("sum(cos(3 w))", lambda w: -3 * np.sin(3 * w), np.array([0.5, -0.9, -1.8])),
    ]
    etas = np.array([0.05, 0.2, 0.5, 1.0])
    for name, grad, w in cases:
        g = grad(w)
        ahead = [np.linalg.norm(grad(w - eta * g) - g) for eta in etas]
        expected = max(ahead)
        w_given = w.copy()
        result, verdict = call(fn, grad, w_given, etas.copy())
        if verdict:
            return verdict
        if not np.array_equal(w_given, w):
            return wrong("Your function changed `w` in place; work on a copy (w - eta * g).")
        if shape_of(result) == (len(etas),):
            return wrong(
                "You returned one value per eta; return only the largest, a single number."
            )
        value, verdict = as_number(result, "The result")
        if verdict:
            return verdict
        known = [
            (min(ahead), "that is the smallest change over the etas; return the largest"),
            (
                ahead[-1],
                "that is the change at the last eta only; the change need not grow with eta, "
                "so compute it for every eta and keep the largest",
            ),
            (
                max(np.linalg.norm(grad(w + eta * g) - g) for eta in etas),
                "that steps along +g; gradient descent steps against it, w - eta * g",
            ),
            (
                max(np.linalg.norm(grad(w - eta * g)) for eta in etas),
                "that is the size of the gradient ahead; subtract the gradient at w first",
            ),
            (
                max(c / (eta * np.linalg.norm(g)) for c, eta in zip(ahead, etas, strict=True)),
                "that divides by the step length: the effective beta-smoothness, a "
                "different measure; return the change itself",
            ),
        ]
        verdict = compare(
            value,
            expected,
            known,
            wrong(
                f"On {name} the largest change is not {value:.4f}: with g = grad(w), take "
                "|grad(w - eta * g) - g| for each eta and keep the largest.",
                answer=f"It is {expected:.4f}.",
            ),
            prefix=f"On {name}: ",
        )
        if not verdict.passed:
            return verdict
    return Verdict(
        CORRECT,
        "Checked on a quadratic (where the change is eta |A g|, exactly), on sum(cos(w)) and "
        "on sum(cos(3 w)), where the change peaks before the largest eta.",
    )
