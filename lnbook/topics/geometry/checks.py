"""Checkers of chapter 9's exercises (geometry)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ... import numpy_ln
from ...checking import (
    CORRECT,
    Verdict,
    checker,
    compare,
    predictions,
    returned_array,
    wrong,
)

# --- Sections 1-3: projection, sphere, Jacobian, attention, gamma = 1 + w -----------------


@checker
def centring_matrix(fn: Callable[[int], np.ndarray]) -> Verdict:
    """Chapter 9: ``fn(d)`` returns the (d, d) centring matrix P = I - 1 1^T / d, the
    orthogonal projection onto the plane perpendicular to the all-ones vector."""
    for d in (5, 8):  # two sizes, so that a matrix written for one D does not pass
        p, verdict = returned_array(fn, (d,), (d, d), name=f"centring_matrix({d})")
        if verdict:
            return verdict
        eye, ones = np.eye(d), np.ones((d, d))
        known = [
            (eye, "that is the identity: it changes nothing. Subtract the mean: I - 1 1^T / D"),
            (
                ones / d,
                "that is 1 1^T / D, which replaces every value by the mean (the projection "
                "onto the ones direction); centring removes that part: I - 1 1^T / D",
            ),
            (eye - ones, "the mean divides by D: I - 1 1^T / D, not I - 1 1^T"),
            (eye - ones / (d - 1), "the mean divides by D, not D - 1: I - 1 1^T / D"),
            (ones / d - eye, "the sign is flipped: I - 1 1^T / D"),
            (
                eye - ones / d**2,
                "divide 1 1^T by D once: (1 1^T / D) x puts the mean in every entry",
            ),
        ]
        verdict = compare(
            p,
            eye - ones / d,
            known,
            wrong(
                f"centring_matrix({d}) is not the centring matrix: P @ x should subtract the "
                "mean of x from each entry, so P @ ones should be 0 and P @ P should equal P.",
                answer=f"Expected np.eye({d}) - np.ones(({d}, {d})) / {d}.",
            ),
            prefix=f"With D = {d}: ",
        )
        if not verdict.passed:
            return verdict
    return Verdict(
        CORRECT,
        "P = I - 1 1^T / D: symmetric, P @ P = P, P @ 1 = 0. It projects orthogonally onto "
        "the plane of vectors with mean 0; dividing by the standard deviation then puts the "
        "result on the sphere of radius sqrt(D) in that plane.",
    )


@checker
def layer_norm_jacobian(fn: Callable[[np.ndarray], np.ndarray]) -> Verdict:
    """Chapter 9: ``fn(x)`` returns the (D, D) Jacobian d x_hat / d x of layer norm without
    gamma, beta and eps, at one example ``x`` of shape (D,)."""
    # An offset example (so a missing centring shows) with a spread far from 1 (so a
    # missing or wrong 1/sigma shows), D = 6.
    x = np.array([3.1, -0.4, 2.2, 5.0, 0.7, 1.9])
    d = x.size
    j, verdict = returned_array(fn, (x.copy(),), (d, d), read_only={0: "x"})
    if verdict:
        return verdict
    eye, ones = np.eye(d), np.ones((d, d))

    def bracket(x_hat):
        return eye - ones / d - np.outer(x_hat, x_hat) / d

    sigma = x.std()
    x_hat = (x - x.mean()) / sigma
    expected = bracket(x_hat) / sigma
    rms = np.sqrt((x * x).mean())
    s1 = x.std(ddof=1)
    known = [
        (
            (eye - np.outer(x / rms, x / rms) / d) / rms,
            "That is RMSNorm's Jacobian: layer norm also subtracts the mean, which adds "
            "-1 1^T / D to the bracket and uses x_hat = (x - mean) / sigma",
        ),
        (
            (eye - np.outer(x_hat, x_hat) / d) / sigma,
            "The -1 1^T / D term is missing: the mean depends on every x_i (d mu / d x_i = 1/D)",
        ),
        (
            (eye - ones / d) / sigma,
            "The -x_hat x_hat^T / D term is missing: sigma depends on x too "
            "(d sigma / d x_i = x_hat_i / D)",
        ),
        (
            (eye - ones / d - np.outer(x_hat, x_hat)) / sigma,
            "The x_hat x_hat^T term is divided by D too: "
            "(I - 1 1^T / D - x_hat x_hat^T / D) / sigma",
        ),
        (bracket(x_hat) * sigma, "Multiply the bracket by 1 / sigma, not by sigma"),
        (bracket(x_hat) / sigma**2, "Divide by sigma (the standard deviation), not the variance"),
        (
            (eye - ones / d - np.outer(x - x.mean(), x - x.mean()) / ((d - 1) * s1**2)) / s1,
            "That is the Jacobian of layer norm with the unbiased standard deviation "
            "(divide by D - 1); layer norm divides by D",
        ),
        (
            bracket((x - x.mean()) / s1) / s1,
            "You used the unbiased standard deviation (divide by D - 1); layer norm divides by D",
        ),
        (-expected, "The sign is flipped"),
    ]
    verdict = compare(
        j,
        expected,
        known,
        wrong(
            "The matrix differs from layer norm's Jacobian. Hint: differentiate "
            "x_hat_j = (x_j - mu) / sigma, using d mu / d x_i = 1/D and "
            "d sigma / d x_i = x_hat_i / D.",
            answer="Expected (np.eye(D) - np.ones((D, D)) / D - np.outer(x_hat, x_hat) / D) "
            "/ sigma.",
        ),
    )
    if not verdict.passed:
        return verdict
    rank = int(np.linalg.matrix_rank(j, tol=1e-9 * np.abs(j).max()))
    return Verdict(
        CORRECT,
        f"J = (I - 1 1^T / D - x_hat x_hat^T / D) / sigma, of rank {rank} = D - 2 here: "
        "1 / sigma times the orthogonal projection that removes the directions 1 (a shift) "
        "and x_hat (a rescaling), the two changes of x that layer norm cannot see.",
    )


GEOMETRY_QUESTIONS = {
    "Layer norm's output changes when 5 is added to every feature": "shift",
    "Layer norm's output (eps = 0, no gamma or beta) has length sqrt(D)": "length",
    "Layer norm's Jacobian (eps = 0) sends the all-ones vector to 0": "ln_ones",
    "RMSNorm's Jacobian (eps = 0) sends the all-ones vector to 0": "rms_ones",
    "With eps > 0, layer norm's Jacobian still sends x_hat to 0": "eps_xhat",
    "After layer norm, a query along the all-ones vector weighs every key the same": "uniform",
}


def _jvp(norm, x: np.ndarray, direction: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """The Jacobian of ``norm`` at ``x`` times ``direction``, by central differences."""
    return (norm(x + h * direction) - norm(x - h * direction)) / (2 * h)


@predictions(
    GEOMETRY_QUESTIONS,
    "Hint: layer norm is the projection P = I - 1 1^T / D, then a division by sigma; its "
    "Jacobian is (P - x_hat x_hat^T / D) / sigma. Compute each answer with "
    "lnbook.numpy_ln and finite differences.",
    "Layer norm ignores the directions 1 and x_hat (its Jacobian's null space, with eps = 0), "
    "puts every example at length sqrt(D) in the plane perpendicular to 1, so a query along "
    "1 scores every key 0. RMSNorm only ignores x_hat's direction, and eps makes that "
    "direction's singular value small instead of 0.",
)
def geometry_predictions() -> dict[str, bool]:
    """Chapter 9: ``geometry_predictions(fn)``, where ``fn()`` returns ``{question: True or
    False}`` for GEOMETRY_QUESTIONS. The truth, computed here with ``numpy_ln`` (finite
    differences for the Jacobians)."""
    rng = np.random.default_rng(23)
    x = rng.normal(1.0, 0.1, size=8)  # a small spread, so eps = 1e-2 shows
    ones = np.ones(8)

    def ln(v, eps=0.0):
        return numpy_ln.layer_norm(v, 8, eps=eps)

    def rms(v):
        return numpy_ln.rms_norm(v, 8, eps=0.0)

    x_hat = ln(x)
    keys = ln(rng.standard_normal((16, 8)) + 2.0)
    scores = keys @ (4.0 * ones)
    weights = np.exp(scores - scores.max())
    weights /= weights.sum()
    eps_move = _jvp(lambda v: ln(v, 1e-2), x, x_hat)
    return {
        "shift": not np.allclose(ln(x + 5), x_hat, atol=1e-9),
        "length": bool(abs(np.linalg.norm(x_hat) - np.sqrt(8)) < 1e-9),
        "ln_ones": bool(np.abs(_jvp(ln, x, ones)).max() < 1e-6),
        "rms_ones": bool(np.abs(_jvp(rms, x, ones)).max() < 1e-6),
        "eps_xhat": bool(np.abs(eps_move).max() < 1e-6),
        "uniform": bool(np.abs(weights - 1 / 16).max() < 1e-12),
    }


# --- Section 4: scale invariance and the effective learning rate -------------------------
#
# :func:`effective_rate_after`: the effective learning rate of scale-invariant weights after
# k steps of SGD, with or without weight decay. The harness's helpers are imported in the
# function, so that this half of the module touches no line of the other.

# (eta, lam, w0, g_unit, k): without decay, where the norm grows by half, and with decay,
# where it nearly settles. With eta = 1 and no decay some mistakes give the right number
# (eta^2 = eta, no decay to get wrong): the second case tells every diagnosed mistake apart
# (the nearest, a step too many or too few, lands 0.2% away).
_RATE_CASES = ((1.0, 0.0, 2.0, 2.0, 10), (0.5, 0.02, 3.0, 3.0, 25))


def _norm_sq_after(eta, lam, w0, g_unit, k, *, shrink=None, added="right", steps=None) -> float:
    """|W_k|^2 by the exact recurrence, or by one of its classic mistakes: another factor
    of the decay per step (``shrink``), the gradient's term (``added``: "constant", the
    gradient's norm kept at g_unit; "eta", eta instead of eta^2), another number of steps."""
    shrink = (1 - eta * lam) ** 2 if shrink is None else shrink
    norm_sq = w0**2
    for _ in range(k if steps is None else steps):
        grad_sq = g_unit**2 if added == "constant" else g_unit**2 / norm_sq  # |g|^2
        norm_sq = shrink * norm_sq + (eta if added == "eta" else eta**2) * grad_sq
    return norm_sq


