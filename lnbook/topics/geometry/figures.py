"""Chapter 9's figure builders (geometry): plotly figures that work with no kernel."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ... import plotting

# --- Sections 1-3: projection, sphere, Jacobian, attention, gamma = 1 + w -----------------

# The 3-D picture is drawn in 2-D (an orthographic view computed here), so it needs no WebGL
# and no 3-D trace in the site's partial plotly.js bundle, works on a phone (a swipe
# scrolls the page, it does not turn a scene), and takes its colours from PALETTE, which
# dark mode swaps. Two views: from the side (the ones axis points up, the plane seen
# edge-on at a slant) and down the ones axis (the plane face-on).
_ONES = np.ones(3) / np.sqrt(3)
_H1 = np.array([1.0, -1.0, 0.0]) / np.sqrt(2)  # two orthonormal directions in the plane
_H2 = np.cross(_ONES, _H1)
_ELEVATION = np.radians(18)  # how far above the plane the side view looks from
_AZIMUTH = np.radians(25)  # turns the plane so that no coordinate axis points at the viewer
_RIGHT = np.cos(_AZIMUTH) * _H1 + np.sin(_AZIMUTH) * _H2
_BACK = -np.sin(_AZIMUTH) * _H1 + np.cos(_AZIMUTH) * _H2
VIEWS = {
    "side": (_RIGHT, np.cos(_ELEVATION) * _ONES - np.sin(_ELEVATION) * _BACK),
    "down the ones axis": (_RIGHT, _BACK),
}
_COLOUR = plotting.PALETTE
_R = np.sqrt(3.0)  # the radius of both normalized sets when D = 3


def _screen(points: np.ndarray, view: str) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3) points -> their (x, y) on the screen of ``view`` (orthographic)."""
    right, up = VIEWS[view]
    points = np.atleast_2d(points)
    return points @ right, points @ up


def _circle_in_plane(radius: float, n: int = 97) -> np.ndarray:
    """(n, 3) points of the circle of ``radius`` about 0 in the plane perpendicular to 1."""
    t = np.linspace(0, 2 * np.pi, n)
    return radius * (np.outer(np.cos(t), _H1) + np.outer(np.sin(t), _H2))


def _line(points: np.ndarray, view: str, **more) -> go.Scatter:
    sx, sy = _screen(points, view)
    return go.Scatter(x=sx, y=sy, mode="lines", hoverinfo="skip", **more)


def sphere_backdrop(view: str, legend: bool) -> list[go.Scatter]:
    """What does not move in the 3-D picture: the plane perpendicular to 1 (a disc), the
    RMSNorm sphere of radius sqrt(3) (its outline, filled translucent), layer norm's circle
    of radius sqrt(3) in the plane (a great circle of that sphere), the coordinate axes and
    the ones direction."""
    t = np.linspace(0, 2 * np.pi, 97)
    outline = _R * np.stack([np.cos(t), np.sin(t)], axis=1)  # a sphere's outline: a circle
    traces = [
        _line(
            _circle_in_plane(2.6),
            view,
            fill="toself",
            name="plane ⟂ 1 (mean 0)",
            fillcolor=plotting.rgba(_COLOUR["sky"], 0.18),
            line={"color": _COLOUR["sky"], "width": 1},
            showlegend=legend,
            legendgroup="plane",
        ),
        go.Scatter(
            x=outline[:, 0],
            y=outline[:, 1],
            mode="lines",
            fill="toself",
            name="RMSNorm's sphere, radius √3",
            fillcolor=plotting.rgba(_COLOUR["vermillion"], 0.07),
            line={"color": _COLOUR["vermillion"], "width": 1, "dash": "dot"},
            hoverinfo="skip",
            showlegend=legend,
            legendgroup="sphere",
        ),
        _line(
            _circle_in_plane(_R),
            view,
            name="layer norm's circle, radius √3",
            line={"color": _COLOUR["blue"], "width": 3},
            showlegend=legend,
            legendgroup="circle",
        ),
    ]
    for i, name in enumerate(("x₁", "x₂", "x₃")):
        tip = np.zeros(3)
        tip[i] = 2.2
        sx, sy = _screen(np.stack([np.zeros(3), tip]), view)
        traces.append(
            go.Scatter(
                x=sx,
                y=sy,
                mode="lines+text",
                text=["", name],
                textposition="top center",
                hoverinfo="skip",
                showlegend=False,
                line={"color": _COLOUR["black"], "width": 1},
                textfont={"color": _COLOUR["black"]},
            )
        )
    sx, sy = _screen(np.stack([np.zeros(3), 2.6 * _ONES]), view)
    traces.append(
        go.Scatter(
            x=sx,
            y=sy,
            mode="lines+text",
            text=["", "1"],
            textposition="top center",
            hoverinfo="skip",
            showlegend=False,
            line={"color": _COLOUR["green"], "width": 2, "dash": "dash"},
            textfont={"color": _COLOUR["green"]},
        )
    )
    return traces


