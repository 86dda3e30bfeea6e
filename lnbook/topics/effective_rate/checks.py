"""Checkers of chapter 10's exercises (effective rate)."""

from __future__ import annotations

import math

import numpy as np

from ...checking import (
    CORRECT,
    Verdict,
    as_number,
    call,
    checker,
    compare,
    returned_array,
    wrong,
)

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
    """Chapter 10: ``fn(eta, lam, w0, g_unit, k)``: the effective rate ``eta / |W_k|^2`` of
    scale-invariant weights after ``k`` steps of SGD (rate ``eta``, weight decay ``lam``)
    from norm ``w0``, the gradient orthogonal to W and of norm ``g_unit / |W|``."""
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


# --- The part of a gradient along the weights ----------------------------------------------


def _layer_gradient(w: np.ndarray, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The gradient in ``w`` (out, in) of ``t . LN(w @ x)`` (layer norm with eps = 0, no gamma
    or beta): ``outer(J^T t, x)``, where ``J = (P - z_hat z_hat^T / D) / sigma`` is layer
    norm's Jacobian at ``z = w @ x``. The loss is blind to the scale of ``w``."""
    z = w @ x
    d = len(z)
    sigma = z.std()
    z_hat = (z - z.mean()) / sigma
    dz = (t - t.mean() - z_hat * (z_hat @ t) / d) / sigma  # J^T t (J is symmetric)
    return np.outer(dz, x)


def _radial_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(what, w, g): a layer-normed layer's weights (4, 3) with the gradient of its loss plus
    weight decay 0.1 w, and a vector with a gradient that has a part along it."""
    rng = np.random.default_rng(10)
    w = 2.0 * rng.normal(size=(4, 3))  # |w|^2 near 50: dividing by it or not differs
    g = _layer_gradient(w, rng.normal(size=3), rng.normal(size=4)) + 0.1 * w
    v = rng.normal(size=6)
    noise = rng.normal(size=6)
    h = 0.7 * v + (noise - (noise @ v) / (v @ v) * v)  # 0.7 v along v, the rest across it
    return [
        ("the weights (4, 3) of a layer followed by layer norm, g = its gradient + 0.1 w", w, g),
        ("a vector w (6,) and a gradient with a part along it", v, h),
    ]


def _along(w: np.ndarray, g: np.ndarray, axis=None) -> np.ndarray:
    """The part of ``g`` along ``w``: over all entries (``axis=None``), or per row/column."""
    return (w * g).sum(axis=axis, keepdims=True) / (w * w).sum(axis=axis, keepdims=True) * w


@checker
def radial_part(fn) -> Verdict:
    """Chapter 10: ``fn(w, g)`` returns the part of ``g`` along ``w``, ``(<w, g> / |w|^2) w``,
    with the inner product over every entry (w and g of the same shape)."""
    for what, w, g in _radial_cases():
        case = f"For {what}: "
        matrix_product = (
            f"{case}that has the shape of a matrix product (w @ g.T or w.T @ g); the inner "
            "product of two weight matrices is the sum of their entries' products, "
            "np.sum(w * g), and the result is a multiple of w, of w's shape."
        )
        wrong_shapes = {
            (): f"{case}that is a single number (the coefficient?); return the vector "
            "(<w, g> / |w|^2) * w, of w's shape.",
        }
        if w.ndim == 2:
            wrong_shapes.update(
                {
                    (w.shape[0], w.shape[0]): matrix_product,
                    (w.shape[1], w.shape[1]): matrix_product,
                    (w.shape[0],): f"{case}that is one number per row; W is one vector of "
                    "all its entries: one inner product over all of them.",
                    (w.shape[0], 1): f"{case}that is one number per row; W is one vector of "
                    "all its entries: one inner product over all of them.",
                }
            )
        r, verdict = returned_array(
            fn,
            (w.copy(), g.copy()),
            w.shape,
            name="The result",
            wrong_shapes=wrong_shapes,
            read_only={0: "w", 1: "g"},
        )
        if verdict:
            return verdict
        expected = _along(w, g)
        known = [
            (
                g - expected,
                "that is the part of g across w (orthogonal to it): g minus its part along w",
            ),
            (
                np.zeros_like(w),
                "that is 0: the loss's own gradient has no part along w, but g here need not "
                "be only that (weight decay adds lam w). Compute (<w, g> / |w|^2) w",
            ),
            (
                (w * g).sum() * w,
                "divide by |w|^2: <w, g> w is the part along w only when |w| = 1",
            ),
            (
                (w * g).sum() / np.linalg.norm(w) * w,
                "divide by |w|^2, not |w|: <w, g> / |w| is the length of the part along w, "
                "and the unit vector along w is w / |w|, a second division",
            ),
            (
                (w * g).sum() / (g * g).sum() * g,
                "that is the part of w along g; the question is the part of g along w: "
                "(<w, g> / |w|^2) w",
            ),
        ]
        if w.ndim == 2:
            known += [
                (
                    _along(w, g, axis=1),
                    "that projects each row of w on its own; the loss is blind to the scale of "
                    "all of W at once (one norm sees every row's output), so take one inner "
                    "product over every entry: np.sum(w * g)",
                ),
                (
                    _along(w, g, axis=0),
                    "that projects each column of w on its own; take one inner product over "
                    "every entry: np.sum(w * g)",
                ),
            ]
        verdict = compare(
            r,
            expected,
            known,
            wrong(
                f"{case}that is not the part of g along w. It is a multiple of w: "
                "(<w, g> / |w|^2) w, with <w, g> = np.sum(w * g).",
                answer=f"Expected {np.array2string(expected, precision=4, threshold=8)}.",
            ),
            prefix=case,
        )
        if not verdict.passed:
            return verdict
    return Verdict(
        CORRECT,
        "For the layer-normed layer the part along w is 0.1 w, the weight decay, to rounding: "
        "the loss's own gradient has none, so only the decay shortens W, and the gradient's "
        "step, at right angles, lengthens it.",
    )


# --- The equilibrium norm --------------------------------------------------------------------

# (eta, lam, g_tilde). The exact fixed point, |W|^4 = eta^2 g_tilde^2 / (1 - (1 - eta lam)^2),
# differs from the first-order one by a factor (1 - eta lam / 2)^(-1/4), 4e-4 here: both are
# accepted, told apart beyond the harness's tolerance (1e-6).
_EQUILIBRIUM_CASES = ((0.3, 0.01, 2.0), (1.0, 0.003, 0.5))


@checker
def equilibrium_norm(fn) -> Verdict:
    """Chapter 10: ``fn(eta, lam, g_tilde)`` returns the norm |W| where SGD with weight decay
    settles on scale-invariant weights, to first order in eta lam: |W|^4 = eta g_tilde^2 /
    (2 lam), with g_tilde the gradient's norm at |W| = 1."""
    for eta, lam, g in _EQUILIBRIUM_CASES:
        case = f"For eta={eta:g}, lam={lam:g}, g_tilde={g:g}: "
        result, verdict = call(fn, eta, lam, g)
        if verdict:
            return verdict
        value, verdict = as_number(result, "The result")
        if verdict:
            return verdict
        fourth = eta * g**2 / (2 * lam)
        expected = fourth**0.25
        exact = (eta**2 * g**2 / (1 - (1 - eta * lam) ** 2)) ** 0.25
        if abs(value / exact - 1) < 1e-6 and abs(value / expected - 1) > 1e-6:
            continue  # the exact fixed point: right too (it differs at second order)
        known = [
            (
                math.sqrt(fourth),
                "that is |W|^2: |g| = g_tilde / |W| depends on |W| too, so the balance "
                "eta^2 |g|^2 = 2 eta lam |W|^2 gives |W|^4 = eta g_tilde^2 / (2 lam); take "
                "the fourth root",
            ),
            (fourth, "that is |W|^4; take its fourth root"),
            (
                (eta * g**2 / lam) ** 0.25,
                "the decay removes 1 - (1 - eta lam)^2, about 2 eta lam, of |W|^2 per step: "
                "|W|^4 = eta g_tilde^2 / (2 lam), with the factor 2",
            ),
            (
                (lam * g**2 / (2 * eta)) ** 0.25,
                "eta and lam are swapped: a larger learning rate lengthens W more, so eta goes "
                "in the numerator: |W|^4 = eta g_tilde^2 / (2 lam)",
            ),
            (
                (eta * g / (2 * lam)) ** 0.25,
                "square g_tilde: the gradient's step adds eta^2 |g|^2 to |W|^2",
            ),
            (
                (eta * g**2 / 2) ** 0.25,
                "the decay lam belongs in the denominator: |W|^4 = eta g_tilde^2 / (2 lam)",
            ),
            (
                eta / math.sqrt(fourth),
                "that is the effective rate eta / |W|^2 there; return |W|",
            ),
        ]
        verdict = compare(
            value,
            expected,
            known,
            wrong(
                f"{case}{value:.6g} is not the equilibrium norm. Set what the gradient's step "
                "adds to |W|^2, eta^2 g_tilde^2 / |W|^2, equal to what the decay removes, "
                "about 2 eta lam |W|^2, and solve for |W|.",
                answer=f"Expected {expected:.6g}.",
            ),
            prefix=case,
        )
        if not verdict.passed:
            return verdict
    return Verdict(
        CORRECT,
        "|W| = (eta g_tilde^2 / (2 lam))^(1/4): a larger rate or a larger gradient settles "
        "at longer weights, more decay at shorter ones, and only through a fourth root. The "
        "angle per step there, sqrt(2 eta lam), does not depend on the gradient at all.",
    )
