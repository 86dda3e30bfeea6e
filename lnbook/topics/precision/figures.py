"""Chapter 15's figures on reduced precision: results in, plotly figures out.

``statistics_error_figure`` (the error of the variance and of layer norm's output against
the hidden size, a slider over the rows' offset and buttons over the dtype: the static
face), ``live_statistics_figure`` and ``update_statistics`` (the same traces for one dtype,
offset and seed: the live face), ``overflow_figure`` (float16's sum of squares against the
rows' spread) and ``tiny_variance_figure`` (the output's spread for rows of tiny spread,
buttons over eps). Results come from ``experiments.py``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ...plotting import (
    PALETTE,
    axis,
    band,
    frame_slider,
    legend_row,
    log_axis,
    redraw,
    style,
    visibility_menu,
)

# One colour per way of computing the statistics, in every figure of the section.
METHOD_COLOURS = {
    "one-pass, in the dtype": PALETTE["vermillion"],
    "two-pass, in the dtype": PALETTE["orange"],
    "one-pass, float32": PALETTE["purple"],
    "two-pass, float32": PALETTE["blue"],
}
# Errors drawn on log axes: inf or NaN at the top (CAP), an exact 0 at the bottom (LOW).
CAP, LOW = 1e2, 1e-9
PANELS = (("var_err", "variance, relative error"), ("out_err", "output, largest error"))


def _shown(err: np.ndarray) -> np.ndarray:
    """Errors as drawn: inf/NaN at CAP, 0 at LOW, the rest as they are (clipped to both)."""
    err = np.where(np.isfinite(err), err, CAP)
    return np.clip(err, LOW, CAP)


def _offset_label(offset: float) -> str:
    return f"{offset:g}"


def _statistics_traces(result: dict, k: int) -> list[dict]:
    """Every trace of one dtype at offset index ``k``: per method and panel the seeds'
    median, with error bars from their minimum to their maximum; then the floor (the
    output panel). Plain dicts (scatter traces): plotly validates them once, in the figure
    or the frame that takes them, which halves the time of building the frames."""
    ds = result["ds"]
    traces = []
    for m, method in enumerate(result["methods"]):
        colour = METHOD_COLOURS[method]
        for p, (key, _) in enumerate(PANELS):
            err = _shown(result[key][m, :, k, :])  # (seeds, ds)
            mid, low, high = np.median(err, axis=0), err.min(axis=0), err.max(axis=0)
            text = ["inf or NaN" if v >= CAP else f"{v:.2g}" for v in mid]
            traces.append(
                dict(
                    type="scatter",
                    x=ds,
                    y=mid,
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": high - mid,
                        "arrayminus": mid - low,
                        "color": colour,
                        "thickness": 1,
                    },
                    mode="lines+markers",
                    name=method,
                    legendgroup=method,
                    showlegend=p == 0,
                    line={"color": colour, "dash": "dot" if "one-pass" in method else "solid"},
                    text=text,
                    hovertemplate="D = %{x}: %{text}",
                    xaxis=f"x{p + 1 if p else ''}",
                    yaxis=f"y{p + 1 if p else ''}",
                )
            )
    traces.append(
        dict(
            type="scatter",
            x=ds,
            y=_shown(result["floor"][:, k, :].max(axis=0)),
            mode="lines",
            name="exact output rounded to the dtype",
            line={"color": PALETTE["black"], "dash": "dash", "width": 1},
            xaxis="x2",
            yaxis="y2",
        )
    )
    return traces


def _statistics_layout(fig: go.Figure, title: str, ds, slider: bool = True) -> go.Figure:
    decades = [np.log10(LOW) - 0.2, np.log10(CAP) + 0.2]
    x_range = [np.log10(min(ds)) - 0.1, np.log10(max(ds)) + 0.1]
    ticks = {"tickvals": list(ds), "ticktext": [str(d) for d in ds]}
    for p, (_, name) in enumerate(PANELS):
        fig.update_xaxes(
            axis("hidden size D (log)", **log_axis(ds, range=x_range, **ticks)), row=1, col=p + 1
        )
        fig.update_yaxes(
            axis(f"{name} (log; top: inf or NaN)", **log_axis([LOW, CAP], range=decades)),
            row=1,
            col=p + 1,
        )
    # Below the plot: the legend, and under the static face's slider.
    height, legend_y = (640, -0.62) if slider else (520, -0.25)
    return style(fig, title, height=height, legend=legend_row(legend_y))


def statistics_error_figure(results: dict[str, dict], active: int = 0) -> go.Figure:
    """Chapter 15: error of the variance and of the output against D, per dtype and offset.

    Parameters
    ----------
    results : dtype name -> ``experiments.statistics_error(dtype, ...)``, all with the same
        ``ds``, ``offsets`` and methods
    active : the offset index shown first
    """
    names = list(results)
    first = results[names[0]]
    offsets = first["offsets"]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.2)
    groups = [_statistics_traces(results[n], active) for n in names]
    size = len(groups[0])
    fig.add_traces([{**t, "visible": g == 0} for g, traces in enumerate(groups) for t in traces])

    def frame(k: int) -> list:
        return [t for n in names for t in _statistics_traces(results[n], k)]

    frame_slider(
        fig,
        [_offset_label(o) for o in offsets],
        "offset (mean / std of the rows)",
        frame,
        active=active,
    )
    fig.update_layout(
        updatemenus=[visibility_menu(names, size, "input dtype")],
    )
    return _statistics_layout(fig, "Layer norm's statistics in half precision", first["ds"])


def live_statistics_figure(result: dict) -> go.Figure:
    """The live face: :func:`statistics_error_figure`'s traces for one dtype and offset."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.2)
    fig.add_traces(_statistics_traces(result, 0))
    return _statistics_layout(fig, _live_title(result), result["ds"], slider=False)


