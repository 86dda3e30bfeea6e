"""Chapter 12's figures: where the norm goes, 2017-2025.

``init_profile_figure`` (each block's gradient and the residual stream's size at
initialization, buttons over the placements, a slider over the depth; post-norm and
pre-norm always drawn as the references), ``stability_figure`` (every run's final loss after
training without warm-up, a slider over the learning rate) and the live face of the first,
``live_profile_figure`` and ``update_profile``. Results come in from ``experiments.py``;
the look and the controls come from ``lnbook.plotting``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ...plotting import (
    PALETTE,
    axis,
    fit_range,
    frame_slider,
    legend_row,
    log_axis,
    redraw,
    style,
    visibility_menu,
)

# Each placement's name in the figures and tables (the keys of experiments.PLACEMENTS).
LABELS = {
    "post": "post-norm (2017)",
    "pre": "pre-norm (GPT-2)",
    "pre_no_final": "pre-norm, no final norm",
    "sandwich": "sandwich / Peri-LN",
    "post_sublayer": "OLMo 2 (norm on f(x))",
    "deepnorm": "DeepNorm",
    "admin": "Admin",
    "mix": "Mix-LN",
}
# Post-norm and pre-norm keep chapter 5's colours; the newer placements take the others.
_COLOURS = {
    "post": PALETTE["vermillion"],
    "pre": PALETTE["blue"],
    "pre_no_final": PALETTE["sky"],
    "sandwich": PALETTE["green"],
    "post_sublayer": PALETTE["orange"],
    "deepnorm": PALETTE["purple"],
    "admin": PALETTE["yellow"],
    "mix": PALETTE["black"],
}
_REFERENCES = ("post", "pre")  # drawn with every choice of the buttons
# The top of a loss axis: chance on the copy task (ln 15 ≈ 2.7 nats) and a little above.
_CHANCE_TOP = 3.2


def _spread(values: np.ndarray) -> dict:
    """The seeds' mean and, as error bars, their min-max; ``values`` (S, L)."""
    mean = values.mean(axis=0)
    return {
        "y": mean,
        "error_y": {
            "type": "data",
            "symmetric": False,
            "array": values.max(axis=0) - mean,
            "arrayminus": mean - values.min(axis=0),
            "thickness": 1.5,
        },
    }


def profile_traces(
    profile: dict, k: int, placements: list[str], bars: bool = True
) -> list[go.Scatter]:
    """For each placement, at depth index ``k``: its gradient per block, then its residual
    stream per block (mean over the seeds, min-max as error bars unless ``bars`` is False:
    the live face redraws positions, not error bars)."""
    traces = []
    for p in placements:
        n = profile["depths"][k]
        line = {"color": _COLOURS[p], "width": 3 if p in _REFERENCES else 2}
        for key, show in (("layer_grad", True), ("residual", False)):
            traces.append(
                go.Scatter(
                    x=np.arange(1, n + 1),
                    mode="lines+markers",
                    name=LABELS[p],
                    legendgroup=p,
                    showlegend=show,
                    line=line,
                    marker={"color": _COLOURS[p], "size": 7},
                    xaxis="x" if key == "layer_grad" else "x2",
                    yaxis="y" if key == "layer_grad" else "y2",
                    **(
                        _spread(profile[key][p][k])
                        if bars
                        else {"y": profile[key][p][k].mean(axis=0)}
                    ),
                )
            )
    return traces


def _order(profile: dict) -> tuple[list[str], list[str]]:
    """The placements the buttons choose among, then the references, in the figure's order."""
    names = list(profile["placements"])
    return [p for p in names if p not in _REFERENCES], [p for p in _REFERENCES if p in names]


