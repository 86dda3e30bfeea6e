"""Chapter 15's live face for what the backward pass keeps: pick the hidden size and the
dtype; the saved tensors are counted again (``experiments.saved_per_token``) and redrawn
(see :func:`lnbook.live.explorer`).
"""

from __future__ import annotations

import ipywidgets as W

from ...live import Explorer, explorer
from . import experiments, figures


def saved_bytes_explorer() -> Explorer:
    """Chapter 15: bytes autograd keeps per token, for one hidden size and dtype, live."""
    controls = {
        "d": W.SelectionSlider(
            options=[64, 128, 256, 512, 1024, 2048], value=256, description="hidden size D"
        ),
        "dtype": W.Dropdown(options=list(experiments.DTYPES), value="float32", description="dtype"),
    }
    return explorer(
        controls,
        lambda d, dtype: experiments.saved_per_token((d,), dtype=dtype, n=2),
        figures.live_saved_figure,
        figures.update_saved,
    )
