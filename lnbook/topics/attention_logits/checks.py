"""Checkers of chapter 13's exercises (attention logits)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...checking import (
    CORRECT,
    Verdict,
    as_array,
    as_number,
    call,
    checker,
    compare,
    returned_array,
    wrong,
)

# Gains chosen so that every shortcut gives another number: the largest product of gains
# is at a coordinate where neither gain is the largest, and it is negative.
_BOUND_CASES = (
    (np.array([2.0, 0.5, 1.0, -3.0]), np.array([0.5, 4.0, 1.0, 1.0])),
    (np.full(9, 1.5), np.ones(9)),
)


@checker
def qk_logit_bound(fn: Callable) -> Verdict:
    """Chapter 13: ``fn(gamma_q, gamma_k)``: the largest |attention logit| that RMSNorm
    QK-norm (eps = 0, per head, gains ``gamma_q`` and ``gamma_k`` of length d_head) allows,
    the logit being q_hat . k_hat / sqrt(d_head)."""
    for gq, gk in _BOUND_CASES:
        d = gq.size
        case = f"For gamma_q = {gq.tolist()}, gamma_k = {gk.tolist()}: "
        result, verdict = call(fn, gq.copy(), gk.copy())
        if verdict:
            return verdict
        value, verdict = as_number(result, "The result")
        if verdict:
            return verdict
        prod = gq * gk
        expected = np.sqrt(d) * np.abs(prod).max()
        known = [
            (d * np.abs(prod).max(), "that forgets the division by sqrt(d_head) in the logit"),
            (
                np.abs(prod).max(),
                "that takes q_hat and k_hat of length 1; RMSNorm gives them length "
                "sqrt(d_head) (their root mean square is 1), so q_hat . k_hat reaches d_head",
            ),
            (
                np.sqrt(d) * np.abs(gq).max() * np.abs(gk).max(),
                "that multiplies the largest gain of q by the largest gain of k, which may sit "
                "at different coordinates; q and k meet coordinate by coordinate, so the "
                "largest product gamma_q[i] * gamma_k[i] counts",
            ),
            (
                np.sqrt(d) * prod.max(),
                "that takes the largest signed product; a negative product gives a large "
                "negative logit, and |logit| counts: take the absolute values",
            ),
            (
                np.sqrt(d) * np.abs(prod).sum(),
                "that sums the products over the coordinates: q_hat and k_hat cannot be "
                "large on every coordinate at once (their length is fixed at sqrt(d_head))",
            ),
            (
                np.sqrt(d) * np.linalg.norm(gq) * np.linalg.norm(gk),
                "that is a bound (Cauchy-Schwarz on the gains' lengths), but not the largest "
                "value reached: put q_hat and k_hat both along the best single coordinate",
            ),
        ]
        verdict = compare(
            value,
            expected,
            known,
            wrong(
                case + f"{value:.6g} is not the largest |logit|. Where can q_hat and k_hat "
                "put their length (sqrt(d_head) each) to make sum_i gq_i gk_i q_i k_i largest?"
            ),
            prefix=case,
        )
        if not verdict.passed:
            return verdict
    return Verdict(
        CORRECT,
        "sqrt(d_head) * max_i |gamma_q[i] gamma_k[i]|: with QK-norm only the gains can make "
        "the logits large, however large the projections grow.",
    )


def _rms_rows(q, gamma, eps, axes=(-1,)):
    return q / np.sqrt((q**2).mean(axis=axes, keepdims=True) + eps) * gamma


@checker
def qk_rms_norm(fn: Callable) -> Verdict:
    """Chapter 13: ``fn(q, gamma, eps)``: RMSNorm QK-norm of the queries ``q`` of shape
    (B, H, T, d_head), per head: each head's d_head features divided by their root mean
    square (eps inside the square root) and multiplied by ``gamma`` of shape (d_head,)."""
    rng = np.random.default_rng(13)
    # Offset and unevenly scaled heads, so that centring, the wrong axis or a missing gain
    # all change the answer; eps large enough to see where it goes.
    q = rng.standard_normal((2, 3, 4, 5)) * np.array([0.5, 2.0, 7.0])[:, None, None] + 0.8
    gamma, eps = np.array([1.5, -0.5, 2.0, 0.25, 1.0]), 0.1
    y, verdict = returned_array(
        fn, (q.copy(), gamma.copy(), eps), q.shape, read_only={0: "q", 1: "gamma"}
    )
    if verdict:
        return verdict
    centred = q - q.mean(axis=-1, keepdims=True)
    known = [
        (_rms_rows(q, 1.0, eps), "gamma is missing: multiply the normalized q by gamma"),
        (
            _rms_rows(centred, gamma, eps),
            "That subtracts the mean (layer norm); RMSNorm divides by the root mean square "
            "of the features as they are",
        ),
        (
            _rms_rows(q, gamma, eps, axes=(1, 3)),
            "That normalizes each token's whole width (all heads together, as OLMo 2 does); "
            "this exercise asks for each head on its own: the last axis only",
        ),
        (
            _rms_rows(q, gamma, eps, axes=(-2,)),
            "That normalizes over the tokens (axis -2); normalize each token's features, "
            "the last axis",
        ),
        (
            q / (np.sqrt((q**2).mean(axis=-1, keepdims=True)) + eps) * gamma,
            "Eps is added outside the square root; RMSNorm adds it to the mean square",
        ),
        (
            q / np.sqrt((q**2).sum(axis=-1, keepdims=True) + eps) * gamma,
            "That divides by the length (the sum of squares), not the root mean square: "
            "the result is sqrt(d_head) times too small",
        ),
    ]
    return compare(
        y,
        _rms_rows(q, gamma, eps),
        known,
        "Not RMSNorm of each head's features: divide q by sqrt(mean(q**2 over the last "
        "axis) + eps), then multiply by gamma.",
        success="Each head's queries now have a root mean square of 1 before gamma, whatever "
        "the projection's scale: only gamma can make the logits large.",
    )


@checker
def attention_entropy(fn: Callable) -> Verdict:
    """Chapter 13: ``fn(logits)``: the entropy in nats of ``softmax(logits)`` along the
    last axis, shape ``logits.shape[:-1]``; it must work for logits in the thousands."""
    logits = np.array([[0.0, 0.0, 0.0, 0.0], [2.0, 0.0, -1.0, 0.5], [8.0, 1.0, 0.0, 3.0]])
    h, verdict = returned_array(fn, (logits.copy(),), (3,), read_only={0: "logits"})
    if verdict:
        return verdict
    z = logits - logits.max(axis=-1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    expected = -(p * np.log(p)).sum(axis=-1)
    e = np.exp(logits)
    known = [
        (expected / np.log(2), "That is in bits (log base 2); use the natural log, for nats"),
        (-expected, "The sign is flipped: the entropy is -sum p log p, which is >= 0"),
        (
            -(e * logits).sum(axis=-1),
            "That uses exp(logits) as the probabilities; divide by their sum first (softmax)",
        ),
        (
            np.full(3, np.log(4)),
            "That is ln(4) for every row, the entropy of uniform attention; only the first "
            "row's logits are all equal",
        ),
    ]
    verdict = compare(
        h, expected, known, "Not the entropy of softmax(logits): -sum p log p over the last axis."
    )
    if not verdict.passed:
        return verdict
    # Logits as large as the chapter's runs reach: exp overflows unless the maximum goes first.
    big = np.array([[3000.0, 2990.0, 2995.0, 2998.0], [1000.0, 1000.0, 1000.0, 1000.0]])
    result, verdict = call(fn, big.copy())
    if verdict:
        return verdict
    given, verdict = as_array(result, "With logits around 3000, the result", (2,))
    if verdict:
        return wrong(
            verdict.message + " With logits of 3000, np.exp gives inf: subtract each row's "
            "largest logit first (softmax does not change), or use log-softmax."
        )
    p_big = np.exp(big - big.max(axis=-1, keepdims=True))
    p_big /= p_big.sum(axis=-1, keepdims=True)
    expected_big = -(p_big * np.log(p_big)).sum(axis=-1)
    return compare(
        given,
        expected_big,
        [],
        "With logits around 3000 the entropy is that of softmax([10, 0, 5, 8]) (adding a "
        "constant to every logit changes nothing), and four equal logits of 1000 give ln 4: "
        "check the large logits.",
        success="Stable for any size of logits: subtracting the largest logit changes nothing "
        "in softmax and keeps exp from overflowing.",
    )
