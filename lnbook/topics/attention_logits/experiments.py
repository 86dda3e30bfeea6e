"""Chapter 13's experiments (attention logits): pure functions that compute what the chapter shows.

:func:`softmax_entropy` and :func:`entropy_at_scale` (NumPy: how the size of the logits sets
the attention's entropy), :func:`qk_bound` (the largest logit QK-norm allows),
:func:`logit_run` and :func:`logit_runs` (the copy-task transformer of
:mod:`lnbook.attention` trained at a low and a high learning rate, with and without
QK-norm, watched: the largest attention logit, the attention entropy, the loss),
:func:`logit_summary` and :func:`logit_crossing` (what the runs show),
:func:`top_weight_bound` (how sharply bounded logits can attend), and :func:`ngpt_stream`
(NumPy: the residual stream of an nGPT-style stack of blocks against a pre-norm one).
torch is loaded inside the functions that train, so the NumPy half runs in the browser
edition.
"""

from __future__ import annotations

import numpy as np

from ..._optional import require_torch
from ..._results import remembered
from ..._validate import (
    check_floats,
    check_int,
    check_ints,
    check_qk_norm,
    check_rate,
    check_sequence,
)
from ...training import COPY_K, COPY_VOCAB, fit_copy

# The model: one pre-norm block of width 32, 4 heads of 8, on the copy task of chapter 5.
LOGIT_NET = {"d": 32, "n_layers": 1, "n_heads": 4, "d_ff": 128}
QK_CHOICES = (None, "layer")  # the chapter's two (lnbook._validate.QK_NORMS has all three)


def softmax_entropy(logits) -> np.ndarray:
    """The entropy (nats) of ``softmax(logits)`` along the last axis; shape ``logits.shape[:-1]``.

    Computed from ``log_softmax`` with the largest logit subtracted first, so that logits in
    the thousands (which ``exp`` turns into inf) give the right answer, 0 when one wins.
    """
    z = np.asarray(logits, dtype=float)
    if z.ndim == 0 or z.shape[-1] == 0:
        raise ValueError(f"logits must have at least one entry on the last axis, got {z.shape}")
    z = z - z.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return -(np.exp(logp) * logp).sum(axis=-1)


def entropy_at_scale(scales=(0.1, 1.0, 3.0, 10.0, 30.0, 100.0), n_keys: int = 16, n=2000, seed=0):
    """The attention entropy when the logits are ``scale * z``, ``z ~ N(0, 1)`` per key.

    Returns
    -------
    dict with ``scales`` (K,), ``entropy`` (K,): the mean over ``n`` draws of the entropy of
    ``softmax(scale * z)`` over ``n_keys`` keys, and ``uniform``: ln(n_keys), the entropy
    of attention spread evenly
    """
    check_int("n_keys", n_keys, 1)
    check_int("n", n, 1)
    scales = np.asarray(check_floats("scales", scales), dtype=float)
    z = np.random.default_rng(seed).standard_normal((n, n_keys))
    entropy = np.array([softmax_entropy(s * z).mean() for s in scales])
    return {"scales": scales, "entropy": entropy, "uniform": float(np.log(n_keys))}


def qk_bound(gamma_q, gamma_k) -> float:
    """The largest |logit| RMSNorm QK-norm (no eps, gains ``gamma_q``, ``gamma_k``) allows.

    After RMSNorm each head's ``q_hat`` and ``k_hat`` have length sqrt(d_head), and the
    logit is ``sum_i gq_i gk_i q_hat_i k_hat_i / sqrt(d_head)``: at most
    ``d_head * max_i |gq_i gk_i| / sqrt(d_head)``, reached when q and k both point along
    the coordinate with the largest product of gains.
    """
    gq, gk = np.asarray(gamma_q, dtype=float), np.asarray(gamma_k, dtype=float)
    if gq.ndim != 1 or gq.shape != gk.shape:
        raise ValueError(
            f"gamma_q and gamma_k must be vectors of one length, got {gq.shape} and {gk.shape}"
        )
    return float(np.sqrt(gq.size) * np.abs(gq * gk).max())


def _logit_model(qk_norm, seed: int):
    torch = require_torch()
    from ...attention import QKTransformer  # torch-only module: imported where torch exists

    torch.manual_seed(seed)
    return QKTransformer(vocab=COPY_VOCAB, max_len=2 * COPY_K + 1, qk_norm=qk_norm, **LOGIT_NET)


