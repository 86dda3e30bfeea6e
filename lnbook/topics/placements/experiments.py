"""Chapter 12's experiments: where the norm goes, 2017-2025.

Every placement of :data:`PLACEMENTS` on chapter 5's copy-task transformer: the gradient
of each layer and the size of the residual stream at initialization
(:func:`init_profile`), and training at a high learning rate without warm-up
(:func:`rate_grid`). The models are :class:`lnbook.models.TinyTransformer` s
(:func:`lnbook.training.copy_task_model`); "pre_no_final" is pre-norm without the norm
after its last block.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..._optional import require_torch
from ..._results import remembered
from ..._validate import check_floats, check_ints, check_pairs, check_sequence
from ...training import (
    COPY_K,
    COPY_VOCAB,
    copy_batch,
    copy_task_model,
    one_torch_thread,
    train_copy_transformers,
)

# name -> (TinyTransformer's placement, its final_norm), in the chapter's order
PLACEMENTS = {
    "post": ("post", None),
    "pre": ("pre", None),
    "pre_no_final": ("pre", False),
    "sandwich": ("sandwich", None),
    "post_sublayer": ("post_sublayer", None),
    "deepnorm": ("deepnorm", None),
    "admin": ("admin", None),
    "mix": ("mix", None),
}


def _check_names(names: Sequence[str]) -> list[str]:
    names = list(check_sequence("placements", names, f"names of {list(PLACEMENTS)}", '("pre",)'))
    if any(n not in PLACEMENTS for n in names):
        raise ValueError(f"placements must be a non-empty list of {list(PLACEMENTS)}, got {names}")
    return names


def placement_model(name: str, n_layers: int, d: int = 32, init: str = "xavier"):
    """The copy-task transformer with placement ``name`` (a key of :data:`PLACEMENTS`);
    build it after ``torch.manual_seed(seed)`` for a seed's weights."""
    placement, final_norm = PLACEMENTS[_check_names([name])[0]]
    return copy_task_model(placement, n_layers, d, init=init, final_norm=final_norm)


@remembered
def init_profile(
    placements: Sequence[str] = tuple(PLACEMENTS),
    *,
    depths: Sequence[int] = (2, 6, 12),
    seeds: Sequence[int] = (0, 1, 2),
    d: int = 32,
    batch: int = 16,
    init: str = "xavier",
) -> dict:
    """Each placement's gradients and residual stream at initialization, by depth.

    For every placement, depth and seed: a fresh model (weights from ``seed``), one batch
    of the copy task (from ``seed``), the training loss (the copied half) and its gradient.

    Returns
    -------
    dict with ``placements``, ``depths`` (K,), ``seeds`` (S,) and, for each placement p and
    depth index k: ``layer_grad[p][k]`` (S, depths[k]), the norm of each block's second
    feed-forward weight's gradient; ``residual[p][k]`` (S, depths[k]), the residual
    stream's mean norm per token after each block; and ``head_input[p]`` (S, K), the mean
    norm per token of what reaches the output layer (after the final norm, if any)
    """
    torch = require_torch()
    names = _check_names(placements)
    depths, seeds = check_ints("depths", depths, 1), check_ints("seeds", seeds, 0)

    def measure(name: str, n_layers: int, seed: int):
        torch.manual_seed(seed)
        m = placement_model(name, n_layers, d, init)
        x = copy_batch(np.random.default_rng(seed), batch)
        logits, res = m(x[:, :-1], return_residuals=True)
        loss = torch.nn.functional.cross_entropy(
            logits[:, COPY_K:].reshape(-1, COPY_VOCAB), x[:, COPY_K + 1 :].reshape(-1)
        )
        loss.backward()
        with torch.no_grad():
            head = m.final(res[-1]).norm(dim=-1).mean().item()
        grads = [b.ff[2].weight.grad.norm().item() for b in m.decoder]
        return grads, [r.norm(dim=-1).mean().item() for r in res], head

    out = {"placements": names, "depths": np.array(depths), "seeds": np.array(seeds)}
    out |= {"layer_grad": {}, "residual": {}, "head_input": {}}
    with one_torch_thread():
        for p in names:
            runs = [[measure(p, n, s) for s in seeds] for n in depths]  # [K][S]
            out["layer_grad"][p] = [np.array([g for g, _, _ in r]) for r in runs]
            out["residual"][p] = [np.array([n for _, n, _ in r]) for r in runs]
            out["head_input"][p] = np.array([[h for _, _, h in r] for r in runs]).T  # (S, K)
    return out


def growth(profile: dict, key: str, placement: str, k: int) -> np.ndarray:
    """Each seed's ratio of the last block's value to the first's, at depth index ``k``:
    ``key`` "layer_grad" (> 1: the gradient grows toward the output) or "residual"
    (> 1: the stream grows through the blocks); (S,)."""
    if key not in ("layer_grad", "residual"):
        raise ValueError(f"key must be one of ('layer_grad', 'residual'), got {key!r}")
    if placement not in profile[key]:
        raise ValueError(f"placement must be one of {tuple(profile[key])}, got {placement!r}")
    depths = tuple(int(n) for n in profile["depths"])
    is_int = isinstance(k, int | np.integer) and not isinstance(k, bool)
    if not is_int or not -len(depths) <= k < len(depths):
        # The usual slip: the depth itself (12) for its index in the profile.
        hint = f": use list(profile['depths']).index({k})" if k in depths else ""
        raise ValueError(f"k must index profile['depths'] = {depths}, got {k!r}{hint}")
    values = profile[key][placement][k]
    return values[:, -1] / values[:, 0]


