"""DOCSTRING plotting"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

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


def jump_to(frame: str) -> list:
    """``animate`` arguments that jump to ``frame`` at once (no tween, full redraw)."""
    return [
        [frame],
        {
            "mode": "immediate",
            "frame": {"duration": 0, "redraw": True},
            "transition": {"duration": 0},
        },
    ]


def slider(labels: list[str], name: str, active: int = 0) -> dict:
    """A slider whose steps jump to the frame of the same name.

    Parameters
    ----------
    labels : one label per step, each the name of a frame
    name : what the slider chooses, in a few words ("number of layers"); the site labels
        its own range input with it, and the slider shows it as "name: value"
    active : index of the step shown first
    """
    return {
        "name": name,
        "active": active,
        "currentvalue": {"prefix": f"{name}: "},
        "pad": {"t": 50},
        "steps": [
            {"label": label, "method": "animate", "args": jump_to(label)} for label in labels
        ],
    }


def rgba(colour: str, alpha: float) -> str:
    """A ``PALETTE`` colour ("#RRGGBB") with transparency, for fills."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha:g})"


def _flat(values) -> np.ndarray:
    """Every number in ``values``: an array, a number, or lists of them (ragged too)."""
    if isinstance(values, (list, tuple)):
        parts = [_flat(v) for v in values]
        return np.concatenate(parts) if parts else np.array([])
    return np.ravel(np.asarray(values, dtype=float))


def fit_range(values, pad: float = 0.05, tozero: bool = False, log: bool = False) -> list[float]:
    """An axis range that holds every finite value of ``values`` (see ``_flat``), with a
    margin of ``pad`` times the span on either side.

    Frames do not re-run plotly's autorange, so an axis whose data a slider moves needs a
    range that fits every step. ``log``: the range of a log axis, in decades (log10), as
    plotly expects it; only positive values count.
    """
    v = _flat(values)
    v = v[np.isfinite(v)]
    if log:
        v = np.log10(v[v > 0])
    lo, hi = float(v.min()), float(v.max())
    if tozero and not log:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    margin = pad * (hi - lo) if hi > lo else 0.5
    return [lo if tozero and lo == 0 else lo - margin, hi + margin]


def log_axis(values, **more) -> dict:
    """Properties of a readable log axis over ``values``.

    Plotly labels a log axis that spans few decades at 2 and 5 between them, in a smaller
    font, and those labels collide. Instead: over two and a half decades or more, one
    label per decade (or every other decade, over eight); under that, labels at 1, 2 and 5
    times a power of ten, written out in the axis's regular font. Minor ticks (unlabelled)
    mark 2 to 9 either way, so the axis still reads as logarithmic. ``more``: properties
    that replace these (explicit ``tickvals``, say).
    """
    lo, hi = fit_range(values, pad=0.0, log=True)
    axis = {
        "type": "log",
        "exponentformat": "power",
        # Outside tick marks on both, so the labels stand clear of the minor marks.
        "ticks": "outside",
        "ticklen": 6,
        "minor": {"dtick": "D1", "ticks": "outside", "ticklen": 3, "showgrid": False},
    }
    if hi - lo > 8:
        # Every other decade labelled, the others marked: 2-9 marks there would be a comb.
        axis["dtick"] = 2
        axis["minor"] = {**axis["minor"], "dtick": 1}
    elif hi - lo >= 2.5:
        axis["dtick"] = 1
    else:
        grid = [m * 10.0**k for k in range(int(np.floor(lo)) - 1, int(np.ceil(hi)) + 1)
                for m in (1, 2, 5)]  # fmt: skip
        # The labelled values inside the data, plus one on either side when they fall
        # just outside (the axis extends a little beyond the data).
        inside = [g for g in grid if lo - 0.15 <= np.log10(g) <= hi + 0.15]
        if len(inside) < 3:  # under half a decade: every digit
            grid = [m * 10.0**k for k in range(int(np.floor(lo)) - 1, int(np.ceil(hi)) + 1)
                    for m in range(1, 10)]  # fmt: skip
            inside = [g for g in grid if lo - 0.05 <= np.log10(g) <= hi + 0.05]
        axis["tickvals"] = inside
        axis["ticktext"] = [f"{g:g}" for g in inside]
    return {**axis, **more}


def copy_traces(fig: go.Figure, new: list) -> None:
    """Give ``fig``'s traces the data of ``new`` (same order), for in-place live updates."""
    for trace, t in zip(fig.data, new, strict=True):
        trace.x, trace.y = t.x, t.y
        if t.text is not None:
            trace.text = t.text


def layout_title(text: str) -> dict:
    """A figure title pinned to the top edge, so controls and legends below it never meet it.

    Keep it short: the site shows it as a heading above the figure, where it may wrap to
    two lines on a phone.
    """
    return {"text": text, "yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 30}}


def button_row(labels: list[str], args: list[list], name: str, method: str = "update") -> dict:
    """A row of buttons above the plot; button i calls ``method`` with ``args[i]``.

    Parameters
    ----------
    labels : one label per button
    args : the arguments of ``method`` for each button
    name : what the buttons choose, in a few words ("example shown"); the site labels
        the button group that replaces these SVG buttons with it
    method : the plotly method the buttons call
    """
    return {
        "name": name,
        "type": "buttons",
        "direction": "right",
        "showactive": True,
        "x": 0.0,
        "xanchor": "left",
        "y": 1.04,
        "yanchor": "bottom",
        "buttons": [
            {"label": label, "method": method, "args": a}
            for label, a in zip(labels, args, strict=True)
        ],
    }


def band(x, low, high, colour: str, lower: dict | None = None, **upper) -> list[go.Scatter]:
    """A shaded band between two curves: the lower edge, then the upper filled down to it.

    ``lower`` and ``upper``: more properties of each edge's trace (a name, hover text...).
    """
    edge = {"mode": "lines", "line": {"width": 0, "color": colour}, "hoverinfo": "skip"}
    return [
        go.Scatter(x=x, y=low, **{**edge, "showlegend": False, **(lower or {})}),
        go.Scatter(x=x, y=high, fill="tonexty", opacity=0.3, **{**edge, **upper}),
    ]
