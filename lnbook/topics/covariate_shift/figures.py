"""Chapter 6's figures: why normalization helps training, and what the evidence says.

``covariate_shift_figure`` (one hidden unit's input over training, Ioffe and Szegedy's
figure 1, a slider over the steps and buttons over the layers) and its live face
``live_covariate_shift_figure`` with ``update_covariate_shift``, both drawn from
``covariate_shift_traces``; ``lr_sensitivity_figure`` (final loss and speed against the
learning rate), ``training_curves_figure`` (loss bands over seeds) and
``smoothness_figure`` (Santurkar et al.'s landscape measures, a drop-down over networks).
Results come in from ``experiments.py``; the look, the controls and the redraw come from
``lnbook.plotting``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ...plotting import (
    PALETTE,
    axis,
    band,
    colour_cycle,
    fit_range,
    frame_slider,
    group_visibility,
    legend_row,
    log_axis,
    menu,
    redraw,
    style,
    visibility_menu,
)


def covariate_shift_traces(
    run: dict, layer: int, k: int, colour: str = PALETTE["blue"], show_legend: bool = True
) -> list[go.Scatter | go.Bar]:
    """One network's view: its unit's percentiles over training, and its distribution at
    checkpoint ``k`` beside the one at step 0.

    Order: 15th percentile, 85th (filled down to the 15th), median, the three percentiles
    at checkpoint ``k`` (markers), the histogram at step 0 (outline), the one at ``k``
    (bars). The first four go in a panel over steps, the last two in a panel over values.
    """
    steps, p = run["steps"], run["percentiles"][:, layer]  # (C,), (C, 3)
    edges = run["edges"]
    centers, width = (edges[:-1] + edges[1:]) / 2, 0.8 * np.diff(edges)
    group = {"legendgroup": f"layer{layer}", "showlegend": show_legend}
    return [
        *band(
            steps,
            p[:, 0],
            p[:, 2],
            colour,
            lower={"name": "15th percentile", "hoverinfo": "x+y"},
            name="15th to 85th percentile",
            hoverinfo="x+y",
            **group,
        ),
        go.Scatter(
            x=steps,
            y=p[:, 1],
            mode="lines",
            line={"color": colour, "width": 2},
            name="median",
            **{**group, "showlegend": False},
        ),
        go.Scatter(
            x=[steps[k]] * 3,
            y=p[k],
            mode="markers",
            name="at the slider's step",
            cliponaxis=False,
            marker={"color": colour, "size": 9, "line": {"color": PALETTE["black"], "width": 1.5}},
            **{**group, "showlegend": False},
        ),
        go.Scatter(
            x=centers,
            y=run["hist"][0, layer],
            mode="lines",
            line={"shape": "hvh", "color": PALETTE["black"], "dash": "dot", "width": 1},
            name="at step 0",
            **group,
        ),
        go.Bar(
            x=centers,
            y=run["hist"][k, layer],
            width=width,
            marker={"color": colour},
            name="at the slider's step",
            **group,
        ),
    ]


def covariate_shift_figure(runs: dict[str, dict]) -> go.Figure:
    """Chapter 6: one hidden unit's input over training, one row per network.

    Left column: its 15th, 50th and 85th percentiles over training (Ioffe and Szegedy,
    2015, Fig. 1). Right column: its distribution at the slider's step against step 0.
    Buttons pick the layer.

    Parameters
    ----------
    runs : label -> result of ``experiments.covariate_shift_run`` (same checkpoints)
    """
    labels = list(runs)
    first = runs[labels[0]]
    n_layers = first["inputs"].shape[1]
    n = len(labels)
    # One row per network, two panels each: four networks side by side left each panel
    # an eighth of the width, and their fonts had to shrink to fit.
    fig = make_subplots(
        rows=n,
        cols=2,
        shared_xaxes="columns",
        shared_yaxes="columns",
        column_widths=[0.55, 0.45],
        vertical_spacing=0.3 / n,
        horizontal_spacing=0.14,
    )
    # Each row headed by its network, from the left edge: one short heading per row fits
    # a phone's width where a title over each panel did not.
    for c, label in enumerate(labels):
        top = fig.layout[f"yaxis{2 * c + 1 if c else ''}"].domain[1]
        fig.add_annotation(
            text=f"<b>{label}</b>",
            xref="paper",
            yref="paper",
            x=0,
            y=top,
            yshift=4,
            xanchor="left",
            yanchor="bottom",
            showarrow=False,
            font={"size": 14},
        )
    per = len(covariate_shift_traces(first, 0, 0))
    moving = []  # indices of the traces a slider step changes: markers and bars
    for layer in range(n_layers):
        for c, label in enumerate(labels):
            # One colour for every network: the rows are labelled, and the legend then
            # reads the same for all of them.
            traces = covariate_shift_traces(runs[label], layer, 0, show_legend=c == 0)
            for i, t in enumerate(traces):
                t.visible = layer == n_layers - 1
                if i in (3, 5):
                    moving.append(len(fig.data))
                fig.add_trace(t, row=c + 1, col=1 if i < 4 else 2)
    step_labels = [str(s) for s in first["steps"]]

    def moved(run: dict, layer: int, k: int) -> list:
        # Only what a step changes (the markers and the bars' heights), in float32: the
        # frames are most of the page's weight.
        p = run["percentiles"][k, layer]
        return [
            go.Scatter(x=[int(run["steps"][k])] * 3, y=p.astype(np.float32)),
            go.Bar(y=run["hist"][k, layer].astype(np.float32)),
        ]

    frame_slider(
        fig,
        step_labels,
        "training step",
        lambda k: [
            t for layer in range(n_layers) for lab in labels for t in moved(runs[lab], layer, k)
        ],
        traces=moving,
    )

    # Frames do not re-run autorange, so every axis has a range that holds every step; the
    # layer buttons set the ranges of their layer. Percentiles: one scale for every network
    # (they are compared); histograms: one per network, or a unit that starts at one value
    # would flatten the others' shapes.
    def ranges(layer: int) -> dict:
        pct = [runs[lab]["percentiles"][:, layer] for lab in labels]
        out = {}
        for c, lab in enumerate(labels):
            left, right = 2 * c + 1, 2 * c + 2
            out[f"yaxis{left if left > 1 else ''}.range"] = fit_range(pct, pad=0.08)
            out[f"yaxis{right}.range"] = fit_range([runs[lab]["hist"][:, layer]], tozero=True)
        return out

    # A layer's button shows its traces (one block per layer) and sets its ranges.
    visible = group_visibility(n_layers, per * len(labels))
    layers = menu(
        [f"layer {layer + 1}" for layer in range(n_layers)],
        [[{"visible": v}, ranges(layer)] for layer, v in enumerate(visible)],
        "layer shown",
        # At the right, above the first row's titles; the legend at the left.
        active=n_layers - 1,
        x=1.0,
        xanchor="right",
        y=1.0 + 40 / (200 * n),
    )
    style(
        fig,
        "One hidden unit's input during training<br>(what its sigmoid receives)",
        height=370 + 200 * n,
        updatemenus=[layers],
        legend={"x": 0, "y": 1.0 + 40 / (200 * n), "yanchor": "bottom"},
        bargap=0,
        margin={"t": 190, "b": 180},
    )
    fig.update_layout(ranges(n_layers - 1))
    last = int(first["steps"][-1])
    pad = 0.04 * last  # the step markers sit on the last step: keep them inside
    fig.update_xaxes(range=[-pad, last + pad], nticks=6, tickangle=0, col=1)
    fig.update_xaxes(range=[first["edges"][0], first["edges"][-1]], nticks=8, tickangle=0, col=2)
    # Ticks and titles on every row: on a phone the panels stack one above the other
    # (percentiles, then histogram, for each network), and each must read on its own.
    fig.update_xaxes(showticklabels=True)
    fig.update_xaxes(title_text="training step", col=1)
    fig.update_xaxes(title_text="unit's input (before the sigmoid)", col=2)
    fig.update_yaxes(title_text="input (percentiles)", col=1)
    fig.update_yaxes(matches=None, title_text="share of images", col=2)
    return fig


def _live_title(label: str) -> str:
    return f"One hidden unit's input during training: {label}"


def live_covariate_shift_figure(run: dict, layer: int, k: int, label: str) -> go.Figure:
    """The chapter 6 view of one network, for a FigureWidget."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12)
    for i, t in enumerate(covariate_shift_traces(run, layer, k)):
        fig.add_trace(t, row=1, col=1 if i < 4 else 2)
    style(fig, _live_title(label), height=440, legend=legend_row(-0.25), bargap=0)
    fig.update_xaxes(title_text="training step", row=1, col=1)
    fig.update_xaxes(
        title_text="unit's input", range=[run["edges"][0], run["edges"][-1]], row=1, col=2
    )
    fig.update_yaxes(title_text="unit's input (percentiles)", row=1, col=1)
    fig.update_yaxes(title_text="share of images", row=1, col=2)
    return fig


