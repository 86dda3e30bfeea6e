"""Checkers of chapter 12's exercises (placements): the sandwich block
(:func:`sandwich_block`), DeepNorm's constants (:func:`deepnorm_constants`) and what each
placement does to the residual stream (:func:`stream_predictions`).

The two norms the sandwich checker hands over have different gammas, so an answer that
swaps them, or uses one twice, cannot pass by luck. Harness: :mod:`lnbook.checking`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ... import numpy_ln
from ...checking import (
    CORRECT,
    Verdict,
    as_number,
    call,
    checker,
    compare,
    parts_of,
    predictions,
    quote,
    returned_array,
    wrong,
)


@checker
def sandwich_block(fn: Callable) -> Verdict:
    """Chapter 12: ``fn(x, f, norm_in, norm_out)`` applies one sublayer ``f`` as the
    sandwich (CogView, Gemma 2, Peri-LN) does: a norm on its input, another on its output,
    and the residual connection around both."""
    rng = np.random.default_rng(12)
    x = rng.normal(1.5, 3.0, size=(5, 6))  # offset and spread far from a norm's output
    w = rng.standard_normal((6, 6)) / 2
    gamma_in, gamma_out = rng.uniform(0.5, 1.5, 6), rng.uniform(2.0, 3.0, 6)

    def f(h):
        return np.tanh(h @ w)

    def norm_in(h):
        return numpy_ln.layer_norm(h, 6, weight=gamma_in)

    def norm_out(h):
        return numpy_ln.layer_norm(h, 6, weight=gamma_out)

    y, verdict = returned_array(fn, (x.copy(), f, norm_in, norm_out), x.shape, read_only={0: "x"})
    if verdict:
        return verdict
    known = [
        (
            norm_out(x + f(norm_in(x))),
            "The output norm is on the whole sum: that normalizes the residual stream, as "
            "post-norm does. The sandwich normalizes f's output before adding it: "
            "x + norm_out(f(norm_in(x)))",
        ),
        (x + f(norm_in(x)), "That is pre-norm: the norm on f's output is missing"),
        (x + norm_out(f(x)), "That is OLMo 2's block: the norm on f's input is missing"),
        (x + norm_in(f(norm_out(x))), "The two norms are swapped: norm_in goes on f's input"),
        (norm_out(f(norm_in(x))), "The residual connection is missing: add x back"),
        (norm_in(x) + norm_out(f(norm_in(x))), "The residual adds the raw x, not norm_in(x)"),
    ]
    return compare(
        y,
        x + norm_out(f(norm_in(x))),
        known,
        "The values differ from the sandwich x + norm_out(f(norm_in(x))).",
        success="The sandwich is x + norm_out(f(norm_in(x))): each sublayer adds a vector of a "
        "norm's size (sqrt(D) times gamma) to a residual stream that no norm touches.",
    )


def _deepnorm(n: int) -> tuple[float, float]:
    """DeepNorm's decoder-only constants, written here from the paper's formulas."""
    return (2.0 * n) ** 0.25, (8.0 * n) ** -0.25


@checker
def deepnorm_constants(fn: Callable[[int], tuple]) -> Verdict:
    """Chapter 12: ``fn(n_layers)`` returns DeepNorm's ``(alpha, beta)`` for a
    decoder-only stack of ``n_layers`` blocks."""
    for n in (6, 18, 100):  # several depths, so that constants for one depth do not pass
        result, verdict = call(fn, n)
        if verdict:
            return verdict
        parts = parts_of(result, 2)
        if parts is None:
            return wrong(f"Return two numbers, (alpha, beta); for N = {n} got {quote(result)}.")
        alpha, v1 = as_number(parts[0], "Alpha")
        beta, v2 = as_number(parts[1], "Beta")
        if v1 or v2:
            return v1 or v2
        a, b = _deepnorm(n)
        known = [
            (
                (b, a),
                "Alpha and beta are swapped: alpha > 1 scales the residual, beta < 1 the weights",
            ),
            ((a, 1 / b), "Beta shrinks the weights: (8 N)^(-1/4), not (8 N)^(1/4)"),
            (
                ((4.0 * n) ** 0.25, (16.0 * n) ** -0.25),
                "N counts blocks, not sublayers: (2 N)^(1/4) and (8 N)^(-1/4)",
            ),
            (
                ((3.0 * n) ** 0.25, (12.0 * n) ** -0.25),
                "Those are the decoder's constants in an encoder-decoder; a decoder-only "
                "stack takes (2 N)^(1/4) and (8 N)^(-1/4)",
            ),
            (((2.0 * n) ** 0.5, (8.0 * n) ** -0.5), "A fourth root, not a square root"),
        ]
        verdict = compare(
            np.array([alpha, beta]),
            np.array([a, b]),
            [(np.array(v), m) for v, m in known],
            wrong(
                f"For N = {n} blocks the constants differ from DeepNorm's.",
                answer=f"Expected alpha = (2 N)^(1/4) = {a:.4g}, beta = (8 N)^(-1/4) = {b:.4g}.",
            ),
            prefix=f"With N = {n}: ",
        )
        if not verdict.passed:
            return verdict
    return Verdict(
        CORRECT,
        "Right: alpha = (2 N)^(1/4) grows slowly with depth (2.4 at 18 blocks, 3.8 at 100) "
        "and beta = (8 N)^(-1/4) shrinks, so the residual outweighs each sublayer more and more.",
    )


STREAM_QUESTIONS = {
    "In a pre-norm stack, the residual stream grows with depth": "pre_grows",
    "In a post-norm stack, the residual stream grows with depth": "post_grows",
    "In the sandwich, the output norm keeps the residual stream at a norm's size": (
        "sandwich_capped"
    ),
    "OLMo 2's block, x + norm(f(x)), lets the residual stream grow": "olmo_grows",
    "DeepNorm's alpha is larger for 100 blocks than for 10": "alpha_grows",
    "Without a final norm, a deep pre-norm stack hands its output layer larger vectors "
    "than a shallow one": "no_final_grows",
}


def _stream(placement: str, n_blocks: int, d: int = 16, seed: int = 0) -> float:
    """The residual stream's norm after ``n_blocks`` blocks of two sublayers, each a random
    linear map (NumPy), with layer norms (gamma 1) placed as ``placement``; the mean over
    16 tokens."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, d))

    def ln(h):
        return numpy_ln.layer_norm(h, d)

    for _ in range(2 * n_blocks):
        w = rng.standard_normal((d, d)) / np.sqrt(d)

        def f(h, w=w):
            return h @ w

        if placement == "pre":
            x = x + f(ln(x))
        elif placement == "post":
            x = ln(x + f(x))
        elif placement == "sandwich":
            x = x + ln(f(ln(x)))
        else:  # OLMo 2: the norm on the sublayer's output only
            x = x + ln(f(x))
    return float(np.linalg.norm(x, axis=-1).mean())


