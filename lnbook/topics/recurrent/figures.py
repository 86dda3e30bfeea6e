"""Chapter 11's figure builders (recurrent): plotly figures that work with no kernel.

``training_figure`` (the three LSTMs' training loss, a band over the seeds),
``statistics_figure`` (per-step batch norm's statistics: the ones training stored for
each step, the ones a longer, padded sequence has, and the ones evaluation uses; a slider
over the padding) and ``norm_figure`` (the hidden state's norm over time in a ReLU RNN
with and without layer norm, a slider over the recurrent weights' scale) with its live
face ``live_norm_figure`` and ``update_norm``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ... import plotting

_KIND_LABEL = {
    "plain": "plain LSTM",
    "layer": "layer norm (LN-LSTM)",
    "batch": "batch norm per step",
}
_KIND_COLOUR = {"plain": "black", "layer": "blue", "batch": "vermillion"}


def _smooth(y: np.ndarray, width: int) -> np.ndarray:
    """A moving average over the last axis (``width`` steps, 'valid' part only)."""
    kernel = np.ones(width) / width
    return np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="valid"), -1, y)


def training_figure(runs: dict, width: int = 10) -> go.Figure:
    """Training loss of the three LSTMs (``experiments.digit_runs``): for each, the seeds'
    mean of the loss averaged over ``width`` steps and a band from their lowest to highest."""
    loss = _smooth(runs["loss"], width)  # (3, S, n)
    steps = np.arange(loss.shape[-1]) + width
    fig = go.Figure()
    for i, kind in enumerate(runs["kinds"]):
        colour = plotting.PALETTE[_KIND_COLOUR[kind]]
        label = _KIND_LABEL[kind]
        fig.add_traces(
            plotting.band(
                steps,
                loss[i].min(axis=0),
                loss[i].max(axis=0),
                colour,
                name=f"{label}: seeds' range",
                legendgroup=kind,
                showlegend=False,
            )  # fmt: skip
        )
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=loss[i].mean(axis=0),
                mode="lines",
                name=label,
                legendgroup=kind,
                line={"color": colour, "width": 2},
            )  # fmt: skip
        )
    return plotting.style(
        fig,
        f"Training loss on the digits read row by row ({len(runs['seeds'])} seeds)",
        height=420,
        xaxis=plotting.axis("training step"),
        yaxis=plotting.axis(f"cross-entropy (mean of {width} steps)", rangemode="tozero"),
        legend=plotting.legend_row(1.02),
    )


_PATHS = ("from below, W_ih x_t", "from the previous step, W_hh h_t-1")


def statistics_curves(runs: dict, q: int) -> dict:
    """What :func:`statistics_figure` draws for the ``q``-th padding: for each summed input
    (2,), ``stored`` (S, 8) the running std per step, ``seen`` (S, T) the padded
    sequences' own std per step, and ``used`` (S, T) the std evaluation divides by, step
    ``min(t, 8)``'s (T = 8 + the padding)."""
    T = 8 + int(runs["pads"][q])
    stored = runs["stored_std"]  # (2, S, 8)
    used = stored[..., np.minimum(np.arange(T), stored.shape[-1] - 1)]
    return {"T": T, "stored": stored, "seen": runs["seen_std"][:, :, q, :T], "used": used}


def _statistics_traces(runs: dict, q: int) -> list[go.Scatter]:
    """For each panel: the stored std (markers), the sequences' own (line) and the used
    (dashed), each the mean over seeds (the band of their range is the hover's job)."""
    c = statistics_curves(runs, q)
    t = np.arange(1, c["T"] + 1)
    traces = []
    for n in range(2):
        first = n == 0
        traces += [
            go.Scatter(
                x=t[:8], y=c["stored"][n].mean(axis=0), mode="markers", name="stored in training",
                marker={"color": plotting.PALETTE["vermillion"], "size": 10}, showlegend=first,
                legendgroup="stored",
            ),
            go.Scatter(
                x=t, y=c["seen"][n].mean(axis=0), mode="lines+markers", name="the sequences' own",
                line={"color": plotting.PALETTE["blue"], "width": 2}, marker={"size": 5},
                showlegend=first, legendgroup="seen",
            ),
            go.Scatter(
                x=t, y=c["used"][n].mean(axis=0), mode="lines", name="used in evaluation",
                line={"color": plotting.PALETTE["black"], "dash": "dash"}, showlegend=first,
                legendgroup="used",
            ),
        ]  # fmt: skip
    return traces


