"""Chapter 13's live controls (attention logits): ipywidgets wired to the figure builders.

The live face of the attention-logit figure: any learning rate, trained when the slider is
released (three seeds with and without QK-norm, one after the other: a few seconds), drawn
by the same builder as the static figure.
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from ... import live
from . import experiments, figures


def _pick(known: dict, lr: float) -> dict | None:
    """The runs of ``known`` (a ``logit_runs`` result) at rate ``lr``, as a one-rate result."""
    hits = np.flatnonzero(np.isclose(known["lrs"], lr, rtol=1e-9))
    if hits.size == 0:
        return None
    i = int(hits[0])
    picked = {k: v[i : i + 1] for k, v in known.items() if k in ("loss", "max_logit", "entropy")}
    return {**picked, "lrs": known["lrs"][i : i + 1], "qk_norms": known["qk_norms"],
            "seeds": known["seeds"]}  # fmt: skip


def logit_explorer(
    steps: int = 120, seeds: tuple[int, ...] = (0, 1, 2), known: dict | None = None
) -> live.Explorer:
    """Chapter 13: the largest attention logit, the entropy and the loss over training, with
    and without QK-norm, at any learning rate (each rate's runs are kept).

    ``known``: runs already trained (a ``logit_runs`` result with these steps and seeds, the
    chapter's), reused for its rates instead of trained again.
    """
    if known is not None and (
        known["loss"].shape[-1] != steps or list(known["seeds"]) != list(seeds)
    ):
        raise ValueError(
            f"known has {known['loss'].shape[-1]} steps and seeds {list(known['seeds'])}, "
            f"not {steps} and {list(seeds)}"
        )
    controls = {
        "lr": W.FloatLogSlider(
            0.1,
            base=10,
            min=-3,
            max=-0.5,
            description="learning rate",
            readout_format=".2g",
            continuous_update=False,  # a new rate trains the models
        ),
    }
    runs: dict[float, dict] = {}

    def compute(lr: float) -> dict:
        if lr not in runs:
            picked = _pick(known, lr) if known is not None else None
            runs[lr] = picked or experiments.logit_runs((lr,), seeds=tuple(seeds), steps=steps)
        return runs[lr]

    return live.explorer(controls, compute, figures.live_logit_figure, figures.update_logit)