@predictions(
    STREAM_QUESTIONS,
    "Hint: a norm on the residual path (post-norm) resets the stream to a norm's size; a "
    "norm inside the branch (pre, sandwich, OLMo 2) does not, and each sublayer adds to "
    "the stream. DeepNorm's alpha is (2 N)^(1/4).",
    "Only a norm on the residual path itself (post-norm, DeepNorm, Admin) keeps the stream "
    "at a norm's size; every placement that leaves the path to the identity lets it grow, "
    "which the final norm then rescales before the output layer.",
)
def stream_predictions() -> dict[str, bool]:
    """Chapter 12: ``stream_predictions(fn)``, where ``fn()`` returns ``{question: True or
    False}`` for STREAM_QUESTIONS. The truth, computed here: NumPy stacks of random linear
    sublayers with lnbook's layer norm, at 2 and 12 blocks."""
    size = np.sqrt(16)  # a layer norm's output (gamma 1): norm sqrt(D)

    def grows(p: str) -> bool:
        return _stream(p, 12) > 1.5 * _stream(p, 2)

    return {
        "pre_grows": grows("pre"),
        "post_grows": grows("post"),
        "sandwich_capped": abs(_stream("sandwich", 12) - size) < 0.1 * size,
        "olmo_grows": grows("olmo"),
        "alpha_grows": _deepnorm(100)[0] > _deepnorm(10)[0],
        "no_final_grows": grows("pre"),  # what the last block hands on, with no norm after it
    }