def _moving_points(result: dict) -> list[np.ndarray]:
    """The 3-D points of ``sphere_traces``, in its order (see there)."""
    x, px, ln, rms = (result[k] for k in ("x", "px", "ln", "rms"))
    zero = np.zeros(3)
    far = x if np.linalg.norm(x) > _R else rms  # the ray through x reaches the sphere
    return [x, np.stack([x, px]), px, np.stack([zero, ln]), ln, np.stack([zero, far]), rms]


def _coordinates(p: np.ndarray) -> list[str]:
    """A point's hover text: its three coordinates."""
    return ["(" + ", ".join(f"{v:.2f}" for v in p) + ")"]


def sphere_traces(result: dict, view: str, legend: bool) -> list[go.Scatter]:
    """What moves in the 3-D picture, for one example (``experiments.sphere_point``).

    Order: the input x, the segment x -> P x (parallel to 1), P x, the ray from 0 to layer
    norm's output, that output, the ray from 0 to RMSNorm's output, that output.
    """
    pts = _moving_points(result)

    def point(p, name, colour, symbol, group):
        sx, sy = _screen(p, view)
        return go.Scatter(
            x=sx,
            y=sy,
            mode="markers",
            name=name,
            legendgroup=group,
            showlegend=legend,
            text=_coordinates(p),
            hovertemplate=f"{name}: %{{text}}<extra></extra>",
            marker={
                "color": colour,
                "size": 11,
                "symbol": symbol,
                "line": {"color": _COLOUR["black"], "width": 1},
            },
        )

    def line(p, group, style):
        return _line(p, view, showlegend=False, legendgroup=group, name="", line=style)

    return [
        point(pts[0], "input x", _COLOUR["black"], "circle", "x"),
        line(pts[1], "x", {"color": _COLOUR["black"], "width": 1.5, "dash": "dash"}),
        point(pts[2], "P x (centred)", _COLOUR["sky"], "diamond", "px"),
        line(pts[3], "ln", {"color": _COLOUR["blue"], "width": 1.5}),
        point(pts[4], "layer norm(x)", _COLOUR["blue"], "square", "ln"),
        line(pts[5], "rms", {"color": _COLOUR["vermillion"], "width": 1.5, "dash": "dot"}),
        point(pts[6], "RMSNorm(x)", _COLOUR["vermillion"], "x", "rms"),
    ]


_MOVING = 7  # sphere_traces' count


def _sphere_panels(result: dict) -> tuple[go.Figure, list[int]]:
    """Both views of ``result``; returns the figure and the indices of its moving traces."""
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.06,
        subplot_titles=[f"seen from the {v}" if v == "side" else f"seen {v}" for v in VIEWS],
    )
    moving = []
    for col, view in enumerate(VIEWS, start=1):
        for trace in sphere_backdrop(view, legend=col == 1):
            fig.add_trace(trace, row=1, col=col)
        start = len(fig.data)
        for trace in sphere_traces(result, view, legend=col == 1):
            fig.add_trace(trace, row=1, col=col)
        moving += list(range(start, start + _MOVING))
    return fig, moving


def _sphere_layout(fig: go.Figure, title: str, ranges: dict[str, list[list[float]]]) -> None:
    for col, view in enumerate(VIEWS, start=1):
        (xr, yr) = ranges[view]
        fig.update_xaxes(range=xr, visible=False, row=1, col=col)
        # Equal scales, so that circles look round: the picture is a drawing, not a chart.
        fig.update_yaxes(
            range=yr, visible=False, scaleanchor=f"x{'' if col == 1 else col}", row=1, col=col
        )
    plotting.style(
        fig,
        title,
        height=560,
        legend=plotting.legend_row(-0.02, yanchor="top"),
        margin={"t": 90, "b": 10, "l": 10, "r": 10},
    )


def _ranges(results: list[dict]) -> dict[str, list[list[float]]]:
    """Axis ranges of both views that hold every point of every result and the backdrop."""
    ranges = {}
    for view in VIEWS:
        pts = [np.zeros(3), *(2.6 * np.eye(3)), 2.6 * _ONES, *_circle_in_plane(2.6)]
        pts += [r[k] for r in results for k in ("x", "px", "ln", "rms")]
        sx, sy = _screen(np.stack(pts), view)
        sx = np.append(sx, [-_R, _R])  # the sphere's outline
        sy = np.append(sy, [-_R, _R + 0.4])  # and room for the axes' labels
        ranges[view] = [plotting.fit_range(sx), plotting.fit_range(sy)]
    return ranges


