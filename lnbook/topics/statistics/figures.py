"""Chapter 1's figures: what layer norm computes, one example (row) at a time.

``batch_stats_figure`` (a batch before and after, with each row's mean and std),
``handwriting_figure`` (one digit in several pens, made alike), ``axis_contrast_figure``
(which axis layer norm averages, against batch norm), ``invariance_markdown`` (a table),
and the chapter's explorer in its two faces: ``example_explorer_figure`` (buttons pick
an example, a slider the scene: every state precomputed, for the website) and
``live_explorer_figure`` with ``update_example_explorer`` (one example, redrawn in place
by the widget of ``widgets.py``). Both faces draw ``explorer_traces``, so they show the
same thing. Results come in from ``experiments.py``; the look, the controls and the
redraw come from ``lnbook.plotting``.
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
    menu,
    redraw,
    rgba,
    style,
    visibility_menu,
)


def batch_stats_figure(x: np.ndarray, stats: dict[str, np.ndarray]) -> go.Figure:
    """A batch as an examples x features heat map, with each example's mean and std.

    Two buttons switch between the batch before and after layer norm.

    Parameters
    ----------
    x : (N, D) the batch
    stats : from ``experiments.row_statistics(x)``
    """
    n = x.shape[0]
    examples = np.arange(n)
    views = {
        "before layer norm": (x, stats["mean_before"], stats["std_before"]),
        "after layer norm": (stats["y"], stats["mean_after"], stats["std_after"]),
    }
    z0, m0, s0 = views["before layer norm"]
    fig = make_subplots(
        rows=1, cols=2, column_widths=[0.68, 0.32], horizontal_spacing=0.16, shared_yaxes=True
    )
    fig.add_trace(
        go.Heatmap(
            z=z0,
            colorscale="Cividis",
            # Title along the bar: across it, it would run into the right panel.
            colorbar={
                "title": {"text": "value (activation units)", "side": "right"},
                "x": 0.6,
                "thickness": 12,
            },
            hovertemplate="example %{y}, feature %{x}: %{z:.2f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    for values, name, colour, symbol in (
        (m0, "mean", "blue", "circle"),
        (s0, "standard deviation", "orange", "diamond"),
    ):
        fig.add_trace(
            go.Scatter(
                x=values,
                y=examples,
                mode="markers",
                name=name,
                marker={"color": PALETTE[colour], "size": 9, "symbol": symbol},
            ),
            row=1,
            col=2,
        )
    units = ["activation units", "standard deviations"]
    args = [
        [
            {
                "z": [z, None, None],
                "x": [None, m, s],
                "colorbar.title.text": [f"value ({unit})", None, None],
            },
            {
                "title.text": f"A batch of activations, {k}",
                "xaxis2.title.text": f"per-example statistic ({unit})",
            },
        ]
        for (k, (z, m, s)), unit in zip(views.items(), units, strict=True)
    ]
    style(
        fig,
        "A batch of activations, before layer norm",
        height=540,
        updatemenus=[menu(list(views), args, "batch shown")],
        legend=legend_row(-0.12, x=0.7),
        margin={"t": 130},
    )
    fig.update_xaxes(title_text="feature index (dimensionless)", row=1, col=1)
    fig.update_yaxes(title_text="example (row of the batch)", range=[n - 0.5, -0.5], row=1, col=1)
    fig.update_xaxes(title_text="per-example statistic (activation units)", row=1, col=2)
    return fig


def handwriting_figure(result: dict[str, np.ndarray]) -> go.Figure:
    """The same digit written with different pens (top) and after layer norm (bottom).

    Parameters
    ----------
    result : from ``experiments.handwriting``
    """
    pens = result["pens"]
    p = len(pens)
    titles = [f"pressure {a:g}<br>background {b:g}" for a, b in pens] + [""] * p
    fig = make_subplots(
        rows=2, cols=p, subplot_titles=titles, vertical_spacing=0.1, horizontal_spacing=0.02
    )
    fig.update_annotations(font_size=14)  # two lines over narrow panels: 14 of 16 px
    # Row 1 as written, row 2 after layer norm: one grey scale per row (coloraxis,
    # coloraxis2), so the pens differ above and look alike below.
    rows = (
        ("written", "coloraxis", "as written"),
        ("normalized", "coloraxis2", "after layer norm"),
    )
    for i in range(p):
        for row, (key, scale, where) in enumerate(rows, start=1):
            fig.add_trace(
                go.Heatmap(
                    z=result[key][i],
                    coloraxis=scale,
                    hovertemplate=f"%{{z:.2f}}<extra>{where}</extra>",
                ),
                row=row,
                col=i + 1,
            )
    # Image panels: no ticks or grid, a thin frame so the 8x8 edge shows on white.
    frame = {
        "showticklabels": False,
        "showgrid": False,
        "zeroline": False,
        "showline": True,
        "mirror": True,
        "linecolor": PALETTE["black"],
        "linewidth": 0.5,
    }
    fig.update_xaxes(**frame)
    fig.update_yaxes(autorange="reversed", scaleanchor="x", **frame)

    def greys(values: np.ndarray, title: str, y: float) -> dict:  # a row's scale, its bar at y
        return {
            "colorscale": "Greys",
            "cmin": values.min(),
            "cmax": values.max(),
            "colorbar": {"title": title, "y": y, "len": 0.42},
        }

    style(
        fig,
        f"One digit, {p} pens: as written (top),<br>after layer norm (bottom)",
        height=470,
        coloraxis=greys(result["written"], "ink", 0.75),
        coloraxis2=greys(result["normalized"], "x̂", 0.22),
        margin={"t": 140, "b": 20},
    )
    return fig


# The explorer's normalized panel shows |x̂| up to this (a row of D features can reach
# sqrt(D - 1); the scenes stay well inside).
_XHAT_LIMIT = 4.0


def explorer_traces(result: dict, n_features: int | None = None) -> list[go.Bar | go.Scatter]:
    """The traces of the chapter 1 explorer for one state (no ``visible`` set).

    Shared by the slider figure (one set per example and frame) and the live widget (one
    set, updated in place), so both faces draw exactly the same thing. ``n_features``: the
    length of the feature axes (default: this example's); the statistics sit centred over
    the panel, not over the features in use, which with few features would put them over
    the axis.
    """
    x, x_hat = result["x"], result["x_hat"]
    n_features = len(x) if n_features is None else n_features
    idx = np.arange(len(x))
    m, s = result["mean"], result["std"]

    def num(v: float) -> str:
        return f"{round(v, 2) + 0.0:.2f}"  # + 0.0 turns a rounded -0.00 into 0.00

    note = (
        f"before: mean {num(m)}, std {num(s)}<br>"
        f"after: mean {num(result['mean_after'])}, std {num(result['std_after'])}"
    )
    # Left panel (axes x, y): the features and their statistics; right panel (x2, y2): x̂.
    left = {"xaxis": "x", "yaxis": "y", "showlegend": False}
    right = {"xaxis": "x2", "yaxis": "y2", "showlegend": False}
    return [
        go.Bar(x=idx, y=x, name="features", marker={"color": PALETTE["sky"]}, **left),
        go.Scatter(
            x=[-0.5, len(x) - 0.5, len(x) - 0.5, -0.5, -0.5],
            y=[m - s, m - s, m + s, m + s, m - s],
            fill="toself",
            mode="lines",
            line={"color": PALETTE["orange"], "width": 1},
            fillcolor=rgba(PALETTE["orange"], 0.15),
            name="mean ± std",
            hoverinfo="skip",
            **left,
        ),
        go.Scatter(
            x=[-0.5, len(x) - 0.5],
            y=[m, m],
            mode="lines",
            name="mean",
            line={"color": PALETTE["orange"], "width": 3},
            **left,
        ),
        go.Bar(x=idx, y=x_hat, name="normalized", marker={"color": PALETTE["blue"]}, **right),
        # The statistics as text, on the top edge of the right panel and drawn above it
        # (not clipped), so no bar can run under them.
        go.Scatter(
            x=[(n_features - 1) / 2],
            y=[_XHAT_LIMIT],
            mode="text",
            text=[note],
            textposition="top center",
            cliponaxis=False,
            hoverinfo="skip",
            textfont={"size": 13},
            **right,
        ),
    ]


def _explorer_layout(fig: go.Figure, title: str, n_features: int) -> None:
    # Fixed feature axes, so dropping features shows as shorter rows, not a zoom.
    x_range = [-0.5, n_features - 0.5]
    features = "feature index (dimensionless)"
    style(
        fig,
        title,
        height=560,
        xaxis=axis(features, domain=[0, 0.42], range=x_range),
        yaxis=axis("feature value (activation units)"),
        # The gap between the panels holds the right panel's axis title and ticks, clear of
        # the left panel's last bar.
        xaxis2=axis(features, domain=[0.6, 1], anchor="y2", range=x_range),
        yaxis2=axis("x̂ (standard deviations)", range=[-_XHAT_LIMIT, _XHAT_LIMIT], anchor="x2"),
        bargap=0.15,
        margin={"t": 160},
    )


def example_explorer_figure(
    results: list[list[dict]], scene_labels: list[str], example_labels: list[str]
) -> go.Figure:
    """The chapter 1 explorer, static face: buttons pick the example, a slider the scene.

    Parameters
    ----------
    results : ``results[scene][example]``, from ``experiments.explore_scenes``
    scene_labels : one label per scene (the slider's steps)
    example_labels : one label per example (the buttons)
    """
    n_ex = len(example_labels)
    n_features = max(len(r["x"]) for scene in results for r in scene)
    per = len(explorer_traces(results[0][0]))  # traces per example
    fig = go.Figure()
    for e in range(n_ex):
        for t in explorer_traces(results[0][e], n_features):
            t.visible = e == 0
            fig.add_trace(t)

    # One value axis for every scene and example, so a scale or a shift is seen as such
    # (rescaling the axis per scene would make every scene look the same).
    values = np.concatenate([r["x"] for scene in results for r in scene])
    pad = 0.05 * (values.max() - values.min() + 1e-9)
    y_range = [min(values.min(), 0) - pad, max(values.max(), 0) + pad]

    frame_slider(
        fig,
        scene_labels,
        "scene",
        lambda k: [t for e in range(n_ex) for t in explorer_traces(results[k][e], n_features)],
    )
    _explorer_layout(fig, "One example before (left) and after (right) layer norm", n_features)
    fig.update_layout(
        yaxis={"range": y_range},
        # Above the statistics over the right panel.
        updatemenus=[visibility_menu(example_labels, per, "example shown", y=1.17)],
    )
    return fig


def _live_value_range(result: dict) -> list[float]:
    """The live explorer's value axis: the features, zero and the mean ± std band.

    The live controls reach any value, so there the value axis follows the data; the band
    counts too, since with a few large features it reaches past them (x = 0, 0, 0, 10:
    mean 2.5, std 4.3, band from -1.8).
    """
    m, s = result["mean"], result["std"]
    return fit_range([result["x"], [m - s, m + s]], pad=0.1, tozero=True)


def update_example_explorer(fig: go.Figure, result: dict) -> None:
    """Redraw the live explorer (a one-example figure) in place for a new ``result``."""
    lo, hi = fig.layout.xaxis.range  # the feature axis, fixed at -0.5 .. n_features - 0.5
    new = explorer_traces(result, n_features=round(hi - lo))
    redraw(fig, new, yaxis_range=_live_value_range(result))


def live_explorer_figure(result: dict, n_features: int | None = None) -> go.Figure:
    """The chapter 1 explorer for one example, to be wrapped in a FigureWidget.

    ``n_features`` fixes the feature axes (default: the example's length).
    """
    n_features = n_features or len(result["x"])
    fig = go.Figure(explorer_traces(result, n_features))
    _explorer_layout(fig, "One example before (left) and after (right) layer norm", n_features)
    # No buttons or slider above the panels here (the static face's need the room), only
    # the statistics: a smaller top margin.
    fig.update_layout(yaxis={"range": _live_value_range(result)}, margin={"t": 120})
    return fig


def axis_contrast_figure(result: dict[str, np.ndarray]) -> go.Figure:
    """Which axis is averaged: layer norm (each row) vs batch norm (each column).

    Parameters
    ----------
    result : from ``experiments.axis_contrast``
    """
    views = {
        "layer norm: each example (row)": result["layer"],
        "batch norm: each feature (column)": result["batch"],
    }
    first = next(iter(views.values()))
    fig = go.Figure(
        go.Heatmap(
            z=first,
            colorscale="Cividis",
            zmin=-3,
            zmax=3,
            colorbar={"title": "x̂ (std)"},
            hovertemplate="example %{y}, feature %{x}: %{z:.2f}<extra></extra>",
        )
    )
    args = [[{"z": [z]}, {"title.text": f"Normalized by {label}"}] for label, z in views.items()]
    style(
        fig,
        "Normalized by layer norm: each example (row)",
        height=480,
        updatemenus=[menu(list(views), args, "normalization")],
        margin={"t": 130},
    )
    fig.update_xaxes(title_text="feature index (dimensionless)")
    fig.update_yaxes(title_text="example (row of the batch)", autorange="reversed")
    return fig


def invariance_markdown(table: dict[str, dict[str, bool]]) -> str:
    """A Markdown table of ``experiments.invariance_table``'s result."""
    cols = list(next(iter(table.values())))
    lines = ["| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for method, row in table.items():
        lines.append(
            f"| **{method}** | " + " | ".join("invariant" if row[c] else "–" for c in cols) + " |"
        )
    return "\n".join(lines)
