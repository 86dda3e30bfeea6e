"""Checkers of chapter 4's exercises (layer norm against batch norm): which axes each
normalization averages over (:func:`norm_axes`), batch norm in training and in inference
mode (:func:`batch_norm_training`, :func:`batch_norm_inference`), and which examples each
reads (:func:`batch_predictions`).

Batches have N != D and features of very different spread, so that layer norm's axis, the
unbiased variance or a forgotten eps each give values of their own; the truth table is
computed with lnbook's batch and layer norm. The harness that calls the answers is
:mod:`lnbook.checking`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ... import numpy_ln
from ...checking import (
    CORRECT,
    Verdict,
    call,
    checker,
    close,
    compare,
    ln_rows,
    predictions,
    quote,
    returned_array,
    wrong,
)

_AXES = {"batch norm": (0, 2, 3), "layer norm": (1, 2, 3), "instance norm": (2, 3)}


@checker
def norm_axes(fn: Callable[[str], tuple]) -> Verdict:
    """Chapter 4: ``fn(method)`` returns the axes of an (N, C, H, W) tensor that ``method``
    ("batch norm", "layer norm", "instance norm") averages over."""
    missed, answers = [], []
    for method, truth in _AXES.items():
        result, verdict = call(fn, method)
        if verdict:
            return verdict
        try:
            if isinstance(result, str | bytes):
                raise TypeError
            raw = list(np.atleast_1d(result))
            if not all(isinstance(a, int | np.integer) and not isinstance(a, bool) for a in raw):
                raise TypeError
        except Exception:
            return wrong(
                f"For {method!r} return a tuple of axis numbers (ints), got {quote(result)}."
            )
        if any(not -4 <= a < 4 for a in raw):
            return wrong(
                f"For {method!r}: a 4-d tensor has axes 0 to 3 (or -4 to -1), got "
                f"{quote(tuple(raw))}."
            )
        axes = tuple(sorted({int(a) % 4 for a in raw}))
        if len(axes) != len(raw):
            return wrong(f"For {method!r}: {quote(tuple(raw))} names an axis twice.")
        if axes == truth:
            continue
        answers.append(f"{method} {truth}")
        others = [m for m, t in _AXES.items() if t == axes]
        if others:
            missed.append(f"{method}: {axes} are the axes of {others[0]}")
        elif set(axes) < set(truth):
            missing = sorted(set(truth) - set(axes))
            missed.append(
                f"{method}: {axes} misses some (the positions H, W are averaged too)"
                if 2 in missing or 3 in missing
                else f"{method}: {axes} misses some"
            )
        else:
            missed.append(f"{method}: {axes} is not right")
    if missed:
        return wrong(
            f"{len(missed)} of {len(_AXES)} wrong: " + "; ".join(missed) + ". Axis 0 is the "
            "batch (N), 1 the channels (C), 2 and 3 the positions (H, W).",
            answer="Expected: " + "; ".join(answers),
        )
    return Verdict(
        CORRECT,
        "Batch norm: (0, 2, 3); layer norm: (1, 2, 3); instance norm: "
        "(2, 3). Only batch norm crosses examples.",
    )


@checker
def batch_norm_training(fn: Callable[[np.ndarray, float], np.ndarray]) -> Verdict:
    """Chapter 4: ``fn(x, eps)`` is batch norm in training mode of a (N, D) array, without
    gamma and beta (statistics of each feature over the batch)."""
    rng = np.random.default_rng(5)
    # Features of very different spread, N != D so a wrong axis shows up.
    x = rng.standard_normal((6, 4)) * np.array([1.0, 5.0, 0.01, 0.3]) + 2.0
    eps = 1e-3
    y, verdict = returned_array(fn, (x.copy(), eps), x.shape)
    if verdict:
        return verdict
    known = [
        (
            ln_rows(x, eps),
            "You normalized each *row* (example): that is layer norm. Batch "
            "norm takes the statistics of each feature over the batch: axis=0.",
        ),
        (
            ln_rows(x, eps, ddof=1, axis=0),
            "You used the unbiased variance (divide by N - 1) "
            "to normalize. Batch norm divides by N there (torch keeps N - 1 only for the running "
            "variance).",
        ),
        (
            ln_rows(x, eps, eps_outside=True, axis=0),
            "You added eps to the standard deviation; "
            "it goes inside the square root: np.sqrt(var + eps).",
        ),
        (ln_rows(x, 0.0, axis=0), "Close, but eps is missing: use np.sqrt(var + eps)."),
    ]
    return compare(
        y,
        ln_rows(x, eps, axis=0),
        known,
        "The values differ from batch norm's.",
        success="Each feature now has mean 0 over the batch and variance var / (var + eps).",
    )


@checker
def batch_norm_inference(fn: Callable[..., np.ndarray]) -> Verdict:
    """Chapter 4: ``fn(x, running_mean, running_var, eps)`` is batch norm in inference mode
    of a (N, D) array, without gamma and beta."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((5, 3)) * 2.0 + 1.0
    running_mean = np.array([0.5, -1.0, 2.0])
    running_var = np.array([4.0, 0.25, 1.0])
    eps = 1e-3
    y, verdict = returned_array(
        fn, (x.copy(), running_mean.copy(), running_var.copy(), eps), x.shape
    )
    if verdict:
        return verdict
    known = [
        (
            ln_rows(x, eps, axis=0),
            "You used the statistics of this batch: that is training "
            "mode. At inference batch norm uses running_mean and running_var.",
        ),
        (
            (x - running_mean) / (np.sqrt(running_var) + eps),
            "eps goes inside the square root: np.sqrt(running_var + eps).",
        ),
        (
            (x - running_mean) / (running_var + eps),
            "running_var is a variance: divide by its square root.",
        ),
        ((x - running_mean) / np.sqrt(running_var), "Close, but eps is missing."),
    ]
    return compare(
        y,
        (x - running_mean) / np.sqrt(running_var + eps),
        known,
        "The values differ from (x - running_mean) / sqrt(running_var + eps).",
        success="Inference uses the running statistics: each example's output "
        "no longer depends on the others.",
    )