# The training grid: (placement, learning rate). Chapter 5 trained post-norm (stuck at
# 1e-2 without warm-up) and pre-norm (learns at 3e-2); at 1e-2 the two repairs of
# post-norm and Mix-LN are tried, at 3e-2 the newer pre-style placements, Mix-LN and the
# repairs again. (Every placement is one stacked run: each costs several seconds.)
RATE_CONFIGS = (
    ("deepnorm", 1e-2),
    ("admin", 1e-2),
    ("mix", 1e-2),
    ("sandwich", 3e-2),
    ("post_sublayer", 3e-2),
    ("mix", 3e-2),
    ("deepnorm", 3e-2),
    ("admin", 3e-2),
)


@remembered
def rate_grid(
    configs: Sequence[tuple[str, float]] = RATE_CONFIGS,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    n_layers: int = 6,
    d: int = 32,
    steps: int = 120,
    batch: int = 24,
    init: str = "default",
) -> dict:
    """Train each (placement, learning rate) of ``configs`` without warm-up, from every seed.

    Chapter 5's runs (its model, initialisation, sizes and loop: Adam, betas 0.9, 0.98);
    the runs of one placement train side by side
    (:func:`lnbook.training.train_copy_transformers`).

    Returns
    -------
    dict with ``configs`` (a list of (placement, lr)), ``lrs`` (the rates, ascending),
    ``seeds``, ``steps`` and, for each config c: ``loss[c]`` (S, steps), every seed's loss
    curve, and ``final[c]`` (S,), each seed's mean loss over its last 20 steps (chance is
    ln 15 = 2.71)
    """
    pairs = check_pairs("configs", configs, "(placement, rate) pairs", '(("pre", 0.03),)')
    names = _check_names([p for p, _ in pairs])
    rates = check_floats("the configs' rates", [lr for _, lr in pairs], positive=True)
    configs, seeds = list(zip(names, rates, strict=True)), check_ints("seeds", seeds, 0)
    loss = {}
    for name in dict.fromkeys(p for p, _ in configs):  # one stacked run per placement
        placement, final_norm = PLACEMENTS[name]
        lrs = [lr for p, lr in configs if p == name]
        curves = train_copy_transformers(
            placement,
            n_layers,
            d,
            seeds=[s for _ in lrs for s in seeds],
            lr=[lr for lr in lrs for _ in seeds],
            steps=steps,
            batch=batch,
            init=init,
            final_norm=final_norm,
        ).reshape(len(lrs), len(seeds), steps)
        for lr, c in zip(lrs, curves, strict=True):
            loss[(name, lr)] = c
    loss = {c: loss[c] for c in configs}  # the configs' order
    return {
        "configs": configs,
        "lrs": sorted({lr for _, lr in configs}),
        "seeds": list(seeds),
        "steps": steps,
        "loss": loss,
        "final": {c: v[:, -20:].mean(axis=1) for c, v in loss.items()},
    }


def learned(grid: dict, config: tuple[str, float], below: float = 0.1) -> np.ndarray:
    """Which seeds of ``config`` learned the copy task: final loss under ``below``; (S,)."""
    return _of_config(grid, "final", config) < below


def still_falling(
    grid: dict, config: tuple[str, float], ratio: float = 0.8, window: int = 20
) -> np.ndarray:
    """Which seeds of ``config`` were still learning when training stopped: the mean loss
    of the last ``window`` steps at most ``ratio`` (in (0, 1)) times that of the ``window``
    steps before; (S,)."""
    loss = _of_config(grid, "loss", config)
    if not 0 < ratio < 1:
        raise ValueError(f"ratio must be in (0, 1), got {ratio!r}")
    if not isinstance(window, int) or window < 1 or loss.shape[1] < 2 * window:
        raise ValueError(
            f"window must be an int >= 1 with two windows in the run's {loss.shape[1]} steps, "
            f"got {window!r}"
        )
    last, before = loss[:, -window:], loss[:, -2 * window : -window]
    return last.mean(axis=1) <= ratio * before.mean(axis=1)


def stuck(grid: dict, config: tuple[str, float], above: float = 2.5) -> np.ndarray:
    """Which seeds of ``config`` ended near chance (ln 15 = 2.71): final loss over
    ``above``; (S,)."""
    return _of_config(grid, "final", config) > above


def _of_config(grid: dict, table: str, config: tuple[str, float]) -> np.ndarray:
    """``grid[table][config]``, or a ValueError naming the configs the grid has."""
    config = tuple(config) if isinstance(config, list) else config  # ["pre", 0.03] too
    if not isinstance(config, tuple) or config not in grid[table]:
        raise ValueError(
            f"config must be one of the grid's (placement, rate) pairs {list(grid[table])}, "
            f"got {config!r}"
        )
    return grid[table][config]
