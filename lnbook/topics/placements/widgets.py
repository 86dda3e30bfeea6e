"""Chapter 12's live controls (placements): ipywidgets wired to the figure builders.

The live face of the initialization figure: any placement beside pre-norm, at any depth,
measured on three seeds when a control changes (well under a second), drawn by the same
trace code as the static figure.
"""

from __future__ import annotations

import ipywidgets as W

from ... import live
from . import experiments, figures


def profile_explorer(seeds: tuple[int, ...] = (0, 1, 2), max_depth: int = 16) -> live.Explorer:
    """Chapter 12: each block's gradient and the residual stream at initialization, for a
    placement chosen beside pre-norm, at any depth (each result is kept, so going back is
    instant)."""
    if not seeds:
        raise ValueError("seeds must not be empty")
    if not isinstance(max_depth, int) or max_depth < 2:
        raise ValueError(f"max_depth must be an int >= 2, got {max_depth!r}")
    choices = [p for p in experiments.PLACEMENTS if p != "pre"]
    controls = {
        "placement": W.Dropdown(
            options=[(figures.LABELS[p], p) for p in choices],
            value="post",
            description="placement",
        ),
        "depth": W.IntSlider(
            6, min=1, max=max_depth, description="blocks", continuous_update=False
        ),
    }
    kept: dict[tuple, dict] = {}

    def compute(placement: str, depth: int) -> dict:
        if (placement, depth) not in kept:
            kept[(placement, depth)] = experiments.init_profile(
                (placement, "pre"), depths=(depth,), seeds=tuple(seeds)
            )
        return kept[(placement, depth)]

    return live.explorer(controls, compute, figures.live_profile_figure, figures.update_profile)
