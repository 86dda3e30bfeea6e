"""Chapter 5's figures: layer norm in a transformer, and where it goes (post or pre).

``decoding_figure`` (why a transformer normalizes each token alone: batch norm over the
tokens so far changes earlier outputs as decoding goes on), ``init_gradients_figure``
(post-norm against pre-norm at initialization, under a slider over the depth) and
``warmup_figure`` (training loss with and without warm-up, under a slider over the
learning rate); the live training figure is ``live_warmup_figure``, to which the widget
adds one run at a time (``add_warmup_run``, ``clear_warmup_runs``). Post-norm is drawn in
vermillion, pre-norm in blue, in every figure. Results come in from ``experiments.py``;
the look and the controls come from ``lnbook.plotting``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ...plotting import (
    PALETTE,
    axis,
    colour_cycle,
    fit_range,
    frame_slider,
    legend_row,
    step_marker,
    style,
)

# One colour per placement of the norm, in every chapter 5 figure.
_PLACEMENT_COLOURS = {"post": PALETTE["vermillion"], "pre": PALETTE["blue"]}
# The top of a loss axis: chance on the copy task (ln 15 ≈ 2.7 nats) and a little above.
_CHANCE_TOP = 3.2


def decoding_figure(result: dict[str, np.ndarray]) -> go.Figure:
    """Chapter 5: how much each token's output changes between generation and the end.

    Parameters
    ----------
    result : from ``experiments.incremental_decoding``
    """
    tokens = np.arange(len(result["ln_change"]))
    curves = (
        ("bn_change", "batch norm over the tokens so far", {"color": PALETTE["vermillion"]}),
        ("ln_change", "layer norm (per token)", {"color": PALETTE["blue"], "width": 3}),
    )
    fig = go.Figure(
        [
            go.Scatter(x=tokens, y=result[key], mode="lines+markers", name=name, line=line)
            for key, name, line in curves
        ]
    )
    return style(
        fig,
        "One token at a time<br>vs the whole sequence at once",
        height=440,
        xaxis=axis("token position (generation step)"),
        yaxis=axis("largest change of the token's output (std)"),
        legend=legend_row(-0.25),
    )


def init_gradients_figure(result: dict) -> go.Figure:
    """Chapter 5: post-norm vs pre-norm at initialization, with a slider over the depth.

    Left: gradient norm of each layer's feed-forward weights. Middle: norm of the residual
    stream after each block. Right: the last layer's gradient norm against the depth.

    Parameters
    ----------
    result : from ``experiments.transformer_init_gradients``
    """
    depths = result["depths"]
    colours = _PLACEMENT_COLOURS
    placements = list(result["layer_grad"])

    def per_layer(k: int) -> list[go.Scatter]:
        traces = []
        for key, show in (("layer_grad", True), ("residual_norm", False)):
            for p in placements:
                y = result[key][p][k]
                traces.append(
                    go.Scatter(
                        x=np.arange(1, len(y) + 1),
                        y=y,
                        mode="lines+markers",
                        name=f"{p}-norm",
                        legendgroup=p,
                        showlegend=show,
                        line={"color": colours.get(p, PALETTE["black"])},
                    )
                )
        return traces

    def current(k: int) -> go.Scatter:  # the slider's depth on each placement's curve
        return step_marker(
            depths[k],
            [result["last_grad"][p][k] for p in placements],
            [colours.get(p) for p in placements],
        )

    fig = make_subplots(
        rows=1,
        cols=3,
        horizontal_spacing=0.09,
        subplot_titles=[
            "FFN gradient per layer",
            "residual norm per layer",
            "last layer vs depth",
        ],
    )
    k0 = int(np.argmin(np.abs(depths - 6)))  # open on a 6-layer model, the paper's depth
    for i, t in enumerate(per_layer(k0)):
        fig.add_trace(t, row=1, col=1 if i < len(placements) else 2)
    for p in placements:
        fig.add_trace(
            go.Scatter(
                x=depths,
                y=result["last_grad"][p],
                mode="lines+markers",
                legendgroup=p,
                showlegend=False,
                name=f"{p}-norm",
                line={"color": colours.get(p), "dash": "dot"},
            ),
            row=1,
            col=3,
        )
    fig.add_trace(current(k0), row=1, col=3)
    n_moving = 2 * len(placements)
    marker = n_moving + len(placements)
    labels = [str(d) for d in depths]
    frame_slider(
        fig,
        labels,
        "number of layers",
        lambda k: per_layer(k) + [current(k)],
        active=k0,
        traces=list(range(n_moving)) + [marker],
    )
    # Frames do not re-run autorange: every axis gets a range that holds every depth's
    # curves, so the 12-layer step shows layers 7 to 12 too.
    for col in (1, 2):
        fig.update_xaxes(title_text="layer", range=[0.5, max(depths) + 0.5], row=1, col=col)
    fig.update_xaxes(
        title_text="number of layers", range=fit_range([depths], pad=0.08), tickvals=list(depths),
        row=1, col=3,
    )  # fmt: skip
    for col, key, text in (
        (1, "layer_grad", "gradient norm (Frobenius)"),
        (2, "residual_norm", "mean token norm (activation units)"),
        (3, "last_grad", "gradient norm (Frobenius)"),
    ):
        values = [result[key][p] for p in placements]
        fig.update_yaxes(
            title_text=text, range=fit_range(values, pad=0.06, tozero=True), row=1, col=col
        )
    return style(
        fig,
        "Post-norm vs pre-norm at initialization<br>(mean over seeds)",
        height=540,
        legend=legend_row(1.12),
        margin={"t": 150},
    )


def warmup_traces(grid: dict, lr: float) -> list[go.Scatter]:
    """Every seed's loss curve, for every (placement, warm-up), at one learning rate.

    Seeds are drawn separately, not averaged: a run stuck at chance and a run that learns
    would average to a curve that no model followed.
    """
    traces = []
    for p, w in grid["configs"]:
        for i, y in enumerate(grid["loss"][(lr, p, w)]):
            traces.append(
                go.Scatter(
                    x=np.arange(1, len(y) + 1),
                    y=y,
                    mode="lines",
                    name=f"{p}-norm, " + (f"warm-up {w} steps" if w else "no warm-up"),
                    legendgroup=f"{p}{w}",
                    showlegend=i == 0,
                    line={
                        "color": _PLACEMENT_COLOURS.get(p, PALETTE["black"]),
                        "dash": "solid" if w else "dash",
                        "width": 1.5,
                    },
                )
            )
    return traces


def warmup_figure(grid: dict) -> go.Figure:
    """Chapter 5: training loss of post-/pre-norm with and without warm-up; a slider picks
    the learning rate.

    Parameters
    ----------
    grid : from ``experiments.warmup_grid``
    """
    lrs = grid["lrs"]
    labels = [f"{lr:g}" for lr in lrs]
    k0 = len(lrs) - 1  # open on the largest rate, where the placements differ
    fig = go.Figure(warmup_traces(grid, lrs[k0]))
    frame_slider(fig, labels, "learning rate", lambda k: warmup_traces(grid, lrs[k]), active=k0)
    n_steps = max(len(y) for curves in grid["loss"].values() for y in curves)
    return style(
        fig,
        "Training loss on the copy task<br>(one line per seed)",
        height=520,
        # Fixed ranges: frames do not re-run autorange.
        xaxis=axis("training step", range=[1, n_steps]),
        yaxis=axis(
            "cross-entropy (nats; chance = ln 15 ≈ 2.7)",
            range=[0, _loss_top(list(grid["loss"].values()))],
        ),
        legend=legend_row(1.02),
        margin={"t": 130},
    )


def _loss_top(curves: list) -> float:
    """The loss axis's top: chance and a little above, higher if a run diverges beyond."""
    return max(_CHANCE_TOP, fit_range(curves, pad=0.03)[1]) if curves else _CHANCE_TOP


