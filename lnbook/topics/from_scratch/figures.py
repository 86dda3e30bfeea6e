"""DOCSTRING from_scratch:figures"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ...plotting import PALETTE, fit_range, layout_title, log_axis, slider


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
    result : the dict returned by ``lnbook.experiments.variance_pitfall``
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

    def frame_traces(k: int) -> list[go.Scatter]:
        return [
            go.Scatter(
                x=features,
                y=result["x_hat_ref"][k],
                name="float64 reference",
                mode="lines",
                line={"color": PALETTE["black"], "width": 1},
            ),
            go.Scatter(
                x=features,
                y=result["x_hat_two_pass"][k],
                name="two-pass, float32",
                mode="markers",
                marker={"color": PALETTE["blue"], "symbol": "circle"},
            ),
            go.Scatter(
                x=features,
                y=result["x_hat_one_pass"][k],
                name="one-pass, float32",
                mode="markers",
                marker={"color": PALETTE["vermillion"], "symbol": "x"},
            ),
            go.Scatter(
                x=[offsets[k]] * 2,
                y=[err2[k], err1[k] if np.isfinite(err1[k]) else nan_level],
                mode="markers",
                name="current offset",
                showlegend=False,
                marker={
                    "color": [PALETTE["blue"], PALETTE["vermillion"]],
                    "size": 14,
                    "line": {"color": PALETTE["black"], "width": 2},
                },
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
    fig.add_trace(
        go.Scatter(
            x=offsets,
            y=err2,
            name="two-pass error",
            mode="lines+markers",
            line={"color": PALETTE["blue"]},
        ),
        row=1,
        col=2,
    )
    fig.add_trace(
        go.Scatter(
            x=offsets,
            y=err1,
            name="one-pass error (examples not NaN)",
            mode="lines+markers",
            line={"color": PALETTE["vermillion"], "dash": "dash"},
        ),
        row=1,
        col=2,
    )
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
    fig.frames = [
        go.Frame(
            name=label,
            data=frame_traces(k),
            traces=[0, 1, 2, 6],
            layout={"annotations": [off_chart_note(k)]},
        )
        for k, label in enumerate(labels)
    ]
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
    fig.update_layout(
        title=layout_title("One-pass vs two-pass variance in float32"),
        sliders=[slider(labels, "offset", active)],
        annotations=[off_chart_note(active)],
        # Legend above the plots, the off-chart note between it and the left panel.
        legend={"orientation": "h", "x": 0, "y": 1.1, "yanchor": "bottom"},
        height=650,
        margin={"t": 180, "b": 40},
        template="plotly_white",
    )
    return fig
