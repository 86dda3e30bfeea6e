"""The plotly look every figure of the book shares, and the controls they are built from.

Every topic's ``figures`` module builds its figures from these pieces, so a figure builder
holds only what is particular to its figure (its traces, its axes' titles and ranges, its
size) and the look is decided once, here:

- colours: ``PALETTE`` (Okabe and Ito's colour-blind-safe eight) and ``TEMPLATE``
  (plotly_white), through ``style``, which every builder calls; ``colour_cycle`` for
  figures with one line per run, ``rgba`` for fills;
- layout: ``style`` (template, a title pinned to the top, the height, and the rest of a
  figure's layout), ``legend_row``, ``axis``, and for axes that frames change
  ``fit_range`` and ``log_axis``;
- controls: ``frame_slider`` (precomputed ``frames`` and a slider that jumps between
  them), ``menu`` (buttons or a drop-down), ``visibility_menu`` (a menu that shows one group of
  traces at a time), ``jump_to``, ``step_marker`` (where the slider stands on a curve);
- the live face: ``redraw``, which a widget calls to move a figure's traces in place.

Why these constraints. The website draws the same JSON as Jupyter, without a kernel: a
slider or button can only animate to precomputed frames (``go.Frame``) or restyle what is
there, and frames do not re-run plotly's autorange, hence the fixed ranges. The site's
``plotly-init.js`` replaces plotly's SVG sliders and menus with HTML controls that it
labels with each control's ``name`` (and a slider's ``currentvalue.prefix``), so every
helper here names its control. In the theme's dark mode that script swaps
``PALETTE["black"]`` and the template's ink, grid and white paper for dark equivalents:
a figure must take its colours from ``PALETTE`` or the template, never a grey of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

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

# The site's dark mode knows this template's ink, grid and paper colours (plotly-init.js):
# change it there too, or dark mode misses them.
TEMPLATE = "plotly_white"


# ---------------------------------------------------------------- colours ----------------


def rgba(colour: str, alpha: float) -> str:
    """A ``PALETTE`` colour ("#RRGGBB") with transparency, for fills."""
    if not isinstance(colour, str) or not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
        raise ValueError(f'colour must be "#RRGGBB", e.g. PALETTE["blue"], got {colour!r}')
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha:g})"


def colour_cycle(*names: str) -> Callable[[int], str]:
    """The colour of a figure's ``i``-th line: these ``PALETTE`` colours in turn, then
    again from the first (for figures with a line per run, whatever the number of runs)."""
    colours = [PALETTE[name] for name in names]
    return lambda i: colours[i % len(colours)]


# ---------------------------------------------------------------- layout -----------------


def style(fig: go.Figure, title: str, *, height: int, **layout) -> go.Figure:
    """Give ``fig`` the book's look: ``TEMPLATE``, ``title`` pinned to the top, ``height``.

    The title sits at the top edge of the figure (not of the plot), so the controls and
    legends placed above the plot never meet it. Keep it short: the site shows it as a
    heading above the figure, where it may wrap to two lines on a phone. ``layout``: the
    rest of this figure's layout (legend, margins, axes...), as ``update_layout`` takes it.
    Returns ``fig``.
    """
    fig.update_layout(
        title={"text": title, "yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 30}},
        height=height,
        template=TEMPLATE,
        **layout,
    )
    return fig


def legend_row(y: float, **more) -> dict:
    """A legend laid out in rows from the left edge, at height ``y`` of the plot (0 its
    bottom, 1 its top, negative below it); above the plot (``y`` > 1) it stands on ``y``.

    ``more``: other legend properties (an explicit ``yanchor``, an ``x``...).
    """
    above = {"yanchor": "bottom"} if y > 1 else {}
    return {"orientation": "h", "x": 0, "y": y, **above, **more}


def axis(title: str, **more) -> dict:
    """An axis titled ``title`` (say what it measures and its unit); ``more``: its other
    properties (a range, ticks...)."""
    return {"title": {"text": title}, **more}


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
    if v.size == 0:  # else NumPy's "zero-size array to reduction operation"
        which = "positive finite" if log else "finite"
        raise ValueError(f"values must hold a {which} number to fit a range to, got {values!r:.80}")
    lo, hi = float(v.min()), float(v.max())
    if tozero and not log:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    margin = pad * (hi - lo) if hi > lo else 0.5
    return [lo if tozero and lo == 0 else lo - margin, hi + margin]


def log_axis(values, **more) -> dict:
    """Properties of a readable log axis over ``values``.

    Plotly labels a log axis that spans few decades at 2 and 5 between them, in a smaller
    font, and those labels collide. Instead: over two and a half decades or more, one
    label per decade (over eight decades, one every 2, 5, 10, ... decades: at most eight
    labels); under that, labels at 1, 2 and 5 times a power of ten, written out in the
    axis's regular font. Minor ticks (unlabelled) mark 2 to 9 or the decades between
    labels, so the axis still reads as logarithmic. ``more``: properties
    that replace these (explicit ``tickvals``, say).
    """
    lo, hi = fit_range(values, pad=0.0, log=True)
    props = {
        "type": "log",
        "exponentformat": "power",
        # Outside tick marks on both, so the labels stand clear of the minor marks.
        "ticks": "outside",
        "ticklen": 6,
        "minor": {"dtick": "D1", "ticks": "outside", "ticklen": 3, "showgrid": False},
    }
    if hi - lo > 8:
        # At most eight labels, every 2, 5, 10, 20... decades (a hidden state that explodes
        # spans seventy); minor marks between them, never 2-9 ones: those would be a comb.
        step = next(s for s in (2, 5, 10, 20, 50, 100, 200) if (hi - lo) / s <= 8)
        props["dtick"] = step
        props["minor"] = {**props["minor"], "dtick": 1 if step <= 5 else step // 5}
    elif hi - lo >= 2.5:
        props["dtick"] = 1
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
        props["tickvals"] = inside
        props["ticktext"] = [f"{g:g}" for g in inside]
    return {**props, **more}


# ---------------------------------------------------------------- controls ---------------


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


def frames(
    labels: Sequence[str],
    data: Callable[[int], list],
    *,
    traces: list[int] | None = None,
    layout: Callable[[int], dict] | None = None,
) -> list[go.Frame]:
    """One frame per label: frame ``k``, named ``labels[k]``, holds ``data(k)``.

    ``traces``: the indices of the figure's traces that ``data(k)`` replaces, in order
    (default: the first ``len(data(k))``); give only the traces that move, the frames are
    most of a page's weight. ``layout``: the layout changes of frame ``k``, if any.
    """
    return [
        go.Frame(name=label, data=data(k), traces=traces, layout=layout(k) if layout else None)
        for k, label in enumerate(labels)
    ]


def frame_slider(
    fig: go.Figure,
    labels: Sequence[str],
    name: str,
    data: Callable[[int], list],
    *,
    active: int = 0,
    traces: list[int] | None = None,
    layout: Callable[[int], dict] | None = None,
) -> go.Figure:
    """Give ``fig`` one frame per label (see ``frames``) and a slider that jumps to them.

    The static face of an interactive: every state is computed beforehand, so the slider
    works on a page without a kernel. ``name`` and ``active``: see ``slider``; the figure's
    own traces should be those of step ``active``. Frames do not re-run autorange: give
    every axis that they move a range that holds every step (``fit_range``). Returns
    ``fig``.
    """
    fig.frames = frames(labels, data, traces=traces, layout=layout)
    fig.update_layout(sliders=[slider(labels, name, active)])
    return fig


def menu(
    labels: Sequence[str],
    args: Sequence[list],
    name: str,
    method: str = "update",
    *,
    dropdown: bool = False,
    **more,
) -> dict:
    """A row of buttons above the plot, or a drop-down; choice i calls ``method`` with
    ``args[i]``.

    Parameters
    ----------
    labels : one label per choice
    args : the arguments of ``method`` for each choice
    name : what the menu chooses, in a few words ("example shown"); the site labels the
        button group or select that replaces this SVG menu with it
    method : the plotly method the choices call ("update", "restyle", "animate"...)
    dropdown : a drop-down instead of buttons, for choices too long to fit a phone's width
        side by side
    more : other menu properties: where it stands (``x``, ``y``, their anchors), the
        choice shown first (``active``)
    """
    return {
        "name": name,
        "type": "dropdown" if dropdown else "buttons",
        "direction": "down" if dropdown else "right",
        "showactive": True,
        "x": 0.0,
        "xanchor": "left",
        "y": 1.04,
        "yanchor": "bottom",
        "buttons": [
            {"label": label, "method": method, "args": a}
            for label, a in zip(labels, args, strict=True)
        ],
        **more,
    }


def group_visibility(n_groups: int, size: int, shared: int = 0) -> list[list[bool]]:
    """For each group g, the ``visible`` of every trace when only group g is shown.

    The figure's traces are ``n_groups`` groups of ``size`` (group g: traces g * size to
    (g + 1) * size - 1), then ``shared`` traces shown with every group.
    """
    return [
        [i // size == g for i in range(n_groups * size)] + [True] * shared for g in range(n_groups)
    ]


def visibility_menu(labels: Sequence[str], size: int, name: str, shared: int = 0, **more) -> dict:
    """A menu whose choice g shows the g-th group of ``size`` traces (see
    ``group_visibility``) and hides the other groups.

    It only restyles ``visible``, which frames never set, so it composes with a
    ``frame_slider``: the slider moves the data of every group, the menu picks the group
    seen. The figure's traces should start visible as group 0 (or ``more``'s ``active``).
    ``more``: see ``menu``.
    """
    visible = group_visibility(len(labels), size, shared)
    return menu(labels, [[{"visible": v}] for v in visible], name, "restyle", **more)


def step_marker(
    x: float, ys: Sequence[float], colours: Sequence[str], *, size: int = 13, **more
) -> go.Scatter:
    """Markers at the slider's step on curves drawn in full (one per curve, at ``x``).

    Filled with each curve's colour and ringed in ink, so they stand out of their curve;
    kept out of the legend and the hover (the curve below says the same). ``more``: other
    trace properties (a name...).
    """
    return go.Scatter(
        **{
            "x": [x] * len(ys),
            "y": ys,
            "mode": "markers",
            "showlegend": False,
            "hoverinfo": "skip",
            "marker": {
                "size": size,
                "color": colours,
                "line": {"color": PALETTE["black"], "width": 2},
            },
            **more,
        }
    )


# ---------------------------------------------------------------- traces -----------------


def band(x, low, high, colour: str, lower: dict | None = None, **upper) -> list[go.Scatter]:
    """A shaded band between two curves: the lower edge, then the upper filled down to it.

    ``lower`` and ``upper``: more properties of each edge's trace (a name, hover text...).
    """
    edge = {"mode": "lines", "line": {"width": 0, "color": colour}, "hoverinfo": "skip"}
    return [
        go.Scatter(x=x, y=low, **{**edge, "showlegend": False, **(lower or {})}),
        go.Scatter(x=x, y=high, fill="tonexty", opacity=0.3, **{**edge, **upper}),
    ]


# ---------------------------------------------------------------- the live face ----------

# What a redraw moves: a trace's data and its labels (its style stays).
_REDRAWN = ("x", "y", "text", "name", "marker.color")


def redraw(fig: go.Figure, traces: list, **layout) -> None:
    """Redraw a live figure in place: its traces take the data of ``traces`` (the same
    traces, newly computed, in the same order), its layout the changes ``layout`` (as
    ``update_layout`` takes them: ``yaxis_range=...``).

    A widget calls this on every change of a control. In place, in one message to the
    browser (``batch_update``), and only what changed: the figure does not flicker, and
    keeps the reader's zoom. Of each trace it copies the positions, the texts and names,
    and the markers' colours where the new trace sets them (``_REDRAWN``).
    """
    with fig.batch_update():
        for trace, new in zip(fig.data, traces, strict=True):
            for prop in _REDRAWN:
                value = new[prop]
                if value is not None:
                    trace[prop] = value
        fig.update_layout(**layout)
