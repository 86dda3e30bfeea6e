"""Chapter 5's experiments: layer norm inside transformers.

Why batch norm fits sequences badly (:func:`padding_pollution`,
:func:`incremental_decoding`, NumPy), and where the norm goes: the gradients of pre- and
post-norm transformers at initialization (:func:`transformer_init_gradients`, after Xiong
et al., 2020) and training with and without learning-rate warm-up (:func:`warmup_training`,
:func:`warmup_grid`). The transformer, the copy task and its training loop are
:mod:`lnbook.training`'s, shared with chapter 7.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ... import numpy_ln
from ..._optional import require_torch
from ..._results import remembered
from ..._validate import check_choices, check_floats, check_int, check_ints, check_pairs
from ...training import (
    COPY_VOCAB,
    copy_batch,
    copy_task_model,
    one_torch_thread,
    train_copy_transformer,
    train_copy_transformers,
)


def _masked_batch_norm(x: np.ndarray, valid: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Batch norm over the valid (non-padding) tokens only: x (B, T, D), valid (B, T)."""
    v = valid[..., None]  # (B, T, 1)
    n = v.sum()
    mu = (x * v).sum(axis=(0, 1)) / n  # (D,)
    var = (((x - mu) ** 2) * v).sum(axis=(0, 1)) / n  # (D,)
    return (x - mu) / np.sqrt(var + eps)


def padding_pollution(
    lengths: Sequence[int], d: int = 16, *, seed: int = 0
) -> dict[str, np.ndarray | float]:
    """Sequences of different lengths, padded into one batch: what do the norms see?

    Token vectors are drawn once per sequence; the batch is padded with zeros to the
    longest length. We follow sequence 0 and compare its normalized tokens when it is
    batched alone with those in the padded batch, for batch norm over every position
    (padding included, the naive way), batch norm over the valid tokens only (masked), and
    layer norm (per token).

    Returns
    -------
    dict with ``lengths`` (B,), ``valid`` (B, T_max) mask, and the largest change of
    sequence 0's outputs: ``bn_padded``, ``bn_masked``, ``ln`` (floats); plus
    ``pad_fraction`` (float), the share of padding in the batch
    """
    lengths = np.asarray(lengths, dtype=int)
    if lengths.ndim != 1 or len(lengths) < 2 or (lengths < 1).any():
        raise ValueError(f"lengths must list >= 2 positive sequence lengths, got {lengths}")
    rng = np.random.default_rng(seed)
    t_max = int(lengths.max())
    # Each sequence has its own offset and scale, as real sentences differ.
    seqs = [rng.normal(rng.normal(0, 1), rng.uniform(0.5, 2), size=(n, d)) for n in lengths]
    x = np.zeros((len(lengths), t_max, d))
    valid = np.zeros((len(lengths), t_max), dtype=bool)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = s
        valid[i, : len(s)] = True
    alone = seqs[0][None]  # (1, T0, D)
    n0 = lengths[0]

    def bn_all(batch):  # batch norm over every (sequence, position), padding included
        flat = batch.reshape(-1, d)
        return numpy_ln.batch_norm(flat, None, None, training=True).reshape(batch.shape)

    return {
        "lengths": lengths,
        "valid": valid,
        "bn_padded": float(np.abs(bn_all(x)[0, :n0] - bn_all(alone)[0]).max()),
        "bn_masked": float(np.abs(_masked_batch_norm(x, valid)[0, :n0] - bn_all(alone)[0]).max()),
        "ln": float(
            np.abs(numpy_ln.layer_norm(x, d)[0, :n0] - numpy_ln.layer_norm(alone, d)[0]).max()
        ),
        "pad_fraction": float(1 - valid.mean()),
    }