def sphere_figure(results: dict[str, dict], active: int = 0) -> go.Figure:
    """Section 1: layer norm and RMSNorm of one 3-feature example, in 3-D, with a slider
    that moves the example (static face).

    Parameters
    ----------
    results : label -> ``experiments.sphere_point`` (``experiments.sphere_path``)
    active : index of the move shown first
    """
    labels = list(results)
    fig, moving = _sphere_panels(results[labels[active]])

    def data(k):
        r = results[labels[k]]
        return [t for view in VIEWS for t in sphere_traces(r, view, legend=view == "side")]

    plotting.frame_slider(fig, labels, "move the input", data, active=active, traces=moving)
    _sphere_layout(
        fig,
        "Layer norm: onto a circle in the plane ⟂ 1;<br>RMSNorm: onto a sphere",
        _ranges(list(results.values())),
    )
    return fig


def live_sphere_figure(result: dict) -> go.Figure:
    """The live face of ``sphere_figure`` (no slider: x1, x2, x3 controls redraw it)."""
    fig, _ = _sphere_panels(result)
    box = [np.array(p, dtype=float) for p in np.ndindex(2, 2, 2)]
    corners = [{"x": 4 * (2 * c - 1), "px": 0 * c, "ln": 0 * c, "rms": 0 * c} for c in box]
    _sphere_layout(fig, "Layer norm and RMSNorm of x, live", _ranges(corners))
    return fig


def update_sphere(fig: go.Figure, result: dict) -> None:
    """Redraw the live 3-D picture in place for a new example: only the moving traces'
    positions and hover texts (the backdrop's stand-ins are empty, so nothing of it is
    sent; a full restyle of every trace would cost several frames)."""
    backdrop = [go.Scatter()] * len(sphere_backdrop("side", False))
    traces = []
    for view in VIEWS:
        traces += backdrop
        for p in _moving_points(result):
            sx, sy = _screen(p, view)
            text = _coordinates(p) if p.ndim == 1 else None
            traces.append(go.Scatter(x=sx.tolist(), y=sy.tolist(), text=text))
    plotting.redraw(fig, traces)


def jacobian_spectrum_figure(facts: dict) -> go.Figure:
    """Section 2: the singular values of layer norm's and RMSNorm's Jacobians at one
    example (``experiments.jacobian_facts``), in units of 1/sigma and 1/rms."""
    d = len(facts["ln_sv"])
    index = np.arange(1, d + 1)
    fig = go.Figure(
        [
            go.Bar(
                x=index,
                y=facts["ln_sv"] / facts["rstd"],
                name="layer norm (× σ)",
                marker={"color": _COLOUR["blue"]},
            ),
            go.Bar(
                x=index,
                y=facts["rms_sv"] / facts["rrms"],
                name="RMSNorm (× rms)",
                marker={"color": _COLOUR["vermillion"]},
            ),
        ]
    )
    fig.update_xaxes(**plotting.axis("singular value, largest first", dtick=1))
    fig.update_yaxes(**plotting.axis("singular value × σ (or × rms)", range=[0, 1.15]))
    return plotting.style(
        fig,
        f"The Jacobian's singular values, D = {d}",
        height=380,
        legend=plotting.legend_row(1.02),
        barmode="group",
        margin={"t": 110},
    )


def gamma_decay_figure(decays, runs: dict[str, list[dict]]) -> go.Figure:
    """Section 3: the mean trained gamma against the decay coefficient, decaying gamma or
    w (gamma = 1 + w), one line per seed; the closed form as markers.

    Parameters
    ----------
    decays : (k,) decay coefficients, all > 0 (a log axis)
    runs : label -> one ``experiments.gamma_decay`` result per seed
    """
    colours = {"decay on γ": _COLOUR["vermillion"], "decay on w, γ = 1 + w": _COLOUR["blue"]}
    fig = go.Figure()
    for label, results in runs.items():
        for i, r in enumerate(results):
            fig.add_trace(
                go.Scatter(
                    x=decays,
                    y=r["gamma_mean"],
                    mode="lines",
                    name=label,
                    legendgroup=label,
                    showlegend=i == 0,
                    line={"color": colours.get(label, _COLOUR["black"])},
                    hovertemplate=f"{label}, seed {i}: λ %{{x:g}}, γ %{{y:.3f}}<extra></extra>",
                )
            )
        fig.add_trace(
            go.Scatter(
                x=decays,
                y=np.mean([r["closed_mean"] for r in results], axis=0),
                mode="markers",
                name="closed form (mean of seeds)",
                legendgroup="closed",
                showlegend=label == next(iter(runs)),
                marker={
                    "color": colours.get(label, _COLOUR["black"]),
                    "symbol": "circle-open",
                    "size": 10,
                },
            )
        )
    ticks = {"tickvals": list(decays), "ticktext": [f"{v:g}" for v in decays]}
    fig.update_xaxes(**plotting.log_axis(decays, title={"text": "weight decay λ"}, **ticks))
    fig.update_yaxes(**plotting.axis("mean γ after training", range=[0, 1.2]))
    return plotting.style(
        fig,
        "Weight decay pulls γ to 0, or γ = 1 + w to 1",
        height=420,
        legend=plotting.legend_row(1.02),
        margin={"t": 120},
    )


