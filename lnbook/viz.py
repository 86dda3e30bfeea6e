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


def _jump_to(frame: str) -> list:
    """``animate`` arguments that jump to ``frame`` at once (no tween, full redraw)."""
    return [
        [frame],
        {
            "mode": "immediate",
            "frame": {"duration": 0, "redraw": True},
            "transition": {"duration": 0},
        },
    ]


def _slider(labels: list[str], name: str, active: int = 0) -> dict:
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
            {"label": label, "method": "animate", "args": _jump_to(label)} for label in labels
        ],
    }


def _rgba(colour: str, alpha: float) -> str:
    """A ``PALETTE`` colour ("#RRGGBB") with transparency, for fills."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha:g})"


def _flat(values) -> np.ndarray:
    """Every number in ``values``: an array, a number, or lists of them (ragged too)."""
    if isinstance(values, (list, tuple)):
        parts = [_flat(v) for v in values]
        return np.concatenate(parts) if parts else np.array([])
    return np.ravel(np.asarray(values, dtype=float))


def _fit(values, pad: float = 0.05, tozero: bool = False, log: bool = False) -> list[float]:
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


def _log_axis(values, **more) -> dict:
    """Properties of a readable log axis over ``values``.

    Plotly labels a log axis that spans few decades at 2 and 5 between them, in a smaller
    font, and those labels collide. Instead: over two and a half decades or more, one
    label per decade (or every other decade, over eight); under that, labels at 1, 2 and 5
    times a power of ten, written out in the axis's regular font. Minor ticks (unlabelled)
    mark 2 to 9 either way, so the axis still reads as logarithmic. ``more``: properties
    that replace these (explicit ``tickvals``, say).
    """
    lo, hi = _fit(values, pad=0.0, log=True)
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


def _copy_traces(fig: go.Figure, new: list) -> None:
    """Give ``fig``'s traces the data of ``new`` (same order), for in-place live updates."""
    for trace, t in zip(fig.data, new, strict=True):
        trace.x, trace.y = t.x, t.y
        if t.text is not None:
            trace.text = t.text


def _title(text: str) -> dict:
    """A figure title pinned to the top edge, so controls and legends below it never meet it.

    Keep it short: the site shows it as a heading above the figure, where it may wrap to
    two lines on a phone.
    """
    return {"text": text, "yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 30}}


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
        range=_fit([offsets], log=True),
        **_log_axis(offsets),
        row=1,
        col=2,
    )
    fig.update_yaxes(
        title_text="worst |error| of x̂ (standard deviations)",
        range=_fit(errors, pad=0.08, log=True),
        **_log_axis(errors),
        row=1,
        col=2,
    )
    fig.update_layout(
        title=_title("One-pass vs two-pass variance in float32"),
        sliders=[_slider(labels, "offset", active)],
        annotations=[off_chart_note(active)],
        # Legend above the plots, the off-chart note between it and the left panel.
        legend={"orientation": "h", "x": 0, "y": 1.1, "yanchor": "bottom"},
        height=650,
        margin={"t": 180, "b": 40},
        template="plotly_white",
    )
    return fig


# ---------------------------------------------------------------- chapter 1 -------------


def _buttons(labels: list[str], args: list[list], name: str, method: str = "update") -> dict:
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


