"""Checkers of chapter 7's exercises (RMSNorm and beyond): RMSNorm, judged against
``torch.nn.functional.rms_norm`` (:func:`rms_norm`), the spread of layer norm's output as
eps takes over (:func:`output_std`), and what RMSNorm and DyT keep of layer norm's
invariances (:func:`rms_predictions`).

RMSNorm's input has offset rows, one of them nearly constant, and its weight is far from
1, so that a subtracted mean, a missing eps or a missing weight each show; the spreads of
:func:`output_std` reach both sides of sqrt(eps). The checker harness: :mod:`lnbook.checking`.
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
    predictions,
    returned_array,
    shape_of,
    worst,
    wrong,
)


@checker
def rms_norm(fn: Callable[..., np.ndarray]) -> Verdict:
    """Chapter 7: ``fn(x, weight, eps)`` is RMSNorm over the last axis of a (N, D) array,
    ``x / sqrt(mean(x**2) + eps) * weight``; checked against ``torch.nn.functional.rms_norm``."""
    torch = require_torch()
    rng = np.random.default_rng(21)
    # Offset rows (so subtracting the mean shows), one with a tiny spread (so eps shows),
    # N != D (so a wrong axis shows), and a weight far from 1 (so a forgotten one shows).
    x = rng.standard_normal((4, 6)) * np.array([[1.0], [3.0], [0.01], [0.5]]) + np.array(
        [[2.0], [-1.0], [0.0], [0.5]]
    )
    weight = rng.uniform(0.5, 2.0, size=6)
    eps = 1e-3
    y, verdict = returned_array(fn, (x.copy(), weight.copy(), eps), x.shape)
    if verdict:
        return verdict
    expected = torch.nn.functional.rms_norm(
        torch.tensor(x), (6,), torch.tensor(weight), eps
    ).numpy()

    def ms(a, axis=-1):
        return (a * a).mean(axis=axis, keepdims=True)

    known = [
        (
            ln_rows(x, eps) * weight,
            "You subtracted the mean: that is layer norm (without beta). RMSNorm divides x "
            "itself by sqrt(mean(x**2) + eps).",
        ),
        (
            x / (np.sqrt(ms(x)) + eps) * weight,
            "You added eps to the root mean square; add it inside the square root: "
            "`np.sqrt(np.mean(x**2, axis=-1, keepdims=True) + eps)`.",
        ),
        (
            x / np.sqrt(ms(x, axis=0) + eps) * weight,
            "You averaged over the batch (axis 0); RMSNorm averages over each row's "
            "features (`axis=-1, keepdims=True`).",
        ),
        (x / np.sqrt(ms(x) + eps), "The normalization is right, but the weight is missing."),
        (
            x / np.sqrt(x.var(axis=-1, keepdims=True) + eps) * weight,
            "You divided by the standard deviation (around the mean); RMSNorm divides by "
            "the root mean square around 0: mean(x**2), not var(x).",
        ),
        (x / np.sqrt(ms(x)) * weight, "Close, but eps is missing: sqrt(mean(x**2) + eps)."),
        (
            x / np.sqrt((x * x).sum(axis=-1, keepdims=True) + eps) * weight,
            "You divided by the length (L2 norm) of each row, sqrt(sum(x**2)); the root "
            "mean square divides the sum by D first: sqrt(mean(x**2) + eps).",
        ),
        (
            x / np.linalg.norm(x, axis=-1, keepdims=True) * weight,
            "You divided by the length (L2 norm) of each row; the root mean square is that "
            "divided by sqrt(D), plus eps inside the root: sqrt(mean(x**2) + eps).",
        ),
        (
            x / (ms(x) + eps) * weight,
            "The square root is missing: divide by sqrt(mean(x**2) + eps), not by the mean "
            "square itself.",
        ),
        (
            x / np.sqrt(ms(x) + eps) + weight,
            "You added the weight; it multiplies: `... * weight`.",
        ),
        (
            x / np.sqrt((x * x).mean() + eps) * weight,
            "You took one mean square over the whole batch; each row needs its own "
            "(axis=-1, keepdims=True).",
        ),
    ]
    return compare(
        y,
        expected,
        known,
        "The values differ from RMSNorm's: "
        "`x / np.sqrt(np.mean(x**2, axis=-1, keepdims=True) + eps) * weight`.",
        success="Each row is divided by its root mean square; unlike layer norm, no mean is "
        "subtracted, so the rows keep their sign pattern around 0, not around their mean.",
    )


@checker
def output_std(fn: Callable[[np.ndarray, float], np.ndarray]) -> Verdict:
    """Chapter 7: ``fn(s, eps)``: the standard deviation of layer norm's output for an
    example whose standard deviation is ``s`` (an array), in closed form."""
    s = np.array([1e-4, 1e-3, 3e-3, 1e-2, 0.1, 1.0, 10.0])
    for eps in (1e-5, 1e-3):
        result, verdict = call(fn, s.copy(), eps)
        if verdict:
            return verdict
        if shape_of(result) == ():  # one number for every spread: compare it with each
            result = np.full(s.shape, float(np.asarray(result, dtype=np.float64)))
        g, verdict = as_array(result, "The result", s.shape)
        if verdict:
            return verdict
        expected = s / np.sqrt(s**2 + eps)
        known = [
            (np.ones_like(s), "that ignores eps: the output's spread is 1 only when s**2 >> eps"),
            (s / (s + eps), "that adds eps to the standard deviation; it goes to the variance"),
            (
                s / (s + np.sqrt(eps)),
                "that adds sqrt(eps) to the standard deviation; "
                "layer norm adds eps to the variance, inside the square root",
            ),
            (s**2 / (s**2 + eps), "that is the output's variance; return its square root"),
            (s / np.sqrt(eps), "that is only the small-s limit; it exceeds 1 for large s"),
        ]
        (i,) = worst(g, expected)
        verdict = compare(
            g,
            expected,
            known,
            wrong(
                f"With eps = {eps:g} and s = {s[i]:g} you have {g[i]:.4g}, not the expected "
                "spread. Hint: layer norm divides by sqrt(var + eps) with var = s**2.",
                answer=f"Expected {expected[i]:.4g}.",
            ),
            prefix=f"With eps = {eps:g}: ",
        )
        if not verdict.passed:
            return verdict
    return Verdict(
        CORRECT,
        "s / sqrt(s**2 + eps): about 1 while s**2 >> eps, about s / sqrt(eps) below that. "
        "eps sets the spread under which an example is treated as constant.",
    )


RMS_QUESTIONS = {
    "RMSNorm's output changes when 5 is added to every feature": "shift",
    "RMSNorm's output changes when every feature is multiplied by 3": "scale",
    "RMSNorm's input gradient sums to zero over the features": "sum_zero",
    "RMSNorm's input gradient is orthogonal to its input x": "orthogonal",
    "DyT's output for one feature depends on the token's other features": "dyt_other",
    "RMSNorm of a token whose features are all equal (and not 0) is all zeros": "constant",
}


@predictions(
    RMS_QUESTIONS,
    "Hint: RMSNorm is x / sqrt(mean(x**2) + eps) and DyT is gamma * tanh(alpha * x) + "
    "beta; compute each answer with torch.nn.functional.rms_norm and backward().",
    "RMSNorm keeps layer norm's scale invariance and loses its shift invariance: its "
    "gradient is orthogonal to x but need not sum to zero, and a constant token comes out "
    "as all ones, not zeros. DyT works value by value and sees no other feature.",
)
def rms_predictions() -> dict[str, bool]:
    """Chapter 7: ``rms_predictions(fn)``, where ``fn()`` returns ``{question: True or
    False}`` for RMS_QUESTIONS. The truth, computed here with torch (autograd for the
    gradients)."""
    torch = require_torch()

    from ...models import DyT

    g = torch.Generator().manual_seed(22)
    x = torch.randn(4, 8, generator=g, dtype=torch.float64)
    dy = torch.randn(4, 8, generator=g, dtype=torch.float64)

    def rms(t):
        return torch.nn.functional.rms_norm(t, (8,), eps=1e-6)

    xg = x.clone().requires_grad_(True)
    rms(xg).backward(dy)
    dx = xg.grad
    dyt = DyT(8).double()
    changed = x.clone()
    changed[:, 1:] += 3.0  # every feature but the first
    with torch.no_grad():
        dyt_other = not torch.allclose(dyt(changed)[:, 0], dyt(x)[:, 0])
    constant = rms(torch.full((1, 8), 2.5, dtype=torch.float64))
    return {
        "shift": not torch.allclose(rms(x + 5), rms(x)),
        "scale": not torch.allclose(rms(3 * x), rms(x), rtol=1e-5, atol=1e-6),
        "sum_zero": bool(dx.sum(1).abs().max() < 1e-10),
        # Exact for eps = 0; with eps the cosine is about eps / mean(x**2), here ~1e-6.
        "orthogonal": bool(((dx * x).sum(1).abs() < 1e-4 * dx.norm(dim=1) * x.norm(dim=1)).all()),
        "dyt_other": dyt_other,
        "constant": bool(constant.abs().max() < 1e-6),
    }
