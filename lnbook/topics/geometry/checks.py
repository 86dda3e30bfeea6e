"""Checkers of chapter 9's exercises (geometry)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...checking import CORRECT, Verdict, checker, compare, returned_array, wrong

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


# --- Section 4: scale invariance and the effective learning rate -------------------------
