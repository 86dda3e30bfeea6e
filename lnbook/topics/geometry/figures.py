"""Chapter 9's figure builders (geometry): plotly figures that work with no kernel."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ... import plotting

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
