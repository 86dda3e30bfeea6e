"""Chapter 15's live face: the error of layer norm's statistics in half precision for any
dtype, offset and seed.

The controls call :func:`experiments.statistics_error` and redraw with this topic's
figures; this module only says which controls there are (see :func:`lnbook.live.explorer`).
"""

from __future__ import annotations

import ipywidgets as W

from ...live import Explorer, explorer
from . import experiments, figures

OFFSETS = (0.0, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0)


def statistics_explorer() -> Explorer:
    """Chapter 15: pick the input dtype, the rows' offset (mean / std) and the seed; the
    four ways of computing the statistics are rerun over every hidden size (~0.2 s)."""
    controls = {
        "dtype": W.Dropdown(options=experiments.HALF, value="float16", description="dtype"),
        "offset": W.SelectionSlider(
            options=OFFSETS, value=10.0, description="offset", continuous_update=False
        ),
        "seed": W.IntSlider(0, 0, 9, description="seed", continuous_update=False),
    }
    return explorer(
        controls,
        lambda dtype, offset, seed: experiments.statistics_error(
            dtype, offsets=(offset,), seeds=(seed,)
        ),
        figures.live_statistics_figure,
        figures.update_statistics,
    )
