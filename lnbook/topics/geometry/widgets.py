"""Chapter 9's live controls (geometry): ipywidgets wired to the figure builders."""

from __future__ import annotations

import ipywidgets as W

from ... import live
from . import experiments, figures

# --- Sections 1-3: projection, sphere, Jacobian, attention, gamma = 1 + w -----------------


def sphere_explorer(x=(2.4, 0.2, 1.6)) -> live.Explorer:
    """Section 1: move one 3-feature example freely; layer norm's output stays on its
    circle in the plane perpendicular to 1, RMSNorm's on its sphere (eps pulls both inside).

    Parameters
    ----------
    x : the example shown first (three numbers)
    """
    controls = {
        f"x{i}": W.FloatSlider(float(v), min=-4, max=4, step=0.05, description=f"x{i + 1}")
        for i, v in enumerate(x)
    }
    controls["eps"] = W.FloatSlider(0.0, min=0.0, max=2.0, step=0.01, description="eps")
    return live.explorer(
        controls,
        lambda x0, x1, x2, eps: experiments.sphere_point([x0, x1, x2], eps=eps),
        figures.live_sphere_figure,
        figures.update_sphere,
    )


# --- Section 4: scale invariance and the effective learning rate -------------------------
#
# The live face of the effective-rate figure: any learning rate and weight decay, trained
# when a slider is released (three seeds side by side, with and without the decay: about
# two seconds), drawn by the same builder as the static figure. ipywidgets is imported in
# the function, so that this half of the module touches no line of the other.


def rate_explorer(
    steps: int = 800, seeds: tuple[int, ...] = (0, 1, 2), known: dict | None = None
) -> live.Explorer:
    """Chapter 9: the first layer's norm, effective rate and angle per step under SGD, for
    any learning rate and decay (each run is kept, so going back is instant).

    ``known``: runs already trained (a ``rate_runs`` result with these steps and seeds, the
    chapter's grid), reused instead of trained again for its rates and decays.
    """
    import ipywidgets as W

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
