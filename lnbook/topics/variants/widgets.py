"""Chapter 7's live faces: RMSNorm against layer norm on a moved example, and the S-curve.

The controls call :func:`experiments.shifted_norms` and :func:`experiments.s_curve` and
redraw with this topic's figures; this module only says which controls there are (see
:func:`lnbook.live.explorer`).
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from ...live import Explorer, explorer
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
    live = explorer(
        controls,
        lambda **moves: experiments.shifted_norms(x, **moves),
        figures.live_recentering_figure,
        figures.update_recentering,
    )
    live.update()  # the updater fits the input axis to the example; the builder does not
    return live


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
    return explorer(
        controls,
        experiments.s_curve,  # the controls are named after its arguments
        lambda result: figures.norm_map_figure(
            result, "Layer norm over tokens<br>of different scales"
        ),
        figures.update_s_curve,
    )
