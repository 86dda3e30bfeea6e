"""Live controls for Jupyter: ipywidgets wired to the same compute and figure functions.

The static site never needs these (its figures have precomputed sliders). Each explorer
returns an :class:`Explorer`: display it in a notebook, or drive ``controls`` and call
``update`` directly (the tests and the latency benchmark do, without a kernel). Figures are
:class:`LiveFigure` s (plotly ``FigureWidget`` s that fill the output's width) updated
inside ``batch_update``, so a change redraws the data in place, without flicker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import traitlets

from . import experiments, viz


class LiveFigure(go.FigureWidget):
    """A plotly ``FigureWidget`` that fills the width of its output area in Jupyter.

    plotly's own ``FigureWidget`` (an anywidget since plotly 6) draws before its element is
    in the page, so plotly.js reads no width there and keeps its 700 px default for good:
    a cramped figure in a 1200 px notebook. This one runs plotly's front-end module
    unchanged (sent in ``_plotly_esm``) from ``static/live-figure.js``, which draws each
    view once its element has a width and resizes it when that width changes. Build it as
    a ``FigureWidget`` (``LiveFigure(fig)``), without a layout ``width``, which would pin it.
    """

    _esm = Path(__file__).parent / "static" / "live-figure.js"
    # The source of plotly's widget module, as plotly's FigureWidget sends it in ``_esm``.
    _plotly_esm = traitlets.Unicode().tag(sync=True)

    @traitlets.default("_plotly_esm")
    def _plotly_module(self) -> str:
        return str(go.FigureWidget._esm)


@dataclass
class Explorer:
    """A live interactive: its controls, its figure, and the callback that links them.

    By default every change of a control redraws. With a ``run`` button (for updates that
    take seconds, like training a model) the controls only set up the next run and the
    button starts it; while it runs, every button is disabled and ``run`` reads ``busy``,
    so a second click cannot queue another run. ``buttons``: more buttons (wired by the
    caller, a *clear* say), shown after ``run``.

    The controls sit in a grid of equal columns above the figure (as many as the output's
    width holds), every description as wide as the longest, so the controls line up.
    """

    controls: dict[str, W.ValueWidget]
    figure: go.FigureWidget
    update: Callable[..., None]
    run: W.Button | None = None
    buttons: tuple[W.Button, ...] = ()
    busy: str = "running…"
    widget: W.Widget = field(init=False)

    def __post_init__(self) -> None:
        if self.run is None:
            for control in self.controls.values():
                control.observe(self.update, names="value")
        else:
            self.run.on_click(self._start)
        controls = list(self.controls.values())
        label = _description_em(controls)
        for control in controls:
            control.style.description_width = f"{label:g}em"
            control.layout.width = "auto"  # fill its grid cell
            if isinstance(control, W.ToggleButtons):
                # ipywidgets 8 puts toggle buttons on a line under their description (a
                # block after an inline label): a row instead, the buttons sharing the
                # room a slider gets.
                control.layout.display = "flex"
                control.layout.align_items = "center"
                n = len(control.options)
                control.style.button_width = f"{_CONTROL_EM / n - 0.5:.1f}em"
        # A column holds the label and a slider of useful length with its readout;
        # narrower than that (a phone) the grid falls to a single column.
        column = f"minmax(min(100%, {label + _CONTROL_EM + 1:g}em), 1fr)"
        grid = W.GridBox(
            controls,
            layout=W.Layout(
                grid_template_columns=f"repeat(auto-fill, {column})",
                grid_gap="2px 24px",
                width="100%",
            ),
        )
        actions = [self.run, *self.buttons] if self.run else list(self.buttons)
        self.widget = W.VBox([grid] + ([W.HBox(actions)] if actions else []) + [self.figure])

    def _start(self, _: W.Button) -> None:
        """Run ``update`` with every button disabled and ``run`` reading ``busy``; give them
        back even if it raises (ipywidgets then reports the error)."""
        idle, buttons = self.run.description, [self.run, *self.buttons]
        for b in buttons:
            b.disabled = True
        self.run.description = self.busy
        try:
            self.update(self.run)
        finally:
            self.run.description = idle
            for b in buttons:
                b.disabled = False

    def _ipython_display_(self) -> None:  # display(explorer) shows the widget
        from IPython.display import display

        display(self.widget)


def _batch(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x must be a non-empty (N, D) batch, got shape {x.shape}")
    return x


_CONTROL_EM = 13  # the width of a control beside its description: slider and readout


def _description_em(controls: list[W.Widget]) -> float:
    """A description width, in em, that holds the longest description of ``controls``.

    An estimate from the character count (about 0.6 em a character in Jupyter's widget
    font), since the kernel cannot measure text; rounded up to a half em.
    """
    longest = max(
        (len(c.description) for c in controls if not isinstance(c, W.Checkbox)), default=0
    )
    return float(np.ceil(2 * (0.6 * longest + 0.5)) / 2)


def example_explorer(x: np.ndarray) -> Explorer:
    """Chapter 1: pick an example, shift and scale it, change the number of features and eps.

    Parameters
    ----------
    x : (N, D) batch
    """
    x = _batch(x)
    n, d = x.shape
    controls = {
        "example": W.IntSlider(0, 0, n - 1, description="example"),
        "shift": W.FloatSlider(0.0, min=-10, max=10, step=0.1, description="shift"),
        "scale": W.FloatSlider(1.0, min=-5, max=5, step=0.05, description="scale"),
        "n_features": W.IntSlider(d, 1, d, description="features"),
        "eps": W.FloatLogSlider(
            1e-5, base=10, min=-8, max=2, description="eps", readout_format=".0e"
        ),
    }

    def compute() -> dict:
        c = {k: w.value for k, w in controls.items()}
        return experiments.explore_example(
            x,
            c["example"],
            shift=c["shift"],
            scale=c["scale"],
            n_features=c["n_features"],
            eps=c["eps"],
        )

    figure = LiveFigure(viz.live_explorer_figure(compute(), n_features=d))

    def update(change=None) -> None:
        viz.update_example_explorer(figure, compute())

    return Explorer(controls, figure, update)


def gamma_beta_explorer(x: np.ndarray, per_feature: dict[str, np.ndarray]) -> Explorer:
    """Chapter 2: gamma and beta, one value for all features or per-feature values.

    Parameters
    ----------
    x : (N, D) batch
    per_feature : ``{"gamma": (D,), "beta": (D,)}`` per-feature values; with the
        "per-feature" box ticked the output uses ``gamma * per_feature["gamma"]`` and
        ``beta + per_feature["beta"]``
    """
    x = _batch(x)
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

    def compute() -> dict:
        c = {k: w.value for k, w in controls.items()}
        gamma = c["gamma"] * (per_feature["gamma"] if c["per_feature"] else 1.0)
        beta = c["beta"] + (per_feature["beta"] if c["per_feature"] else 0.0)
        return experiments.affine_histograms(x, c["example"], [{"gamma": gamma, "beta": beta}])

    figure = LiveFigure(viz.live_gamma_beta_figure(compute()))

    def update(change=None) -> None:
        viz.update_gamma_beta(figure, compute())

    return Explorer(controls, figure, update)


def batch_dependence_explorer(
    pool: np.ndarray, labels: np.ndarray, example: int = 0, draws: int = 8
) -> Explorer:
    """Chapter 4: any batch size, random or same-class companions, a new draw on demand.

    Parameters
    ----------
    pool : (M, D) examples; labels : (M,) their classes; example : the one followed
    draws : batches drawn for each setting
    """
    pool = _batch(pool)
    # Same-class batches are drawn without repeats: at most the class's size.
    largest = int((np.asarray(labels) == np.asarray(labels)[example]).sum())
    controls = {
        "batch_size": W.IntSlider(min(8, largest), 2, largest, description="batch size"),
        "composition": W.Dropdown(
            options=[("random companions", "random"), ("same digit", "same_class")],
            value="random",
            description="companions",
        ),
        "seed": W.IntSlider(0, 0, 99, description="draw"),
    }

    def compute() -> dict:
        c = {k: w.value for k, w in controls.items()}
        return experiments.batch_dependence(
            pool, labels, example, [c["batch_size"]], draws=draws, seed=c["seed"]
        )

    figure = LiveFigure(viz.live_batch_dependence_figure(compute(), controls["composition"].value))

    def update(change=None) -> None:
        viz.update_batch_dependence(figure, compute(), controls["composition"].value)

    return Explorer(controls, figure, update)


def warmup_explorer(steps: int = 120) -> Explorer:
    """Chapter 5: train the small transformer with any placement, depth, rate and warm-up.

    Training takes a few seconds, so the controls set up a run and the *train* button
    starts it (reading "training…", disabled, until the run is drawn); each run adds its
    loss curve to the figure, and *clear* removes them all.
    """
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

    def label() -> str:
        c = {k: w.value for k, w in controls.items()}
        warmup = f"warm-up {c['warmup']} steps" if c["warmup"] else "no warm-up"
        return f"{c['placement']}-norm, {c['n_layers']} layers, lr {c['lr']:.2g}, {warmup}"

    figure = LiveFigure(viz.live_warmup_figure(np.full(steps, np.nan), "not trained yet"))

    def update(_=None) -> None:
        c = {k: w.value for k, w in controls.items()}
        loss = experiments.warmup_training(
            c["placement"], lr=c["lr"], warmup=c["warmup"], n_layers=c["n_layers"], steps=steps
        )
        viz.add_warmup_run(figure, loss, label())

    clear.on_click(lambda _: viz.clear_warmup_runs(figure))
    return Explorer(controls, figure, update, run=run, buttons=(clear,), busy="training…")


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

    def run() -> dict:
        c = {k: w.value for k, w in controls.items()}
        key = (c["net"], c["lr"], c["seed"])
        if key not in runs:
            runs[key] = experiments.covariate_shift_run(
                **nets[c["net"]], lr=c["lr"], steps=steps, checkpoints=checkpoints, seed=c["seed"]
            )
        return runs[key]

    # The slider reads training steps; its value is the checkpoint's index.
    labels = [(str(s), k) for k, s in enumerate(run()["steps"])]
    controls["checkpoint"] = W.SelectionSlider(
        options=labels, value=len(labels) - 1, description="training step"
    )

    def label() -> str:
        r, c = run(), {k: w.value for k, w in controls.items()}
        return f"{c['net']}, lr {c['lr']:.2g}, final loss {r['loss'][-20:].mean():.2f}"

    c = controls
    figure = LiveFigure(
        viz.live_covariate_shift_figure(run(), c["layer"].value, c["checkpoint"].value, label())
    )

    def update(change=None) -> None:
        viz.update_covariate_shift(figure, run(), c["layer"].value, c["checkpoint"].value, label())

    return Explorer(controls, figure, update)


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

    def compute() -> dict:
        c = {k: w.value for k, w in controls.items()}
        return experiments.shifted_norms(x, shift=c["shift"], scale=c["scale"], eps=c["eps"])

    figure = LiveFigure(viz.live_recentering_figure(compute()))

    def update(change=None) -> None:
        viz.update_recentering(figure, compute())

    update()
    return Explorer(controls, figure, update)


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

    def compute() -> dict:
        c = {k: w.value for k, w in controls.items()}
        return experiments.s_curve(c["spread"], n_tokens=c["n_tokens"], d=c["d"], seed=c["seed"])

    figure = LiveFigure(
        viz.norm_map_figure(compute(), "Layer norm over tokens<br>of different scales")
    )

    def update(change=None) -> None:
        viz.update_s_curve(figure, compute())

    return Explorer(controls, figure, update)
