"""Chapter 7's figures: RMSNorm, what layer norm does to tokens of different scales, eps.

``recentering_figure`` (shift one example: layer norm's output stays, RMSNorm's moves) and
its live face ``live_recentering_figure`` with ``update_recentering``, both drawn from
``recentering_traces``; ``s_curve_figure`` (the S-shaped input/output map that appears as
tokens' scales spread), ``norm_map_figure`` (the same map of one layer norm, a trained
model's say) and ``update_s_curve``, drawn from ``s_curve_traces``; ``eps_gain_figure``
(what eps does to an example with little spread). Results come in from
``experiments.py``; the look, the controls and the redraw come from ``lnbook.plotting``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ...plotting import (
    PALETTE,
    axis,
    colour_cycle,
    frame_slider,
    legend_row,
    log_axis,
    redraw,
    style,
)


def recentering_traces(result: dict) -> list[go.Bar | go.Scatter]:
    """One example after a shift: its features, layer norm's output and RMSNorm's.

    Order: the moved input (bars, left panel), layer norm (markers), RMSNorm (markers),
    both in the right panel.
    """
    features = np.arange(len(result["x"]))
    return [
        go.Bar(
            x=features,
            y=result["x"],
            name=f"input (mean {result['mean']:.2f}, RMS {result['rms_value']:.2f})",
            marker={"color": PALETTE["sky"]},
        ),
        *(
            go.Scatter(
                x=features, y=result[key], name=name, mode="lines+markers", line=line, marker=marker
            )
            for key, name, line, marker in (
                ("ln", "layer norm", {"color": PALETTE["blue"]}, None),
                (
                    "rms",
                    "RMSNorm",
                    {"color": PALETTE["vermillion"], "dash": "dash"},
                    {"symbol": "x"},
                ),
            )
        ),
    ]


def _recentering_panels(result: dict) -> go.Figure:
    """The input (left panel) and both norms' outputs (right panel) of ``result``."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.18)
    for i, trace in enumerate(recentering_traces(result)):
        fig.add_trace(trace, row=1, col=1 if i == 0 else 2)
    return fig


def _recentering_layout(fig: go.Figure, x_range: list[float], n_features: int) -> None:
    # Fixed ranges on every axis: the slider's frames do not re-run autorange.
    for col in (1, 2):
        fig.update_xaxes(title_text="feature index", range=[-0.5, n_features - 0.5], col=col)
    fig.update_yaxes(title_text="input value (activation units)", range=x_range, row=1, col=1)
    fig.update_yaxes(
        title_text="normalized (dimensionless)",
        title_standoff=2,
        range=[-3.5, 3.5],
        row=1,
        col=2,
    )
    style(
        fig,
        "Shift one example:<br>layer norm stays, RMSNorm moves",
        height=600,
        # The legend between the title and the plots (below them is the slider); on a
        # phone it wraps to three lines, hence the tall margin.
        legend=legend_row(1.02),
        margin={"t": 170},
    )


def recentering_figure(results: dict[float, dict], active: int = 0) -> go.Figure:
    """Chapter 7: a slider over the shift added to one example (static face).

    Parameters
    ----------
    results : shift -> ``experiments.shifted_norms(x, shift)``
    active : index of the shift shown first
    """
    shifts = list(results)
    labels = [f"{s:+g}" for s in shifts]
    fig = _recentering_panels(results[shifts[active]])
    frame_slider(
        fig,
        labels,
        "shift added to every feature",
        lambda k: recentering_traces(results[shifts[k]]),
        active=active,
        traces=[0, 1, 2],
    )
    everything = np.concatenate([r["x"] for r in results.values()])
    pad = 0.1 * float(np.ptp(everything) + 1e-9)
    _recentering_layout(
        fig,
        [min(0.0, everything.min()) - pad, max(0.0, everything.max()) + pad],
        len(results[shifts[0]]["x"]),
    )
    return fig


def live_recentering_figure(result: dict) -> go.Figure:
    """The live face's figure (no slider; the widget's controls redraw it)."""
    fig = _recentering_panels(result)
    _recentering_layout(fig, [-12.0, 12.0], len(result["x"]))
    return fig


def update_recentering(fig: go.Figure, result: dict) -> None:
    """Redraw the live re-centering figure in place; the input axis follows the data."""
    lo, hi = float(result["x"].min()), float(result["x"].max())
    pad = 0.1 * (hi - lo + 1e-9)
    redraw(fig, recentering_traces(result), yaxis_range=[min(lo, 0) - pad, max(hi, 0) + pad])


# The colour scale of the S-curve figures: log10 of a token's standard deviation, fixed so
# that the same colour means the same spread in every frame.
_SCALE_RANGE = (-1.5, 1.5)


