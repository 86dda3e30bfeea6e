"""Checkers of chapter 3's exercises (layer norm from scratch): a variance that survives
float32 (:func:`variance_rows`), what the backward pass's formula implies
(:func:`backward_predictions`), and the backward pass itself, judged against torch's
autograd (:func:`layer_norm_backward`).

The variance is checked on float32 rows with a large offset, where the one-pass formula
keeps only rounding errors; the backward pass against torch's autograd in float64, with
every known slip (a missing correction term, gamma, rstd) named. Shared machinery: see
:mod:`lnbook.checking`.
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
    close,
    distinct_digits,
    known_mistake,
    parts_of,
    predictions,
    worst,
    wrong,
)


@checker
def variance_rows(fn: Callable[[np.ndarray], np.ndarray]) -> Verdict:
    """Chapter 3: ``fn(x)`` is the variance of each row of a float32 (N, D) batch, computed
    in float32 with an algorithm that survives a large offset; result (N,)."""
    rng = np.random.default_rng(13)
    x = (1e4 + rng.standard_normal((6, 256))).astype(np.float32)
    result, verdict = call(fn, x.copy())
    if verdict:
        return verdict
    dtype = getattr(result, "dtype", None)
    v, verdict = as_array(result, "The result", (6,))
    if verdict:
        return verdict
    if dtype is not None and str(dtype) in ("float64", "torch.float64"):
        return wrong(
            "The result is float64: the computation left float32. Converting to float64 "
            "hides the cancellation instead of avoiding it (and doubles the memory); keep "
            "x in float32 and change the algorithm."
        )
    x64 = x.astype(np.float64)  # the same float32 numbers, in exact-enough arithmetic
    expected = x64.var(axis=1)
    # float32 two-pass is good to about 1e-4 here; one-pass is off by orders of magnitude.
    if close(v, expected, rtol=1e-3, atol=0):
        return Verdict(CORRECT, "Stable in float32: subtract the mean first, then square.")
    one_pass = (x * x).mean(axis=1) - x.mean(axis=1) ** 2  # float32, as the learner might
    known = [
        (x64.var(axis=1, ddof=1), "That is the unbiased variance (ddof=1); layer norm uses ddof=0"),
        (x64.std(axis=1), "That is the standard deviation; return its square, the variance"),
    ]
    mistake = known_mistake(v, known, rtol=1e-3, atol=0)
    if mistake:
        return wrong(mistake + ".")
    if close(v, one_pass, rtol=1e-2, atol=1e-2) or (v <= 0).any():
        return wrong(
            "These look like the one-pass E[x^2] - E[x]^2, which in float32 keeps only "
            "rounding errors here (some may even be negative); subtract each row's mean "
            "first (`x.mean(axis=1, keepdims=True)`), then square and average."
        )
    i = int(np.abs(v - expected).argmax())
    return wrong(
        f"Row {i}: expected a variance of about 1 (the rows are noise of variance about 1 on "
        f"an offset of 10^4), got {v[i]:.4g}. Subtract each row's mean, then square and "
        "average.",
        answer=f"Row {i}'s variance is {expected[i]:.4f}.",
    )


BACKWARD_QUESTIONS = {
    "for every example, the entries of dx sum to zero": "sum_zero",
    "for every example, dx is orthogonal to x_hat": "orthogonal",
    "doubling x doubles dx": "double",
    "adding 5 to every feature of x changes dx": "shift",
}


@predictions(
    BACKWARD_QUESTIONS,
    "Hint: read them off dx = rstd * (g - c2 - x_hat * c1), then compute them with "
    "numpy_ln.layer_norm_forward and layer_norm_backward.",
    "dx has no component along the constant vector (c2 removed it) nor along x_hat (c1 "
    "removed it): the directions normalization ignores. And it scales like 1/std.",
)
def backward_predictions() -> dict[str, bool]:
    """Chapter 3: ``backward_predictions(fn)``, where ``fn()`` returns ``{question: True or
    False}`` for BACKWARD_QUESTIONS. The truth, computed here with torch's autograd."""
    torch = require_torch()
    g = torch.Generator().manual_seed(14)
    x = torch.randn(4, 10, generator=g, dtype=torch.float64)
    dy = torch.randn(4, 10, generator=g, dtype=torch.float64)
    gamma = torch.rand(10, generator=g, dtype=torch.float64) + 0.5

    def dx_of(x):
        x = x.clone().requires_grad_(True)
        y = torch.nn.functional.layer_norm(x, (10,), gamma, None, eps=0.0)
        (y * dy).sum().backward()
        return x.grad

    dx = dx_of(x)
    x_hat = torch.nn.functional.layer_norm(x, (10,), eps=0.0)
    return {
        "sum_zero": bool(dx.sum(1).abs().max() < 1e-10),
        "orthogonal": bool((dx * x_hat).sum(1).abs().max() < 1e-10),
        "double": bool(torch.allclose(dx_of(2 * x), 2 * dx)),
        "shift": not torch.allclose(dx_of(x + 5), dx),
    }