@checker
def effective_rate_after(fn) -> Verdict:
    """Chapter 9: ``fn(eta, lam, w0, g_unit, k)``: the effective rate ``eta / |W_k|^2`` of
    scale-invariant weights after ``k`` steps of SGD (rate ``eta``, weight decay ``lam``)
    from norm ``w0``, the gradient orthogonal to W and of norm ``g_unit / |W|``."""
    import math

    from ...checking import as_number, call, compare, wrong

    for eta, lam, w0, g_unit, k in _RATE_CASES:
        case = f"For eta={eta:g}, lam={lam:g}, w0={w0:g}, g_unit={g_unit:g}, k={k}: "
        result, verdict = call(fn, eta, lam, w0, g_unit, k)
        if verdict:
            return verdict
        value, verdict = as_number(result, "The result")
        if verdict:
            return verdict
        norm_sq = _norm_sq_after(eta, lam, w0, g_unit, k)
        expected = eta / norm_sq
        # The continuous-time solution: d|W|^4/dt = 2 eta^2 g^2 - 4 eta lam |W|^4.
        if lam:
            settled = eta * g_unit**2 / (2 * lam)  # |W|^4 at equilibrium, to first order
            fourth = settled + (w0**4 - settled) * math.exp(-4 * eta * lam * k)
        else:
            fourth = w0**4 + 2 * k * eta**2 * g_unit**2
        known = [
            (
                eta / math.sqrt(norm_sq),
                "that is eta / |W|; the effective rate is eta / |W|^2: the step turns W by "
                "about eta |g| / |W|, and |g| itself is g_unit / |W|",
            ),
            (
                math.sqrt(norm_sq),
                "that is the norm |W_k|; return the effective rate eta / |W_k|^2",
            ),
            (norm_sq, "that is |W_k|^2; return the effective rate eta / |W_k|^2"),
            (
                eta / w0**2,
                "that is the rate before the first step: the norm changes at every step "
                "(the gradient lengthens W, the decay shortens it)",
            ),
            (
                eta / _norm_sq_after(eta, lam, w0, g_unit, k, added="constant"),
                "that keeps the gradient's norm at g_unit; it is g_unit / |W|, smaller as W "
                "grows (the loss is blind to the scale, so the gradient scales as 1/|W|)",
            ),
            (
                eta / _norm_sq_after(eta, lam, w0, g_unit, k, added="eta"),
                "the gradient's step adds eta^2 |g|^2 to |W|^2, not eta |g|^2: the step is "
                "eta g, and its squared length is eta^2 |g|^2",
            ),
            (
                eta / _norm_sq_after(eta, lam, w0, g_unit, k, shrink=1 - eta * lam),
                "the decay multiplies W by (1 - eta lam), so |W|^2 by (1 - eta lam)^2",
            ),
            (
                eta / _norm_sq_after(eta, lam, w0, g_unit, k, shrink=(1 - lam) ** 2),
                "SGD's decay step is eta lam W: it shrinks W by (1 - eta lam), not (1 - lam)",
            ),
            (
                eta / _norm_sq_after(eta, lam, w0, g_unit, k, steps=k - 1),
                f"that is the rate after {k - 1} steps; take all {k}",
            ),
            (
                eta / _norm_sq_after(eta, lam, w0, g_unit, k, steps=k + 1),
                f"that is the rate after {k + 1} steps; take {k}",
            ),
            (
                eta / math.sqrt(fourth),
                "that is the continuous-time approximation, |W|^4 growing by 2 eta^2 g_unit^2 "
                "per step; it drops a term of each step. Apply the step's exact update k "
                "times: |W|^2 <- (1 - eta lam)^2 |W|^2 + eta^2 g_unit^2 / |W|^2",
            ),
        ]
        # Norms adding like lengths on a line, not at right angles.
        norm = w0
        for _ in range(k):
            norm = (1 - eta * lam) * norm + eta * g_unit / norm
        known.append(
            (
                eta / norm**2,
                "that adds the gradient's step to the norm as if it pointed along W; it is "
                "orthogonal to W, so the squares add (Pythagoras): |W|^2 + eta^2 |g|^2",
            )
        )
        verdict = compare(
            value,
            expected,
            known,
            wrong(
                f"{case}{value:.6g} is not the effective rate after {k} steps. Follow |W|^2 "
                "step by step: the decay multiplies it by (1 - eta lam)^2, the gradient, "
                "orthogonal to W and of norm g_unit / |W|, adds eta^2 g_unit^2 / |W|^2.",
                answer=f"Expected {expected:.6g}.",
            ),
            prefix=case,
        )
        if not verdict.passed:
            return verdict
    return Verdict(
        CORRECT,
        "Without decay |W| only grows and the effective rate only falls; with decay the two "
        "settle where the gradient adds to |W|^2 what the decay removes.",
    )