def logit_run(lr: float, qk_norm, seed: int = 0, steps: int = 120, batch: int = 32) -> dict:
    """Train the copy-task model once and watch its attention logits at every step.

    Adam (the book's copy-task loop, ``training.fit_copy``: betas 0.9, 0.98, no warm-up,
    no weight decay) at rate ``lr``; ``qk_norm`` None or "layer" (per head). The weights
    come from torch's generator seeded with ``seed``, the batches from NumPy's.

    Returns
    -------
    dict with, per step (steps,): ``loss`` (cross-entropy on the copied half; chance is
    ln 15), ``max_logit`` (the largest |logit| over the batch, heads and the positions
    each query may attend to) and ``entropy`` (the attention's entropy in nats, averaged
    over the batch, heads and the queries that see more than one key)
    """
    check_rate("lr", lr)
    check_int("steps", steps, 1)
    check_qk_norm(qk_norm)
    torch = require_torch()

    model = _logit_model(qk_norm, seed)
    attn = [block.attn for block in model.blocks]
    max_logit, entropy = np.empty(steps), np.empty(steps)

    def watch(step, _x, _loss) -> None:
        logits = torch.stack([a.last_logits for a in attn]).unsqueeze(1)  # (L, 1, B, H, T, T)
        size, spread = _measure(logits)
        max_logit[step], entropy[step] = size[0], spread[0]

    loss = fit_copy(
        model, np.random.default_rng(seed), steps=steps, lr=lr, batch=batch, watch=watch
    )
    return {"loss": loss, "max_logit": max_logit, "entropy": entropy}


def _measure(logits) -> tuple:
    """The largest |logit| a query may see and the mean entropy (queries 1 on), per member:
    ``logits`` is (L, E, B, H, T, T); returns two (E,) arrays."""
    torch = require_torch()
    from ...attention import attention_entropy

    t = logits.shape[-1]
    allowed = torch.tril(torch.ones(t, t, dtype=torch.bool))
    size = logits.abs().masked_fill(~allowed, 0).transpose(0, 1).reshape(logits.shape[1], -1)
    entropy = attention_entropy(logits)[..., 1:].transpose(0, 1)  # query 0: always 0
    return size.amax(dim=1).numpy(), entropy.reshape(logits.shape[1], -1).mean(dim=1).numpy()


def _train_group(qk_norm, grid: list[tuple[float, int]], steps: int) -> tuple:
    """Train the runs ``grid`` ((rate, seed) pairs) of one QK-norm choice side by side;
    (E, steps) losses, largest logits and entropies."""
    torch = require_torch()
    from ...attention import StackedQKTransformer

    model = StackedQKTransformer([_logit_model(qk_norm, seed) for _, seed in grid])
    size, entropy = np.empty((len(grid), steps)), np.empty((len(grid), steps))

    def watch(step, _x, _loss) -> None:
        size[:, step], entropy[:, step] = _measure(torch.stack(model.last_logits))

    rngs = [np.random.default_rng(seed) for _, seed in grid]
    loss = fit_copy(model, rngs, steps=steps, lr=[lr for lr, _ in grid], watch=watch)
    return loss, size, entropy


@remembered
def logit_runs(lrs=(0.01, 0.1), qk_norms=QK_CHOICES, seeds=(0, 1, 2), steps: int = 120) -> dict:
    """:func:`logit_run` for every rate, QK-norm choice and seed.

    The runs of one QK-norm choice (every rate and seed) train side by side as one
    :class:`lnbook.attention.StackedQKTransformer`, each member with its own rate, its own
    initial weights and its own batches, those :func:`logit_run` gives that seed; the
    stack runs :class:`lnbook.attention.QKTransformer`'s own forward, vectorized, so the
    runs agree with separate runs to float rounding, at the high rate too
    (tests/test_attention_logits.py compares them).

    Returns
    -------
    dict with ``lrs`` (R,), ``qk_norms`` (Q,), ``seeds`` (S,) and ``loss``, ``max_logit``,
    ``entropy``, each (R, Q, S, steps)
    """
    lrs, seeds = check_floats("lrs", lrs, positive=True), check_ints("seeds", seeds, 0)
    qk_norms = check_sequence("qk_norms", qk_norms, "QK-norm choices", '(None, "layer")')
    for qk in qk_norms:  # all of them before the first group trains
        check_qk_norm(qk)
    check_int("steps", steps, 1)
    grid = [(lr, seed) for lr in lrs for seed in seeds]  # member order: rate, then seed
    shape = (len(qk_norms), len(lrs), len(seeds), steps)
    out = {key: np.empty(shape) for key in ("loss", "max_logit", "entropy")}
    for q, qk in enumerate(qk_norms):
        loss, size, entropy = _train_group(qk, grid, steps)
        for key, values in (("loss", loss), ("max_logit", size), ("entropy", entropy)):
            out[key][q] = values.reshape(len(lrs), len(seeds), steps)
    result = {key: np.swapaxes(v, 0, 1) for key, v in out.items()}  # (R, Q, S, steps)
    return {"lrs": np.asarray(lrs, dtype=float), "qk_norms": list(qk_norms),
            "seeds": np.asarray(seeds), **result}  # fmt: skip


