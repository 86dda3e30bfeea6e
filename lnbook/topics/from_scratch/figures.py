"""Chapter 3's figure: why layer norm computes its variance in two passes.

``variance_pitfall_figure`` shows, under a slider over the offset added to the data, one
example normalized three ways (float64, two-pass and one-pass float32) beside the worst
error of each method against the offset; one-pass's catastrophic cancellation turns up as
values off the chart, then NaN. Results come in from ``experiments.variance_pitfall``; the
look and the slider come from ``lnbook.plotting``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ...plotting import PALETTE, fit_range, frame_slider, legend_row, log_axis, step_marker, style


def _offset_label(offset: float) -> str:
    """A readable, unique slider label: 1, 3, 10, 32, 100, 316, 1,000, ..."""
    return f"{offset:,.0f}" if offset >= 1 else f"{offset:.2g}"


def variance_pitfall_figure(result: dict[str, np.ndarray], active: int = 0) -> go.Figure:
    """One-pass vs two-pass float32 layer norm, with a slider over the data's offset.

    Left: one example's normalized features (float64 reference, two-pass and one-pass in
    float32). Right: the worst error over the batch against the offset (for one-pass, over
    the examples that are not NaN; offsets where some examples are NaN are marked above the
    curves), with a marker at the slider's offset.

    Parameters
    ----------
    result : the dict returned by ``experiments.variance_pitfall``
    active : index of the offset shown first

    Returns
    -------
    plotly Figure with one frame per offset
    """
    offsets = result["offsets"]
    labels = [_offset_label(o) for o in offsets]
    features = np.arange(result["x_hat_ref"].shape[1])
    # Errors are plotted on a log axis: lift exact zeros to 1e-8 so every offset keeps a
    # point. NaN outputs are not errors of a size: they get their own markers, drawn above
    # the largest finite error.
    err1 = np.maximum(result["err_one_pass_finite"], 1e-8)
    err2 = np.maximum(result["err_two_pass"], 1e-8)
    nan_share = result["nan_one_pass"]
    nan_level = 10 * float(np.nanmax(np.concatenate([err1, err2])))

    # The float32 methods: key in ``result``, colour and marker symbol.
    methods = (("two_pass", "blue", "circle"), ("one_pass", "vermillion", "x"))

    def frame_traces(k: int) -> list[go.Scatter]:
        return [
            go.Scatter(
                x=features,
                y=result["x_hat_ref"][k],
                name="float64 reference",
                mode="lines",
                line={"color": PALETTE["black"], "width": 1},
            ),
            *(
                go.Scatter(
                    x=features,
                    y=result[f"x_hat_{method}"][k],
                    name=f"{method.replace('_', '-')}, float32",
                    mode="markers",
                    marker={"color": PALETTE[colour], "symbol": symbol},
                )
                for method, colour, symbol in methods
            ),
            step_marker(
                offsets[k],
                [err2[k], err1[k] if np.isfinite(err1[k]) else nan_level],
                [PALETTE[colour] for _, colour, _ in methods],
                size=14,
                name="current offset",
                hoverinfo=None,  # hover on: it reads this offset's errors
            ),
        ]

    y_limit = 4.0  # the left panel shows |x_hat| <= 4; say so when one-pass leaves it

    def off_chart_note(k: int) -> dict:
        one = result["x_hat_one_pass"][k]
        if np.isnan(one).all():
            text = "one-pass: NaN for this example (negative variance)"
        elif (np.abs(one) > y_limit).any():
            n_off = int((np.abs(one) > y_limit).sum())
            text = (
                f"one-pass: {n_off} of {one.size} values off the chart<br>"
                f"(largest |x̂| = {np.nanmax(np.abs(one)):.3g})"
            )
        else:
            text = ""
        # Above the panel, not over its data: no background box is needed (a white one
        # would stay white in a dark theme).
        return {
            "text": text,
            "xref": "x domain",
            "yref": "y domain",
            "x": 0.0,
            "y": 1.01,
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "bottom",
            "align": "left",
            "font": {"color": PALETTE["vermillion"]},
        }

    fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], horizontal_spacing=0.12)
    for trace in frame_traces(active)[:3]:
        fig.add_trace(trace, row=1, col=1)
    # Each method's worst error at every offset, the markers above riding on them.
    one_pass_line = {"color": PALETTE["vermillion"], "dash": "dash"}
    for err, name, line in (
        (err2, "two-pass error", {"color": PALETTE["blue"]}),
        (err1, "one-pass error (examples not NaN)", one_pass_line),
    ):
        trace = go.Scatter(x=offsets, y=err, name=name, mode="lines+markers", line=line)
        fig.add_trace(trace, row=1, col=2)
    has_nan = nan_share > 0
    fig.add_trace(
        go.Scatter(
            x=offsets[has_nan],
            y=np.full(int(has_nan.sum()), nan_level),
            text=[f"{100 * p:.0f}% NaN" for p in nan_share[has_nan]],
            name="one-pass: some examples NaN",
            mode="markers",
            marker={
                "color": PALETTE["vermillion"],
                "symbol": "x-thin-open",
                "size": 10,
                "line": {"width": 2, "color": PALETTE["vermillion"]},
            },
            hovertemplate="offset %{x:,.0f}: %{text}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.add_trace(frame_traces(active)[3], row=1, col=2)
    # Frames replace only the traces that move: 0-2 (left) and 6 (the marker).
    frame_slider(
        fig,
        labels,
        "offset",
        frame_traces,
        active=active,
        traces=[0, 1, 2, 6],
        layout=lambda k: {"annotations": [off_chart_note(k)]},
    )
    fig.update_xaxes(
        title_text="feature index (dimensionless)",
        range=[-0.5, len(features) - 0.5],
        row=1,
        col=1,
    )
    fig.update_yaxes(
        title_text="normalized value x̂ (standard deviations)",
        row=1,
        col=1,
        range=[-y_limit, y_limit],
    )
    # The error panel's marker moves with the slider: fixed ranges that hold every point.
    errors = [err1, err2, [nan_level]]
    fig.update_xaxes(
        title_text="offset added to every value (same units as x)",
        range=fit_range([offsets], log=True),
        **log_axis(offsets),
        row=1,
        col=2,
    )
    fig.update_yaxes(
        title_text="worst |error| of x̂ (standard deviations)",
        range=fit_range(errors, pad=0.08, log=True),
        **log_axis(errors),
        row=1,
        col=2,
    )
    return style(
        fig,
        "One-pass vs two-pass variance in float32",
        height=650,
        annotations=[off_chart_note(active)],
        # Legend above the plots, the off-chart note between it and the left panel.
        legend=legend_row(1.1),
        margin={"t": 180, "b": 40},
    )
