"""Chapter 14's live face: one channel of size M through layer norm, RMSNorm and DyT.

The controls call :func:`experiments.outlier_norms` and redraw with this topic's figures;
this module only says which controls there are (see :func:`lnbook.live.explorer`).
"""

from __future__ import annotations

import ipywidgets as W

from ...live import Explorer, explorer
from . import experiments, figures


def outlier_explorer() -> Explorer:
    """Chapter 14: the outlier's size, the token's width, DyT's alpha and the seed, live."""
    controls = {
        "m": W.FloatLogSlider(16.0, base=10, min=-1, max=3, description="outlier size M"),
        "d": W.IntSlider(16, 3, 256, description="channels D"),
        "alpha": W.FloatLogSlider(0.5, base=10, min=-2, max=1, description="DyT's alpha"),
        "seed": W.IntSlider(0, 0, 9, description="seed"),
    }
    return explorer(
        controls,
        lambda **v: experiments.outlier_norms(**v, n_tokens=1),
        figures.live_outlier_figure,
        figures.update_outlier,
    )
