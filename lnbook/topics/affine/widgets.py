"""Chapter 2's live face: gamma and beta moving the output of layer norm, live.

The controls call :func:`experiments.affine_histograms` and redraw with this topic's
figures; this module only says which controls there are (see :func:`lnbook.live.explorer`).
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from ..._validate import check_batch
from ...live import Explorer, explorer
from . import experiments, figures


def gamma_beta_explorer(x: np.ndarray, per_feature: dict[str, np.ndarray]) -> Explorer:
    """Chapter 2: gamma and beta, one value for all features or per-feature values.

    Parameters
    ----------
    x : (N, D) batch
    per_feature : ``{"gamma": (D,), "beta": (D,)}`` per-feature values; with the
        "per-feature" box ticked the output uses ``gamma * per_feature["gamma"]`` and
        ``beta + per_feature["beta"]``
    """
    x = check_batch(x)
    d = x.shape[1]
    for name in ("gamma", "beta"):
        if np.shape(per_feature.get(name)) != (d,):
            raise ValueError(
                f"per_feature['{name}'] must have shape ({d},) for x of shape "
                f"{x.shape}, got {np.shape(per_feature.get(name))}"
            )
    controls = {
        "example": W.IntSlider(0, 0, x.shape[0] - 1, description="example"),
        "gamma": W.FloatSlider(1.0, min=-3, max=3, step=0.05, description="γ"),
        "beta": W.FloatSlider(0.0, min=-4, max=4, step=0.05, description="β"),
        "per_feature": W.Checkbox(False, description="per-feature γ, β"),
    }

    given = per_feature  # the name of the box that switches these on, below

    def compute(example: int, gamma: float, beta: float, per_feature: bool) -> dict:
        gamma = gamma * (given["gamma"] if per_feature else 1.0)
        beta = beta + (given["beta"] if per_feature else 0.0)
        return experiments.affine_histograms(x, example, [{"gamma": gamma, "beta": beta}])

    return explorer(controls, compute, figures.live_gamma_beta_figure, figures.update_gamma_beta)
