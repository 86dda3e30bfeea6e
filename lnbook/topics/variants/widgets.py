"""DOCSTRING variants:widgets"""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from ...live import Explorer, LiveFigure
from . import experiments, figures


def recentering_explorer(x: np.ndarray) -> Explorer:
    """Chapter 7: shift and scale one example; layer norm and RMSNorm of it, live.

    Parameters
    ----------
    x : (D,) one example (checked by ``experiments.shifted_norms``, called once here)
    """
    controls = {
        "shift": W.FloatSlider(0.0, min=-10, max=10, step=0.1, description="shift"),
        "scale": W.FloatSlider(1.0, min=-3, max=3, step=0.05, description="scale"),
        "eps": W.FloatLogSlider(
            1e-5, base=10, min=-8, max=1, description="eps", readout_format=".0e"
        ),
    }

    def compute() -> dict:
        c = {k: w.value for k, w in controls.items()}
        return experiments.shifted_norms(x, shift=c["shift"], scale=c["scale"], eps=c["eps"])

    figure = LiveFigure(figures.live_recentering_figure(compute()))

    def update(change=None) -> None:
        figures.update_recentering(figure, compute())

    update()
    return Explorer(controls, figure, update)


def s_curve_explorer() -> Explorer:
    """Chapter 7: how far the tokens' scales spread decides how S-shaped layer norm looks."""
    controls = {
        "spread": W.FloatSlider(
            1.0,
            min=0.0,
            max=2.5,
            step=0.05,
            description="spread of token scales",
        ),
        "n_tokens": W.IntSlider(32, 2, 128, description="tokens"),
        "d": W.IntSlider(16, 2, 128, description="features per token"),
        "seed": W.IntSlider(0, 0, 9, description="seed"),
    }

    def compute() -> dict:
        c = {k: w.value for k, w in controls.items()}
        return experiments.s_curve(c["spread"], n_tokens=c["n_tokens"], d=c["d"], seed=c["seed"])

    figure = LiveFigure(
        figures.norm_map_figure(compute(), "Layer norm over tokens<br>of different scales")
    )

    def update(change=None) -> None:
        figures.update_s_curve(figure, compute())

    return Explorer(controls, figure, update)
