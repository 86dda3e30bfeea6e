"""Figure builders: results in, ``plotly.graph_objects.Figure`` out. No computing here.

Every figure uses the Okabe-Ito palette (distinguishable with the common forms of colour
blindness), titles its axes with units, and keeps its frames light so a page stays small.
Sliders animate over precomputed frames, so they work on the static site with no kernel.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

# Okabe & Ito (2008), "Color Universal Design".
PALETTE = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}


def _slider(labels: list[str], prefix: str, active: int = 0) -> dict:
    """A slider whose steps jump (no animation) to the frame of the same name."""
    return {
        "active": active,
        "currentvalue": {"prefix": prefix},
        "pad": {"t": 50},
        "steps": [
            {
                "label": label,
                "method": "animate",
                "args": [
                    [label],
                    {
                        "mode": "immediate",
                        "frame": {"duration": 0, "redraw": True},
                        "transition": {"duration": 0},
                    },
                ],
            }
            for label in labels
        ],
    }


def _offset_label(offset: float) -> str:
    return f"{offset:.0e}".replace("e+0", "e").replace("e+", "e")


def variance_pitfall_figure(result: dict[str, np.ndarray], active: int = 0) -> go.Figure:
    """One-pass vs two-pass float32 layer norm, with a slider over the data's offset.

    Left: one example's normalized features (float64 reference, two-pass and one-pass in
    float32). Right: the worst error over the batch against the offset, with a marker at the
    slider's offset.

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
    # Errors are plotted on a log axis: clip exact zeros and replace inf (NaN outputs) by a
    # visible ceiling, so every offset keeps a point.
    ceiling = 1e2
    err1 = np.clip(np.nan_to_num(result["err_one_pass"], posinf=ceiling), 1e-8, ceiling)
    err2 = np.clip(result["err_two_pass"], 1e-8, ceiling)

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
                y=[err2[k], err1[k]],
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
                f"one-pass: {n_off} of {one.size} values off the chart "
                f"(largest |x̂| = {np.nanmax(np.abs(one)):.3g})"
            )
        else:
            text = ""
        return {
            "text": text,
            "xref": "x domain",
            "yref": "y domain",
            "x": 0.02,
            "y": 0.98,
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "top",
            "font": {"color": PALETTE["vermillion"]},
            "bgcolor": "rgba(255,255,255,0.85)",
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
            name="one-pass error",
            mode="lines+markers",
            line={"color": PALETTE["vermillion"], "dash": "dash"},
        ),
        row=1,
        col=2,
    )
    fig.add_trace(frame_traces(active)[3], row=1, col=2)
    # Frames replace only the traces that move: 0-2 (left) and 5 (the marker).
    fig.frames = [
        go.Frame(
            name=label,
            data=frame_traces(k),
            traces=[0, 1, 2, 5],
            layout={"annotations": [off_chart_note(k)]},
        )
        for k, label in enumerate(labels)
    ]
    fig.update_xaxes(title_text="feature index (dimensionless)", row=1, col=1)
    fig.update_yaxes(
        title_text="normalized value x̂ (standard deviations)",
        row=1,
        col=1,
        range=[-y_limit, y_limit],
    )
    fig.update_xaxes(title_text="offset added to every value", type="log", row=1, col=2)
    fig.update_yaxes(title_text="worst |error| of x̂ (NaN drawn at 100)", type="log", row=1, col=2)
    fig.update_layout(
        title={"text": "One-pass vs two-pass variance in float32"},
        sliders=[_slider(labels, "offset: ", active)],
        annotations=[off_chart_note(active)],
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        height=560,
        margin={"t": 110, "b": 40},
        template="plotly_white",
    )
    return fig
