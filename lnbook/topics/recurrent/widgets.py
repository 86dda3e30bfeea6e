"""Chapter 11's live controls (recurrent): ipywidgets wired to the figure builders.

The live face of the hidden-state norm figure: any scale of the recurrent weights, any
sequence length and width, the three seeds recomputed at each change (NumPy, milliseconds).
"""

from __future__ import annotations

import ipywidgets as W

from ... import live
from ..._validate import check_number
from . import experiments, figures


def norm_explorer(scale: float = 1.5, steps: int = 200, hidden: int = 64) -> live.Explorer:
    """Chapter 11: |h_t| over time in a ReLU RNN with and without layer norm, for any
    recurrent weights' scale, sequence length and number of units (three seeds)."""
    scale = check_number("scale", scale, 0.25, 3.0)
    steps = check_number("steps", steps, 10, 1000, integer=True)
    hidden = check_number("hidden", hidden, 4, 256, integer=True)
    controls = {
        "scale": W.FloatSlider(scale, min=0.25, max=3.0, step=0.05, description="weights' scale"),
        "steps": W.IntSlider(steps, min=10, max=1000, step=10, description="sequence length"),
        "hidden": W.IntSlider(hidden, min=4, max=256, step=4, description="units H"),
    }
    return live.explorer(
        controls,
        lambda scale, steps, hidden: experiments.rnn_norms(scale, steps=steps, hidden=hidden),
        figures.live_norm_figure,
        figures.update_norm,
    )
