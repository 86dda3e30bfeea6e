"""Chapter 15's figures on what the backward pass keeps: bytes per token against the
hidden size for each layer norm (the static face, a menu over three settings) and, for one
hidden size, the three settings side by side (the live face's bars).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ...plotting import PALETTE, axis, legend_row, log_axis, redraw, style, visibility_menu

SETTINGS = {
    "alone": "layer norm alone",
    "block": "layer norm -> linear",
    "folded": "gamma, beta folded into the linear",
}
_COLOURS = (PALETTE["blue"], PALETTE["vermillion"], PALETTE["green"], PALETTE["orange"])
_DASHES = ("solid", "dash", "dot", "dashdot")


def saved_bytes_figure(result: dict) -> go.Figure:
    """Bytes autograd keeps per token against the hidden size D, one line per layer norm;
    a menu picks the setting (:data:`SETTINGS`). ``result``: from
    ``experiments.saved_per_token``."""
    ds = np.asarray(result["ds"])
    savers = list(result["alone"])
    fig = go.Figure()
    for g, setting in enumerate(SETTINGS):
        for i, name in enumerate(savers):
            fig.add_trace(
                go.Scatter(
                    x=ds,
                    y=result[setting][name],
                    name=name,
                    mode="lines+markers",
                    line={"color": _COLOURS[i % 4], "dash": _DASHES[i % 4]},
                    visible=g == 0,
                    showlegend=True,
                    hovertemplate="D = %{x}: %{y:.0f} bytes per token<extra>" + name + "</extra>",
                )
            )
    values = np.concatenate([result[s][n] for s in SETTINGS for n in savers])
    return style(
        fig,
        f"What the backward pass keeps ({result['dtype']})",
        height=460,
        xaxis=axis("hidden size D", **log_axis(ds)),
        yaxis=axis("bytes kept per token", **log_axis(values)),
        legend=legend_row(-0.25),
        updatemenus=[visibility_menu(list(SETTINGS.values()), len(savers), "setting")],
        margin={"t": 110},
    )


def _bar_traces(result: dict) -> list[go.Bar]:
    savers = list(result["alone"])
    return [
        go.Bar(
            x=savers,
            y=[float(result[setting][name][0]) for name in savers],
            name=label,
            marker={"color": _COLOURS[g]},
        )
        for g, (setting, label) in enumerate(SETTINGS.items())
    ]


def live_saved_figure(result: dict) -> go.Figure:
    """The live face: for one hidden size (``result`` of ``saved_per_token`` with one d),
    the bytes each layer norm keeps per token, in the three settings side by side."""
    d = int(np.asarray(result["ds"])[0])
    return style(
        go.Figure(_bar_traces(result)),
        f"Bytes kept per token, D = {d} ({result['dtype']})",
        height=420,
        barmode="group",
        yaxis=axis("bytes kept per token"),
        legend=legend_row(1.02),
    )


def update_saved(fig: go.FigureWidget, result: dict) -> None:
    """Redraw :func:`live_saved_figure` in place for a new result."""
    d = int(np.asarray(result["ds"])[0])
    title = f"Bytes kept per token, D = {d} ({result['dtype']})"
    redraw(fig, _bar_traces(result), title_text=title)
