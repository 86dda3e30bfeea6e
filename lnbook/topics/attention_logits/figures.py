"""Chapter 13's figure builders (attention logits): plotly figures that work with no kernel.

``logit_figure`` (the static face: the largest attention logit, the attention entropy and
the loss over training, with and without QK-norm, a slider over the learning rate) and its
live face ``live_logit_figure`` with ``update_logit``, all drawn by ``logit_traces`` from
``experiments.logit_runs``' results.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ... import plotting

_PANELS = ("max_logit", "entropy", "loss")  # left to right
_PER_CHOICE = 3  # in each panel, per QK-norm choice: the band's two edges, the seeds' mean
_COLOUR = {None: plotting.PALETTE["vermillion"], "layer": plotting.PALETTE["blue"],
           "rms": plotting.PALETTE["green"]}  # fmt: skip
_AXES = {"max_logit": "largest |logit|", "entropy": "nats", "loss": "cross-entropy"}
_TITLES = {
    "max_logit": "largest attention<br>logit (log)",
    "entropy": "attention entropy",
    "loss": "training loss (log)",
}
_LOG = {"max_logit": True, "entropy": False, "loss": True}


def _label(qk_norm) -> str:
    return "no QK-norm" if qk_norm is None else f"QK-norm ({qk_norm})"


def logit_traces(result: dict, i: int, *, legend: bool = True) -> list[go.Scatter]:
    """The traces of the ``i``-th rate: for each panel (largest logit, entropy, loss), for
    each QK-norm choice, the band between the seeds' lowest and highest value and their
    mean (the geometric mean on the log panels)."""
    steps = np.arange(1, result["loss"].shape[-1] + 1)
    traces = []
    for p, panel in enumerate(_PANELS):
        values = result[panel][i]  # (Q, S, steps)
        for q, qk in enumerate(result["qk_norms"]):
            colour, label = _COLOUR[qk], _label(qk)
            group = {"legendgroup": label}
            y = values[q]
            mean = np.exp(np.log(y).mean(axis=0)) if _LOG[panel] else y.mean(axis=0)
            traces += plotting.band(
                steps, y.min(axis=0), y.max(axis=0), colour, lower=group, showlegend=False,
                **group,
            )  # fmt: skip
            traces.append(
                go.Scatter(
                    x=steps,
                    y=mean,
                    mode="lines",
                    name=label,
                    showlegend=legend and p == 0,
                    line={"color": colour, "width": 2},
                    **group,
                )
            )
    return traces


def _panels():
    return make_subplots(
        rows=1,
        cols=len(_PANELS),
        horizontal_spacing=0.12,
        subplot_titles=[_TITLES[p] for p in _PANELS],
    )


def _add(fig: go.Figure, traces: list[go.Scatter], n_choices: int) -> None:
    per_panel = _PER_CHOICE * n_choices
    for k, t in enumerate(traces):
        fig.add_trace(t, row=1, col=k // per_panel + 1)


def _axes(fig: go.Figure) -> None:
    fig.update_xaxes(title_text="Adam step", nticks=5, tickangle=0)
    for col, panel in enumerate(_PANELS, start=1):
        fig.update_yaxes(title_text=_AXES[panel], title_standoff=2, row=1, col=col)
    fig.update_annotations(font_size=14)


def _fix_ranges(fig: go.Figure, result: dict, rates: list[int] | None = None) -> None:
    """Every y axis fixed to hold the chosen rates' curves (frames do not autorange)."""
    rates = list(range(len(result["lrs"]))) if rates is None else rates
    for col, panel in enumerate(_PANELS, start=1):
        values = result[panel][rates]
        if _LOG[panel]:
            values = np.clip(values, 1e-4, None)  # a loss of 0 to rounding: the axis's floor
            fig.update_yaxes(
                range=plotting.fit_range(values, log=True), **plotting.log_axis(values),
                row=1, col=col,
            )  # fmt: skip
        else:
            fig.update_yaxes(range=plotting.fit_range(values, tozero=True), row=1, col=col)


def _shown_menu(qk_norms: list, n_traces: int) -> dict:
    """Buttons: both QK-norm choices, or one alone (restyles ``visible``, which the rate
    slider's frames never set, so the two controls compose)."""
    choice = [(k // _PER_CHOICE) % len(qk_norms) for k in range(n_traces)]  # each trace's
    labels, visible = ["both"], [[True] * n_traces]
    for q, qk in enumerate(qk_norms):
        labels.append("only " + _label(qk))
        visible.append([c == q for c in choice])
    return plotting.menu(
        labels, [[{"visible": v}] for v in visible], "runs shown", "restyle",
        dropdown=True, x=1.0, xanchor="right", y=1.2,
    )  # fmt: skip


def logit_figure(result: dict, active: int = 0) -> go.Figure:
    """Chapter 13: attention logits over training, with and without QK-norm (colour), for
    each learning rate (slider).

    Left: the largest |attention logit|; middle: the attention's entropy (nats); right: the
    training loss. Bands: the seeds' lowest to highest value; lines: their mean. A drop-down
    shows both QK-norm choices or one alone.

    Parameters
    ----------
    result : ``experiments.logit_runs``' result
    active : the index of the rate shown first
    """
    lrs = [float(v) for v in result["lrs"]]
    n_choices = len(result["qk_norms"])
    fig = _panels()
    _add(fig, logit_traces(result, active), n_choices)

    def moved(k: int) -> list:
        # Only the values change between rates (float32: the frames are the page's weight).
        return [
            go.Scatter(y=np.asarray(t.y, dtype=np.float32))
            for t in logit_traces(result, k, legend=False)
        ]

    plotting.frame_slider(fig, [f"{lr:g}" for lr in lrs], "Adam learning rate", moved,
                          active=active)  # fmt: skip
    plotting.style(
        fig,
        "Attention logits during training:<br>their size, the attention's entropy, the loss",
        height=520,
        updatemenus=[_shown_menu(result["qk_norms"], len(fig.data))],
        legend=plotting.legend_row(-0.3, yanchor="top"),
        margin={"t": 160, "b": 150},
    )
    _axes(fig)
    fig.update_xaxes(range=[1, result["loss"].shape[-1]])
    _fix_ranges(fig, result)
    return fig


def _live_title(lr: float) -> str:
    return f"Attention logits during training at learning rate {lr:.3g}"


def live_logit_figure(result: dict) -> go.Figure:
    """The chapter 13 view of one rate (``result`` of ``logit_runs`` with one rate), for a
    FigureWidget."""
    fig = _panels()
    _add(fig, logit_traces(result, 0), len(result["qk_norms"]))
    plotting.style(
        fig,
        _live_title(float(result["lrs"][0])),
        height=460,
        legend=plotting.legend_row(-0.3, yanchor="top"),
    )
    _axes(fig)
    for col, panel in enumerate(_PANELS, start=1):
        if _LOG[panel]:
            # Decades only: the redraws' ranges differ (a rate's logits span 1 to 1e4).
            fig.update_yaxes(type="log", exponentformat="power", dtick=1, row=1, col=col)
    return fig


def update_logit(fig: go.Figure, result: dict) -> None:
    """Redraw the live chapter 13 view in place."""
    plotting.redraw(fig, logit_traces(result, 0), title_text=_live_title(float(result["lrs"][0])))