def incremental_decoding(t: int = 24, d: int = 16, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Generation one token at a time: normalize each new token with what exists so far.

    The token vectors drift over the sequence (as the content of a text changes). At step
    ``k`` only tokens ``0..k`` exist. Layer norm of token ``k`` uses token ``k`` alone, so
    it is the same at step ``k`` as after the whole sequence. Batch norm, with batch size
    1 at generation time, can only take statistics over the tokens seen so far: token ``k``
    is normalized differently at step ``k`` and at the end.

    Returns
    -------
    dict with ``ln_change`` and ``bn_change`` (t,): for each token, the largest difference
    between its output when generated and its output computed over the full sequence
    """
    check_int("t", t, 2)  # batch norm over the tokens needs two
    check_int("d", d, 1)
    rng = np.random.default_rng(seed)
    drift = np.cumsum(rng.normal(0, 0.3, size=(t, d)), axis=0)  # slowly changing content
    x = drift + rng.normal(0, 1, size=(t, d))  # (T, D)
    ln_full = numpy_ln.layer_norm(x, d)
    bn_full = numpy_ln.batch_norm(x, None, None, training=True)  # statistics over all tokens
    ln_change, bn_change = np.zeros(t), np.full(t, np.nan)
    for k in range(t):
        ln_change[k] = np.abs(numpy_ln.layer_norm(x[k], d) - ln_full[k]).max()
        if k >= 1:  # batch norm needs two tokens
            prefix = numpy_ln.batch_norm(x[: k + 1], None, None, training=True)
            bn_change[k] = np.abs(prefix[k] - bn_full[k]).max()
    return {"ln_change": ln_change, "bn_change": bn_change}


@remembered
def transformer_init_gradients(
    placements: Sequence[str] = ("post", "pre"),
    *,
    depths: Sequence[int] = (2, 4, 6, 8, 12),
    d: int = 64,
    encoder_decoder: bool = True,
    seeds: Sequence[int] = (0, 1, 2, 3),
    init: str = "xavier",
) -> dict:
    """Xiong et al. (2020) at initialization, in miniature.

    Weights are initialised as in the paper (``init="xavier"``, see ``models``). For each
    placement: the gradient norm of every decoder layer's second feed-forward weight
    matrix (on one batch of the copy task, at initialization, averaged over seeds),
    the norm of the residual stream after each block, and the last layer's gradient norm as
    the depth grows.

    Returns
    -------
    dict with ``depths`` (K,) and, for each placement p and depth index k,
    ``layer_grad[p][k]`` and ``residual_norm[p][k]`` (depths[k],) per layer, and
    ``last_grad[p]`` (K,): the last layer's gradient norm at each depth, all averaged over
    the seeds; ``seed_layer_grad[p][k]`` and ``seed_residual_norm[p][k]`` (S, depths[k]):
    each seed's own, for the spread
    """
    depths, seeds = check_ints("depths", depths, 1), check_ints("seeds", seeds, 0)
    torch = require_torch()
    from ... import models

    # Every name before the first model trains: an encoder-decoder takes "pre" or "post".
    allowed = models.PLACEMENTS if encoder_decoder else models.MODEL_PLACEMENTS
    placements = check_choices(
        "placements", placements, allowed, kind="placement names", example='("pre",)'
    )

    def measure(placement: str, layers: int, seed: int):
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        m = copy_task_model(placement, layers, d, encoder_decoder=encoder_decoder, init=init)
        x = copy_batch(rng, 16)
        inp, target = x[:, :-1], x[:, 1:]
        src = copy_batch(rng, 16)[:, :-1]  # the encoder reads its own sequence
        logits, res = (
            m(src, inp, return_residuals=True) if encoder_decoder else m(inp, return_residuals=True)
        )
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, COPY_VOCAB), target.reshape(-1))
        loss.backward()
        grads = [b.ff[2].weight.grad.norm().item() for b in m.decoder]
        norms = [r.norm(dim=-1).mean().item() for r in res]
        return grads, norms

    keys = ("layer_grad", "residual_norm", "last_grad", "seed_layer_grad", "seed_residual_norm")
    out = {key: {} for key in keys} | {"depths": np.array(depths)}
    with one_torch_thread():
        for p in placements:
            per_depth = [[measure(p, L, s) for s in seeds] for L in depths]
            out["seed_layer_grad"][p] = [np.array([g for g, _ in runs]) for runs in per_depth]
            out["seed_residual_norm"][p] = [np.array([n for _, n in runs]) for runs in per_depth]
            out["layer_grad"][p] = [g.mean(axis=0) for g in out["seed_layer_grad"][p]]
            out["residual_norm"][p] = [n.mean(axis=0) for n in out["seed_residual_norm"][p]]
            out["last_grad"][p] = np.array([lg[-1] for lg in out["layer_grad"][p]])
    return out


@remembered
def warmup_training(
    placement: str = "pre",
    *,
    lr: float = 1e-2,
    warmup: int = 0,
    n_layers: int = 6,
    d: int = 32,
    steps: int = 150,
    batch: int = 32,
    norm: str = "layer",
    seed: int = 0,
) -> np.ndarray:
    """Train a small causal transformer on the copy task; return its loss at every step.

    Adam (betas 0.9, 0.98, as the original Transformer), with a linear learning-rate
    warm-up over ``warmup`` steps (0: the full rate from the first step): the loop is
    :func:`lnbook.training.fit_copy`. The loss is the cross-entropy on the copied half of
    ``a SEP a``, so chance is ln(vocab - 1) = ln 15.
    ``norm`` is the normalization of every sublayer (see :func:`lnbook.models.make_norm`).

    Returns
    -------
    loss : (steps,) array
    """
    _, loss, _ = train_copy_transformer(
        placement, n_layers, d, steps=steps, lr=lr, warmup=warmup, batch=batch, norm=norm, seed=seed
    )
    return loss


@remembered
def warmup_grid(
    lrs: Sequence[float] = (3e-3, 1e-2, 3e-2),
    configs: Sequence[tuple[str, int]] = (("post", 0), ("post", 40), ("pre", 0)),
    seeds: Sequence[int] = (0, 1),
    **kwargs,
) -> dict:
    """:func:`warmup_training` for every learning rate and (placement, warm-up steps), over
    seeds.

    The runs of one placement train side by side
    (:func:`lnbook.training.train_copy_transformers`): the runs :func:`warmup_training`
    makes, to float rounding, at a fraction of the cost.

    Returns
    -------
    dict with ``lrs``, ``configs`` and, for each key ``(lr, placement, warmup)``:
    ``loss[key]`` (S, steps) one curve per seed, and ``final[key]`` (S,): each seed's mean
    loss over its last 20 steps
    """
    lrs, seeds = check_floats("lrs", lrs, positive=True), check_ints("seeds", seeds, 0)
    configs = check_pairs("configs", configs, "(placement, warm-up steps) pairs", '(("pre", 0),)')
    require_torch()
    from ... import models

    # Every pair before the first placement trains (train_copy_transformers's placements).
    check_choices(
        "the placements in configs",
        [p for p, _ in configs],
        models.MODEL_PLACEMENTS,
        kind="placement names",
        example='("pre",)',
    )
    check_ints("the warm-ups in configs", [w for _, w in configs], 0)
    # warmup_training's defaults, then the caller's settings
    settings = {"n_layers": 6, "d": 32, "steps": 150, **kwargs}
    n_layers, d = settings.pop("n_layers"), settings.pop("d")
    loss = {}
    for placement in dict.fromkeys(p for p, _ in configs):  # one stacked run per placement
        runs = [(lr, w, s) for lr in lrs for p, w in configs if p == placement for s in seeds]
        run_lr, run_warmup, run_seed = (list(v) for v in zip(*runs, strict=True))
        curves = train_copy_transformers(
            placement, n_layers, d, seeds=run_seed, lr=run_lr, warmup=run_warmup, **settings
        ).reshape(-1, len(seeds), settings["steps"])
        for i, key in enumerate(dict.fromkeys((lr, placement, w) for lr, w, _ in runs)):
            loss[key] = curves[i]
    loss = {(lr, p, w): loss[(lr, p, w)] for lr in lrs for p, w in configs}  # the grid's order
    return {
        "lrs": list(lrs),
        "configs": [tuple(c) for c in configs],
        "loss": loss,
        "final": {k: v[:, -20:].mean(axis=1) for k, v in loss.items()},
    }