def batch_stats_figure(x: np.ndarray, stats: dict[str, np.ndarray]) -> go.Figure:
    """A batch as an examples x features heat map, with each example's mean and std.

    Two buttons switch between the batch before and after layer norm.

    Parameters
    ----------
    x : (N, D) the batch
    stats : from ``lnbook.experiments.row_statistics(x)``
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
    fig.add_trace(
        go.Scatter(
            x=m0,
            y=examples,
            mode="markers",
            name="mean",
            marker={"color": PALETTE["blue"], "size": 9, "symbol": "circle"},
        ),
        row=1,
        col=2,
    )
    fig.add_trace(
        go.Scatter(
            x=s0,
            y=examples,
            mode="markers",
            name="standard deviation",
            marker={"color": PALETTE["orange"], "size": 9, "symbol": "diamond"},
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
    fig.update_layout(
        title=_title("A batch of activations, before layer norm"),
        updatemenus=[_buttons(list(views), args, "batch shown")],
        legend={"orientation": "h", "x": 0.7, "y": -0.12},
        height=540,
        margin={"t": 130},
        template="plotly_white",
    )
    fig.update_xaxes(title_text="feature index (dimensionless)", row=1, col=1)
    fig.update_yaxes(title_text="example (row of the batch)", range=[n - 0.5, -0.5], row=1, col=1)
    fig.update_xaxes(title_text="per-example statistic (activation units)", row=1, col=2)
    return fig


def handwriting_figure(result: dict[str, np.ndarray]) -> go.Figure:
    """The same digit written with different pens (top) and after layer norm (bottom).

    Parameters
    ----------
    result : from ``lnbook.experiments.handwriting``
    """
    pens = result["pens"]
    p = len(pens)
    titles = [f"pressure {a:g}<br>background {b:g}" for a, b in pens] + [""] * p
    fig = make_subplots(
        rows=2, cols=p, subplot_titles=titles, vertical_spacing=0.1, horizontal_spacing=0.02
    )
    fig.update_annotations(font_size=14)  # two lines over narrow panels: 14 of 16 px
    lo, hi = result["written"].min(), result["written"].max()
    nlo, nhi = result["normalized"].min(), result["normalized"].max()
    for i in range(p):
        fig.add_trace(
            go.Heatmap(
                z=result["written"][i],
                coloraxis="coloraxis",
                hovertemplate="%{z:.2f}<extra>as written</extra>",
            ),
            row=1,
            col=i + 1,
        )
        fig.add_trace(
            go.Heatmap(
                z=result["normalized"][i],
                coloraxis="coloraxis2",
                hovertemplate="%{z:.2f}<extra>after layer norm</extra>",
            ),
            row=2,
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
    fig.update_layout(
        title=_title(f"One digit, {p} pens: as written (top),<br>after layer norm (bottom)"),
        coloraxis={
            "colorscale": "Greys",
            "cmin": lo,
            "cmax": hi,
            "colorbar": {"title": "ink", "y": 0.75, "len": 0.42},
        },
        coloraxis2={
            "colorscale": "Greys",
            "cmin": nlo,
            "cmax": nhi,
            "colorbar": {"title": "x̂", "y": 0.22, "len": 0.42},
        },
        height=470,
        margin={"t": 140, "b": 20},
        template="plotly_white",
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
    return [
        go.Bar(
            x=idx,
            y=x,
            name="features",
            marker={"color": PALETTE["sky"]},
            xaxis="x",
            yaxis="y",
            showlegend=False,
        ),
        go.Scatter(
            x=[-0.5, len(x) - 0.5, len(x) - 0.5, -0.5, -0.5],
            y=[m - s, m - s, m + s, m + s, m - s],
            fill="toself",
            mode="lines",
            line={"color": PALETTE["orange"], "width": 1},
            fillcolor=_rgba(PALETTE["orange"], 0.15),
            name="mean ± std",
            xaxis="x",
            yaxis="y",
            showlegend=False,
            hoverinfo="skip",
        ),
        go.Scatter(
            x=[-0.5, len(x) - 0.5],
            y=[m, m],
            mode="lines",
            name="mean",
            line={"color": PALETTE["orange"], "width": 3},
            xaxis="x",
            yaxis="y",
            showlegend=False,
        ),
        go.Bar(
            x=idx,
            y=x_hat,
            name="normalized",
            marker={"color": PALETTE["blue"]},
            xaxis="x2",
            yaxis="y2",
            showlegend=False,
        ),
        # The statistics as text, on the top edge of the right panel and drawn above it
        # (not clipped), so no bar can run under them.
        go.Scatter(
            x=[(n_features - 1) / 2],
            y=[_XHAT_LIMIT],
            mode="text",
            text=[note],
            textposition="top center",
            cliponaxis=False,
            xaxis="x2",
            yaxis="y2",
            showlegend=False,
            hoverinfo="skip",
            textfont={"size": 13},
        ),
    ]


def _explorer_layout(fig: go.Figure, title: str, n_features: int) -> None:
    # Fixed feature axes, so dropping features shows as shorter rows, not a zoom.
    x_range = [-0.5, n_features - 0.5]
    fig.update_layout(
        title=_title(title),
        xaxis={
            "domain": [0, 0.42],
            "title": {"text": "feature index (dimensionless)"},
            "range": x_range,
        },
        yaxis={"title": {"text": "feature value (activation units)"}},
        # The gap between the panels holds the right panel's axis title and ticks, clear of
        # the left panel's last bar.
        xaxis2={
            "domain": [0.6, 1],
            "title": {"text": "feature index (dimensionless)"},
            "anchor": "y2",
            "range": x_range,
        },
        yaxis2={
            "title": {"text": "x̂ (standard deviations)"},
            "range": [-_XHAT_LIMIT, _XHAT_LIMIT],
            "anchor": "x2",
        },
        bargap=0.15,
        height=560,
        margin={"t": 160},
        template="plotly_white",
    )


def example_explorer_figure(
    results: list[list[dict]], scene_labels: list[str], example_labels: list[str]
) -> go.Figure:
    """The chapter 1 explorer, static face: buttons pick the example, a slider the scene.

    Parameters
    ----------
    results : ``results[scene][example]``, from ``lnbook.experiments.explore_scenes``
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

    fig.frames = [
        go.Frame(
            name=label,
            data=[t for e in range(n_ex) for t in explorer_traces(results[k][e], n_features)],
        )
        for k, label in enumerate(scene_labels)
    ]
    visible = [[i // per == e for i in range(n_ex * per)] for e in range(n_ex)]
    _explorer_layout(fig, "One example before (left) and after (right) layer norm", n_features)
    fig.update_layout(
        yaxis={"range": y_range},
        updatemenus=[
            {
                **_buttons(
                    example_labels,
                    [[{"visible": v}] for v in visible],
                    "example shown",
                    method="restyle",
                ),
                "y": 1.17,  # above the statistics over the right panel
            }
        ],
        sliders=[_slider(scene_labels, "scene")],
    )
    return fig


def _live_value_range(result: dict) -> list[float]:
    """The live explorer's value axis: the features, zero and the mean ± std band.

    The live controls reach any value, so there the value axis follows the data; the band
    counts too, since with a few large features it reaches past them (x = 0, 0, 0, 10:
    mean 2.5, std 4.3, band from -1.8).
    """
    m, s = result["mean"], result["std"]
    return _fit([result["x"], [m - s, m + s]], pad=0.1, tozero=True)


def update_example_explorer(fig: go.Figure, result: dict) -> None:
    """Redraw the live explorer (a one-example figure) in place for a new ``result``."""
    lo, hi = fig.layout.xaxis.range  # the feature axis, fixed at -0.5 .. n_features - 0.5
    new = explorer_traces(result, n_features=round(hi - lo))
    with fig.batch_update():
        _copy_traces(fig, new)
        fig.layout.yaxis.range = _live_value_range(result)


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
    result : from ``lnbook.experiments.axis_contrast``
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
    fig.update_layout(
        title=_title("Normalized by layer norm: each example (row)"),
        updatemenus=[
            _buttons(
                list(views),
                [
                    [{"z": [z]}, {"title.text": f"Normalized by {label}"}]
                    for label, z in views.items()
                ],
                "normalization",
            )
        ],
        height=480,
        margin={"t": 130},
        template="plotly_white",
    )
    fig.update_xaxes(title_text="feature index (dimensionless)")
    fig.update_yaxes(title_text="example (row of the batch)", autorange="reversed")
    return fig


def invariance_markdown(table: dict[str, dict[str, bool]]) -> str:
    """A Markdown table of ``lnbook.experiments.invariance_table``'s result."""
    cols = list(next(iter(table.values())))
    lines = ["| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for method, row in table.items():
        lines.append(
            f"| **{method}** | " + " | ".join("invariant" if row[c] else "–" for c in cols) + " |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- chapter 2 -------------


def gamma_beta_traces(hist: dict[str, np.ndarray], s: int) -> list[go.Bar | go.Scatter]:
    """Traces of the chapter 2 distribution view for setting ``s`` (shared by both faces)."""
    centers = hist["centers"]
    width = float(centers[1] - centers[0])
    m, sd = float(hist["mean"][s]), float(hist["std"][s])
    return [
        go.Bar(
            x=centers,
            y=hist["batch"][s],
            width=width,
            name="whole batch",
            marker={"color": PALETTE["sky"]},
            opacity=0.75,
        ),
        go.Bar(
            x=centers,
            y=hist["example"][s],
            width=width,
            name="one example",
            marker={"color": PALETTE["vermillion"]},
            opacity=0.75,
        ),
        go.Scatter(
            x=[m, m],
            y=[0, 1],
            mode="lines",
            name="example's mean",
            line={"color": PALETTE["black"], "dash": "dash"},
            yaxis="y2",
        ),
        # Just above the plot (not clipped), where no bar can reach it.
        go.Scatter(
            x=[float(hist["edges"][0])],
            y=[1.0],
            mode="text",
            textposition="top right",
            cliponaxis=False,
            yaxis="y2",
            showlegend=False,
            text=[f"example: mean {round(m, 2) + 0.0:.2f}, std {sd:.2f}"],
            hoverinfo="skip",
        ),
    ]


def _gamma_beta_layout(fig: go.Figure, edges: np.ndarray) -> None:
    fig.update_layout(
        title=_title("Output of layer norm, y = γ·x̂ + β"),
        barmode="overlay",
        xaxis={
            "title": {"text": "output value y (activation units; end bins include beyond)"},
            "range": [float(edges[0]), float(edges[-1])],
        },
        yaxis={"title": {"text": "fraction of values per bin"}, "rangemode": "tozero"},
        yaxis2={"overlaying": "y", "range": [0, 1], "visible": False},
        # The legend over the example's statistics, which sit just above the plot.
        legend={"orientation": "h", "x": 0, "y": 1.1, "yanchor": "bottom"},
        height=500,
        margin={"t": 130},
        template="plotly_white",
    )


def gamma_beta_figure(hist: dict[str, np.ndarray], labels: list[str]) -> go.Figure:
    """Chapter 2, static face: a slider over (gamma, beta) settings.

    Parameters
    ----------
    hist : from ``lnbook.experiments.affine_histograms``
    labels : one label per setting
    """
    fig = go.Figure(gamma_beta_traces(hist, 0))
    fig.frames = [
        go.Frame(name=label, data=gamma_beta_traces(hist, s)) for s, label in enumerate(labels)
    ]
    _gamma_beta_layout(fig, hist["edges"])
    ymax = 1.05 * float(max(hist["example"].max(), hist["batch"].max()))
    fig.update_layout(yaxis={"range": [0, ymax]}, sliders=[_slider(labels, "γ, β")])
    return fig


def update_gamma_beta(fig: go.Figure, hist: dict[str, np.ndarray]) -> None:
    """Redraw the live chapter 2 view (one setting) in place."""
    with fig.batch_update():
        _copy_traces(fig, gamma_beta_traces(hist, 0))


def live_gamma_beta_figure(hist: dict[str, np.ndarray]) -> go.Figure:
    fig = go.Figure(gamma_beta_traces(hist, 0))
    _gamma_beta_layout(fig, hist["edges"])
    return fig


def recover_figure(results: list[dict], labels: list[str]) -> go.Figure:
    """Chapter 2: undoing layer norm for one example; buttons choose which example.

    Parameters
    ----------
    results : one ``lnbook.experiments.recover_example`` result per choice of example
    labels : a button label for each
    """
    n = len(results[0]["error"])
    examples = np.arange(n)

    def traces(r: dict) -> list[go.Bar]:
        return [
            go.Bar(
                x=examples, y=r["std_in"], name="std of the input", marker={"color": PALETTE["sky"]}
            ),
            go.Bar(
                x=examples,
                y=r["std_out"],
                name="std after γ, β",
                marker={"color": PALETTE["orange"]},
            ),
            go.Bar(
                x=examples,
                y=r["error"],
                name="max |output − input|",
                marker={"color": PALETTE["black"]},
            ),
        ]

    fig = go.Figure(traces(results[0]))
    fig.frames = [
        go.Frame(name=label, data=traces(r)) for label, r in zip(labels, results, strict=True)
    ]
    buttons = _buttons(
        labels, [_jump_to(label) for label in labels], "example undone", method="animate"
    )
    # The buttons animate to frames, which do not re-run autorange: one range for all.
    heights = [[r["std_in"], r["std_out"], r["error"]] for r in results]
    fig.update_layout(
        title=_title("γ = √(var+ε), β = mean of one example:<br>which examples come back?"),
        barmode="group",
        updatemenus=[buttons],
        xaxis={
            "title": {"text": "example (row of the batch)"},
            "dtick": 1,
            "range": [-0.5, n - 0.5],
        },
        yaxis={
            "title": {"text": "std or error (activation units)"},
            "range": _fit(heights, tozero=True),
        },
        legend={"orientation": "h", "x": 0, "y": -0.2},
        height=480,
        margin={"t": 130},
        template="plotly_white",
    )
    return fig


def trained_gamma_beta_figure(hist: dict) -> go.Figure:
    """Chapter 2: gamma and beta after training, for several training set-ups.

    Parameters
    ----------
    hist : from ``lnbook.experiments.norm_parameter_histograms``
    """
    colours = [PALETTE["blue"], PALETTE["vermillion"], PALETTE["green"], PALETTE["purple"]]
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=["γ (scale)", "β (shift)"], horizontal_spacing=0.14
    )
    for i, label in enumerate(hist["gamma"]):
        colour = colours[i % len(colours)]
        for col, key in ((1, "gamma"), (2, "beta")):
            fig.add_trace(
                go.Scatter(
                    x=hist["centers"][key],
                    y=hist[key][label],
                    mode="lines",
                    name=label,
                    legendgroup=label,
                    showlegend=col == 1,
                    line={"color": colour, "shape": "hvh", "width": 2},
                ),
                row=1,
                col=col,
            )
    fig.add_vline(x=1.0, line={"dash": "dot", "color": PALETTE["black"]}, row=1, col=1)
    fig.add_vline(x=0.0, line={"dash": "dot", "color": PALETTE["black"]}, row=1, col=2)
    # One short title per panel, in two lines: a single long one under each panel ran
    # into its neighbour's.
    for col, symbol in ((1, "γ"), (2, "β")):
        fig.update_xaxes(
            title_text=f"learned {symbol} (dimensionless)<br>end bins include all beyond",
            row=1,
            col=col,
        )
    fig.update_yaxes(title_text="number of features")
    fig.update_layout(
        title=_title("γ and β after training<br>(dotted: their initial values)"),
        legend={"orientation": "h", "x": 0, "y": -0.3, "yanchor": "top"},
        height=500,
        margin={"t": 110, "b": 140},
        template="plotly_white",
    )
    return fig


# ---------------------------------------------------------------- chapter 4 -------------


def norm_sets_figure(sets: dict[str, np.ndarray]) -> go.Figure:
    """Which elements of an (N, C, P) tensor share statistics, one button per method.

    The tensor is drawn as N rows (examples) by C blocks of P columns (channels, positions);
    the elements averaged with the first one (example 0, channel 0) are dark, the other
    sets alternate in two light shades, so the partition is visible too.

    Parameters
    ----------
    sets : method -> (N, C, P) labels, from ``lnbook.experiments.norm_sets``
    """

    def shade(labels: np.ndarray) -> np.ndarray:
        n, c, p = labels.shape
        per_channel = labels[:, :, 0]  # (N, C): a set never splits a channel's positions
        # Two light shades that alternate between neighbouring sets: colour each set by the
        # parity of (its first example + the rank of its first channel).
        first = {}
        for e in range(n):
            for ch in range(c):
                first.setdefault(per_channel[e, ch], (e, ch))
        ranks = {ch: r for r, ch in enumerate(sorted({ch for _, ch in first.values()}))}
        parity = np.vectorize(lambda lab: (first[lab][0] + ranks[first[lab][1]]) % 2)(per_channel)
        z = np.where(parity == 0, 0.15, 0.35)
        z[per_channel == per_channel[0, 0]] = 1.0  # the set of example 0, channel 0
        return np.repeat(z, p, axis=1)  # (N, C * P)

    methods = list(sets)
    n, c, p = sets[methods[0]].shape
    fig = go.Figure(
        go.Heatmap(
            z=shade(sets[methods[0]]),
            # From transparent (the page's background shows, light or dark) to the palette.
            colorscale=[[0, _rgba(PALETTE["sky"], 0)], [0.3, PALETTE["sky"]], [1, PALETTE["blue"]]],
            zmin=0,
            zmax=1,
            showscale=False,
            xgap=1,
            ygap=1,
            customdata=np.repeat(np.arange(c), p)[None, :].repeat(n, 0),
            hovertemplate="example %{y}, channel %{customdata}<extra></extra>",
        )
    )
    # Channel boundaries, so the blocks of P positions read as channels.
    for k in range(1, c):
        fig.add_vline(x=k * p - 0.5, line={"color": PALETTE["black"], "width": 2})
    fig.update_layout(
        title=_title(f"{methods[0]}: the dark cells share one mean and variance"),
        updatemenus=[
            _buttons(
                methods,
                [
                    [
                        {"z": [shade(sets[m])]},
                        {"title.text": f"{m}: the dark cells share one mean and variance"},
                    ]
                    for m in methods
                ],
                "normalization",
            )
        ],
        height=380,
        margin={"t": 130},
        template="plotly_white",
    )
    fig.update_xaxes(
        title_text=f"channel (blocks) × position (H·W = {p} per channel)",
        tickvals=[k * p + (p - 1) / 2 for k in range(c)],
        ticktext=[f"C{k}" for k in range(c)],
        showgrid=False,
    )
    fig.update_yaxes(title_text="example (N)", range=[n - 0.5, -0.5], dtick=1, showgrid=False)
    return fig


def batch_dependence_traces(result: dict, k: int, composition: str) -> list[go.Scatter]:
    """Traces for batch size index ``k`` and one composition ("random" or "same_class")."""
    bn = result[f"bn_{composition}"][k]  # (draws, D)
    feats = np.arange(bn.shape[1])
    traces = [
        go.Scatter(
            x=feats,
            y=row,
            mode="lines",
            line={"color": PALETTE["orange"], "width": 1},
            opacity=0.7,
            name="batch norm, one batch each",
            legendgroup="bn",
            showlegend=i == 0,
            hoverinfo="skip",
        )
        for i, row in enumerate(bn)
    ]
    traces.append(
        go.Scatter(
            x=feats,
            y=result["ln"],
            mode="lines+markers",
            name="layer norm",
            line={"color": PALETTE["blue"], "width": 3},
        )
    )
    return traces


def batch_dependence_figure(result: dict) -> go.Figure:
    """Chapter 4: one example's normalized features in many batches.

    A slider picks the batch size; buttons the way companions are drawn (at random, or
    from the example's own class).

    Parameters
    ----------
    result : from ``lnbook.experiments.batch_dependence``
    """
    sizes = result["batch_sizes"]
    comps = {"random companions": "random", "companions of the same digit": "same_class"}
    per = len(batch_dependence_traces(result, 0, "random"))
    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4], horizontal_spacing=0.12)
    for j, comp in enumerate(comps.values()):
        for t in batch_dependence_traces(result, 0, comp):
            t.visible = j == 0
            t.legendgroup = f"{t.legendgroup or t.name}-{comp}"  # each view keeps a legend
            fig.add_trace(t, row=1, col=1)
    spread = [
        ("batch norm, random", result["spread_random"], PALETTE["orange"], "solid"),
        ("batch norm, same digit", result["spread_same_class"], PALETTE["vermillion"], "dash"),
        ("shift by same-digit batches", result["composition_shift"], PALETTE["purple"], "dot"),
        ("chance level of that shift", result["composition_floor"], PALETTE["black"], "dot"),
        # Layer norm's spread is 0 up to rounding: drawn at the floor 1e-4 of the log axis.
        (
            "layer norm (0, drawn at 1e-4)",
            np.maximum(result["spread_ln"], 1e-4),
            PALETTE["blue"],
            "solid",
        ),
    ]
    for name, y, colour, dash in spread:
        fig.add_trace(
            go.Scatter(
                x=sizes,
                y=y,
                mode="lines+markers",
                name=name,
                line={"color": colour, "dash": dash},
            ),
            row=1,
            col=2,
        )
    n_left = 2 * per

    def current(k: int) -> go.Scatter:  # the slider's batch size on both batch-norm curves
        return go.Scatter(
            x=[sizes[k]] * 2,
            y=[result["spread_random"][k], result["spread_same_class"][k]],
            mode="markers",
            showlegend=False,
            hoverinfo="skip",
            marker={
                "size": 13,
                "color": [PALETTE["orange"], PALETTE["vermillion"]],
                "line": {"color": PALETTE["black"], "width": 2},
            },
        )

    fig.add_trace(current(0), row=1, col=2)
    marker = n_left + len(spread)
    labels = [str(b) for b in sizes]
    fig.frames = [
        go.Frame(
            name=label,
            data=[t for comp in comps.values() for t in batch_dependence_traces(result, k, comp)]
            + [current(k)],
            traces=list(range(n_left)) + [marker],
        )
        for k, label in enumerate(labels)
    ]
    visible = [
        [i // per == j for i in range(n_left)] + [True] * (len(spread) + 1)
        for j in range(len(comps))
    ]
    fig.update_layout(
        title=_title("One example in many batches:<br>batch norm vs layer norm"),
        updatemenus=[
            _buttons(list(comps), [[{"visible": v}] for v in visible], "companions", "restyle")
        ],
        sliders=[_slider(labels, "batch size")],
        legend={"orientation": "h", "x": 0, "y": -0.45},
        height=660,
        margin={"t": 130, "b": 170},
        template="plotly_white",
    )
    n_features = result["bn_random"].shape[-1]
    fig.update_xaxes(
        title_text="feature index (dimensionless)", range=[-0.5, n_features - 0.5], row=1, col=1
    )
    fig.update_yaxes(
        title_text="normalized value (standard deviations)", row=1, col=1, range=[-3.5, 3.5]
    )
    # The slider's marker moves over the right panel: fixed ranges, ticks at the sizes tried.
    fig.update_xaxes(
        title_text="batch size (examples)",
        range=_fit([sizes], pad=0.08, log=True),
        # Labels at the sizes tried; minor marks between them would only clutter.
        **_log_axis(
            sizes, tickvals=list(sizes), ticktext=[str(b) for b in sizes], minor={"ticks": ""}
        ),
        row=1,
        col=2,
    )
    curves = [y for _, y, _, _ in spread]
    fig.update_yaxes(
        title_text="spread or shift (standard deviations, log)",
        range=_fit(curves, pad=0.08, log=True),
        **_log_axis(curves),
        row=1,
        col=2,
    )
    return fig


def small_batch_figure(result: dict) -> go.Figure:
    """Chapter 4: test accuracy during training, batch norm vs layer norm, per batch size.

    Parameters
    ----------
    result : from ``lnbook.experiments.small_batch_training``
    """
    colours = {"batch": PALETTE["vermillion"], "layer": PALETTE["blue"]}
    dashes = ["solid", "dash", "dot", "dashdot"]
    sizes = sorted({b for _, b in result["curves"]}, reverse=True)
    fig = go.Figure()
    for (norm, b), curves in result["curves"].items():
        mean, std = curves.mean(axis=0), curves.std(axis=0)
        fig.add_trace(
            go.Scatter(
                x=result["steps"],
                y=100 * mean,
                mode="lines+markers",
                name=f"{norm} norm, batch {b}",
                line={
                    "color": colours.get(norm, PALETTE["black"]),
                    "dash": dashes[sizes.index(b) % len(dashes)],
                },
                error_y={"type": "data", "array": 100 * std, "visible": True, "thickness": 1},
            )
        )
    fig.update_layout(
        title=_title("Test accuracy while training (mean ± std over seeds)"),
        xaxis={"title": {"text": "training step"}},
        yaxis={"title": {"text": "test accuracy (%)"}},
        legend={"orientation": "h", "x": 0, "y": -0.2},
        height=480,
        template="plotly_white",
    )
    return fig


def live_batch_dependence_figure(result: dict, composition: str) -> go.Figure:
    """The chapter 4 view for one batch size and composition, for a FigureWidget."""
    fig = go.Figure(batch_dependence_traces(result, 0, composition))
    fig.update_layout(
        title=_title("One example in many batches:<br>batch norm vs layer norm"),
        xaxis={"title": {"text": "feature index (dimensionless)"}},
        yaxis={"title": {"text": "normalized value (standard deviations)"}, "range": [-3.5, 3.5]},
        legend={"orientation": "h", "x": 0, "y": -0.2},
        height=460,
        template="plotly_white",
    )
    return fig


def update_batch_dependence(fig: go.Figure, result: dict, composition: str) -> None:
    """Redraw the live chapter 4 view in place (same number of draws as when built)."""
    with fig.batch_update():
        _copy_traces(fig, batch_dependence_traces(result, 0, composition))


# ---------------------------------------------------------------- chapter 5 -------------


def decoding_figure(result: dict[str, np.ndarray]) -> go.Figure:
    """Chapter 5: how much each token's output changes between generation and the end.

    Parameters
    ----------
    result : from ``lnbook.experiments.incremental_decoding``
    """
    tokens = np.arange(len(result["ln_change"]))
    fig = go.Figure(
        [
            go.Scatter(
                x=tokens,
                y=result["bn_change"],
                mode="lines+markers",
                name="batch norm over the tokens so far",
                line={"color": PALETTE["vermillion"]},
            ),
            go.Scatter(
                x=tokens,
                y=result["ln_change"],
                mode="lines+markers",
                name="layer norm (per token)",
                line={"color": PALETTE["blue"], "width": 3},
            ),
        ]
    )
    fig.update_layout(
        title=_title("One token at a time<br>vs the whole sequence at once"),
        xaxis={"title": {"text": "token position (generation step)"}},
        yaxis={"title": {"text": "largest change of the token's output (std)"}},
        legend={"orientation": "h", "x": 0, "y": -0.25},
        height=440,
        template="plotly_white",
    )
    return fig


def init_gradients_figure(result: dict) -> go.Figure:
    """Chapter 5: post-norm vs pre-norm at initialization, with a slider over the depth.

    Left: gradient norm of each layer's feed-forward weights. Middle: norm of the residual
    stream after each block. Right: the last layer's gradient norm against the depth.

    Parameters
    ----------
    result : from ``lnbook.experiments.transformer_init_gradients``
    """
    depths = result["depths"]
    colours = {"post": PALETTE["vermillion"], "pre": PALETTE["blue"]}
    placements = list(result["layer_grad"])

    def per_layer(k: int) -> list[go.Scatter]:
        traces = []
        for key, show in (("layer_grad", True), ("residual_norm", False)):
            for p in placements:
                y = result[key][p][k]
                traces.append(
                    go.Scatter(
                        x=np.arange(1, len(y) + 1),
                        y=y,
                        mode="lines+markers",
                        name=f"{p}-norm",
                        legendgroup=p,
                        showlegend=show,
                        line={"color": colours.get(p, PALETTE["black"])},
                    )
                )
        return traces

    def current(k: int) -> go.Scatter:
        return go.Scatter(
            x=[depths[k]] * len(placements),
            y=[result["last_grad"][p][k] for p in placements],
            mode="markers",
            showlegend=False,
            hoverinfo="skip",
            marker={
                "size": 13,
                "color": [colours.get(p) for p in placements],
                "line": {"color": PALETTE["black"], "width": 2},
            },
        )

    fig = make_subplots(
        rows=1,
        cols=3,
        horizontal_spacing=0.09,
        subplot_titles=[
            "FFN gradient per layer",
            "residual norm per layer",
            "last layer vs depth",
        ],
    )
    k0 = int(np.argmin(np.abs(depths - 6)))  # open on a 6-layer model, the paper's depth
    for i, t in enumerate(per_layer(k0)):
        fig.add_trace(t, row=1, col=1 if i < len(placements) else 2)
    for p in placements:
        fig.add_trace(
            go.Scatter(
                x=depths,
                y=result["last_grad"][p],
                mode="lines+markers",
                legendgroup=p,
                showlegend=False,
                name=f"{p}-norm",
                line={"color": colours.get(p), "dash": "dot"},
            ),
            row=1,
            col=3,
        )
    fig.add_trace(current(k0), row=1, col=3)
    n_moving = 2 * len(placements)
    marker = n_moving + len(placements)
    labels = [str(d) for d in depths]
    fig.frames = [
        go.Frame(
            name=label, data=per_layer(k) + [current(k)], traces=list(range(n_moving)) + [marker]
        )
        for k, label in enumerate(labels)
    ]
    # Frames do not re-run autorange: every axis gets a range that holds every depth's
    # curves, so the 12-layer step shows layers 7 to 12 too.
    layers = [0.5, max(depths) + 0.5]
    fig.update_xaxes(title_text="layer", range=layers, row=1, col=1)
    fig.update_xaxes(title_text="layer", range=layers, row=1, col=2)
    fig.update_xaxes(
        title_text="number of layers", range=_fit([depths], pad=0.08), tickvals=list(depths),
        row=1, col=3,
    )  # fmt: skip
    for col, key, text in (
        (1, "layer_grad", "gradient norm (Frobenius)"),
        (2, "residual_norm", "mean token norm (activation units)"),
        (3, "last_grad", "gradient norm (Frobenius)"),
    ):
        values = [result[key][p] for p in placements]
        fig.update_yaxes(title_text=text, range=_fit(values, pad=0.06, tozero=True), row=1, col=col)
    fig.update_layout(
        title=_title("Post-norm vs pre-norm at initialization<br>(mean over seeds)"),
        sliders=[_slider(labels, "number of layers", active=k0)],
        legend={"orientation": "h", "x": 0, "y": 1.12, "yanchor": "bottom"},
        height=540,
        margin={"t": 150},
        template="plotly_white",
    )
    return fig


def warmup_traces(grid: dict, lr: float) -> list[go.Scatter]:
    """Every seed's loss curve, for every (placement, warm-up), at one learning rate.

    Seeds are drawn separately, not averaged: a run stuck at chance and a run that learns
    would average to a curve that no model followed.
    """
    colours = {"post": PALETTE["vermillion"], "pre": PALETTE["blue"]}
    traces = []
    for p, w in grid["configs"]:
        for i, y in enumerate(grid["loss"][(lr, p, w)]):
            traces.append(
                go.Scatter(
                    x=np.arange(1, len(y) + 1),
                    y=y,
                    mode="lines",
                    name=f"{p}-norm, " + (f"warm-up {w} steps" if w else "no warm-up"),
                    legendgroup=f"{p}{w}",
                    showlegend=i == 0,
                    line={
                        "color": colours.get(p, PALETTE["black"]),
                        "dash": "solid" if w else "dash",
                        "width": 1.5,
                    },
                )
            )
    return traces


def warmup_figure(grid: dict) -> go.Figure:
    """Chapter 5: training loss of post-/pre-norm with and without warm-up; a slider picks
    the learning rate.

    Parameters
    ----------
    grid : from ``lnbook.experiments.warmup_grid``
    """
    lrs = grid["lrs"]
    labels = [f"{lr:g}" for lr in lrs]
    k0 = len(lrs) - 1  # open on the largest rate, where the placements differ
    fig = go.Figure(warmup_traces(grid, lrs[k0]))
    fig.frames = [
        go.Frame(name=label, data=warmup_traces(grid, lr))
        for label, lr in zip(labels, lrs, strict=True)
    ]
    n_steps = max(len(y) for curves in grid["loss"].values() for y in curves)
    fig.update_layout(
        title=_title("Training loss on the copy task<br>(one line per seed)"),
        # Fixed ranges: frames do not re-run autorange.
        xaxis={"title": {"text": "training step"}, "range": [1, n_steps]},
        yaxis={
            "title": {"text": "cross-entropy (nats; chance = ln 15 ≈ 2.7)"},
            # Chance level and a little above; higher if a run diverges beyond it.
            "range": [0, max(3.2, _fit(list(grid["loss"].values()), pad=0.03)[1])],
        },
        sliders=[_slider(labels, "learning rate", active=k0)],
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        height=520,
        margin={"t": 130},
        template="plotly_white",
    )
    return fig


# The live chapter 5 figure's runs, one colour each, in this order (then again).
_RUN_COLOURS = [PALETTE[c] for c in ("blue", "vermillion", "green", "orange", "purple", "sky")]
_CHANCE_TOP = 3.2  # nats: chance (ln 15 ≈ 2.7) and a little above


def _run_curve(loss: np.ndarray, label: str, k: int) -> go.Scatter:
    return go.Scatter(
        x=np.arange(1, len(loss) + 1),
        y=loss,
        mode="lines",
        name=label,
        line={"color": _RUN_COLOURS[k % len(_RUN_COLOURS)], "width": 2},
    )


def _is_placeholder(trace) -> bool:
    """A curve with no finite value: the live figure's "not trained yet" entry."""
    return not np.isfinite(np.asarray(trace.y, dtype=float)).any()


def live_warmup_figure(loss: np.ndarray, label: str) -> go.Figure:
    """The live chapter 5 figure with one training curve.

    Before its first run the widget passes an all-NaN ``loss`` (one per step) labelled
    "not trained yet": empty axes over the steps, and a legend entry that says why;
    :func:`add_warmup_run` replaces it with the first run.
    """
    fig = go.Figure(_run_curve(loss, label, 0))
    fig.update_layout(
        title=_title("Training loss on the copy task"),
        xaxis={"title": {"text": "training step"}, "range": [1, max(len(loss), 2)]},
        yaxis={
            "title": {"text": "cross-entropy (nats; chance ≈ 2.7)"},
            "range": [0, _warmup_top(fig)],
        },
        # One run a line, newest last, to the right of the plot: long labels stay whole.
        # Shown for one curve too (plotly hides a lone curve's legend): its label is the
        # run's settings, or why the axes are empty.
        showlegend=True,
        legend={"title": {"text": "runs"}, "font": {"size": 13}},
        height=420,
        template="plotly_white",
    )
    return fig


def _warmup_top(fig: go.Figure) -> float:
    """The loss axis's top: chance and a little above, higher if a run diverges beyond."""
    finite = [t.y for t in fig.data if not _is_placeholder(t)]
    return max(_CHANCE_TOP, _fit(finite, pad=0.03)[1]) if finite else _CHANCE_TOP


def add_warmup_run(fig: go.Figure, loss: np.ndarray, label: str) -> None:
    """Add one run's loss curve to the live chapter 5 figure, in the next colour.

    The "not trained yet" placeholder leaves with the first run, so the legend lists runs
    only.
    """
    if any(_is_placeholder(t) for t in fig.data):
        fig.data = [t for t in fig.data if not _is_placeholder(t)]
    fig.add_trace(_run_curve(np.asarray(loss, dtype=float), label, len(fig.data)))
    fig.layout.yaxis.range = [0, _warmup_top(fig)]


def clear_warmup_runs(fig: go.Figure, label: str = "not trained yet") -> None:
    """Remove every run from the live chapter 5 figure: back to the placeholder."""
    steps = len(fig.data[0].x) if fig.data else 2
    fig.data = []
    fig.add_trace(_run_curve(np.full(steps, np.nan), label, 0))
    fig.layout.yaxis.range = [0, _CHANCE_TOP]


# ---------------------------------------------------------------- chapter 6 -------------


def _band(x, low, high, colour: str, lower: dict | None = None, **upper) -> list[go.Scatter]:
    """A shaded band between two curves: the lower edge, then the upper filled down to it.

    ``lower`` and ``upper``: more properties of each edge's trace (a name, hover text...).
    """
    edge = {"mode": "lines", "line": {"width": 0, "color": colour}, "hoverinfo": "skip"}
    return [
        go.Scatter(x=x, y=low, **{**edge, "showlegend": False, **(lower or {})}),
        go.Scatter(x=x, y=high, fill="tonexty", opacity=0.3, **{**edge, **upper}),
    ]


def covariate_shift_traces(
    run: dict, layer: int, k: int, colour: str = PALETTE["blue"], show_legend: bool = True
) -> list[go.Scatter | go.Bar]:
    """One network's view: its unit's percentiles over training, and its distribution at
    checkpoint ``k`` beside the one at step 0.

    Order: 15th percentile, 85th (filled down to the 15th), median, the three percentiles
    at checkpoint ``k`` (markers), the histogram at step 0 (outline), the one at ``k``
    (bars). The first four go in a panel over steps, the last two in a panel over values.
    """
    steps, p = run["steps"], run["percentiles"][:, layer]  # (C,), (C, 3)
    edges = run["edges"]
    centers, width = (edges[:-1] + edges[1:]) / 2, 0.8 * np.diff(edges)
    group = {"legendgroup": f"layer{layer}", "showlegend": show_legend}
    return [
        *_band(
            steps,
            p[:, 0],
            p[:, 2],
            colour,
            lower={"name": "15th percentile", "hoverinfo": "x+y"},
            name="15th to 85th percentile",
            hoverinfo="x+y",
            **group,
        ),
        go.Scatter(
            x=steps,
            y=p[:, 1],
            mode="lines",
            line={"color": colour, "width": 2},
            name="median",
            **{**group, "showlegend": False},
        ),
        go.Scatter(
            x=[steps[k]] * 3,
            y=p[k],
            mode="markers",
            name="at the slider's step",
            cliponaxis=False,
            marker={"color": colour, "size": 9, "line": {"color": PALETTE["black"], "width": 1.5}},
            **{**group, "showlegend": False},
        ),
        go.Scatter(
            x=centers,
            y=run["hist"][0, layer],
            mode="lines",
            line={"shape": "hvh", "color": PALETTE["black"], "dash": "dot", "width": 1},
            name="at step 0",
            **group,
        ),
        go.Bar(
            x=centers,
            y=run["hist"][k, layer],
            width=width,
            marker={"color": colour},
            name="at the slider's step",
            **group,
        ),
    ]


def covariate_shift_figure(runs: dict[str, dict]) -> go.Figure:
    """Chapter 6: one hidden unit's input over training, one row per network.

    Left column: its 15th, 50th and 85th percentiles over training (Ioffe and Szegedy,
    2015, Fig. 1). Right column: its distribution at the slider's step against step 0.
    Buttons pick the layer.

    Parameters
    ----------
    runs : label -> result of ``lnbook.experiments.covariate_shift_run`` (same checkpoints)
    """
    labels = list(runs)
    first = runs[labels[0]]
    n_layers = first["inputs"].shape[1]
    n = len(labels)
    # One row per network, two panels each: four networks side by side left each panel
    # an eighth of the width, and their fonts had to shrink to fit.
    fig = make_subplots(
        rows=n,
        cols=2,
        shared_xaxes="columns",
        shared_yaxes="columns",
        column_widths=[0.55, 0.45],
        vertical_spacing=0.3 / n,
        horizontal_spacing=0.14,
    )
    # Each row headed by its network, from the left edge: one short heading per row fits
    # a phone's width where a title over each panel did not.
    for c, label in enumerate(labels):
        top = fig.layout[f"yaxis{2 * c + 1 if c else ''}"].domain[1]
        fig.add_annotation(
            text=f"<b>{label}</b>",
            xref="paper",
            yref="paper",
            x=0,
            y=top,
            yshift=4,
            xanchor="left",
            yanchor="bottom",
            showarrow=False,
            font={"size": 14},
        )
    per = len(covariate_shift_traces(first, 0, 0))
    moving = []  # indices of the traces a slider step changes: markers and bars
    for layer in range(n_layers):
        for c, label in enumerate(labels):
            # One colour for every network: the rows are labelled, and the legend then
            # reads the same for all of them.
            traces = covariate_shift_traces(runs[label], layer, 0, show_legend=c == 0)
            for i, t in enumerate(traces):
                t.visible = layer == n_layers - 1
                if i in (3, 5):
                    moving.append(len(fig.data))
                fig.add_trace(t, row=c + 1, col=1 if i < 4 else 2)
    step_labels = [str(s) for s in first["steps"]]

    def moved(run: dict, layer: int, k: int) -> list:
        # Only what a step changes (the markers and the bars' heights), in float32: the
        # frames are most of the page's weight.
        p = run["percentiles"][k, layer]
        return [
            go.Scatter(x=[int(run["steps"][k])] * 3, y=p.astype(np.float32)),
            go.Bar(y=run["hist"][k, layer].astype(np.float32)),
        ]

    fig.frames = [
        go.Frame(
            name=name,
            data=[
                t for layer in range(n_layers) for lab in labels for t in moved(runs[lab], layer, k)
            ],
            traces=moving,
        )
        for k, name in enumerate(step_labels)
    ]

    # Frames do not re-run autorange, so every axis has a range that holds every step; the
    # layer buttons set the ranges of their layer. Percentiles: one scale for every network
    # (they are compared); histograms: one per network, or a unit that starts at one value
    # would flatten the others' shapes.
    def ranges(layer: int) -> dict:
        pct = [runs[lab]["percentiles"][:, layer] for lab in labels]
        out = {}
        for c, lab in enumerate(labels):
            left, right = 2 * c + 1, 2 * c + 2
            out[f"yaxis{left if left > 1 else ''}.range"] = _fit(pct, pad=0.08)
            out[f"yaxis{right}.range"] = _fit([runs[lab]["hist"][:, layer]], tozero=True)
        return out

    block = per * len(labels)
    visible = [[i // block == layer for i in range(len(fig.data))] for layer in range(n_layers)]
    fig.update_layout(
        title=_title("One hidden unit's input during training<br>(what its sigmoid receives)"),
        updatemenus=[
            {
                **_buttons(
                    [f"layer {layer + 1}" for layer in range(n_layers)],
                    [[{"visible": v}, ranges(layer)] for layer, v in enumerate(visible)],
                    "layer shown",
                    method="update",
                ),
                # At the right, above the first row's titles; the legend at the left.
                "active": n_layers - 1,
                "x": 1.0,
                "xanchor": "right",
                "y": 1.0 + 40 / (200 * n),
                "yanchor": "bottom",
            }
        ],
        sliders=[_slider(step_labels, "training step", active=0)],
        legend={"x": 0, "y": 1.0 + 40 / (200 * n), "yanchor": "bottom"},
        bargap=0,
        height=370 + 200 * n,
        margin={"t": 190, "b": 180},
        template="plotly_white",
    )
    fig.update_layout(ranges(n_layers - 1))
    last = int(first["steps"][-1])
    pad = 0.04 * last  # the step markers sit on the last step: keep them inside
    fig.update_xaxes(range=[-pad, last + pad], nticks=6, tickangle=0, col=1)
    fig.update_xaxes(range=[first["edges"][0], first["edges"][-1]], nticks=8, tickangle=0, col=2)
    # Ticks and titles on every row: on a phone the panels stack one above the other
    # (percentiles, then histogram, for each network), and each must read on its own.
    fig.update_xaxes(showticklabels=True)
    fig.update_xaxes(title_text="training step", col=1)
    fig.update_xaxes(title_text="unit's input (before the sigmoid)", col=2)
    fig.update_yaxes(title_text="input (percentiles)", col=1)
    fig.update_yaxes(matches=None, title_text="share of images", col=2)
    return fig


def live_covariate_shift_figure(run: dict, layer: int, k: int, label: str) -> go.Figure:
    """The chapter 6 view of one network, for a FigureWidget."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12)
    for i, t in enumerate(covariate_shift_traces(run, layer, k)):
        fig.add_trace(t, row=1, col=1 if i < 4 else 2)
    fig.update_layout(
        title=_title(f"One hidden unit's input during training: {label}"),
        legend={"orientation": "h", "x": 0, "y": -0.25},
        bargap=0,
        height=440,
        template="plotly_white",
    )
    fig.update_xaxes(title_text="training step", row=1, col=1)
    fig.update_xaxes(
        title_text="unit's input", range=[run["edges"][0], run["edges"][-1]], row=1, col=2
    )
    fig.update_yaxes(title_text="unit's input (percentiles)", row=1, col=1)
    fig.update_yaxes(title_text="share of images", row=1, col=2)
    return fig


def update_covariate_shift(fig: go.Figure, run: dict, layer: int, k: int, label: str) -> None:
    """Redraw the live chapter 6 view in place."""
    with fig.batch_update():
        _copy_traces(fig, covariate_shift_traces(run, layer, k))
        fig.layout.title.text = f"One hidden unit's input during training: {label}"


def lr_sensitivity_figure(result: dict) -> go.Figure:
    """Chapter 6: final loss and steps to a target loss against the learning rate.

    Each seed is a marker; the line joins the medians over seeds. Runs that diverged or
    never reached the target are drawn at the top of their panel.

    Parameters
    ----------
    result : from ``lnbook.experiments.lr_sensitivity``
    """
    lrs, labels = result["lrs"], result["labels"]
    colours = [PALETTE[c] for c in ("black", "blue", "orange", "purple", "vermillion", "sky")]
    symbols = ["circle", "square", "diamond", "x", "triangle-up", "star"]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.18)
    top_loss = 3.0
    for col, key in ((1, "final"), (2, "steps")):
        values = {lab: np.asarray(result[key][lab], dtype=float) for lab in labels}
        top = top_loss if key == "final" else None
        if key == "steps":
            finite = np.concatenate([v[np.isfinite(v)] for v in values.values()])
            top = 1.1 * (finite.max() if len(finite) else 1.0)
        for c, lab in enumerate(labels):
            v = values[lab]  # (R, S)
            shown = np.where(np.isfinite(v), np.minimum(v, top), top)
            colour = colours[c % len(colours)]
            fig.add_trace(
                go.Scatter(
                    x=np.repeat(lrs, v.shape[1]),
                    y=shown.ravel(),
                    mode="markers",
                    marker={"color": colour, "symbol": symbols[c % len(symbols)], "size": 7},
                    opacity=0.6,
                    name=lab,
                    legendgroup=lab,
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
            fig.add_trace(
                go.Scatter(
                    x=lrs,
                    y=np.median(shown, axis=1),
                    mode="lines",
                    line={"color": colour},
                    name=f"{lab}, median",
                    legendgroup=lab,
                    showlegend=False,
                    hoverinfo="skip",
                ),
                row=1,
                col=col,
            )
    fig.update_layout(
        title=_title("Sensitivity to the learning rate<br>(plain SGD, one marker per seed)"),
        legend={"orientation": "h", "x": 0, "y": -0.22, "yanchor": "top"},
        height=540,
        margin={"t": 100, "b": 150},
        template="plotly_white",
    )
    fig.update_xaxes(
        title_text="learning rate (log)",
        **_log_axis(
            lrs,
            tickvals=list(lrs),
            ticktext=[f"{lr:g}" for lr in lrs],  # the rates tried, no minor labels
            minor={"ticks": ""},
        ),
        tickangle=0,
    )
    # Axis titles in two lines: in one, each ran past its panel's height into the title.
    fig.update_yaxes(
        title_text=f"final training loss (nats)<br>top: {top_loss:g} or more, or diverged",
        range=[0, top_loss * 1.05],
        row=1,
        col=1,
    )
    fig.update_yaxes(
        title_text=f"training steps to loss {result['target']:g}<br>top: never",
        rangemode="tozero",
        row=1,
        col=2,
    )
    return fig


def training_curves_figure(
    curves: dict[str, np.ndarray],
    window: int = 20,
    *,
    classes: int = 10,
    title: str | None = None,
    log_y: bool = False,
) -> go.Figure:
    """Training loss against step, one band per network: median and range over seeds.

    Parameters
    ----------
    curves : label -> (S, T) loss per seed and step
    window : steps averaged before plotting (a mini-batch's loss is noisy)
    classes : the number of classes, for the chance level ln(classes) on the axis title
    title : the figure's title (default: what the bands show)
    log_y : a logarithmic loss axis, to compare losses near zero
    """
    colours = [PALETTE[c] for c in ("black", "blue", "orange", "purple", "green")]
    kernel = np.ones(window) / window
    fig = go.Figure()
    drawn = []  # every value plotted, for the log axis's ticks
    for c, (lab, loss) in enumerate(curves.items()):
        smooth = np.array([np.convolve(row, kernel, mode="valid") for row in np.asarray(loss)])
        drawn.append(smooth)
        x = np.arange(window, window + smooth.shape[1])
        colour = colours[c % len(colours)]
        for t in _band(x, smooth.min(0), smooth.max(0), colour, showlegend=False):
            t.legendgroup = lab
            fig.add_trace(t)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=np.median(smooth, 0),
                mode="lines",
                name=lab,
                line={"color": colour, "width": 2},
                legendgroup=lab,
            )
        )
    chance = f"chance = ln {classes} ≈ {np.log(classes):.1f}"
    fig.update_layout(
        title=_title(title or f"Training loss (mean of {window} steps; band: range over seeds)"),
        xaxis={"title": {"text": "training step"}},
        yaxis={
            "title": {"text": f"cross-entropy (nats; {chance})"},
            **(_log_axis(drawn) if log_y else {"rangemode": "tozero"}),
        },
        legend={"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top"},
        height=460,
        template="plotly_white",
    )
    return fig


SMOOTHNESS_MEASURES = {
    "loss_range": "loss range along the step (nats)",
    "grad_change": "largest gradient change ‖Δg‖",
    "beta": "effective β-smoothness ‖Δg‖ / ‖Δw‖",
}
# The same, in two short lines each, for the panels' titles.
_SMOOTHNESS_TITLES = ["loss range<br>along the step", "largest gradient<br>change ‖Δg‖",
                      "effective β-smoothness<br>‖Δg‖ / ‖Δw‖"]  # fmt: skip


def smoothness_figure(results: dict[str, dict[str, dict]]) -> go.Figure:
    """Chapter 6: Santurkar et al.'s (2018) landscape measures during training.

    One panel per measure, one line per norm; buttons pick the network.

    Parameters
    ----------
    results : network label -> {norm label -> result of
        ``lnbook.experiments.landscape_smoothness``}
    """
    nets = list(results)
    colours = [PALETTE[c] for c in ("black", "blue", "orange", "purple")]
    fig = make_subplots(
        rows=1,
        cols=len(SMOOTHNESS_MEASURES),
        horizontal_spacing=0.13,
        subplot_titles=_SMOOTHNESS_TITLES,
    )
    for n, net in enumerate(nets):
        for c, (lab, r) in enumerate(results[net].items()):
            for col, key in enumerate(SMOOTHNESS_MEASURES, start=1):
                fig.add_trace(
                    go.Scatter(
                        x=r["steps"],
                        y=r[key],
                        mode="lines",
                        name=lab,
                        legendgroup=f"{net}{lab}",
                        showlegend=col == 1,
                        visible=n == 0,
                        line={"color": colours[c % len(colours)], "width": 1.5},
                    ),
                    row=1,
                    col=col,
                )
    per = len(fig.data) // len(nets)
    visible = [[i // per == n for i in range(len(fig.data))] for n in range(len(nets))]
    fig.update_layout(
        title=_title("Looking ahead along each SGD step<br>(lower: smoother)"),
        # A drop-down: three networks' names do not fit a phone's width as buttons.
        updatemenus=[
            {
                **_buttons(nets, [[{"visible": v}] for v in visible], "network", "restyle"),
                "type": "dropdown",
                "direction": "down",
                "x": 1.0,
                "xanchor": "right",
                "y": 1.2,
            }
        ],
        legend={"orientation": "h", "x": 0, "y": -0.25, "yanchor": "top"},
        height=560,
        margin={"t": 170, "b": 130},
        template="plotly_white",
    )
    fig.update_annotations(font_size=14)  # two-line titles over narrow panels: 14 of 16 px
    fig.update_xaxes(title_text="training step", nticks=4, tickangle=0)
    units = ("nats (log)", "‖Δg‖ (log)", "1/step (log)")
    for col, (key, text) in enumerate(zip(SMOOTHNESS_MEASURES, units, strict=True), 1):
        # Ticks chosen from every network's values, so each drop-down choice reads well.
        values = [r[key] for net in nets for r in results[net].values()]
        fig.update_yaxes(title_text=text, title_standoff=4, **_log_axis(values), row=1, col=col)
    return fig


# ---------------------------------------------------------------- chapter 7 -------------


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
        title=_title("Shift one example:<br>layer norm stays, RMSNorm moves"),
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
    fig.update_layout(sliders=[_slider(labels, "shift added to every feature", active)])
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
        title=_title(title),
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
    fig.update_layout(sliders=[_slider(labels, "spread of the token scales", active)])
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
        title=_title("What eps does to an example<br>with little spread"),
        xaxis={
            "title": "the example's standard deviation (activation units, log)",
            **_log_axis(stds),
        },
        yaxis={"title": "std after layer norm (dimensionless)", "range": [0, 1.05]},
        legend={"orientation": "h", "x": 0, "y": -0.25, "yanchor": "top"},
        height=720,
        margin={"b": 340},
        template="plotly_white",
    )
    return fig


# ---------------------------------------------------------------- chapter 8 -------------


# One colour per implementation in every chapter-8 figure.
IMPL_COLOURS = {
    "NumPy, naive": PALETTE["orange"],
    "NumPy, lnbook": PALETTE["sky"],
    "NumPy, lnbook, out=": PALETTE["sky"],
    "PyTorch, composed ops": PALETTE["purple"],
    "PyTorch, lnbook autograd.Function": PALETTE["blue"],
    "PyTorch, F.layer_norm": PALETTE["vermillion"],
    "PyTorch, F.rms_norm": PALETTE["vermillion"],
    "torch.compile, composed ops": PALETTE["green"],
}


def bandwidth_figure(result: dict) -> go.Figure:
    """Chapter 8: copy speed against array size (``lnbook.bench.copy_bandwidth``)."""
    fig = go.Figure(
        go.Scatter(
            x=result["mib"],
            y=result["gbps"],
            mode="lines+markers",
            name="np.copyto",
            line={"color": PALETTE["blue"]},
            hovertemplate="%{x:~g} MiB: %{y:.1f} GB/s<extra></extra>",
        )
    )
    fig.update_layout(
        title=_title("Copy speed on one thread<br>against the size of the array"),
        # Labels at the sizes measured: plotly's own would mark 2 and 5 in tiny digits.
        xaxis={
            "title": "size of the array copied (MiB, log)",
            **_log_axis(
                result["mib"],
                tickvals=list(result["mib"]),
                ticktext=[f"{m:g}" for m in result["mib"]],
                minor={"ticks": ""},
            ),
        },
        yaxis={"title": "copy speed (GB/s, read + written)", "rangemode": "tozero"},
        height=420,
        template="plotly_white",
    )
    return fig


def roofline_figure(balance: dict, points: dict[str, tuple[float, float]]) -> go.Figure:
    """Chapter 8: the roofline of this machine and where kernels land on it.

    Parameters
    ----------
    balance : ``lnbook.bench.machine_balance()``: ``copy_gbps``, ``matmul_gflops``
    points : label -> (arithmetic intensity in operations per byte, measured GFLOP/s); a
        label that ends with an implementation's name takes its colour of ``IMPL_COLOURS``
    """
    bw, peak = balance["copy_gbps"], balance["matmul_gflops"]
    intensity = np.geomspace(0.05, 500, 200)
    fig = go.Figure(
        go.Scatter(
            x=intensity,
            y=np.minimum(peak, bw * intensity),
            mode="lines",
            name=f"roof: min({peak:.0f} GFLOP/s,<br>{bw:.0f} GB/s × intensity)",
            line={"color": PALETTE["black"]},
            hoverinfo="skip",
        )
    )
    for label, (x, y) in points.items():
        colour = next(
            (c for name, c in IMPL_COLOURS.items() if label.endswith(name)), PALETTE["black"]
        )
        fig.add_trace(
            go.Scatter(
                x=[x],
                y=[y],
                mode="markers",
                name=label,
                marker={"size": 12, "color": colour},
                hovertemplate=f"{label}: %{{x:.2g}} op/byte, %{{y:.1f}} GFLOP/s<extra></extra>",
            )
        )
    fig.update_layout(
        title=_title("The roofline of this machine<br>(one thread)"),
        xaxis={
            "title": "arithmetic intensity (operations per byte, log)",
            **_log_axis(intensity),
        },
        yaxis={
            "title": "speed (GFLOP/s, log)",
            **_log_axis([np.minimum(peak, bw * intensity), [y for _, y in points.values()]]),
        },
        legend={"orientation": "h", "x": 0, "y": -0.25, "yanchor": "top"},
        height=560,
        margin={"b": 170},
        template="plotly_white",
    )
    return fig


def speed_figure(rows: list[dict]) -> go.Figure:
    """Chapter 8: GB/s of each implementation, one view per norm and pass (a drop-down).

    The dashed line is the copy speed measured in the same run: GB/s counts only the bytes
    the pass must move, so no implementation can pass that line by much. It is the same
    for every pass, since each pass's bytes are counted the same way.

    Parameters
    ----------
    rows : from ``lnbook.bench.run_grid`` (one shape)
    """
    views = list(dict.fromkeys((r["norm"], r["pass"]) for r in rows))
    copy = rows[0]["gbps"] * rows[0]["x_copy"]  # bytes at copy speed: the same for every row
    fig = go.Figure()
    for k, (norm, pass_) in enumerate(views):
        group = [r for r in rows if (r["norm"], r["pass"]) == (norm, pass_)]
        fig.add_trace(
            go.Bar(
                # Names broken after the comma: the bars keep their width on a phone.
                y=[r["impl"].replace(", ", ",<br>", 1) for r in group],
                x=[r["gbps"] for r in group],
                orientation="h",
                text=[f"{r['x_copy']:.1f}× copy" for r in group],
                textposition="outside",
                cliponaxis=False,
                customdata=[[r["x_native"], 1e3 * r["seconds"]] for r in group],
                marker={"color": [IMPL_COLOURS.get(r["impl"], PALETTE["black"]) for r in group]},
                name=f"{norm} norm, {pass_}",
                visible=k == 0,
                hovertemplate="%{y}: %{x:.1f} GB/s, %{customdata[1]:.2f} ms, %{text}, "
                "%{customdata[0]:.2f}× native<extra></extra>",
            )
        )
    fig.add_vline(
        x=copy,
        line={"color": PALETTE["black"], "dash": "dash"},
        annotation={"text": f"copy: {copy:.0f} GB/s", "xanchor": "right", "yanchor": "bottom"},
        annotation_position="top",
    )
    labels = [f"{'layer norm' if n == 'layer' else 'RMSNorm'}, {p}" for n, p in views]
    visible = [[i == k for i in range(len(views))] for k in range(len(views))]
    fig.update_layout(
        title=_title(f"Speed, {rows[0]['shape']} float32<br>({rows[0]['mib']:g} MiB), one thread"),
        updatemenus=[
            {
                **_buttons(labels, [[{"visible": v}] for v in visible], "norm and pass", "restyle"),
                "type": "dropdown",
                "direction": "down",
                "x": 0.0,
                "xanchor": "left",
                "y": 1.08,
                "yanchor": "bottom",
            }
        ],
        xaxis={
            "title": "GB/s of the bytes the pass must move<br>(higher is faster)",
            "range": [0, 1.1 * max(copy, max(r["gbps"] for r in rows))],
        },  # fmt: skip
        yaxis={"title": {"text": "implementation"}, "autorange": "reversed", "automargin": True},
        showlegend=False,
        # Plotly shrinks bar labels that it thinks do not fit; never below 12 px.
        uniformtext={"minsize": 12, "mode": "show"},
        height=560,
        margin={"t": 150},
        template="plotly_white",
    )
    return fig


def accuracy_figure(result: dict) -> go.Figure:
    """Chapter 8: the largest error of x_hat against the data's offset, per implementation.

    Parameters
    ----------
    result : ``lnbook.experiments.offset_accuracy()``
    """
    labels = [f"{o:g}" for o in result["offsets"]]
    styles = {
        "lnbook NumPy": (PALETTE["blue"], "solid"),
        "lnbook NumPy, no correction": (PALETTE["sky"], "dash"),
        "NumPy, textbook": (PALETTE["green"], "dot"),
        "PyTorch F.layer_norm": (PALETTE["vermillion"], "solid"),
        "lnbook PyTorch": (PALETTE["purple"], "dashdot"),
    }
    fig = go.Figure(
        [
            go.Scatter(
                x=labels,
                y=result[name],
                mode="lines+markers",
                name=name,
                line={"color": colour, "dash": dash},
                hovertemplate=f"{name}, offset %{{x}}: %{{y:.1e}}<extra></extra>",
            )
            for name, (colour, dash) in styles.items()
            if name in result
        ]
    )
    fig.update_layout(
        title=_title("Accuracy in float32<br>on rows of offset + randn"),
        xaxis={"title": "offset added to every value (same units as the data)", "type": "category"},
        yaxis={
            "title": "largest error of x̂ (standard deviations, log)",
            **_log_axis([result[name] for name in styles if name in result]),
        },
        legend={"orientation": "h", "x": 0, "y": -0.25, "yanchor": "top"},
        height=500,
        margin={"b": 150},
        template="plotly_white",
    )
    return fig