def update_covariate_shift(fig: go.Figure, run: dict, layer: int, k: int, label: str) -> None:
    """Redraw the live chapter 6 view in place."""
    redraw(fig, covariate_shift_traces(run, layer, k), title_text=_live_title(label))


def lr_sensitivity_figure(result: dict) -> go.Figure:
    """Chapter 6: final loss and steps to a target loss against the learning rate.

    Each seed is a marker; the line joins the medians over seeds. Runs that diverged or
    never reached the target are drawn at the top of their panel.

    Parameters
    ----------
    result : from ``experiments.lr_sensitivity``
    """
    lrs, labels = result["lrs"], result["labels"]
    colour = colour_cycle("black", "blue", "orange", "purple", "vermillion", "sky")
    symbols = ["circle", "square", "diamond", "x", "triangle-up", "star"]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.18)
    top_loss = 3.0
    for col, key in ((1, "final"), (2, "steps")):
        values = {lab: np.asarray(result[key][lab], dtype=float) for lab in labels}
        top = top_loss if key == "final" else None
        if key == "steps":
            finite = np.concatenate([v[np.isfinite(v)] for v in values.values()])
            top = 1.1 * (finite.max() if len(finite) else 1.0)
        for c, lab in enumerate(labels):
            v = values[lab]  # (R, S)
            shown = np.where(np.isfinite(v), np.minimum(v, top), top)
            fig.add_trace(
                go.Scatter(
                    x=np.repeat(lrs, v.shape[1]),
                    y=shown.ravel(),
                    mode="markers",
                    marker={"color": colour(c), "symbol": symbols[c % len(symbols)], "size": 7},
                    opacity=0.6,
                    name=lab,
                    legendgroup=lab,
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
            fig.add_trace(
                go.Scatter(
                    x=lrs,
                    y=np.median(shown, axis=1),
                    mode="lines",
                    line={"color": colour(c)},
                    name=f"{lab}, median",
                    legendgroup=lab,
                    showlegend=False,
                    hoverinfo="skip",
                ),
                row=1,
                col=col,
            )
    style(
        fig,
        "Sensitivity to the learning rate<br>(plain SGD, one marker per seed)",
        height=540,
        legend=legend_row(-0.22, yanchor="top"),
        margin={"t": 100, "b": 150},
    )
    fig.update_xaxes(
        title_text="learning rate (log)",
        **log_axis(
            lrs,
            tickvals=list(lrs),
            ticktext=[f"{lr:g}" for lr in lrs],  # the rates tried, no minor labels
            minor={"ticks": ""},
        ),
        tickangle=0,
    )
    # Axis titles in two lines: in one, each ran past its panel's height into the title.
    fig.update_yaxes(
        title_text=f"final training loss (nats)<br>top: {top_loss:g} or more, or diverged",
        range=[0, top_loss * 1.05],
        row=1,
        col=1,
    )
    fig.update_yaxes(
        title_text=f"training steps to loss {result['target']:g}<br>top: never",
        rangemode="tozero",
        row=1,
        col=2,
    )
    return fig


def training_curves_figure(
    curves: dict[str, np.ndarray],
    window: int = 20,
    *,
    classes: int = 10,
    title: str | None = None,
    log_y: bool = False,
) -> go.Figure:
    """Training loss against step, one band per network: median and range over seeds.

    Parameters
    ----------
    curves : label -> (S, T) loss per seed and step
    window : steps averaged before plotting (a mini-batch's loss is noisy)
    classes : the number of classes, for the chance level ln(classes) on the axis title
    title : the figure's title (default: what the bands show)
    log_y : a logarithmic loss axis, to compare losses near zero
    """
    colour = colour_cycle("black", "blue", "orange", "purple", "green")
    kernel = np.ones(window) / window
    fig = go.Figure()
    drawn = []  # every value plotted, for the log axis's ticks
    for c, (lab, loss) in enumerate(curves.items()):
        smooth = np.array([np.convolve(row, kernel, mode="valid") for row in np.asarray(loss)])
        drawn.append(smooth)
        x = np.arange(window, window + smooth.shape[1])
        for t in band(x, smooth.min(0), smooth.max(0), colour(c), showlegend=False):
            t.legendgroup = lab
            fig.add_trace(t)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=np.median(smooth, 0),
                mode="lines",
                name=lab,
                line={"color": colour(c), "width": 2},
                legendgroup=lab,
            )
        )
    chance = f"chance = ln {classes} ≈ {np.log(classes):.1f}"
    return style(
        fig,
        title or f"Training loss (mean of {window} steps; band: range over seeds)",
        height=460,
        xaxis=axis("training step"),
        yaxis=axis(
            f"cross-entropy (nats; {chance})",
            **(log_axis(drawn) if log_y else {"rangemode": "tozero"}),
        ),
        legend=legend_row(-0.2, yanchor="top"),
    )


