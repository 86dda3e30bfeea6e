"""Chapter 10's figure builders (effective rate): plotly figures that work with no kernel.

``rate_figure`` (the static face: the norm of the weights before a norm, their effective
rate and the angle of each step, over SGD steps, one colour per weight decay, a slider over
the learning rate) and its live face ``live_rate_figure`` with ``update_rate``, all drawn by
``rate_traces`` from ``experiments.rate_runs``' results and ``experiments.rate_summary``'s
reading of them.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ... import plotting

_RATE_PANELS = ("norm", "rate", "angle")  # left to right
_RATE_PER_DECAY = (
    4  # in each panel: the band's lower edge, its upper edge, the mean, the prediction
)
_RATE_COLOUR = plotting.colour_cycle("vermillion", "sky", "blue", "green", "purple")
# What each panel shows in its title; its y axis names only the unit (three panels side by
# side leave no room at their left for a long axis title).
_RATE_AXES = {"norm": "‖W‖", "rate": "η / ‖W‖²", "angle": "radians"}
_RATE_TITLES = {
    "norm": "‖W‖ (layer 1's<br>weight and bias)",
    "rate": "effective rate<br>η / ‖W‖² (log)",
    "angle": "angle per step,<br>radians (log)",
}


def _decay_label(decay: float) -> str:
    return "no decay" if decay == 0 else f"decay λ = {decay:g}"


def rate_curves(result: dict, summary: dict, i: int, every: int = 10) -> dict:
    """What :func:`rate_traces` draws for the ``i``-th rate of a ``rate_runs`` result.

    Returns
    -------
    dict with, for each panel of ``_RATE_PANELS``, ``(x, y)``: the steps (n,) and the
    values (L, S, n) for each decay and seed (the norm and the effective rate every
    ``every`` steps, the angle as ``summary``'s root mean square over windows, at their
    middle); and ``predicted`` (L, 3): each decay's equilibrium norm, rate and angle
    (the norm's and rate's from the seeds' mean squared gradient, NaN without decay)
    """
    norm = result["norm"][i]  # (L, S, T + 1)
    lr = float(result["lrs"][i])
    steps = np.arange(norm.shape[-1])[::every]
    shown = norm[..., ::every]
    windows = summary["angle_windows"][i]  # (L, S, k)
    width = summary["window_steps"]
    pred_norm = summary["predicted_norm"][i].mean(axis=-1)  # (L,): NaN without decay
    return {
        "norm": (steps, shown),
        "rate": (steps, lr / shown**2),
        "angle": ((np.arange(windows.shape[-1]) + 0.5) * width, windows),
        "predicted": np.stack(
            [pred_norm, lr / pred_norm**2, summary["predicted_angle"][i].mean(axis=-1)], axis=1
        ),
    }


def rate_traces(result: dict, summary: dict, i: int, *, legend: bool = True) -> list[go.Scatter]:
    """The traces of the ``i``-th rate: for each panel (norm, rate, angle), for each decay,
    the band between the seeds' lowest and highest value, their mean, and the predicted
    equilibrium (a dashed line; empty without decay)."""
    curves = rate_curves(result, summary, i)
    decays = result["decays"]
    last = int(result["norm"].shape[-1] - 1)
    traces = []
    for p, panel in enumerate(_RATE_PANELS):
        x, y = curves[panel]
        for d, decay in enumerate(decays):
            colour, label = _RATE_COLOUR(d), _decay_label(float(decay))
            group = {"legendgroup": label}
            traces += plotting.band(
                x,
                y[d].min(axis=0),
                y[d].max(axis=0),
                colour,
                lower=group,
                showlegend=False,
                **group,
            )
            traces.append(
                go.Scatter(
                    x=x,
                    y=y[d].mean(axis=0),
                    mode="lines",
                    name=label,
                    showlegend=legend and p == 0,
                    line={"color": colour, "width": 2},
                    **group,
                )
            )
            value = curves["predicted"][d, p]
            has = bool(np.isfinite(value))
            traces.append(
                go.Scatter(
                    x=[0, last] if has else [],
                    y=[value, value] if has else [],
                    mode="lines",
                    name="predicted equilibrium",
                    legendgroup="predicted",
                    legendrank=1001,  # after the decays' entries
                    showlegend=legend and p == 0 and d == int(np.argmax(np.asarray(decays) > 0)),
                    hoverinfo="skip",
                    line={"color": colour, "width": 1.5, "dash": "dash"},
                )
            )
    return traces


def _rate_panels():
    return make_subplots(
        rows=1,
        cols=len(_RATE_PANELS),
        horizontal_spacing=0.13,
        subplot_titles=[_RATE_TITLES[p] for p in _RATE_PANELS],
    )


def _add_rate_traces(fig: go.Figure, traces: list[go.Scatter], n_decays: int) -> None:
    per_panel = _RATE_PER_DECAY * n_decays
    for k, t in enumerate(traces):
        fig.add_trace(t, row=1, col=k // per_panel + 1)


def _rate_axes(fig: go.Figure) -> None:
    fig.update_xaxes(title_text="SGD step", nticks=5, tickangle=0)
    for col, panel in enumerate(_RATE_PANELS, start=1):
        fig.update_yaxes(title_text=_RATE_AXES[panel], title_standoff=2, row=1, col=col)
    fig.update_annotations(font_size=14)  # two-line titles over narrow panels: 14 of 16 px


def rate_figure(result: dict, summary: dict, active: int = 0) -> go.Figure:
    """Chapter 10: weights before a norm under SGD, for each rate (slider) and decay (colour).

    Left: the norm of the first layer's weight and bias; middle: the effective rate
    lr / |W|^2; right: the angle each step turns W by (root mean square over windows).
    Bands: lowest to highest seed; lines: their mean; dashed: the predicted equilibrium.

    Parameters
    ----------
    result : ``experiments.rate_runs``' result
    summary : ``experiments.rate_summary(result)``
    active : the index of the rate shown first
    """
    lrs = [float(v) for v in result["lrs"]]
    n_decays = len(result["decays"])
    fig = _rate_panels()
    _add_rate_traces(fig, rate_traces(result, summary, active), n_decays)

    def moved(k: int) -> list:
        # Only the values change between rates (float32: the frames are the page's weight).
        return [
            go.Scatter(y=np.asarray(t.y, dtype=np.float32) if t.y is not None else [])
            for t in rate_traces(result, summary, k, legend=False)
        ]

    plotting.frame_slider(fig, [f"{lr:g}" for lr in lrs], "learning rate η", moved, active=active)
    curves = [rate_curves(result, summary, k) for k in range(len(lrs))]
    plotting.style(
        fig,
        "Weights before a norm under SGD:<br>their norm, effective rate and turn per step",
        height=480,
        legend=plotting.legend_row(-0.3, yanchor="top"),
        margin={"t": 110, "b": 150},
    )
    _rate_axes(fig)
    # Frames do not re-run autorange: every axis is fixed to hold every rate's curves.
    fig.update_xaxes(range=[0, result["norm"].shape[-1] - 1])
    for col, panel in enumerate(_RATE_PANELS, start=1):
        values = [c[panel][1] for c in curves] + [c["predicted"][:, col - 1] for c in curves]
        if panel == "norm":
            fig.update_yaxes(range=plotting.fit_range(values), row=1, col=col)
        else:
            fig.update_yaxes(
                range=plotting.fit_range(values, log=True),
                **plotting.log_axis(values),
                row=1,
                col=col,
            )
    return fig


def _live_rate_title(lr: float, decay: float) -> str:
    return f"Weights before a norm under SGD at η = {lr:.3g}: no decay and λ = {decay:.3g}"


def live_rate_figure(result: dict, summary: dict) -> go.Figure:
    """The chapter 10 view of one rate (``result`` of ``rate_runs`` with one rate and the
    decays 0 and one other), for a FigureWidget."""
    fig = _rate_panels()
    _add_rate_traces(fig, rate_traces(result, summary, 0), len(result["decays"]))
    plotting.style(
        fig,
        _live_rate_title(float(result["lrs"][0]), float(result["decays"][-1])),
        height=460,
        legend=plotting.legend_row(-0.3, yanchor="top"),
    )
    _rate_axes(fig)
    curves = rate_curves(result, summary, 0)
    for col, panel in enumerate(_RATE_PANELS[1:], start=2):
        # Ticks chosen for the first run's values; the range follows each redraw's data.
        values = [curves[panel][1], curves["predicted"][:, col - 1]]
        fig.update_yaxes(**plotting.log_axis(values), row=1, col=col)
    return fig


def update_rate(fig: go.Figure, result: dict, summary: dict) -> None:
    """Redraw the live chapter 10 view in place."""
    plotting.redraw(
        fig,
        rate_traces(result, summary, 0),
        title_text=_live_rate_title(float(result["lrs"][0]), float(result["decays"][-1])),
    )
