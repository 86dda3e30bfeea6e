"""DOCSTRING transformers:figures"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ...plotting import PALETTE, fit_range, layout_title, slider


def decoding_figure(result: dict[str, np.ndarray]) -> go.Figure:
    """Chapter 5: how much each token's output changes between generation and the end.

    Parameters
    ----------
    result : from ``lnbook.experiments.incremental_decoding``
    """
    tokens = np.arange(len(result["ln_change"]))
    fig = go.Figure(
        [
            go.Scatter(
                x=tokens,
                y=result["bn_change"],
                mode="lines+markers",
                name="batch norm over the tokens so far",
                line={"color": PALETTE["vermillion"]},
            ),
            go.Scatter(
                x=tokens,
                y=result["ln_change"],
                mode="lines+markers",
                name="layer norm (per token)",
                line={"color": PALETTE["blue"], "width": 3},
            ),
        ]
    )
    fig.update_layout(
        title=layout_title("One token at a time<br>vs the whole sequence at once"),
        xaxis={"title": {"text": "token position (generation step)"}},
        yaxis={"title": {"text": "largest change of the token's output (std)"}},
        legend={"orientation": "h", "x": 0, "y": -0.25},
        height=440,
        template="plotly_white",
    )
    return fig


def init_gradients_figure(result: dict) -> go.Figure:
    """Chapter 5: post-norm vs pre-norm at initialization, with a slider over the depth.

    Left: gradient norm of each layer's feed-forward weights. Middle: norm of the residual
    stream after each block. Right: the last layer's gradient norm against the depth.

    Parameters
    ----------
    result : from ``lnbook.experiments.transformer_init_gradients``
    """
    depths = result["depths"]
    colours = {"post": PALETTE["vermillion"], "pre": PALETTE["blue"]}
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

    def current(k: int) -> go.Scatter:
        return go.Scatter(
            x=[depths[k]] * len(placements),
            y=[result["last_grad"][p][k] for p in placements],
            mode="markers",
            showlegend=False,
            hoverinfo="skip",
            marker={
                "size": 13,
                "color": [colours.get(p) for p in placements],
                "line": {"color": PALETTE["black"], "width": 2},
            },
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
    fig.frames = [
        go.Frame(
            name=label, data=per_layer(k) + [current(k)], traces=list(range(n_moving)) + [marker]
        )
        for k, label in enumerate(labels)
    ]
    # Frames do not re-run autorange: every axis gets a range that holds every depth's
    # curves, so the 12-layer step shows layers 7 to 12 too.
    layers = [0.5, max(depths) + 0.5]
    fig.update_xaxes(title_text="layer", range=layers, row=1, col=1)
    fig.update_xaxes(title_text="layer", range=layers, row=1, col=2)
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
    fig.update_layout(
        title=layout_title("Post-norm vs pre-norm at initialization<br>(mean over seeds)"),
        sliders=[slider(labels, "number of layers", active=k0)],
        legend={"orientation": "h", "x": 0, "y": 1.12, "yanchor": "bottom"},
        height=540,
        margin={"t": 150},
        template="plotly_white",
    )
    return fig


def warmup_traces(grid: dict, lr: float) -> list[go.Scatter]:
    """Every seed's loss curve, for every (placement, warm-up), at one learning rate.

    Seeds are drawn separately, not averaged: a run stuck at chance and a run that learns
    would average to a curve that no model followed.
    """
    colours = {"post": PALETTE["vermillion"], "pre": PALETTE["blue"]}
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
                        "color": colours.get(p, PALETTE["black"]),
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
    grid : from ``lnbook.experiments.warmup_grid``
    """
    lrs = grid["lrs"]
    labels = [f"{lr:g}" for lr in lrs]
    k0 = len(lrs) - 1  # open on the largest rate, where the placements differ
    fig = go.Figure(warmup_traces(grid, lrs[k0]))
    fig.frames = [
        go.Frame(name=label, data=warmup_traces(grid, lr))
        for label, lr in zip(labels, lrs, strict=True)
    ]
    n_steps = max(len(y) for curves in grid["loss"].values() for y in curves)
    fig.update_layout(
        title=layout_title("Training loss on the copy task<br>(one line per seed)"),
        # Fixed ranges: frames do not re-run autorange.
        xaxis={"title": {"text": "training step"}, "range": [1, n_steps]},
        yaxis={
            "title": {"text": "cross-entropy (nats; chance = ln 15 ≈ 2.7)"},
            # Chance level and a little above; higher if a run diverges beyond it.
            "range": [0, max(3.2, fit_range(list(grid["loss"].values()), pad=0.03)[1])],
        },
        sliders=[slider(labels, "learning rate", active=k0)],
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        height=520,
        margin={"t": 130},
        template="plotly_white",
    )
    return fig


# The live chapter 5 figure's runs, one colour each, in this order (then again).
_RUN_COLOURS = [PALETTE[c] for c in ("blue", "vermillion", "green", "orange", "purple", "sky")]


_CHANCE_TOP = 3.2  # nats: chance (ln 15 ≈ 2.7) and a little above


def _run_curve(loss: np.ndarray, label: str, k: int) -> go.Scatter:
    return go.Scatter(
        x=np.arange(1, len(loss) + 1),
        y=loss,
        mode="lines",
        name=label,
        line={"color": _RUN_COLOURS[k % len(_RUN_COLOURS)], "width": 2},
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
    fig.update_layout(
        title=layout_title("Training loss on the copy task"),
        xaxis={"title": {"text": "training step"}, "range": [1, max(len(loss), 2)]},
        yaxis={
            "title": {"text": "cross-entropy (nats; chance ≈ 2.7)"},
            "range": [0, _warmup_top(fig)],
        },
        # One run a line, newest last, to the right of the plot: long labels stay whole.
        # Shown for one curve too (plotly hides a lone curve's legend): its label is the
        # run's settings, or why the axes are empty.
        showlegend=True,
        legend={"title": {"text": "runs"}, "font": {"size": 13}},
        height=420,
        template="plotly_white",
    )
    return fig


def _warmup_top(fig: go.Figure) -> float:
    """The loss axis's top: chance and a little above, higher if a run diverges beyond."""
    finite = [t.y for t in fig.data if not _is_placeholder(t)]
    return max(_CHANCE_TOP, fit_range(finite, pad=0.03)[1]) if finite else _CHANCE_TOP


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
