"""Chapter 2's figures: what the learned scale γ and shift β do after normalizing.

``gamma_beta_figure`` (the output's distribution under a slider over (γ, β) settings) and
its live face ``live_gamma_beta_figure`` with ``update_gamma_beta``, both drawn from
``gamma_beta_traces``; ``recover_figure`` (γ and β set to undo the normalization of one
example: which examples come back); ``trained_gamma_beta_figure`` (where training takes
γ and β). Results come in from ``experiments.py``; the look, the controls and the redraw
come from ``lnbook.plotting``.
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
    frames,
    jump_to,
    legend_row,
    menu,
    redraw,
    style,
)


def gamma_beta_traces(hist: dict[str, np.ndarray], s: int) -> list[go.Bar | go.Scatter]:
    """Traces of the chapter 2 distribution view for setting ``s`` (shared by both faces)."""
    centers = hist["centers"]
    width = float(centers[1] - centers[0])
    m, sd = float(hist["mean"][s]), float(hist["std"][s])
    histograms = (("batch", "whole batch", "sky"), ("example", "one example", "vermillion"))
    return [
        *(
            go.Bar(
                x=centers,
                y=hist[key][s],
                width=width,
                name=name,
                marker={"color": PALETTE[colour]},
                opacity=0.75,
            )
            for key, name, colour in histograms
        ),
        go.Scatter(
            x=[m, m],
            y=[0, 1],
            mode="lines",
            name="example's mean",
            line={"color": PALETTE["black"], "dash": "dash"},
            yaxis="y2",
        ),
        # Just above the plot (not clipped), where no bar can reach it.
        go.Scatter(
            x=[float(hist["edges"][0])],
            y=[1.0],
            mode="text",
            textposition="top right",
            cliponaxis=False,
            yaxis="y2",
            showlegend=False,
            text=[f"example: mean {round(m, 2) + 0.0:.2f}, std {sd:.2f}"],
            hoverinfo="skip",
        ),
    ]


def _gamma_beta_layout(fig: go.Figure, edges: np.ndarray) -> None:
    style(
        fig,
        "Output of layer norm, y = γ·x̂ + β",
        height=500,
        barmode="overlay",
        xaxis=axis(
            "output value y (activation units; end bins include beyond)",
            range=[float(edges[0]), float(edges[-1])],
        ),
        yaxis=axis("fraction of values per bin", rangemode="tozero"),
        # The mean's line and the statistics' text, in the plot's height (0 to 1).
        yaxis2={"overlaying": "y", "range": [0, 1], "visible": False},
        # The legend over the example's statistics, which sit just above the plot.
        legend=legend_row(1.1),
        margin={"t": 130},
    )


def gamma_beta_figure(hist: dict[str, np.ndarray], labels: list[str]) -> go.Figure:
    """Chapter 2, static face: a slider over (gamma, beta) settings.

    Parameters
    ----------
    hist : from ``experiments.affine_histograms``
    labels : one label per setting
    """
    fig = go.Figure(gamma_beta_traces(hist, 0))
    frame_slider(fig, labels, "γ, β", lambda s: gamma_beta_traces(hist, s))
    _gamma_beta_layout(fig, hist["edges"])
    ymax = 1.05 * float(max(hist["example"].max(), hist["batch"].max()))
    fig.update_layout(yaxis={"range": [0, ymax]})
    return fig


def update_gamma_beta(fig: go.Figure, hist: dict[str, np.ndarray]) -> None:
    """Redraw the live chapter 2 view (one setting) in place."""
    redraw(fig, gamma_beta_traces(hist, 0))


def live_gamma_beta_figure(hist: dict[str, np.ndarray]) -> go.Figure:
    """The chapter 2 view for one (γ, β) setting, for a FigureWidget that
    ``update_gamma_beta`` redraws."""
    fig = go.Figure(gamma_beta_traces(hist, 0))
    _gamma_beta_layout(fig, hist["edges"])
    return fig


def recover_figure(results: list[dict], labels: list[str]) -> go.Figure:
    """Chapter 2: undoing layer norm for one example; buttons choose which example.

    Parameters
    ----------
    results : one ``experiments.recover_example`` result per choice of example
    labels : a button label for each
    """
    n = len(results[0]["error"])
    examples = np.arange(n)

    bars = (
        ("std_in", "std of the input", "sky"),
        ("std_out", "std after γ, β", "orange"),
        ("error", "max |output − input|", "black"),
    )

    def traces(r: dict) -> list[go.Bar]:
        return [
            go.Bar(x=examples, y=r[key], name=name, marker={"color": PALETTE[colour]})
            for key, name, colour in bars
        ]

    fig = go.Figure(traces(results[0]))
    fig.frames = frames(labels, lambda k: traces(results[k]))
    # The buttons animate to frames, which do not re-run autorange: one range for all.
    heights = [[r[key] for key, _, _ in bars] for r in results]
    return style(
        fig,
        "γ = √(var+ε), β = mean of one example:<br>which examples come back?",
        height=480,
        barmode="group",
        updatemenus=[menu(labels, [jump_to(b) for b in labels], "example undone", "animate")],
        xaxis=axis("example (row of the batch)", dtick=1, range=[-0.5, n - 0.5]),
        yaxis=axis("std or error (activation units)", range=fit_range(heights, tozero=True)),
        legend=legend_row(-0.2),
        margin={"t": 130},
    )


def trained_gamma_beta_figure(hist: dict) -> go.Figure:
    """Chapter 2: gamma and beta after training, for several training set-ups.

    Parameters
    ----------
    hist : from ``experiments.norm_parameter_histograms``
    """
    colour = colour_cycle("blue", "vermillion", "green", "purple")
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=["γ (scale)", "β (shift)"], horizontal_spacing=0.14
    )
    for i, label in enumerate(hist["gamma"]):
        for col, key in ((1, "gamma"), (2, "beta")):
            fig.add_trace(
                go.Scatter(
                    x=hist["centers"][key],
                    y=hist[key][label],
                    mode="lines",
                    name=label,
                    legendgroup=label,
                    showlegend=col == 1,
                    line={"color": colour(i), "shape": "hvh", "width": 2},
                ),
                row=1,
                col=col,
            )
    for col, symbol, initial in ((1, "γ", 1.0), (2, "β", 0.0)):
        fig.add_vline(x=initial, line={"dash": "dot", "color": PALETTE["black"]}, row=1, col=col)
        # One short title per panel, in two lines: a single long one under each panel ran
        # into its neighbour's.
        fig.update_xaxes(
            title_text=f"learned {symbol} (dimensionless)<br>end bins include all beyond",
            row=1,
            col=col,
        )
    fig.update_yaxes(title_text="number of features (all runs of a set-up)")
    return style(
        fig,
        "γ and β after training<br>(dotted: their initial values)",
        height=500,
        legend=legend_row(-0.3, yanchor="top"),
        margin={"t": 110, "b": 140},
    )
