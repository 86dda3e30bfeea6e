"""Checkers of chapter 5's exercises (normalization in transformers): a sublayer with its
residual connection in pre- and post-norm (:func:`residual_placement`), a mean over the
valid tokens of a padded batch (:func:`masked_mean`), and what each normalization reads
while decoding (:func:`decoding_predictions`).

The padding in :func:`masked_mean`'s batch is not zero (after a layer it is not), so an
answer that sums the padded positions cannot pass by luck; pre- and post-norm are each
checked against the other's formula. Harness: :mod:`lnbook.checking`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ... import numpy_ln
from ...checking import CORRECT, Verdict, checker, close, compare, predictions, returned_array


@checker
def residual_placement(fn: Callable) -> Verdict:
    """Chapter 5: ``fn(x, f, norm, placement)`` applies one sublayer ``f`` with its residual
    connection and normalization ``norm``, for ``placement`` "pre" or "post"."""
    rng = np.random.default_rng(8)
    x = rng.normal(1.0, 2.0, size=(4, 6))
    W_ = rng.standard_normal((6, 6)) / 2

    def f(h):
        return np.tanh(h @ W_)

    def norm(h):
        return numpy_ln.layer_norm(h, 6)

    expected = {"pre": x + f(norm(x)), "post": norm(x + f(x))}
    known = {
        "pre": [
            (
                norm(x + f(x)),
                "that is post-norm; pre-norm normalizes the sublayer's *input*: x + f(norm(x))",
            ),
            (f(norm(x)), "the residual connection is missing: add x back"),
            (norm(x) + f(norm(x)), "the residual adds the raw x, not norm(x)"),
        ],
        "post": [
            (x + f(norm(x)), "that is pre-norm; post-norm normalizes the *sum*: norm(x + f(x))"),
            (norm(f(x)), "the residual connection is missing: norm(x + f(x))"),
            (x + norm(f(x)), "post-norm normalizes the whole sum, residual included"),
        ],
    }
    for placement in ("pre", "post"):
        y, verdict = returned_array(
            fn, (x.copy(), f, norm, placement), x.shape, name=f"The {placement}-norm result"
        )
        if verdict:
            return verdict
        case = f"{placement.capitalize()}-norm: "
        verdict = compare(
            y,
            expected[placement],
            known[placement],
            case + "the values differ from the expected block.",
            prefix=case,
        )
        if not verdict.passed:
            return verdict
    return Verdict(
        CORRECT,
        "Pre-norm: x + f(norm(x)), the residual path stays un-normalized; "
        "post-norm: norm(x + f(x)).",
    )


@checker
def masked_mean(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Verdict:
    """Chapter 5: ``fn(x, valid)`` is the mean of every feature over the valid tokens of a
    padded batch: x (B, T, D), valid (B, T) booleans; result (D,)."""
    rng = np.random.default_rng(9)
    lengths = [5, 2, 4]
    x = rng.normal(2.0, 1.0, size=(3, 5, 4))
    valid = np.arange(5)[None, :] < np.array(lengths)[:, None]  # (B, T)
    # Padding that is not zero (as after a layer, or a bias, it is not): an answer that sums
    # the padded positions cannot pass by luck.
    x[~valid] = rng.normal(-3.0, 1.0, size=(int((~valid).sum()), 4))
    y, verdict = returned_array(fn, (x.copy(), valid.copy()), (4,))
    if verdict:
        return verdict
    known = [
        (x.mean(axis=(0, 1)), "The padding positions are included: average over valid tokens only"),
        (
            x.sum(axis=(0, 1)) / valid.sum(),
            "The count is right, but the sum includes the padding positions; zero them first "
            "(multiply by valid[..., None]) or sum x[valid]",
        ),
        (
            (x * valid[..., None]).sum(axis=(0, 1)) / valid.size,
            "The sum is right, but you divided by every position, padding included; divide "
            "by the number of valid tokens, valid.sum()",
        ),
        (
            np.mean([x[b, :n].mean(axis=0) for b, n in enumerate(lengths)], axis=0),
            "That is the mean of each sequence's mean: short sequences weigh as much as long "
            "ones; average over all valid tokens together",
        ),
    ]
    return compare(
        y,
        x[valid].mean(axis=0),
        known,
        "The values differ from the mean over the valid tokens.",
        success="Every real token counts once; padding counts not at all.",
    )


DECODING_QUESTIONS = {
    "layer norm of token 3 changes when token 4 is generated": "ln_next",
    "batch norm over the tokens so far, of token 3, changes when token 4 is generated": "bn_next",
    "layer norm of a token depends on how much padding its batch has": "ln_pad",
    "batch norm over all positions of a padded batch depends on the padding": "bn_pad",
}


@predictions(
    DECODING_QUESTIONS,
    "Hint: ask which tokens each normalization reads, then compute it.",
    "Layer norm reads one token, so neither later tokens nor padding "
    "reach it; batch norm reads them all.",
)
def decoding_predictions() -> dict[str, bool]:
    """Chapter 5: ``decoding_predictions(fn)``, where ``fn()`` returns ``{question: True or
    False}`` for DECODING_QUESTIONS. The truth, computed here on random tokens."""
    rng = np.random.default_rng(10)
    x = rng.normal(rng.normal(size=6), 1.0, size=(5, 6))  # (T, D)
    ln3, ln3_later = numpy_ln.layer_norm(x[:4], 6)[3], numpy_ln.layer_norm(x[:5], 6)[3]
    bn3 = numpy_ln.batch_norm(x[:4], None, None, training=True)[3]
    bn3_later = numpy_ln.batch_norm(x[:5], None, None, training=True)[3]
    padded = np.vstack([x, np.zeros((3, 6))])  # the same tokens and 3 padding positions
    ln_pad = numpy_ln.layer_norm(padded, 6)[:5]
    bn_pad = numpy_ln.batch_norm(padded, None, None, training=True)[:5]
    return {
        "ln_next": not close(ln3, ln3_later),
        "bn_next": not close(bn3, bn3_later),
        "ln_pad": not close(ln_pad, numpy_ln.layer_norm(x, 6)),
        "bn_pad": not close(bn_pad, numpy_ln.batch_norm(x, None, None, training=True)),
    }