# The live chapter 5 figure's runs, one colour each, in this order (then again).
_run_colour = colour_cycle("blue", "vermillion", "green", "orange", "purple", "sky")


def _run_curve(loss: np.ndarray, label: str, k: int) -> go.Scatter:
    return go.Scatter(
        x=np.arange(1, len(loss) + 1),
        y=loss,
        mode="lines",
        name=label,
        line={"color": _run_colour(k), "width": 2},
    )


def _is_placeholder(trace) -> bool:
    """A curve with no finite value: the live figure's "not trained yet" entry."""
    return not np.isfinite(np.asarray(trace.y, dtype=float)).any()


def live_warmup_figure(loss: np.ndarray, label: str) -> go.Figure:
    """The live chapter 5 figure with one training curve.

    Before its first run the widget passes an all-NaN ``loss`` (one per step) labelled
    "not trained yet": empty axes over the steps, and a legend entry that says why;
    :func:`add_warmup_run` replaces it with the first run.
    """
    fig = go.Figure(_run_curve(loss, label, 0))
    return style(
        fig,
        "Training loss on the copy task",
        height=420,
        xaxis=axis("training step", range=[1, max(len(loss), 2)]),
        yaxis=axis("cross-entropy (nats; chance ≈ 2.7)", range=[0, _warmup_top(fig)]),
        # One run a line, newest last, to the right of the plot: long labels stay whole.
        # Shown for one curve too (plotly hides a lone curve's legend): its label is the
        # run's settings, or why the axes are empty.
        showlegend=True,
        legend={"title": {"text": "runs"}, "font": {"size": 13}},
    )


def _warmup_top(fig: go.Figure) -> float:
    """The live figure's loss axis top, over the runs drawn (not the placeholder)."""
    return _loss_top([t.y for t in fig.data if not _is_placeholder(t)])


def add_warmup_run(fig: go.Figure, loss: np.ndarray, label: str) -> None:
    """Add one run's loss curve to the live chapter 5 figure, in the next colour.

    The "not trained yet" placeholder leaves with the first run, so the legend lists runs
    only.
    """
    if any(_is_placeholder(t) for t in fig.data):
        fig.data = [t for t in fig.data if not _is_placeholder(t)]
    fig.add_trace(_run_curve(np.asarray(loss, dtype=float), label, len(fig.data)))
    fig.layout.yaxis.range = [0, _warmup_top(fig)]


def clear_warmup_runs(fig: go.Figure, label: str = "not trained yet") -> None:
    """Remove every run from the live chapter 5 figure: back to the placeholder."""
    steps = len(fig.data[0].x) if fig.data else 2
    fig.data = []
    fig.add_trace(_run_curve(np.full(steps, np.nan), label, 0))
    fig.layout.yaxis.range = [0, _CHANCE_TOP]
