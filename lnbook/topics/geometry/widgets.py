"""Chapter 9's live controls (geometry): ipywidgets wired to the figure builders."""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from ... import live
from ..._validate import check_number
from . import experiments, figures


def sphere_explorer(x=(2.4, 0.2, 1.6)) -> live.Explorer:
    """Section 1: move one 3-feature example freely; layer norm's output stays on its
    circle in the plane perpendicular to 1, RMSNorm's on its sphere (eps pulls both inside).

    Parameters
    ----------
    x : the example shown first (three numbers)
    """
    if np.shape(x) != (3,):
        raise ValueError(f"x must be three numbers (one example of 3 features), got {x!r}")
    start = [check_number(f"x[{i}]", v, -4, 4) for i, v in enumerate(x)]
    controls = {
        f"x{i}": W.FloatSlider(v, min=-4, max=4, step=0.05, description=f"x{i + 1}")
        for i, v in enumerate(start)
    }
    controls["eps"] = W.FloatSlider(0.0, min=0.0, max=2.0, step=0.01, description="eps")
    return live.explorer(
        controls,
        lambda x0, x1, x2, eps: experiments.sphere_point([x0, x1, x2], eps=eps),
        figures.live_sphere_figure,
        figures.update_sphere,
    )
