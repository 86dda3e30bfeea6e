"""Chapter 5's live face: train the small transformer with any placement, depth and warm-up.

Training takes seconds, so this one is wired by hand on :class:`lnbook.live.Explorer`: a
*train* button runs :func:`experiments.warmup_training` and adds the curve to the figure,
a *clear* button removes them.
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from ..._validate import check_number
from ...live import Explorer, LiveFigure, values
from . import experiments, figures


def warmup_explorer(steps: int = 120) -> Explorer:
    """Chapter 5: train the small transformer with any placement, depth, rate and warm-up.

    Training takes a few seconds, so the controls set up a run and the *train* button
    starts it (reading "training…", disabled, until the run is drawn); each run adds its
    loss curve to the figure, and *clear* removes them all.
    """
    steps = check_number("steps", steps, 1, integer=True)
    controls = {
        "placement": W.ToggleButtons(options=["post", "pre"], value="post", description="norm"),
        "n_layers": W.IntSlider(6, 1, 12, description="layers"),
        "lr": W.FloatLogSlider(
            1e-2,
            base=10,
            min=-4,
            max=-1,
            description="learning rate",
            readout_format=".0e",
        ),
        "warmup": W.IntSlider(0, 0, 100, step=10, description="warm-up steps"),
    }
    run = W.Button(description="train", button_style="primary", icon="play")
    clear = W.Button(description="clear", icon="trash", tooltip="remove every run")
    figure = LiveFigure(figures.live_warmup_figure(np.full(steps, np.nan), "not trained yet"))

    def update(_=None) -> None:
        c = values(controls)
        loss = experiments.warmup_training(
            c["placement"], lr=c["lr"], warmup=c["warmup"], n_layers=c["n_layers"], steps=steps
        )
        warmup = f"warm-up {c['warmup']} steps" if c["warmup"] else "no warm-up"
        label = f"{c['placement']}-norm, {c['n_layers']} layers, lr {c['lr']:.2g}, {warmup}"
        figures.add_warmup_run(figure, loss, label)

    clear.on_click(lambda _: figures.clear_warmup_runs(figure))
    return Explorer(controls, figure, update, run=run, buttons=(clear,), busy="training…")