SMOOTHNESS_MEASURES = {
    "loss_range": "loss range along the step (nats)",
    "grad_change": "largest gradient change ‖Δg‖",
    "beta": "effective β-smoothness ‖Δg‖ / ‖Δw‖",
}


# The same, in two short lines each, for the panels' titles.
_SMOOTHNESS_TITLES = ["loss range<br>along the step", "largest gradient<br>change ‖Δg‖",
                      "effective β-smoothness<br>‖Δg‖ / ‖Δw‖"]  # fmt: skip


def smoothness_figure(results: dict[str, dict[str, dict]]) -> go.Figure:
    """Chapter 6: Santurkar et al.'s (2018) landscape measures during training.

    One panel per measure, one line per norm (the median over the seeds at each step, if
    the result holds several); buttons pick the network.

    Parameters
    ----------
    results : network label -> {norm label -> result of
        ``experiments.landscape_smoothness``}
    """
    nets = list(results)
    colour = colour_cycle("black", "blue", "orange", "purple")
    fig = make_subplots(
        rows=1,
        cols=len(SMOOTHNESS_MEASURES),
        horizontal_spacing=0.13,
        subplot_titles=_SMOOTHNESS_TITLES,
    )
    for n, net in enumerate(nets):
        for c, (lab, r) in enumerate(results[net].items()):
            for col, key in enumerate(SMOOTHNESS_MEASURES, start=1):
                fig.add_trace(
                    go.Scatter(
                        x=r["steps"],
                        y=np.median(np.atleast_2d(r[key]), axis=0),
                        mode="lines",
                        name=lab,
                        legendgroup=f"{net}{lab}",
                        showlegend=col == 1,
                        visible=n == 0,
                        line={"color": colour(c), "width": 1.5},
                    ),
                    row=1,
                    col=col,
                )
    per = len(fig.data) // len(nets)
    style(
        fig,
        "Looking ahead along each SGD step<br>(lower: smoother)",
        height=560,
        # A drop-down: three networks' names do not fit a phone's width as buttons.
        updatemenus=[
            visibility_menu(nets, per, "network", dropdown=True, x=1.0, xanchor="right", y=1.2)
        ],
        legend=legend_row(-0.25, yanchor="top"),
        margin={"t": 170, "b": 130},
    )
    fig.update_annotations(font_size=14)  # two-line titles over narrow panels: 14 of 16 px
    fig.update_xaxes(title_text="training step", nticks=4, tickangle=0)
    units = ("nats (log)", "‖Δg‖ (log)", "1/step (log)")
    for col, (key, text) in enumerate(zip(SMOOTHNESS_MEASURES, units, strict=True), 1):
        # Ticks chosen from every network's values, so each drop-down choice reads well.
        values = [
            np.median(np.atleast_2d(r[key]), axis=0) for net in nets for r in results[net].values()
        ]
        fig.update_yaxes(title_text=text, title_standoff=4, **log_axis(values), row=1, col=col)
    return fig
