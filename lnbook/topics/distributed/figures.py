"""Chapter 16's figures: who holds what, and the sharded statistics' error and traffic.

``ownership_figure`` (the ranks' parts of an activation under the two splits);
``sharded_stats_figure`` (the static face: each method's variance error against the data's
offset beside the bytes each rank sends per token, a slider over world size and hidden size,
a menu over the precision) and its live face ``live_sharded_stats_figure`` with
``update_sharded_stats``, both drawn from ``sharded_stats_traces``. Results come in from
``experiments.py``; the look and controls from ``lnbook.plotting``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ...plotting import (
    PALETTE,
    fit_range,
    frame_slider,
    legend_row,
    log_axis,
    redraw,
    style,
    visibility_menu,
)

# Each method's colour and the short name its bar carries.
METHOD_STYLE = {
    "naive": (PALETTE["vermillion"], "naive"),
    "chan": (PALETTE["blue"], "Chan"),
    "two_pass": (PALETTE["green"], "two-pass"),
}
RANK_COLOURS = [PALETTE[c] for c in ("blue", "orange", "green", "purple", "sky", "vermillion")]
_FLOOR = 1e-17  # an error of exactly 0 (float64, two-pass) drawn at the bottom of the log axis


def ownership_figure(own: dict) -> go.Figure:
    """Chapter 16: which rank holds each number of an (tokens, features) activation when the
    features are split (tensor parallelism) and when the tokens are (sequence parallelism).

    Parameters
    ----------
    own : ``experiments.ownership``
    """
    # One short line each: side by side on a laptop the halves are 300 px wide (two-line
    # titles side by side would also interleave, line by line, in the PDF's text).
    titles = ("features split: D / P per rank", "tokens split: N / P per rank")
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.08)
    p = int(max(own["hidden"].max(), own["sequence"].max())) + 1
    # A discrete colour scale: rank r fills [r, r + 1) / p.
    scale = []
    for r in range(p):
        scale += [[r / p, RANK_COLOURS[r]], [(r + 1) / p, RANK_COLOURS[r]]]
    for col, key in ((1, "hidden"), (2, "sequence")):
        z = own[key]
        fig.add_trace(
            go.Heatmap(
                z=z + 0.5,
                text=[[f"rank {v}" for v in row] for row in z],
                hovertemplate="token %{y}, feature %{x}: %{text}<extra></extra>",
                colorscale=scale,
                zmin=0,
                zmax=p,
                showscale=col == 1,
                colorbar={
                    "tickvals": [r + 0.5 for r in range(p)],
                    "ticktext": [f"rank {r}" for r in range(p)],
                    "title": "",
                },  # fmt: skip
                xgap=1,
                ygap=1,
            ),
            row=1,
            col=col,
        )
    fig.update_xaxes(title_text="feature", showgrid=False)
    fig.update_yaxes(title_text="token", autorange="reversed", showgrid=False)
    return style(fig, f"Who holds what, {p} ranks", height=380, margin={"t": 100})


def _offset_labels(offsets) -> list[str]:
    return [f"{o:g}" for o in offsets]


def sharded_stats_traces(grid: dict, p: int, i: int, j: int) -> list:
    """Traces of world size index ``p``, hidden size index ``i`` and dtype index ``j`` of
    ``grid`` (``experiments.accuracy_grid``): each method's largest relative variance error
    against the offset (the median over the seeds, bars from the lowest to the highest
    seed), then one bar trace of the bytes per token each rank sends (ring model)."""
    x = _offset_labels(grid["offsets"])
    traces = []
    for k, method in enumerate(grid["methods"]):
        colour, _ = METHOD_STYLE[method]
        err = np.maximum(grid["var_error"][p, i, j, k], _FLOOR)  # (S, O)
        mid, lo, hi = np.median(err, axis=0), err.min(axis=0), err.max(axis=0)
        traces.append(
            go.Scatter(
                x=x,
                y=mid,
                mode="lines+markers",
                name=_label(method),
                line={"color": colour},
                marker={"color": colour, "size": 8},
                error_y={
                    "type": "data",
                    "array": hi - mid,
                    "arrayminus": mid - lo,
                    "color": colour,
                    "visible": err.shape[0] > 1,
                },  # fmt: skip
                hovertemplate=f"{METHOD_STYLE[method][1]}, offset %{{x}}: %{{y:.1e}}"
                "<extra></extra>",
                legendgroup=method,
            )
        )
    ring = grid["ring_bytes"][p, j]  # (method,)
    traces.append(
        go.Bar(
            x=[METHOD_STYLE[m][1] for m in grid["methods"]],
            y=ring,
            text=[f"{b:.3g}" for b in ring],
            textposition="outside",
            marker={"color": [METHOD_STYLE[m][0] for m in grid["methods"]]},
            showlegend=False,
            hovertemplate="%{x}: %{y:.3g} bytes per token<extra></extra>",
            xaxis="x2",
            yaxis="y2",
        )
    )
    return traces


def _label(method: str) -> str:
    return {"naive": "naive: Σx, Σx²", "chan": "Chan: (mean, M2) merged",
            "two_pass": "two-pass: Σx, then Σ(x − μ)²"}[method]  # fmt: skip


def _two_panels(title: str, height: int, bytes_top: float, error_range: list[float]):
    fig = make_subplots(rows=1, cols=2, column_widths=[0.62, 0.38], horizontal_spacing=0.14,
                        subplot_titles=("variance error, worst token",
                                        "bytes a rank sends, per token"))  # fmt: skip
    fig.update_xaxes(title_text="offset of the data (standard deviations)", type="category",
                     row=1, col=1)  # fmt: skip
    fig.update_yaxes(title_text="relative error (log)", range=error_range,
                     **log_axis(10.0 ** np.array(error_range)), row=1, col=1)  # fmt: skip
    fig.update_xaxes(title_text="method", type="category", row=1, col=2)
    fig.update_yaxes(title_text="bytes (ring model)", range=[0, bytes_top], row=1, col=2)
    style(fig, title, height=height, legend=legend_row(-0.3, yanchor="top"),
          margin={"t": 120, "b": 150}, uniformtext={"minsize": 12, "mode": "show"})  # fmt: skip
    return fig


def sharded_stats_figure(grid: dict, active: int = 0) -> go.Figure:
    """Chapter 16: the hidden-sharded norm's statistics three ways, measured on real
    process groups: the variance's error as the data's offset grows (left) and the bytes
    each rank sends per token (right). The slider picks the number of ranks and the hidden
    size, the menu the precision.

    Parameters
    ----------
    grid : ``experiments.accuracy_grid``
    active : the frame shown first, counting world sizes first, then hidden sizes
    """
    combos = [(p, i) for p in range(len(grid["world_sizes"]))
              for i in range(len(grid["d_values"]))]  # fmt: skip
    labels = [f"{grid['world_sizes'][p]} ranks, D = {grid['d_values'][i]}" for p, i in combos]
    n_dtypes = len(grid["dtypes"])
    err = np.maximum(grid["var_error"], _FLOOR)
    error_range = fit_range(err, log=True)
    fig = _two_panels("Sharded statistics: error and traffic", 560,
                      1.25 * float(grid["ring_bytes"].max()), error_range)  # fmt: skip
    p0, i0 = combos[active]
    size = len(grid["methods"]) + 1
    for j in range(n_dtypes):
        for t in sharded_stats_traces(grid, p0, i0, j):
            t.visible = j == 0
            t.showlegend = j == 0 and isinstance(t, go.Scatter)
            fig.add_trace(t, row=1, col=1 if isinstance(t, go.Scatter) else 2)

    def data(k: int) -> list:
        p, i = combos[k]
        return [t for j in range(n_dtypes) for t in sharded_stats_traces(grid, p, i, j)]

    frame_slider(fig, labels, "ranks and hidden size", data, active=active)
    fig.update_layout(updatemenus=[visibility_menu(list(grid["dtypes"]), size, "precision", y=1.1)])
    return fig


def live_sharded_stats_figure(result: dict) -> go.Figure:
    """The live face: one world size, hidden size, precision and seed
    (``experiments.accuracy_sweep``)."""
    fig = _two_panels(_live_title(result), 520,
                      1.25 * float(max(result["ring_bytes"].max(), 8.0)),
                      fit_range(np.maximum(result["var_error"], _FLOOR), log=True))  # fmt: skip
    for t in sharded_stats_traces(result, 0, 0, 0):
        fig.add_trace(t, row=1, col=1 if isinstance(t, go.Scatter) else 2)
    return fig


def _live_title(result: dict) -> str:
    return (f"{result['world_sizes'][0]} ranks, D = {result['d_values'][0]}, "
            f"{result['dtypes'][0]}, seed {result['seeds'][0]}")  # fmt: skip


def update_sharded_stats(fig: go.Figure, result: dict) -> None:
    """Redraw a live accuracy figure in place (the error axis refitted)."""
    err = np.maximum(result["var_error"], _FLOOR)
    lo, hi = fit_range(err, log=True)
    top = 1.25 * float(result["ring_bytes"].max())
    redraw(fig, sharded_stats_traces(result, 0, 0, 0), title_text=_live_title(result),
           yaxis_range=[lo, hi], yaxis2_range=[0, top])  # fmt: skip