def _live_title(result: dict) -> str:
    return f"{result['dtype']}, offset {result['offsets'][0]:g}, seed {result['seeds'][0]}"


def update_statistics(fig: go.FigureWidget, result: dict) -> None:
    """Redraw :func:`live_statistics_figure` in place for a new result."""
    traces = [go.Scatter(t) for t in _statistics_traces(result, 0)]
    redraw(fig, traces, title_text=_live_title(result))


def overflow_figure(result: dict) -> go.Figure:
    """Chapter 15: float16 layer norm of rows of growing spread (``experiments.overflow``):
    the fraction of rows whose sum of squares overflows, and of the naive output that is
    exactly 0, with float32 statistics beside them (min-max over the seeds)."""
    scales = result["scales"]
    fig = go.Figure()
    for key, name, colour in (
        ("sumsq_inf", "sum of squares = inf (float16)", PALETTE["vermillion"]),
        ("naive_zero", "naive output exactly 0", PALETTE["orange"]),
        ("f32_nonfinite", "float32 statistics: output not finite", PALETTE["blue"]),
    ):
        values = result[key]
        for t in band(scales, values.min(axis=0), values.max(axis=0), colour, showlegend=False):
            fig.add_trace(t)
        fig.add_trace(
            go.Scatter(
                x=scales,
                y=values.mean(axis=0),
                mode="lines+markers",
                name=name,
                line={"color": colour},
            )
        )
    threshold = float(np.sqrt(65504.0 / result["d"]))
    fig.add_vline(x=threshold, line={"color": PALETTE["black"], "dash": "dash", "width": 1})
    return style(
        fig,
        f"float16 overflow, D = {result['d']}",
        height=420,
        xaxis=axis("spread of the rows, std (log)", **log_axis(scales)),
        yaxis=axis("fraction of rows (band: seeds)", range=[-0.05, 1.05]),
        legend=legend_row(-0.3),
    )


def _seed_mean(values: np.ndarray) -> np.ndarray:
    """The mean over the seeds (axis 0), NaN where any seed's value is not finite."""
    finite = np.isfinite(values).all(axis=0)
    return np.where(finite, np.where(np.isfinite(values), values, 0).mean(axis=0), np.nan)


def tiny_variance_figure(result: dict) -> go.Figure:
    """Chapter 15: the output's spread for rows of tiny spread in float16
    (``experiments.tiny_variance``), exactly, naively and with float32 statistics; one
    button per eps. NaN outputs leave gaps."""
    stds = result["stds"]
    labels = [f"eps = {e:g}" for e in result["eps_values"]]
    fig = go.Figure()
    lines = (
        ("exact", "exact (float64)", PALETTE["black"], "dash"),
        ("naive", "every step in float16", PALETTE["orange"], "solid"),
        ("float32_stats", "float32 statistics", PALETTE["blue"], "dot"),
    )
    for e in range(len(labels)):
        for key, name, colour, dash in lines:
            fig.add_trace(
                go.Scatter(
                    x=stds,
                    y=_seed_mean(result[key][e]),
                    mode="lines+markers",
                    name=name,
                    visible=e == 0,
                    line={"color": colour, "dash": dash},
                )
            )
    values = np.concatenate([result[k].ravel() for k, *_ in lines])
    values = values[np.isfinite(values) & (values > 0)]
    return style(
        fig,
        "Rows of tiny spread in float16",
        height=420,
        xaxis=axis("spread of the row, std (log)", **log_axis(stds)),
        yaxis=axis(
            "spread of the output (log; gaps: NaN)",
            **log_axis(values, range=[np.log10(values.min()) - 0.2, np.log10(values.max()) + 0.2]),
        ),
        legend=legend_row(-0.3),
        updatemenus=[visibility_menu(labels, len(lines), "eps")],
    )
