"""Chapter 14's figures: one huge channel through three norms, trained channel sizes, and
conditional layer norm training.

``outlier_figure`` (a slider over the outlier's size: one token's outputs under layer norm,
RMSNorm and DyT, beside the other channels' spread against the size, closed form and
measured) and its live face ``live_outlier_figure`` with ``update_outlier``, both drawn
from ``outlier_traces``; ``channel_sizes_figure`` (a trained model's norm inputs, largest
channel over the median); ``conditioning_figure`` (the denoiser's training loss per way of
conditioning). Results come in from ``experiments.py``; the look and controls from
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
    fit_range,
    frame_slider,
    legend_row,
    log_axis,
    redraw,
    step_marker,
    style,
)

# The three norms in every face: label, key in the results, colour.
NORMS = (
    ("layer norm", "layer", "ln", PALETTE["blue"]),
    ("RMSNorm", "rms", "rms", PALETTE["orange"]),
    ("DyT, α = 0.5", "dyt", "dyt", PALETTE["green"]),
)
_OUTPUT_RANGE = [-2.6, 4.4]  # every output of the chapter's tokens: sqrt(15) = 3.87 at most


def outlier_traces(result: dict) -> list[go.Bar]:
    """One token's outputs, channel by channel, under each norm (channel 0 the outlier)."""
    channels = np.arange(len(result["x"]))
    return [
        go.Bar(
            x=channels,
            y=np.round(result[key], 4),
            name=label,
            marker={"color": colour},
            hovertemplate=f"{label}: channel %{{x}}, output %{{y:.3f}}<extra></extra>",
        )
        for label, key, _, colour in NORMS
    ]


def _bars_layout(fig: go.Figure, **where) -> None:
    fig.update_xaxes(title_text="channel (0: the outlier)", dtick=1, **where)
    fig.update_yaxes(title_text="output (dimensionless)", range=_OUTPUT_RANGE, **where)


def outlier_figure(sweep: dict, active: int = 0) -> go.Figure:
    """Chapter 14: what one channel of size M does to a token under three norms (static).

    Left: the first token's outputs per channel; right: the standard deviation of the other
    channels' outputs against M (lines: the closed form with the others' expected mean 0 and
    variance 1; markers: the mean over the tokens). The slider picks M.

    Parameters
    ----------
    sweep : ``experiments.outlier_sweep``; active : index of the M shown first
    """
    ms, runs = sweep["ms"], sweep["runs"]
    labels = [f"{m:g}" for m in ms]
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.55, 0.45],
        horizontal_spacing=0.14,
        subplot_titles=("one token's outputs", "the other channels' spread"),
    )
    for trace in outlier_traces(runs[active]):
        fig.add_trace(trace, row=1, col=1)
    for label, _, key, colour in NORMS:
        if key != "dyt":  # DyT has no closed form to draw: it leaves the others alone
            fig.add_trace(
                go.Scatter(
                    x=ms,
                    y=sweep["typical"][f"{key}_others_std"],
                    mode="lines",
                    name=f"{label}, closed form",
                    line={"color": colour, "dash": "dash"},
                ),
                row=1,
                col=2,
            )
        fig.add_trace(
            go.Scatter(
                x=ms,
                y=sweep[f"{key}_others_std"].mean(axis=1),
                mode="markers",
                name=f"{label}, measured",
                marker={"color": colour, "size": 8},
                showlegend=False,
            ),
            row=1,
            col=2,
        )

    def marker(k: int) -> go.Scatter:
        ys = [sweep[f"{key}_others_std"][k].mean() for _, _, key, _ in NORMS]
        return step_marker(ms[k], ys, [c for *_, c in NORMS], xaxis="x2", yaxis="y2")

    fig.add_trace(marker(active))
    n = len(fig.data)
    frame_slider(
        fig,
        labels,
        "outlier size M",
        lambda k: [*outlier_traces(runs[k]), marker(k)],
        active=active,
        traces=[0, 1, 2, n - 1],
    )
    spreads = [sweep[f"{key}_others_std"].mean(axis=1) for _, _, key, _ in NORMS]
    style(
        fig,
        f"One channel of size M among {sweep['d']}",
        height=560,
        barmode="group",
        legend=legend_row(-0.3, yanchor="top"),
        margin={"t": 110, "b": 200},
    )
    _bars_layout(fig, row=1, col=1)
    fig.update_xaxes(range=[-0.5, sweep["d"] - 0.5], row=1, col=1)
    # Fixed ranges: the frames move the marker, and frames do not re-run autorange.
    fig.update_xaxes(title_text="outlier size M (standard deviations, log)", row=1, col=2,
                     range=fit_range(ms, log=True), **log_axis(ms))  # fmt: skip
    spread = spreads + [sweep["typical"]["ln_others_std"], sweep["typical"]["rms_others_std"]]
    fig.update_yaxes(
        title_text="std of the other outputs (log)",
        row=1,
        col=2,
        range=fit_range(spread, log=True),
        **log_axis(spread),
    )
    return fig