BATCH_QUESTIONS = {
    "in training mode, changing one example changes the batch-norm output of the others": "others",
    "an example's layer-norm output depends on the batch size": "ln_size",
    "in inference mode, batch norm gives an example the same output in any batch": "infer",
    "in training mode, batch norm can normalize a batch of one feature vector": "one",
}


def _batch_of_one_works(bn, one: np.ndarray) -> bool:
    # One value per channel has no spread: every output would be 0 whatever the input, so
    # PyTorch, and lnbook after it, refuse it.
    try:
        bn(one)
    except ValueError:
        return False
    return True


@predictions(
    BATCH_QUESTIONS,
    "Hint: ask which examples each normalization reads in each mode, then compute it "
    "with numpy_ln.batch_norm and numpy_ln.layer_norm.",
    "Batch norm in training mode reads the whole batch (a lone example has no spread "
    "to divide by, so it is refused); in inference mode it reads stored statistics; "
    "layer norm reads only the example.",
)
def batch_predictions() -> dict[str, bool]:
    """Chapter 4: ``batch_predictions(fn)``, where ``fn()`` returns ``{question: True or
    False}`` for BATCH_QUESTIONS. The truth, computed here with lnbook's batch and layer
    norm."""
    rng = np.random.default_rng(17)
    x = rng.normal(1.0, 2.0, size=(8, 6))
    changed = x.copy()
    changed[3] += rng.normal(0.0, 3.0, 6)

    def bn(batch, training=True):
        mean, var = np.full(6, 1.0), np.full(6, 4.0)  # running statistics, for inference
        return numpy_ln.batch_norm(batch, mean, var, training=training)

    return {
        "others": not close(bn(x)[0], bn(changed)[0]),
        "ln_size": not close(numpy_ln.layer_norm(x, 6)[0], numpy_ln.layer_norm(x[:2], 6)[0]),
        "infer": close(bn(x, False)[0], bn(changed[:2], False)[0]),
        "one": _batch_of_one_works(bn, x[:1]),
    }
