"""Chapter 8's figures: how fast layer norm runs, and how accurate it stays.

``bandwidth_figure`` (copy speed against array size: the memory roof),
``roofline_figure`` (the machine's roofline and where kernels land on it),
``speed_figure`` (GB/s of each implementation, a drop-down over norm and pass) and
``accuracy_figure`` (the error of each implementation against the data's offset). Every
figure gives an implementation the same colour (``IMPL_COLOURS``). Results come in from
``lnbook.bench`` and ``experiments.py``; the look and the controls come from
``lnbook.plotting``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ...plotting import PALETTE, axis, legend_row, log_axis, style, visibility_menu

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
    # Labels at the sizes measured: plotly's own would mark 2 and 5 in tiny digits.
    sizes = log_axis(
        result["mib"],
        tickvals=list(result["mib"]),
        ticktext=[f"{m:g}" for m in result["mib"]],
        minor={"ticks": ""},
    )
    return style(
        fig,
        "Copy speed on one thread<br>against the size of the array",
        height=420,
        xaxis=axis("size of the array copied (MiB, log)", **sizes),
        yaxis=axis("copy speed (GB/s, read + written)", rangemode="tozero"),
    )


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
    speeds = [np.minimum(peak, bw * intensity), [y for _, y in points.values()]]
    return style(
        fig,
        "The roofline of this machine<br>(one thread)",
        height=560,
        xaxis=axis("arithmetic intensity (operations per byte, log)", **log_axis(intensity)),
        yaxis=axis("speed (GFLOP/s, log)", **log_axis(speeds)),
        legend=legend_row(-0.25, yanchor="top"),
        margin={"b": 170},
    )


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
    return style(
        fig,
        f"Speed, {rows[0]['shape']} float32<br>({rows[0]['mib']:g} MiB), one thread",
        height=560,
        # A drop-down with one view (one trace) per choice.
        updatemenus=[visibility_menu(labels, 1, "norm and pass", dropdown=True, y=1.08)],
        xaxis=axis(
            "GB/s of the bytes the pass must move<br>(higher is faster)",
            range=[0, 1.1 * max(copy, max(r["gbps"] for r in rows))],
        ),
        yaxis=axis("implementation", autorange="reversed", automargin=True),
        showlegend=False,
        # Plotly shrinks bar labels that it thinks do not fit; never below 12 px.
        uniformtext={"minsize": 12, "mode": "show"},
        margin={"t": 150},
    )


def accuracy_figure(result: dict) -> go.Figure:
    """Chapter 8: the largest error of x_hat against the data's offset, per implementation.

    Parameters
    ----------
    result : ``experiments.offset_accuracy()``
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
    errors = [result[name] for name in styles if name in result]
    return style(
        fig,
        "Accuracy in float32<br>on rows of offset + randn",
        height=500,
        xaxis=axis("offset added to every value (same units as the data)", type="category"),
        yaxis=axis("largest error of x̂ (standard deviations, log)", **log_axis(errors)),
        legend=legend_row(-0.25, yanchor="top"),
        margin={"b": 150},
    )
