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
