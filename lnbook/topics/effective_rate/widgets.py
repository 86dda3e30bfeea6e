"""Chapter 10's live controls (effective rate): ipywidgets wired to the figure builders.

The live face of the effective-rate figure: any learning rate and weight decay, trained when
a slider is released (three seeds side by side, with and without the decay: about two
seconds), drawn by the same builder as the static figure.
"""

from __future__ import annotations

import ipywidgets as W

from ... import live
from . import experiments, figures


def rate_explorer(
    steps: int = 800, seeds: tuple[int, ...] = (0, 1, 2), known: dict | None = None
) -> live.Explorer:
    """Chapter 10: the first layer's norm, effective rate and angle per step under SGD, for
    any learning rate and decay (each run is kept, so going back is instant).

    ``known``: runs already trained (a ``rate_runs`` result with these steps and seeds, the
    chapter's grid), reused instead of trained again for its rates and decays.
    """
    if known is not None and (
        known["norm"].shape[-1] != steps + 1 or list(known["seeds"]) != list(seeds)
    ):
        raise ValueError(
            f"known has {known['norm'].shape[-1] - 1} steps and seeds {list(known['seeds'])}, "
            f"not {steps} and {list(seeds)}"
        )

    controls = {
        "lr": W.FloatLogSlider(
            0.3,
            base=10,
            min=-1.5,
            max=0.5,
            description="learning rate η",
            readout_format=".2g",
            continuous_update=False,  # a new rate trains the networks
        ),
        "decay": W.FloatLogSlider(
            0.01,
            base=10,
            min=-3.5,
            max=-1.5,
            description="weight decay λ",
            readout_format=".2g",
            continuous_update=False,
        ),
    }
    runs: dict[tuple, tuple] = {}

    def compute(lr: float, decay: float) -> tuple:
        if (lr, decay) not in runs:
            result = None
            if known is not None:
                try:
                    result = experiments.pick_runs(known, lr, (0.0, decay))
                except ValueError:  # not among the known runs: train them
                    pass
            if result is None:
                result = experiments.rate_runs((lr,), (0.0, decay), seeds, steps=steps)
            # The chapter's windows for its 800 steps: the last quarter, 20 points per curve.
            summary = experiments.rate_summary(
                result, window=max(1, steps // 4), curve_window=max(1, steps // 20)
            )
            runs[lr, decay] = result, summary
        return runs[lr, decay]

    return live.explorer(
        controls,
        compute,
        lambda shown: figures.live_rate_figure(*shown),
        lambda figure, shown: figures.update_rate(figure, *shown),
    )