def logit_summary(runs: dict, window: int = 20) -> dict:
    """What :func:`logit_runs` shows, per rate, QK-norm choice and seed, each (R, Q, S).

    ``final_loss``, ``final_entropy``: the mean over the last ``window`` steps;
    ``peak_logit``: the largest |logit| over the run; ``final_logit``: at the last step.
    """
    check_int("window", window, 1, runs["loss"].shape[-1])
    return {
        "final_loss": runs["loss"][..., -window:].mean(axis=-1),
        "final_entropy": runs["entropy"][..., -window:].mean(axis=-1),
        "peak_logit": runs["max_logit"].max(axis=-1),
        "final_logit": runs["max_logit"][..., -1],
    }


def logit_crossing(runs: dict, threshold: float = 100.0) -> dict:
    """When each run's largest logit first exceeds ``threshold``, and its loss at that step.

    An observed order of events (the logits become large while the loss is still near
    chance), not a cause. Returns a dict with ``step`` (R, Q, S) ints, -1 for a run that
    never crosses, and ``loss`` (R, Q, S), the loss at that step (NaN where it never does).
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise TypeError(f"threshold must be a number, got {type(threshold).__name__}")
    above = runs["max_logit"] > threshold  # (R, Q, S, steps)
    crossed = above.any(axis=-1)
    step = np.where(crossed, above.argmax(axis=-1), -1)
    at = np.take_along_axis(runs["loss"], np.maximum(step, 0)[..., None], axis=-1)[..., 0]
    return {"step": step, "loss": np.where(crossed, at, np.nan)}


def top_weight_bound(bound: float, n_keys: int) -> float:
    """The most softmax weight one key can get when every logit lies in [-bound, bound].

    Reached with that key at ``+bound`` and the ``n_keys - 1`` others at ``-bound``:
    ``1 / (1 + (n_keys - 1) exp(-2 bound))``.
    """
    check_int("n_keys", n_keys, 1)
    if isinstance(bound, bool) or not isinstance(bound, int | float) or not bound >= 0:
        raise ValueError(f"bound must be a number >= 0, got {bound!r}")
    return float(1 / (1 + (n_keys - 1) * np.exp(-2 * bound)))


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def ngpt_stream(n_layers: int = 24, d: int = 64, alpha: float = 0.05, n: int = 32, seed=0):
    """The residual stream through a stack of random blocks, pre-norm against nGPT-style.

    Each block ``f`` is a random two-layer ReLU network whose weight rows have unit length
    (nGPT normalizes its matrices along the embedding axis). Pre-norm adds the block's
    output: ``h <- h + f(rms_norm(h))``. nGPT moves ``h`` towards the normalized output and
    normalizes the result: ``h <- norm(h + alpha (norm(f(h)) - h))``, ``alpha`` the scalar
    here (a learned vector, one "eigen learning rate" per dimension, in nGPT). Both start
    from the same ``n`` unit vectors.

    Returns
    -------
    dict with ``pre_norm`` and ``ngpt_norm`` (L + 1, n): the length of each stream after each
    block; ``turn`` (L, n): the angle (radians) each nGPT update turns ``h`` by, and
    ``predicted`` (L, n): that angle from the angle ``theta`` between ``h`` and the block's
    output, ``atan2(alpha sin theta, 1 - alpha + alpha cos theta)``
    """
    check_int("n_layers", n_layers, 1)
    check_int("d", d, 2)
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    rng = np.random.default_rng(seed)
    blocks = [
        (_unit(rng.standard_normal((4 * d, d))), _unit(rng.standard_normal((4 * d, d)).T).T)
        for _ in range(n_layers)
    ]

    def f(block, x):  # (n, d) -> (n, d)
        w1, w2 = block  # w1: (4d, d) unit rows; w2: (4d, d), the output map's unit columns
        return np.maximum(x @ w1.T, 0) @ w2

    h0 = _unit(rng.standard_normal((n, d)))
    pre, ngpt = h0.copy(), h0.copy()
    pre_norm, ngpt_norm = [np.linalg.norm(pre, axis=-1)], [np.linalg.norm(ngpt, axis=-1)]
    turn, predicted = [], []
    for block in blocks:
        rms = np.sqrt((pre**2).mean(axis=-1, keepdims=True))
        pre = pre + f(block, pre / rms)
        target = _unit(f(block, ngpt))
        theta = np.arccos(np.clip((ngpt * target).sum(axis=-1), -1, 1))
        new = _unit(ngpt + alpha * (target - ngpt))
        turn.append(2 * np.arcsin(np.linalg.norm(new - ngpt, axis=-1).clip(max=2) / 2))
        predicted.append(np.arctan2(alpha * np.sin(theta), 1 - alpha + alpha * np.cos(theta)))
        ngpt = new
        pre_norm.append(np.linalg.norm(pre, axis=-1))
        ngpt_norm.append(np.linalg.norm(ngpt, axis=-1))
    return {
        "pre_norm": np.array(pre_norm),
        "ngpt_norm": np.array(ngpt_norm),
        "turn": np.array(turn),
        "predicted": np.array(predicted),
        "alpha": float(alpha),
    }
