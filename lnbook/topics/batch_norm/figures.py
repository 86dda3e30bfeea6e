"""Chapter 4's figures: batch norm against layer norm, and what a batch does to an example.

``norm_sets_figure`` (which elements of an (N, C, P) tensor share statistics, per method),
``batch_dependence_figure`` (one example's output in many batches: a slider picks the
batch size, buttons how the companions are drawn) and its live face
``live_batch_dependence_figure`` with ``update_batch_dependence``, both drawn from
``batch_dependence_traces``; ``small_batch_figure`` (accuracy and training loss while
training, per batch size). Results come in from ``experiments.py``; the look, the controls
and the redraw come from ``lnbook.plotting``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ...plotting import (
    PALETTE,
    axis,
    fit_range,
    frame_slider,
    legend_row,
    log_axis,
    menu,
    redraw,
    rgba,
    step_marker,
    style,
    visibility_menu,
)

# The left panel of the chapter 4 view, in both faces: one example's normalized features.
_FEATURES = "feature index (dimensionless)"
_NORMALIZED = axis("normalized value (standard deviations)", range=[-3.5, 3.5])


def norm_sets_figure(sets: dict[str, np.ndarray]) -> go.Figure:
    """Which elements of an (N, C, P) tensor share statistics, one button per method.

    The tensor is drawn as N rows (examples) by C blocks of P columns (channels, positions);
    the elements averaged with the first one (example 0, channel 0) are dark, the other
    sets alternate in two light shades, so the partition is visible too.

    Parameters
    ----------
    sets : method -> (N, C, P) labels, from ``experiments.norm_sets``
    """

    def shade(labels: np.ndarray) -> np.ndarray:
        n, c, p = labels.shape
        if not (labels == labels[:, :, :1]).all():
            return shade_positions(labels)
        per_channel = labels[:, :, 0]  # (N, C): here no set splits a channel's positions
        # Two light shades that alternate between neighbouring sets: colour each set by the
        # parity of (its first example + the rank of its first channel).
        first = {}
        for e in range(n):
            for ch in range(c):
                first.setdefault(per_channel[e, ch], (e, ch))
        ranks = {ch: r for r, ch in enumerate(sorted({ch for _, ch in first.values()}))}
        parity = np.vectorize(lambda lab: (first[lab][0] + ranks[first[lab][1]]) % 2)(per_channel)
        z = np.where(parity == 0, 0.15, 0.35)
        z[per_channel == per_channel[0, 0]] = 1.0  # the set of example 0, channel 0
        return np.repeat(z, p, axis=1)  # (N, C * P)

    def shade_positions(labels: np.ndarray) -> np.ndarray:
        # Channels-last layer norm: one set per (example, position), across the channels;
        # the two light shades alternate like a chessboard of examples and positions.
        n, c, p = labels.shape
        ex, pos = np.meshgrid(np.arange(n), np.arange(p), indexing="ij")  # (N, P) each
        z = np.where((ex + pos) % 2 == 0, 0.15, 0.35)[:, None, :].repeat(c, axis=1)
        z[labels == labels[0, 0, 0]] = 1.0  # the set of example 0, position 0
        return z.reshape(n, c * p)

    methods = list(sets)
    n, c, p = sets[methods[0]].shape
    fig = go.Figure(
        go.Heatmap(
            z=shade(sets[methods[0]]),
            # From transparent (the page's background shows, light or dark) to the palette.
            colorscale=[[0, rgba(PALETTE["sky"], 0)], [0.3, PALETTE["sky"]], [1, PALETTE["blue"]]],
            zmin=0,
            zmax=1,
            showscale=False,
            xgap=1,
            ygap=1,
            customdata=np.repeat(np.arange(c), p)[None, :].repeat(n, 0),
            hovertemplate="example %{y}, channel %{customdata}<extra></extra>",
        )
    )
    # Channel boundaries, so the blocks of P positions read as channels.
    for k in range(1, c):
        fig.add_vline(x=k * p - 0.5, line={"color": PALETTE["black"], "width": 2})
    titles = [f"{m}: the dark cells share one mean and variance" for m in methods]
    args = [
        [{"z": [shade(sets[m])]}, {"title.text": t}] for m, t in zip(methods, titles, strict=True)
    ]
    style(
        fig,
        titles[0],
        height=380,
        updatemenus=[menu(methods, args, "normalization")],
        margin={"t": 130},
    )
    fig.update_xaxes(
        title_text=f"channel (blocks) × position (H·W = {p} per channel)",
        tickvals=[k * p + (p - 1) / 2 for k in range(c)],
        ticktext=[f"C{k}" for k in range(c)],
        showgrid=False,
    )
    fig.update_yaxes(title_text="example (N)", range=[n - 0.5, -0.5], dtick=1, showgrid=False)
    return fig


def batch_dependence_traces(result: dict, k: int, composition: str) -> list[go.Scatter]:
    """Traces for batch size index ``k`` and one composition ("random" or "same_class")."""
    bn = result[f"bn_{composition}"][k]  # (draws, D)
    feats = np.arange(bn.shape[1])
    traces = [
        go.Scatter(
            x=feats,
            y=row,
            mode="lines",
            line={"color": PALETTE["orange"], "width": 1},
            opacity=0.7,
            name="batch norm, one batch each",
            legendgroup="bn",
            showlegend=i == 0,
            hoverinfo="skip",
        )
        for i, row in enumerate(bn)
    ]
    traces.append(
        go.Scatter(
            x=feats,
            y=result["ln"],
            mode="lines+markers",
            name="layer norm",
            line={"color": PALETTE["blue"], "width": 3},
        )
    )
    return traces


_TITLE = "One example in many batches:<br>batch norm vs layer norm"


def batch_dependence_figure(result: dict) -> go.Figure:
    """Chapter 4: one example's normalized features in many batches.

    A slider picks the batch size; buttons the way companions are drawn (at random, or
    from the example's own class).

    Parameters
    ----------
    result : from ``experiments.batch_dependence``
    """
    sizes = result["batch_sizes"]
    comps = {"random companions": "random", "companions of the same digit": "same_class"}
    per = len(batch_dependence_traces(result, 0, "random"))
    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4], horizontal_spacing=0.12)
    for j, comp in enumerate(comps.values()):
        for t in batch_dependence_traces(result, 0, comp):
            t.visible = j == 0
            t.legendgroup = f"{t.legendgroup or t.name}-{comp}"  # each view keeps a legend
            fig.add_trace(t, row=1, col=1)
    spread = [
        ("batch norm, random", result["spread_random"], PALETTE["orange"], "solid"),
        ("batch norm, same digit", result["spread_same_class"], PALETTE["vermillion"], "dash"),
        ("shift by same-digit batches", result["composition_shift"], PALETTE["purple"], "dot"),
        ("chance level of that shift", result["composition_floor"], PALETTE["black"], "dot"),
        # Layer norm's spread is 0 up to rounding: drawn at the floor 1e-4 of the log axis.
        (
            "layer norm (0, drawn at 1e-4)",
            np.maximum(result["spread_ln"], 1e-4),
            PALETTE["blue"],
            "solid",
        ),
    ]
    for name, y, colour, dash in spread:
        fig.add_trace(
            go.Scatter(
                x=sizes,
                y=y,
                mode="lines+markers",
                name=name,
                line={"color": colour, "dash": dash},
            ),
            row=1,
            col=2,
        )
    n_left = 2 * per

    def current(k: int) -> go.Scatter:  # the slider's batch size on both batch-norm curves
        return step_marker(
            sizes[k],
            [result["spread_random"][k], result["spread_same_class"][k]],
            [PALETTE["orange"], PALETTE["vermillion"]],
        )

    fig.add_trace(current(0), row=1, col=2)
    marker = n_left + len(spread)
    labels = [str(b) for b in sizes]
    frame_slider(
        fig,
        labels,
        "batch size",
        lambda k: (
            [t for comp in comps.values() for t in batch_dependence_traces(result, k, comp)]
            + [current(k)]
        ),
        traces=list(range(n_left)) + [marker],
    )
    style(
        fig,
        _TITLE,
        height=660,
        # The buttons show one composition's curves; the right panel's serve both.
        updatemenus=[visibility_menu(list(comps), per, "companions", shared=len(spread) + 1)],
        legend=legend_row(-0.45),
        margin={"t": 130, "b": 170},
    )
    n_features = result["bn_random"].shape[-1]
    fig.update_xaxes(title_text=_FEATURES, range=[-0.5, n_features - 0.5], row=1, col=1)
    fig.update_yaxes(_NORMALIZED, row=1, col=1)
    # The slider's marker moves over the right panel: fixed ranges, ticks at the sizes tried.
    fig.update_xaxes(
        title_text="batch size (examples)",
        range=fit_range([sizes], pad=0.08, log=True),
        # Labels at the sizes tried; minor marks between them would only clutter.
        **log_axis(
            sizes, tickvals=list(sizes), ticktext=[str(b) for b in sizes], minor={"ticks": ""}
        ),
        row=1,
        col=2,
    )
    curves = [y for _, y, _, _ in spread]
    fig.update_yaxes(
        title_text="spread or shift (standard deviations, log)",
        range=fit_range(curves, pad=0.08, log=True),
        **log_axis(curves),
        row=1,
        col=2,
    )
    return fig


def small_batch_figure(result: dict) -> go.Figure:
    """Chapter 4: held-out accuracy (left) and training loss (right) while training, batch
    norm vs layer norm, per batch size; mean and standard deviation over the seeds.

    Parameters
    ----------
    result : from ``experiments.small_batch_training``; ``curves`` (accuracy, inference
        mode) and ``loss_curves`` (training loss), (S, E) per ``(norm, batch_size)``
    """
    colours = {"batch": PALETTE["vermillion"], "layer": PALETTE["blue"]}
    dashes = ["solid", "dash", "dot", "dashdot"]
    sizes = sorted({b for _, b in result["curves"]}, reverse=True)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14)
    panels = (("curves", 100.0, 1), ("loss_curves", 1.0, 2))
    for name, unit, col in panels:
        for (norm, b), curves in result[name].items():
            mean, std = curves.mean(axis=0), curves.std(axis=0)
            fig.add_trace(
                go.Scatter(
                    x=result["steps"],
                    y=unit * mean,
                    mode="lines+markers",
                    name=f"{norm} norm, batch {b}",
                    legendgroup=f"{norm}-{b}",
                    showlegend=col == 1,  # one legend entry per run, for both panels
                    line={
                        "color": colours.get(norm, PALETTE["black"]),
                        "dash": dashes[sizes.index(b) % len(dashes)],
                    },
                    error_y={"type": "data", "array": unit * std, "visible": True, "thickness": 1},
                ),
                row=1,
                col=col,
            )
    losses = np.concatenate([c.ravel() for c in result["loss_curves"].values()])
    window = int(result["steps"][0])  # each loss point averages the steps since the last
    return style(
        fig,
        "Held-out accuracy and training loss (mean ± std over seeds)",
        height=480,
        xaxis=axis("training step"),
        yaxis=axis("held-out accuracy, inference mode (%)"),
        xaxis2=axis("training step"),
        yaxis2=log_axis(losses, title={"text": f"training loss (nats, mean of {window} steps)"}),
        legend=legend_row(-0.2),
    )


def live_batch_dependence_figure(result: dict, composition: str) -> go.Figure:
    """The chapter 4 view for one batch size and composition, for a FigureWidget."""
    fig = go.Figure(batch_dependence_traces(result, 0, composition))
    return style(
        fig,
        _TITLE,
        height=460,
        xaxis=axis(_FEATURES),
        yaxis=_NORMALIZED,
        legend=legend_row(-0.2),
    )


def update_batch_dependence(fig: go.Figure, result: dict, composition: str) -> None:
    """Redraw the live chapter 4 view in place (same number of draws as when built)."""
    redraw(fig, batch_dependence_traces(result, 0, composition))