# --- Section 4: scale invariance and the effective learning rate -------------------------
#
# ``rate_figure`` (the static face: the norm of the weights before a norm, their effective
# rate and the angle of each step, over SGD steps, one colour per weight decay, a slider
# over the learning rate) and its live face ``live_rate_figure`` with ``update_rate``, all
# drawn by ``rate_traces`` from ``experiments.rate_runs``' results and
# ``experiments.rate_summary``'s reading of them. numpy and make_subplots are imported in
# the functions, so that this half of the module touches no line of the other.

_RATE_PANELS = ("norm", "rate", "angle")  # left to right
_RATE_PER_DECAY = (
    4  # in each panel: the band's lower edge, its upper edge, the mean, the prediction
)
_RATE_COLOUR = plotting.colour_cycle("vermillion", "sky", "blue", "green", "purple")
_RATE_AXES = {
    "norm": "‖W‖ (weight and bias of layer 1)",
    "rate": "effective rate η / ‖W‖² (log)",
    "angle": "angle per step, radians (log)",
}


def _decay_label(decay: float) -> str:
    return "no decay" if decay == 0 else f"decay λ = {decay:g}"


def rate_curves(result: dict, summary: dict, i: int, every: int = 10) -> dict:
    """What :func:`rate_traces` draws for the ``i``-th rate of a ``rate_runs`` result.

    Returns
    -------
    dict with, for each panel of ``_RATE_PANELS``, ``(x, y)``: the steps (n,) and the
    values (L, S, n) for each decay and seed (the norm and the effective rate every
    ``every`` steps, the angle as ``summary``'s root mean square over windows, at their
    middle); and ``predicted`` (L, 3): each decay's equilibrium norm, rate and angle
    (the norm's and rate's from the seeds' mean squared gradient, NaN without decay)
    """
    import numpy as np

    norm = result["norm"][i]  # (L, S, T + 1)
    lr = float(result["lrs"][i])
    steps = np.arange(norm.shape[-1])[::every]
    shown = norm[..., ::every]
    windows = summary["angle_windows"][i]  # (L, S, k)
    width = summary["window_steps"]
    pred_norm = summary["predicted_norm"][i].mean(axis=-1)  # (L,): NaN without decay
    return {
        "norm": (steps, shown),
        "rate": (steps, lr / shown**2),
        "angle": ((np.arange(windows.shape[-1]) + 0.5) * width, windows),
        "predicted": np.stack(
            [pred_norm, lr / pred_norm**2, summary["predicted_angle"][i].mean(axis=-1)], axis=1
        ),
    }


def rate_traces(result: dict, summary: dict, i: int, *, legend: bool = True) -> list[go.Scatter]:
    """The traces of the ``i``-th rate: for each panel (norm, rate, angle), for each decay,
    the band between the seeds' lowest and highest value, their mean, and the predicted
    equilibrium (a dashed line; empty without decay)."""
    import numpy as np

    curves = rate_curves(result, summary, i)
    decays = result["decays"]
    last = int(result["norm"].shape[-1] - 1)
    traces = []
    for p, panel in enumerate(_RATE_PANELS):
        x, y = curves[panel]
        for d, decay in enumerate(decays):
            colour, label = _RATE_COLOUR(d), _decay_label(float(decay))
            group = {"legendgroup": label}
            traces += plotting.band(
                x,
                y[d].min(axis=0),
                y[d].max(axis=0),
                colour,
                lower=group,
                showlegend=False,
                **group,
            )
            traces.append(
                go.Scatter(
                    x=x,
                    y=y[d].mean(axis=0),
                    mode="lines",
                    name=label,
                    showlegend=legend and p == 0,
                    line={"color": colour, "width": 2},
                    **group,
                )
            )
            value = curves["predicted"][d, p]
            has = bool(np.isfinite(value))
            traces.append(
                go.Scatter(
                    x=[0, last] if has else [],
                    y=[value, value] if has else [],
                    mode="lines",
                    name="predicted equilibrium",
                    legendgroup="predicted",
                    legendrank=1001,  # after the decays' entries
                    showlegend=legend and p == 0 and d == int(np.argmax(np.asarray(decays) > 0)),
                    hoverinfo="skip",
                    line={"color": colour, "width": 1.5, "dash": "dash"},
                )
            )
    return traces


