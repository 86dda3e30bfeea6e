"""Chapter 1's live face: one example, shifted, scaled, cut and normalized as you move.

The controls call :func:`experiments.explore_example`, the compute behind the chapter's
slider figure too, and redraw with its figures module's updater; this module only says
which controls there are (see :func:`lnbook.live.explorer`).
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from ..._validate import check_batch
from ...live import Explorer, explorer
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
    return explorer(
        controls,
        # The other controls are named after explore_example's keywords.
        lambda example, **moves: experiments.explore_example(x, example, **moves),
        lambda result: figures.live_explorer_figure(result, n_features=d),
        figures.update_example_explorer,
    )
