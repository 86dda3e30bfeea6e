"""DOCSTRING variants:figures"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ...plotting import PALETTE, layout_title, log_axis, slider


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
        go.Scatter(
            x=features,
            y=result["ln"],
            name="layer norm",
            mode="lines+markers",
            line={"color": PALETTE["blue"]},
        ),
        go.Scatter(
            x=features,
            y=result["rms"],
            name="RMSNorm",
            mode="lines+markers",
            line={"color": PALETTE["vermillion"], "dash": "dash"},
            marker={"symbol": "x"},
        ),
    ]


def _recentering_layout(fig: go.Figure, x_range: list[float], n_features: int) -> None:
    # Fixed ranges on every axis: the slider's frames do not re-run autorange.
    features = [-0.5, n_features - 0.5]
    fig.update_xaxes(title_text="feature index", range=features, row=1, col=1)
    fig.update_xaxes(title_text="feature index", range=features, row=1, col=2)
    fig.update_yaxes(title_text="input value (activation units)", range=x_range, row=1, col=1)
    fig.update_yaxes(
        title_text="normalized (dimensionless)",
        title_standoff=2,
        range=[-3.5, 3.5],
        row=1,
        col=2,
    )
    fig.update_layout(
        # The title pinned to the top, the legend between it and the plots (below them is
        # the slider); on a phone the legend wraps to three lines, hence the tall margin.
        title=layout_title("Shift one example:<br>layer norm stays, RMSNorm moves"),
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        height=600,
        margin={"t": 170},
        template="plotly_white",
    )


def recentering_figure(results: dict[float, dict], active: int = 0) -> go.Figure:
    """Chapter 7: a slider over the shift added to one example (static face).

    Parameters
    ----------
    results : shift -> ``lnbook.experiments.shifted_norms(x, shift)``
    active : index of the shift shown first
    """
    shifts = list(results)
    labels = [f"{s:+g}" for s in shifts]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.18)
    for i, trace in enumerate(recentering_traces(results[shifts[active]])):
        fig.add_trace(trace, row=1, col=1 if i == 0 else 2)
    fig.frames = [
        go.Frame(name=label, data=recentering_traces(results[s]), traces=[0, 1, 2])
        for label, s in zip(labels, shifts, strict=True)
    ]
    everything = np.concatenate([r["x"] for r in results.values()])
    pad = 0.1 * float(np.ptp(everything) + 1e-9)
    _recentering_layout(
        fig,
        [min(0.0, everything.min()) - pad, max(0.0, everything.max()) + pad],
        len(results[shifts[0]]["x"]),
    )
    fig.update_layout(sliders=[slider(labels, "shift added to every feature", active)])
    return fig


def live_recentering_figure(result: dict) -> go.Figure:
    """The live face's figure (no slider; the widget's controls redraw it)."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.18)
    for i, trace in enumerate(recentering_traces(result)):
        fig.add_trace(trace, row=1, col=1 if i == 0 else 2)
    _recentering_layout(fig, [-12.0, 12.0], len(result["x"]))
    return fig


def update_recentering(fig: go.Figure, result: dict) -> None:
    """Redraw the live re-centering figure in place; the input axis follows the data."""
    lo, hi = float(result["x"].min()), float(result["x"].max())
    pad = 0.1 * (hi - lo + 1e-9)
    with fig.batch_update():
        for trace, new in zip(fig.data, recentering_traces(result), strict=True):
            trace.y, trace.name = new.y, new.name
        fig.layout.yaxis.range = [min(lo, 0) - pad, max(hi, 0) + pad]


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
    fig.update_layout(
        title=layout_title(title),
        xaxis_title="layer norm's input (activation units)",
        yaxis={"title": {"text": "output before γ, β (dimensionless)"}, "range": [-4.2, 4.2]},
        # Inside the plot, top left, where an increasing map leaves no points: above it the
        # title needs the room on a phone. Its background is the template's (the paper's),
        # so a dark theme darkens it too.
        legend={"x": 0.01, "y": 0.99},
        height=500,
        margin={"t": 110},
        template="plotly_white",
    )


def s_curve_figure(results: dict[float, dict], active: int = 0) -> go.Figure:
    """Chapter 7: the S-shape appears as tokens' scales spread (static face).

    Parameters
    ----------
    results : spread -> ``lnbook.experiments.s_curve(spread)``
    active : index of the spread shown first
    """
    spreads = list(results)
    labels = [f"{s:g}" for s in spreads]
    fig = go.Figure(s_curve_traces(results[spreads[active]]))
    # Each frame sets its own input axis: the widest tokens, which make the S, stay in view.
    fig.frames = [
        go.Frame(
            name=label,
            data=s_curve_traces(results[s]),
            layout={"xaxis": {"range": _x_range(results[s])}},
        )
        for label, s in zip(labels, spreads, strict=True)
    ]
    _s_curve_layout(fig, "Layer norm over tokens<br>of different scales")
    fig.update_xaxes(range=_x_range(results[spreads[active]]))
    fig.update_layout(sliders=[slider(labels, "spread of the token scales", active)])
    return fig


def norm_map_figure(result: dict, title: str) -> go.Figure:
    """One layer norm's input/output map (no slider), e.g. of a trained model."""
    fig = go.Figure(s_curve_traces(result))
    _s_curve_layout(fig, title)
    fig.update_xaxes(range=_x_range(result))
    return fig


def update_s_curve(fig: go.Figure, result: dict) -> None:
    """Redraw a live S-curve figure in place."""
    with fig.batch_update():
        for trace, new in zip(fig.data, s_curve_traces(result), strict=True):
            trace.x, trace.y, trace.name = new.x, new.y, new.name
        fig.data[0].marker.color = np.round(np.log10(result["token_scale"]), 3)
        fig.layout.xaxis.range = _x_range(result)


def eps_gain_figure(stds: np.ndarray, gains: dict[str, np.ndarray]) -> go.Figure:
    """Chapter 7: the output spread of layer norm against the input's, one line per eps.

    Parameters
    ----------
    stds : (K,) input standard deviations
    gains : label -> (K,) output standard deviations (``lnbook.experiments.eps_gain``)
    """
    colours = [PALETTE[c] for c in ("vermillion", "orange", "blue", "green", "purple", "black")]
    fig = go.Figure(
        [
            go.Scatter(
                x=stds,
                y=g,
                mode="lines",
                name=label,
                line={"color": colours[i % len(colours)], "dash": ("solid", "dash")[i % 2]},
            )
            for i, (label, g) in enumerate(gains.items())
        ]
    )
    fig.update_layout(
        title=layout_title("What eps does to an example<br>with little spread"),
        xaxis={
            "title": "the example's standard deviation (activation units, log)",
            **log_axis(stds),
        },
        yaxis={"title": "std after layer norm (dimensionless)", "range": [0, 1.05]},
        legend={"orientation": "h", "x": 0, "y": -0.25, "yanchor": "top"},
        height=720,
        margin={"b": 340},
        template="plotly_white",
    )
    return fig