def _rate_panels():
    from plotly.subplots import make_subplots

    return make_subplots(rows=1, cols=len(_RATE_PANELS), horizontal_spacing=0.1)


def _add_rate_traces(fig: go.Figure, traces: list[go.Scatter], n_decays: int) -> None:
    per_panel = _RATE_PER_DECAY * n_decays
    for k, t in enumerate(traces):
        fig.add_trace(t, row=1, col=k // per_panel + 1)


def _rate_axes(fig: go.Figure) -> None:
    fig.update_xaxes(title_text="SGD step", nticks=5, tickangle=0)
    for col, panel in enumerate(_RATE_PANELS, start=1):
        fig.update_yaxes(title_text=_RATE_AXES[panel], title_standoff=4, row=1, col=col)


def rate_figure(result: dict, summary: dict, active: int = 0) -> go.Figure:
    """Chapter 9: weights before a norm under SGD, for each rate (slider) and decay (colour).

    Left: the norm of the first layer's weight and bias; middle: the effective rate
    lr / |W|^2; right: the angle each step turns W by (root mean square over windows).
    Bands: lowest to highest seed; lines: their mean; dashed: the predicted equilibrium.

    Parameters
    ----------
    result : ``experiments.rate_runs``' result
    summary : ``experiments.rate_summary(result)``
    active : the index of the rate shown first
    """
    import numpy as np

    lrs = [float(v) for v in result["lrs"]]
    n_decays = len(result["decays"])
    fig = _rate_panels()
    _add_rate_traces(fig, rate_traces(result, summary, active), n_decays)

    def moved(k: int) -> list:
        # Only the values change between rates (float32: the frames are the page's weight).
        return [
            go.Scatter(y=np.asarray(t.y, dtype=np.float32) if t.y is not None else [])
            for t in rate_traces(result, summary, k, legend=False)
        ]

    plotting.frame_slider(fig, [f"{lr:g}" for lr in lrs], "learning rate η", moved, active=active)
    curves = [rate_curves(result, summary, k) for k in range(len(lrs))]
    plotting.style(
        fig,
        "Weights before a norm under SGD:<br>their norm, effective rate and turn per step",
        height=480,
        legend=plotting.legend_row(-0.3, yanchor="top"),
        margin={"t": 110, "b": 150},
    )
    _rate_axes(fig)
    for col, panel in enumerate(_RATE_PANELS, start=1):
        # Frames do not re-run autorange: each axis holds every rate's curves.
        values = [c[panel][1] for c in curves] + [c["predicted"][:, col - 1] for c in curves]
        if panel == "norm":
            fig.update_yaxes(range=plotting.fit_range(values), row=1, col=col)
        else:
            fig.update_yaxes(
                range=plotting.fit_range(values, log=True),
                **plotting.log_axis(values),
                row=1,
                col=col,
            )
    return fig


def _live_rate_title(lr: float, decay: float) -> str:
    return f"Weights before a norm under SGD at η = {lr:.3g}: no decay and λ = {decay:.3g}"


def live_rate_figure(result: dict, summary: dict) -> go.Figure:
    """The chapter 9 view of one rate (``result`` of ``rate_runs`` with one rate and the
    decays 0 and one other), for a FigureWidget."""
    fig = _rate_panels()
    _add_rate_traces(fig, rate_traces(result, summary, 0), len(result["decays"]))
    plotting.style(
        fig,
        _live_rate_title(float(result["lrs"][0]), float(result["decays"][-1])),
        height=460,
        legend=plotting.legend_row(-0.3, yanchor="top"),
    )
    _rate_axes(fig)
    fig.update_yaxes(type="log", col=2)
    fig.update_yaxes(type="log", col=3)
    return fig


def update_rate(fig: go.Figure, result: dict, summary: dict) -> None:
    """Redraw the live chapter 9 view in place."""
    plotting.redraw(
        fig,
        rate_traces(result, summary, 0),
        title_text=_live_rate_title(float(result["lrs"][0]), float(result["decays"][-1])),
    )