def live_outlier_figure(result: dict) -> go.Figure:
    """The live face: one token's outputs per channel (``experiments.outlier_norms``)."""
    fig = go.Figure(outlier_traces(result))
    style(
        fig,
        f"One channel of size M = {result['m']:g}",
        height=460,
        barmode="group",
        legend=legend_row(1.02),
        margin={"t": 110},
    )
    _bars_layout(fig)
    return fig


def update_outlier(fig: go.Figure, result: dict) -> None:
    """Redraw a live outlier figure in place."""
    redraw(fig, outlier_traces(result), title_text=f"One channel of size M = {result['m']:g}")


def channel_sizes_figure(result: dict) -> go.Figure:
    """Chapter 14: the largest channel of each norm's input over the median channel, in a
    small trained transformer and at its initialization, every seed.

    Parameters
    ----------
    result : ``experiments.trained_channel_sizes``
    """
    fig = go.Figure()
    for when, colour, symbol in (("init", PALETTE["sky"], "circle-open"),
                                 ("trained", PALETTE["vermillion"], "circle")):  # fmt: skip
        ratio = result[when]["channel_ratio"]  # (S, n_norms)
        for i, seed in enumerate(result["seeds"]):
            fig.add_trace(
                go.Scatter(
                    x=np.arange(ratio.shape[1]) + (0.1 if when == "trained" else -0.1),
                    y=ratio[i],
                    mode="markers",
                    marker={"color": colour, "symbol": symbol, "size": 9},
                    name=f"{'trained' if when == 'trained' else 'at initialization'}",
                    legendgroup=when,
                    showlegend=i == 0,
                    hovertemplate=f"seed {seed}, norm %{{x:.0f}}: %{{y:.2f}}<extra></extra>",
                )
            )
    top = max(3.0, 1.1 * float(result["trained"]["channel_ratio"].max()))
    return style(
        fig,
        "Largest channel over the median channel",
        height=420,
        xaxis=axis("norm layer (in order; the last: the final norm)", dtick=1),
        yaxis=axis("largest / median channel rms (ratio)", range=[1, top]),
        legend=legend_row(1.02),
        margin={"t": 110},
    )


def conditioning_figure(runs: dict, window: int = 10) -> go.Figure:
    """Chapter 14: the denoiser's training loss with each way of conditioning, the band
    spanning the seeds (a running mean over ``window`` steps).

    Parameters
    ----------
    runs : ``experiments.conditioning_runs``
    """
    colours = {"adaLN-Zero": PALETTE["blue"], "adaLN": PALETTE["orange"],
               "concat": PALETTE["green"], "none": PALETTE["black"]}  # fmt: skip
    kernel = np.ones(window) / window
    fig = go.Figure()
    curves = []
    for mode in runs["modes"]:
        smooth = np.array([np.convolve(row, kernel, mode="valid") for row in runs["loss"][mode]])
        steps = np.arange(window, smooth.shape[1] + window)
        colour = colours.get(mode, PALETTE["purple"])
        label = "no class (unconditional)" if mode == "none" else mode
        fig.add_traces(band(steps, smooth.min(axis=0), smooth.max(axis=0), colour, name=label,
                            legendgroup=mode, showlegend=False))  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=np.median(smooth, axis=0),
                mode="lines",
                name=label,
                legendgroup=mode,
                line={"color": colour},
            )  # fmt: skip
        )
        curves.append(smooth)
    return style(
        fig,
        "Denoising digits, conditioned on the class or not",
        height=460,
        xaxis=axis("training step"),
        yaxis=axis("training loss (mean squared error, log)", **log_axis(curves)),
        legend=legend_row(1.02),
        margin={"t": 120},
    )
