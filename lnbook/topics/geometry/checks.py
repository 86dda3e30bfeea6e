"""Checkers of chapter 9's exercises (geometry)."""

from __future__ import annotations

from ...checking import CORRECT, Verdict, checker

# --- Sections 1-3: projection, sphere, Jacobian, attention, gamma = 1 + w -----------------


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