def statistics_figure(runs: dict, active: int = 1) -> go.Figure:
    """Per-step batch norm's statistics (``experiments.digit_runs``): in two panels (the
    summed inputs from below and from the previous step), the std per step stored in
    training, the held-out digits' own after blank rows, and the std evaluation divides
    by; a slider over the number of blank rows. Means over the seeds."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=_PATHS, horizontal_spacing=0.1)
    for k, trace in enumerate(_statistics_traces(runs, active)):
        fig.add_trace(trace, row=1, col=1 + k // 3)
    T_max = 8 + int(runs["pads"].max())
    every = np.concatenate([runs["stored_std"].ravel(), runs["seen_std"].ravel()])
    y_range = plotting.fit_range(every, tozero=True)
    plotting.frame_slider(
        fig,
        [f"{int(p)} blank rows" for p in runs["pads"]],
        "padding before the digit",
        lambda q: _statistics_traces(runs, q),
        active=active,
    )
    return plotting.style(
        fig,
        "Per-step batch norm: the std of each summed input, step by step",
        height=460,
        xaxis=plotting.axis("time step t", range=[0.5, T_max + 0.5]),
        xaxis2=plotting.axis("time step t", range=[0.5, T_max + 0.5]),
        yaxis=plotting.axis("std over the batch (mean over units)", range=y_range),
        yaxis2=plotting.axis("std over the batch", range=y_range),
        legend=plotting.legend_row(1.12),
        margin={"t": 110},
    )


def _norm_traces(result: dict) -> list[go.Scatter]:
    """The seeds' band and mean of |h_t| for plain and LN, then the bound (dashed)."""
    t = np.arange(1, result["plain"].shape[-1] + 1)
    traces = []
    for kind, colour, label in (
        ("plain", "black", "ReLU RNN"),
        ("layer", "blue", "ReLU RNN with layer norm"),
    ):
        y = np.clip(result[kind], 1e-30, 1e300)  # plain may overflow to inf
        c = plotting.PALETTE[colour]
        traces += plotting.band(t, y.min(axis=0), y.max(axis=0), c, showlegend=False, name=label)
        traces.append(
            go.Scatter(
                x=t,
                y=np.exp(np.log(y).mean(axis=0)),
                mode="lines",
                name=label,
                line={"color": c, "width": 2},
            )  # fmt: skip
        )
    traces.append(
        go.Scatter(
            x=t,
            y=np.full(len(t), result["bound"]),
            mode="lines",
            name="√(H − 1): LN's bound",
            line={"color": plotting.PALETTE["vermillion"], "dash": "dash"},
        )  # fmt: skip
    )
    return traces


def _norm_layout(values, steps: int) -> dict:
    return {
        "xaxis": plotting.axis("time step t", range=[1, steps]),
        "yaxis": plotting.axis(
            "‖h_t‖ (log)", **plotting.log_axis(values), range=plotting.fit_range(values, log=True)
        ),
        "legend": plotting.legend_row(1.02),
    }


def norm_figure(grid: dict, active: int = 2) -> go.Figure:
    """The hidden state's norm over time (``experiments.rnn_norm_grid``), a ReLU RNN with
    and without layer norm, the seeds' range and geometric mean; a slider over the scale
    of the recurrent weights."""
    pick = lambda i: {**grid, "plain": grid["plain"][i], "layer": grid["layer"][i]}  # noqa: E731
    fig = go.Figure(_norm_traces(pick(active)))
    values = np.clip(np.concatenate([grid["plain"].ravel(), grid["layer"].ravel()]), 1e-30, 1e300)
    plotting.frame_slider(
        fig,
        [f"{s:g}" for s in grid["scales"]],
        "recurrent weights' scale",
        lambda i: _norm_traces(pick(i)),
        active=active,
    )
    return plotting.style(
        fig,
        f"The hidden state's norm over {grid['plain'].shape[-1]} steps",
        height=440,
        **_norm_layout(values, grid["plain"].shape[-1]),
    )


def live_norm_figure(result: dict) -> go.Figure:
    """The live face of :func:`norm_figure`: one ``experiments.rnn_norms`` result."""
    values = np.clip(
        np.concatenate([result["plain"].ravel(), result["layer"].ravel()]), 1e-30, 1e300
    )
    return plotting.style(
        go.Figure(_norm_traces(result)),
        f"The hidden state's norm, recurrent weights' scale {result['scale']:g}",
        height=440,
        **_norm_layout(values, result["plain"].shape[-1]),
    )


def update_norm(fig: go.Figure, result: dict) -> None:
    """Redraw the live norm figure in place for a new ``experiments.rnn_norms`` result."""
    values = np.clip(
        np.concatenate([result["plain"].ravel(), result["layer"].ravel()]), 1e-30, 1e300
    )
    layout = _norm_layout(values, result["plain"].shape[-1])
    plotting.redraw(
        fig,
        _norm_traces(result),
        title_text=f"The hidden state's norm, recurrent weights' scale {result['scale']:g}",
        xaxis=layout["xaxis"],
        yaxis=layout["yaxis"],
    )