def s_curve_traces(result: dict, show_scale: bool = True) -> list[go.Scatter]:
    """Input against output of a layer norm, coloured by each value's token scale, with
    the tanh fit. Order: the points, the fitted tanh."""
    x, y = result["x"], result["y"]
    grid = np.linspace(x.min(), x.max(), 200)
    return [
        go.Scatter(
            # Four decimals are plenty for a scatter and keep the page small.
            x=np.round(x, 4),
            y=np.round(y, 4),
            mode="markers",
            name="values (colour: their token's std, log)",
            marker={
                "size": 4,
                "color": np.round(np.log10(result["token_scale"]), 3),
                "colorscale": "Viridis",
                "cmin": _SCALE_RANGE[0],
                "cmax": _SCALE_RANGE[1],
                "showscale": show_scale,
                "colorbar": {"title": {"text": "log10<br>token std"}, "len": 0.6, "thickness": 12},
            },
            hovertemplate="in %{x:.2f}, out %{y:.2f}<extra></extra>",
        ),
        go.Scatter(
            x=np.round(grid, 4),
            y=np.round(result["gamma"] * np.tanh(result["alpha"] * grid), 4),
            mode="lines",
            name=f"fit {result['gamma']:.2f}·tanh({result['alpha']:.2f}·x)",
            line={"color": PALETTE["vermillion"], "width": 3},
        ),
    ]


def _x_range(result: dict) -> list[float]:
    """The input axis for one S-curve: every point, with a margin."""
    lo, hi = float(result["x"].min()), float(result["x"].max())
    pad = 0.05 * (hi - lo + 1e-9)
    return [lo - pad, hi + pad]


def _s_curve_layout(fig: go.Figure, title: str) -> None:
    style(
        fig,
        title,
        height=500,
        xaxis=axis("layer norm's input (activation units)"),
        yaxis=axis("output before γ, β (dimensionless)", range=[-4.2, 4.2]),
        # Inside the plot, top left, where an increasing map leaves no points: above it the
        # title needs the room on a phone. Its background is the template's (the paper's),
        # so a dark theme darkens it too.
        legend={"x": 0.01, "y": 0.99},
        margin={"t": 110},
    )


def s_curve_figure(results: dict[float, dict], active: int = 0) -> go.Figure:
    """Chapter 7: the S-shape appears as tokens' scales spread (static face).

    Parameters
    ----------
    results : spread -> ``experiments.s_curve(spread)``
    active : index of the spread shown first
    """
    spreads = list(results)
    labels = [f"{s:g}" for s in spreads]
    fig = go.Figure(s_curve_traces(results[spreads[active]]))
    # Each frame sets its own input axis: the widest tokens, which make the S, stay in view.
    frame_slider(
        fig,
        labels,
        "spread of the token scales",
        lambda k: s_curve_traces(results[spreads[k]]),
        active=active,
        layout=lambda k: {"xaxis": {"range": _x_range(results[spreads[k]])}},
    )
    _s_curve_layout(fig, "Layer norm over tokens<br>of different scales")
    fig.update_xaxes(range=_x_range(results[spreads[active]]))
    return fig


def norm_map_figure(result: dict, title: str) -> go.Figure:
    """One layer norm's input/output map (no slider), e.g. of a trained model."""
    fig = go.Figure(s_curve_traces(result))
    _s_curve_layout(fig, title)
    fig.update_xaxes(range=_x_range(result))
    return fig


def update_s_curve(fig: go.Figure, result: dict) -> None:
    """Redraw a live S-curve figure in place."""
    # The points' colours move too (each value's token scale): ``redraw`` copies them.
    redraw(fig, s_curve_traces(result), xaxis_range=_x_range(result))


def eps_gain_figure(stds: np.ndarray, gains: dict[str, np.ndarray]) -> go.Figure:
    """Chapter 7: the output spread of layer norm against the input's, one line per eps.

    Parameters
    ----------
    stds : (K,) input standard deviations
    gains : label -> (K,) output standard deviations (``experiments.eps_gain``)
    """
    colour = colour_cycle("vermillion", "orange", "blue", "green", "purple", "black")
    fig = go.Figure(
        [
            go.Scatter(
                x=stds,
                y=g,
                mode="lines",
                name=label,
                line={"color": colour(i), "dash": ("solid", "dash")[i % 2]},
            )
            for i, (label, g) in enumerate(gains.items())
        ]
    )
    return style(
        fig,
        "What eps does to an example<br>with little spread",
        height=720,
        xaxis=axis("the example's standard deviation (activation units, log)", **log_axis(stds)),
        yaxis=axis("std after layer norm (dimensionless)", range=[0, 1.05]),
        legend=legend_row(-0.25, yanchor="top"),
        margin={"b": 340},
    )
