"""Checkers of chapter 16's exercises (layer norm split across devices). NumPy only."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...checking import CORRECT, Verdict, checker, compare, predictions, returned_array, wrong


def _triple(values: np.ndarray) -> tuple[int, float, float]:
    """(n, mean, M2) of some numbers, straight from them (the oracle)."""
    mean = float(values.mean())
    return len(values), mean, float(((values - mean) ** 2).sum())


@checker
def merge(fn: Callable) -> Verdict:
    """Chapter 16: ``fn(a, b)`` merges two ``(n, mean, m2)`` triples (``m2``: the sum of
    squared deviations from the mean) into the triple of the union of the two sets."""
    rng = np.random.default_rng(16)
    # Different counts, means far apart and different spreads: every known mistake then
    # gives a different triple.
    for na, nb in ((3, 5), (7, 2)):
        xa, xb = rng.normal(5.0, 2.0, size=na), rng.normal(-1.0, 0.5, size=nb)
        a, b = _triple(xa), _triple(xb)
        expected = np.array(_triple(np.concatenate([xa, xb])), dtype=float)
        got, verdict = returned_array(fn, (a, b), (3,), name="The merged triple")
        if verdict:
            return verdict
        (_, ma, m2a), (_, mb, m2b) = a, b
        n, delta = na + nb, mb - ma
        mean = ma + delta * nb / n
        known = [
            (np.array([n, mean, m2a + m2b]), "M2 misses the gap between the two means: "
             "each half's M2 is about its own mean; add delta**2 * n_a * n_b / n"),
            (np.array([n, (ma + mb) / 2, m2a + m2b + delta**2 * na * nb / n]),
             "the mean weighs the two halves equally; weigh each by its count: "
             "mean_a + delta * n_b / n"),
            (np.array([n, mean, m2a + m2b + delta**2 * na * nb]),
             "the gap's term is delta**2 * n_a * n_b / n: you left out the division by n"),
            (np.array([n, mean, (m2a + m2b + delta**2 * na * nb / n) / n]),
             "that is the variance, M2 / n; return M2 itself (the sum of squared deviations), "
             "which is what merges"),
            (np.array([n, mean, m2a + m2b + delta**2]),
             "the gap's term is delta**2 weighted by n_a * n_b / n"),
        ]  # fmt: skip
        verdict = compare(
            got,
            expected,
            known,
            wrong(
                "The triple differs from that of the two sets put together. n adds up; the "
                "mean is the count-weighted mean; M2 is both M2s plus the gap's term.",
                answer=f"Expected {tuple(round(v, 6) for v in expected)}.",
            ),
            prefix=f"With n_a = {na}, n_b = {nb}: ",
        )
        if not verdict.passed:
            return verdict
    return Verdict(
        CORRECT,
        "Chan et al.'s merge: no number of either set is needed again, and no difference of "
        "two large sums is taken, so it stays accurate when the mean is far from 0.",
    )


@checker
def ring_bytes_per_token(fn: Callable) -> Verdict:
    """Chapter 16: ``fn(world_size, itemsize)`` returns ``(naive, chan)``: the bytes each
    rank sends per token under the ring model for the naive all-reduce of (sum x, sum x**2)
    and for the all-gather of each shard's (mean, M2)."""
    for p, itemsize in ((2, 4), (3, 4), (4, 2), (8, 8)):
        got, verdict = returned_array(
            fn, (p, itemsize), (2,), name=f"The pair for P = {p}, itemsize {itemsize},"
        )
        if verdict:
            return verdict
        expected = np.array([2 * (p - 1) / p * 2 * itemsize, (p - 1) * 2 * itemsize])
        known = [
            (np.array([2 * itemsize, 2 * itemsize]),
             "those are the bytes handed to each collective; a ring all-reduce sends "
             "2 (P - 1) / P times its tensor, a ring all-gather P - 1 times"),
            (np.array([2 * (p - 1) / p * 2 * itemsize, p * 2 * itemsize]),
             "the all-gather's result holds P parts, but a rank sends only the P - 1 parts "
             "that are not the receiver's own"),
            (np.array([2 * (p - 1) / p * 2 * itemsize, (p - 1) * 3 * itemsize]),
             "the counts need not travel: every rank knows the shard widths"),
            (np.array([(p - 1) / p * 2 * itemsize, (p - 1) * 2 * itemsize]),
             "a ring all-reduce is a reduce-scatter and then an all-gather: twice "
             "(P - 1) / P of the tensor"),
            (np.array([2 * (p - 1) / p * 2, (p - 1) * 2]), "count bytes: times itemsize"),
        ]  # fmt: skip
        verdict = compare(
            got,
            expected,
            known,
            wrong(
                "Each method passes 2 numbers per token. A ring all-reduce of n bytes makes "
                "each rank send 2 (P - 1) / P n; a ring all-gather of n bytes from each rank, "
                "(P - 1) n.",
                answer=f"Expected {tuple(float(v) for v in expected)} for P = {p}, "
                f"itemsize {itemsize}.",
            ),
            prefix=f"With P = {p}, itemsize {itemsize}: ",
        )
        if not verdict.passed:
            return verdict
    return Verdict(
        CORRECT,
        "Equal at P = 2; beyond it the all-gather sends P / 2 times what the all-reduce does "
        "(and both are tiny next to the activations themselves).",
    )