def init_profile_figure(profile: dict) -> go.Figure:
    """Chapter 12: each block's gradient and the residual stream's size at initialization;
    buttons pick the placement (post-norm and pre-norm always shown), a slider the depth.

    Parameters
    ----------
    profile : from ``experiments.init_profile`` (with "post" and "pre" among its placements)
    """
    chosen, refs = _order(profile)
    order = chosen + refs
    depths = [int(n) for n in profile["depths"]]
    k0 = len(depths) - 1  # open on the deepest stack, where the placements differ most
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14)
    fig.add_traces(profile_traces(profile, k0, order))
    visible = [i // 2 == 0 or i >= 2 * len(chosen) for i in range(2 * len(order))]
    for trace, v in zip(fig.data, visible, strict=True):
        trace.visible = v
    frame_slider(
        fig,
        [str(n) for n in depths],
        "number of blocks",
        lambda k: profile_traces(profile, k, order),
        active=k0,
    )
    grads = [profile["layer_grad"][p] for p in order]
    res = [profile["residual"][p] for p in order]
    fig.update_layout(
        updatemenus=[
            visibility_menu(
                [LABELS[p] for p in chosen],
                2,
                "placement (post- and pre-norm always shown)",
                shared=2 * len(refs),
                dropdown=True,
            )
        ]
    )
    return style(
        fig,
        "Gradients and the residual stream at initialization<br>"
        "(mean of the seeds, bars: min to max)",
        height=560,
        xaxis=axis("block", range=[0.5, max(depths) + 0.5]),
        xaxis2=axis("block", range=[0.5, max(depths) + 0.5]),
        yaxis=axis(
            "gradient norm of the block's W2", **log_axis(grads, range=fit_range(grads, log=True))
        ),
        yaxis2=axis(
            "residual stream, norm per token", **log_axis(res, range=fit_range(res, log=True))
        ),
        legend=legend_row(-0.3),
        margin={"t": 150},
    )


def stability_traces(grid: dict, lr: float) -> list[go.Scatter]:
    """At rate ``lr``: every seed's final loss, one marker per run, by placement (the
    placements trained at that rate)."""
    names = [p for p, r in grid["configs"] if r == lr]
    traces = []
    for i, seed in enumerate(grid["seeds"]):
        traces.append(
            go.Scatter(
                x=[LABELS[p] for p in names],
                y=[grid["final"][(p, lr)][i] for p in names],
                mode="markers",
                name=f"seed {seed}",
                marker={
                    "color": [_COLOURS[p] for p in names],
                    "size": 13,
                    "symbol": ["circle", "diamond", "square", "triangle-up"][i % 4],
                    "line": {"color": PALETTE["black"], "width": 1},
                },
            )
        )
    return traces


def stability_figure(grid: dict) -> go.Figure:
    """Chapter 12: each run's final training loss without warm-up, by placement; a slider
    picks the learning rate.

    Parameters
    ----------
    grid : from ``experiments.rate_grid``
    """
    lrs = grid["lrs"]
    k0 = len(lrs) - 1  # open on the largest rate, where the placements differ most
    fig = go.Figure(stability_traces(grid, lrs[k0]))
    frame_slider(fig, [f"{lr:g}" for lr in lrs], "learning rate",
                 lambda k: stability_traces(grid, lrs[k]), active=k0)  # fmt: skip
    top = max(_CHANCE_TOP, fit_range(list(grid["final"].values()), pad=0.03)[1])
    return style(
        fig,
        f"Loss after {grid['steps']} steps without warm-up<br>(one marker per seed)",
        height=520,
        # Every placement trained at some rate, in a fixed order: the frames keep the axis.
        xaxis=axis(
            "placement of the norm",
            tickangle=-30,
            type="category",
            categoryorder="array",
            categoryarray=[LABELS[p] for p in dict.fromkeys(p for p, _ in grid["configs"])],
        ),
        yaxis=axis("final loss (nats; chance = ln 15 ≈ 2.7)", range=[-0.05, top]),
        legend=legend_row(1.02),
        margin={"t": 130, "b": 150},
    )


def live_profile_figure(profile: dict) -> go.Figure:
    """The live face: the placements of ``profile`` (from ``experiments.init_profile`` with
    one depth), gradients and residual stream per block, the mean of the seeds."""
    names = list(profile["placements"])
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14)
    fig.add_traces(profile_traces(profile, 0, names, bars=False))
    style(
        fig,
        "At initialization (mean of the seeds)",
        height=460,
        xaxis=axis("block"),
        xaxis2=axis("block"),
        # Decade ticks over wide spans: the live data move, and the axes autorange.
        yaxis=axis("gradient norm of the block's W2", **log_axis([1e-3, 1e2])),
        yaxis2=axis("residual stream, norm per token", **log_axis([1.0, 1e3])),
        legend=legend_row(-0.3),
    )
    return fig


def update_profile(fig: go.Figure, profile: dict) -> None:
    """Redraw the live figure in place with a new ``profile`` (same number of placements)."""
    redraw(fig, profile_traces(profile, 0, list(profile["placements"]), bars=False))
