"""DOCSTRING affine:figures"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ...plotting import PALETTE, button_row, copy_traces, fit_range, jump_to, layout_title, slider


def gamma_beta_traces(hist: dict[str, np.ndarray], s: int) -> list[go.Bar | go.Scatter]:
    """Traces of the chapter 2 distribution view for setting ``s`` (shared by both faces)."""
    centers = hist["centers"]
    width = float(centers[1] - centers[0])
    m, sd = float(hist["mean"][s]), float(hist["std"][s])
    return [
        go.Bar(
            x=centers,
            y=hist["batch"][s],
            width=width,
            name="whole batch",
            marker={"color": PALETTE["sky"]},
            opacity=0.75,
        ),
        go.Bar(
            x=centers,
            y=hist["example"][s],
            width=width,
            name="one example",
            marker={"color": PALETTE["vermillion"]},
            opacity=0.75,
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
    fig.update_layout(
        title=layout_title("Output of layer norm, y = γ·x̂ + β"),
        barmode="overlay",
        xaxis={
            "title": {"text": "output value y (activation units; end bins include beyond)"},
            "range": [float(edges[0]), float(edges[-1])],
        },
        yaxis={"title": {"text": "fraction of values per bin"}, "rangemode": "tozero"},
        yaxis2={"overlaying": "y", "range": [0, 1], "visible": False},
        # The legend over the example's statistics, which sit just above the plot.
        legend={"orientation": "h", "x": 0, "y": 1.1, "yanchor": "bottom"},
        height=500,
        margin={"t": 130},
        template="plotly_white",
    )


def gamma_beta_figure(hist: dict[str, np.ndarray], labels: list[str]) -> go.Figure:
    """Chapter 2, static face: a slider over (gamma, beta) settings.

    Parameters
    ----------
    hist : from ``lnbook.experiments.affine_histograms``
    labels : one label per setting
    """
    fig = go.Figure(gamma_beta_traces(hist, 0))
    fig.frames = [
        go.Frame(name=label, data=gamma_beta_traces(hist, s)) for s, label in enumerate(labels)
    ]
    _gamma_beta_layout(fig, hist["edges"])
    ymax = 1.05 * float(max(hist["example"].max(), hist["batch"].max()))
    fig.update_layout(yaxis={"range": [0, ymax]}, sliders=[slider(labels, "γ, β")])
    return fig


def update_gamma_beta(fig: go.Figure, hist: dict[str, np.ndarray]) -> None:
    """Redraw the live chapter 2 view (one setting) in place."""
    with fig.batch_update():
        copy_traces(fig, gamma_beta_traces(hist, 0))


def live_gamma_beta_figure(hist: dict[str, np.ndarray]) -> go.Figure:
    fig = go.Figure(gamma_beta_traces(hist, 0))
    _gamma_beta_layout(fig, hist["edges"])
    return fig


def recover_figure(results: list[dict], labels: list[str]) -> go.Figure:
    """Chapter 2: undoing layer norm for one example; buttons choose which example.

    Parameters
    ----------
    results : one ``lnbook.experiments.recover_example`` result per choice of example
    labels : a button label for each
    """
    n = len(results[0]["error"])
    examples = np.arange(n)

    def traces(r: dict) -> list[go.Bar]:
        return [
            go.Bar(
                x=examples, y=r["std_in"], name="std of the input", marker={"color": PALETTE["sky"]}
            ),
            go.Bar(
                x=examples,
                y=r["std_out"],
                name="std after γ, β",
                marker={"color": PALETTE["orange"]},
            ),
            go.Bar(
                x=examples,
                y=r["error"],
                name="max |output − input|",
                marker={"color": PALETTE["black"]},
            ),
        ]

    fig = go.Figure(traces(results[0]))
    fig.frames = [
        go.Frame(name=label, data=traces(r)) for label, r in zip(labels, results, strict=True)
    ]
    buttons = button_row(
        labels, [jump_to(label) for label in labels], "example undone", method="animate"
    )
    # The buttons animate to frames, which do not re-run autorange: one range for all.
    heights = [[r["std_in"], r["std_out"], r["error"]] for r in results]
    fig.update_layout(
        title=layout_title("γ = √(var+ε), β = mean of one example:<br>which examples come back?"),
        barmode="group",
        updatemenus=[buttons],
        xaxis={
            "title": {"text": "example (row of the batch)"},
            "dtick": 1,
            "range": [-0.5, n - 0.5],
        },
        yaxis={
            "title": {"text": "std or error (activation units)"},
            "range": fit_range(heights, tozero=True),
        },
        legend={"orientation": "h", "x": 0, "y": -0.2},
        height=480,
        margin={"t": 130},
        template="plotly_white",
    )
    return fig


def trained_gamma_beta_figure(hist: dict) -> go.Figure:
    """Chapter 2: gamma and beta after training, for several training set-ups.

    Parameters
    ----------
    hist : from ``lnbook.experiments.norm_parameter_histograms``
    """
    colours = [PALETTE["blue"], PALETTE["vermillion"], PALETTE["green"], PALETTE["purple"]]
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=["γ (scale)", "β (shift)"], horizontal_spacing=0.14
    )
    for i, label in enumerate(hist["gamma"]):
        colour = colours[i % len(colours)]
        for col, key in ((1, "gamma"), (2, "beta")):
            fig.add_trace(
                go.Scatter(
                    x=hist["centers"][key],
                    y=hist[key][label],
                    mode="lines",
                    name=label,
                    legendgroup=label,
                    showlegend=col == 1,
                    line={"color": colour, "shape": "hvh", "width": 2},
                ),
                row=1,
                col=col,
            )
    fig.add_vline(x=1.0, line={"dash": "dot", "color": PALETTE["black"]}, row=1, col=1)
    fig.add_vline(x=0.0, line={"dash": "dot", "color": PALETTE["black"]}, row=1, col=2)
    # One short title per panel, in two lines: a single long one under each panel ran
    # into its neighbour's.
    for col, symbol in ((1, "γ"), (2, "β")):
        fig.update_xaxes(
            title_text=f"learned {symbol} (dimensionless)<br>end bins include all beyond",
            row=1,
            col=col,
        )
    fig.update_yaxes(title_text="number of features")
    fig.update_layout(
        title=layout_title("γ and β after training<br>(dotted: their initial values)"),
        legend={"orientation": "h", "x": 0, "y": -0.3, "yanchor": "top"},
        height=500,
        margin={"t": 110, "b": 140},
        template="plotly_white",
    )
    return fig
