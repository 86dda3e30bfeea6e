"""Chapter 16's live face: the sharded statistics on a process group of your choosing.

Each change starts a fresh gloo process group of the chosen size (a fraction of a second once
the first has started), runs :func:`experiments.accuracy_sweep` on it and redraws with this
topic's figures; this module only says which controls there are (see
:func:`lnbook.live.explorer`). Sliders act on release, not while dragged: each value starts
processes.
"""

from __future__ import annotations

import ipywidgets as W

from ...live import Explorer, explorer
from . import experiments, figures


def sharded_stats_explorer() -> Explorer:
    """Chapter 16: ranks, hidden size, precision and seed -> error and bytes, live."""
    controls = {
        "world_size": W.IntSlider(2, 2, 4, description="ranks P", continuous_update=False),
        "d": W.Dropdown(options=[16, 64, 256, 1024, 4096], value=64, description="hidden size D"),
        "dtype": W.ToggleButtons(
            options=["float32", "float64"], value="float32", description="precision"
        ),  # fmt: skip
        "seed": W.IntSlider(0, 0, 9, description="seed", continuous_update=False),
    }
    return explorer(
        controls,
        experiments.accuracy_sweep,
        figures.live_sharded_stats_figure,
        figures.update_sharded_stats,
    )