@checker
def layer_norm_backward(fn: Callable) -> Verdict:
    """Chapter 3: ``fn(dy, x_hat, rstd, gamma)`` returns ``(dx, dgamma, dbeta)`` for
    ``y = gamma * x_hat + beta`` over the last axis of (N, D) arrays; ``rstd`` is (N, 1)."""
    torch = require_torch()
    rng = np.random.default_rng(15)
    n, d = 5, 8
    x = rng.normal(1.0, 2.0, size=(n, d))
    dy = rng.standard_normal((n, d))
    gamma = rng.uniform(0.5, 1.5, size=d)
    eps = 1e-5
    mu = x.mean(axis=1, keepdims=True)
    rstd = 1 / np.sqrt(x.var(axis=1, keepdims=True) + eps)  # (N, 1)
    x_hat = (x - mu) * rstd
    # The oracle: torch's autograd through torch's own layer norm.
    xt = torch.tensor(x, requires_grad=True)
    gt = torch.tensor(gamma, requires_grad=True)
    bt = torch.zeros(d, dtype=torch.float64, requires_grad=True)
    (torch.nn.functional.layer_norm(xt, (d,), gt, bt, eps) * torch.tensor(dy)).sum().backward()
    dx_ref, dg_ref, db_ref = (t.grad.numpy() for t in (xt, gt, bt))

    result, verdict = call(
        fn,
        dy.copy(),
        x_hat.copy(),
        rstd.copy(),
        gamma.copy(),
        read_only={0: "dy", 1: "x_hat", 2: "rstd", 3: "gamma"},
    )
    if verdict:
        return verdict
    result = parts_of(result, 3)
    if result is None:
        return wrong("Return three arrays: (dx, dgamma, dbeta).")
    dx, verdict = as_array(result[0], "dx", (n, d))
    if verdict:
        return verdict
    dgamma, verdict = as_array(result[1], "dgamma", (d,))
    if verdict:
        return verdict
    dbeta, verdict = as_array(result[2], "dbeta", (d,))
    if verdict:
        return verdict
    problems, answer = [], ""
    if not close(dgamma, dg_ref):
        hint = "it is the sum over the examples of dy * x_hat"
        if close(dgamma, db_ref):
            hint += " (you summed dy alone: that is dbeta)"
        problems.append("dgamma is wrong: " + hint)
    if not close(dbeta, db_ref):
        problems.append("dbeta is wrong: it is the sum over the examples of dy")
    if not close(dx, dx_ref):
        g = dy * gamma
        c1 = (x_hat * g).mean(axis=1, keepdims=True)
        c2 = g.mean(axis=1, keepdims=True)
        known = [
            (rstd * (g - x_hat * c1), "the mean term is missing: subtract c2 = mean(g)"),
            (rstd * (g - c2), "the projection term is missing: subtract x_hat * c1"),
            (rstd * g, "both correction terms are missing (c2 and x_hat * c1)"),
            (
                rstd
                * (dy - dy.mean(1, keepdims=True) - x_hat * (x_hat * dy).mean(1, keepdims=True)),
                "gamma is missing: the gradient reaching x_hat is g = dy * gamma",
            ),
            (g - c2 - x_hat * c1, "the factor rstd is missing"),
            (rstd * (g + c2 + x_hat * c1), "the correction terms are subtracted, not added"),
            (
                rstd * (g - c2 - x_hat * (x_hat * g).sum(1, keepdims=True)),
                "c1 is a mean over the features, not a sum",
            ),
        ]
        mistake = known_mistake(dx, known)
        if mistake:
            problems.append("dx: " + mistake)
        else:
            i, j = worst(dx, dx_ref)
            given, expected = distinct_digits(float(dx[i, j]), float(dx_ref[i, j]), ".4f")
            problems.append(
                f"dx differs from autograd's: at [{i}, {j}] you have {given}. "
                "Hint: dx = rstd * (g - c2 - x_hat * c1)"
            )
            answer = f"Autograd's dx[{i}, {j}] is {expected}."
    if problems:
        return wrong("; ".join(problems) + ".", answer=answer)
    return Verdict(CORRECT, "dx, dgamma and dbeta all match torch's autograd.")
