"""Chapter 6's live face: one hidden unit's input during training, for any network and rate.

The controls call :func:`experiments.covariate_shift_run` (keeping each run, since a run
takes half a second) and redraw with this topic's figures; this module only says which
controls there are (see :func:`lnbook.live.explorer`).
"""

from __future__ import annotations

import ipywidgets as W

from ...live import Explorer, explorer, values
from . import experiments, figures


def covariate_shift_explorer(steps: int = 600, checkpoints: int = 25) -> Explorer:
    """Chapter 6: one hidden unit's input over training, for any network, layer and rate.

    Changing the network, the learning rate or the seed trains that network (about half a
    second; each run is kept, so going back is instant); the layer and the step only redraw.
    """
    if isinstance(checkpoints, bool) or not isinstance(checkpoints, int) or checkpoints < 2:
        raise ValueError(f"checkpoints must be an int >= 2, got {checkpoints!r}")
    nets = experiments.COVARIATE_SHIFT_NETS
    controls = {
        "net": W.Dropdown(options=list(nets), value="layer norm", description="network"),
        "layer": W.ToggleButtons(
            options=[("1", 0), ("2", 1), ("3", 2)], value=2, description="layer"
        ),
        "lr": W.FloatLogSlider(
            1.0,
            base=10,
            min=-2,
            max=1,
            description="learning rate",
            readout_format=".2g",
            continuous_update=False,  # a new rate trains a network
        ),
        "seed": W.IntSlider(0, 0, 9, description="seed", continuous_update=False),
    }
    runs: dict[tuple, dict] = {}

    def run(net: str, lr: float, seed: int, **_) -> dict:
        if (net, lr, seed) not in runs:
            runs[net, lr, seed] = experiments.covariate_shift_run(
                **nets[net], lr=lr, steps=steps, checkpoints=checkpoints, seed=seed
            )
        return runs[net, lr, seed]

    # The slider reads training steps; its value is the checkpoint's index.
    labels = [(str(s), k) for k, s in enumerate(run(**values(controls))["steps"])]
    controls["checkpoint"] = W.SelectionSlider(
        options=labels, value=len(labels) - 1, description="training step"
    )

    def compute(layer: int, checkpoint: int, **c) -> tuple:
        r = run(**c)
        label = f"{c['net']}, lr {c['lr']:.2g}, final loss {r['loss'][-20:].mean():.2f}"
        return r, layer, checkpoint, label

    return explorer(
        controls,
        compute,
        lambda shown: figures.live_covariate_shift_figure(*shown),
        lambda figure, shown: figures.update_covariate_shift(figure, *shown),
    )
