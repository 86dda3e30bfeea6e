"""DOCSTRING statistics:widgets"""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from ..._validate import check_batch
from ...live import Explorer, LiveFigure
from . import experiments, figures


def example_explorer(x: np.ndarray) -> Explorer:
    """Chapter 1: pick an example, shift and scale it, change the number of features and eps.

    Parameters
    ----------
    x : (N, D) batch
    """
    x = check_batch(x)
    n, d = x.shape
    controls = {
        "example": W.IntSlider(0, 0, n - 1, description="example"),
        "shift": W.FloatSlider(0.0, min=-10, max=10, step=0.1, description="shift"),
        "scale": W.FloatSlider(1.0, min=-5, max=5, step=0.05, description="scale"),
        "n_features": W.IntSlider(d, 1, d, description="features"),
        "eps": W.FloatLogSlider(
            1e-5, base=10, min=-8, max=2, description="eps", readout_format=".0e"
        ),
    }

    def compute() -> dict:
        c = {k: w.value for k, w in controls.items()}
        return experiments.explore_example(
            x,
            c["example"],
            shift=c["shift"],
            scale=c["scale"],
            n_features=c["n_features"],
            eps=c["eps"],
        )

    figure = LiveFigure(figures.live_explorer_figure(compute(), n_features=d))

    def update(change=None) -> None:
        figures.update_example_explorer(figure, compute())

    return Explorer(controls, figure, update)