COMMUNICATION_QUESTIONS = {
    "Features split: the forward needs an all-reduce (or all-gather) of per-token statistics":
        "fwd_stats",
    "Features split: the backward needs the sum over the features of dx_hat from every rank":
        "bwd_c2",
    "Features split: the backward needs the sum over the features of dx_hat * x_hat from "
    "every rank": "bwd_c1",
    "Features split: dgamma must be all-reduced": "tp_dgamma",
    "Tokens split (sequence parallel): the forward needs an all-reduce of statistics":
        "sp_stats",
    "Tokens split (sequence parallel): dgamma and dbeta must be all-reduced": "sp_dgamma",
}  # fmt: skip


def _needs(shard_values, full_value) -> bool:
    """Whether a quantity computed from one shard alone differs from the full one: then it
    needs the other ranks' parts."""
    return not all(np.allclose(v, full_value) for v in shard_values)


@predictions(
    COMMUNICATION_QUESTIONS,
    "Hint: a sum over the features needs every rank when the features are split; a sum "
    "over the tokens needs every rank when the tokens are split. Which one is each quantity?",
    "A sum over the axis that is split needs a collective, a sum over the other axis does "
    "not: the statistics and c1, c2 sum over features, gamma's and beta's gradients over "
    "tokens.",
)
def communication_predictions() -> dict[str, bool]:
    """Chapter 16: ``communication_predictions(fn)``, where ``fn()`` returns ``{question:
    True or False}`` for COMMUNICATION_QUESTIONS. The truth, computed here with NumPy:
    whether each quantity computed from one rank's shard alone (2 ranks) equals the whole."""
    rng = np.random.default_rng(0)
    x, dy = rng.normal(1.0, 2.0, size=(6, 8)), rng.normal(size=(6, 8))
    gamma = rng.normal(1.0, 0.3, size=8)
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + 1e-5)
    g = dy * gamma
    cols, rows = np.array_split(np.arange(8), 2), np.array_split(np.arange(6), 2)
    return {
        "fwd_stats": _needs([x[:, c].mean(-1, keepdims=True) for c in cols], mu),
        "bwd_c2": _needs([g[:, c].sum(-1) for c in cols], g.sum(-1)),
        "bwd_c1": _needs([(g * x_hat)[:, c].sum(-1) for c in cols], (g * x_hat).sum(-1)),
        # Each rank's dgamma is the full dgamma of its own features: nothing to add.
        "tp_dgamma": not all(
            np.allclose((dy[:, c] * x_hat[:, c]).sum(0), (dy * x_hat).sum(0)[c]) for c in cols
        ),
        # Each rank's tokens' statistics, from its own tokens: the same as from all.
        "sp_stats": not all(
            np.allclose(x[r].mean(-1), mu[r, 0]) and np.allclose(x[r].var(-1), var[r, 0])
            for r in rows
        ),
        "sp_dgamma": _needs([(dy[r] * x_hat[r]).sum(0) for r in rows], (dy * x_hat).sum(0)),
    }
