"""The shared plotly helpers: the look every figure takes and the controls built from them."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from lnbook import plotting


def test_style_gives_the_template_and_a_title_pinned_to_the_top():
    fig = plotting.style(go.Figure(), "a title", height=400, margin={"t": 99})
    assert fig.layout.template.layout.paper_bgcolor == "white"  # plotly_white
    assert fig.layout.title.text == "a title" and fig.layout.title.yref == "container"
    assert fig.layout.height == 400 and fig.layout.margin.t == 99


def test_legend_row_stands_on_its_line_above_the_plot_only():
    assert plotting.legend_row(1.1)["yanchor"] == "bottom"
    assert "yanchor" not in plotting.legend_row(-0.2)
    assert plotting.legend_row(-0.2, yanchor="top", x=0.7) == {
        "orientation": "h", "x": 0.7, "y": -0.2, "yanchor": "top"}  # fmt: skip


def test_colour_cycle_starts_again_after_its_last_colour():
    colour = plotting.colour_cycle("blue", "orange")
    assert [colour(i) for i in range(3)] == [
        plotting.PALETTE[c] for c in ("blue", "orange", "blue")
    ]


def test_frame_slider_names_one_frame_per_step_and_jumps_to_it():
    fig = go.Figure(go.Scatter(y=[0, 0]))
    plotting.frame_slider(
        fig, ["a", "b"], "step", lambda k: [go.Scatter(y=[k, k])], active=1,
        layout=lambda k: {"xaxis": {"range": [0, k + 1]}},
    )  # fmt: skip
    assert [f.name for f in fig.frames] == ["a", "b"]
    assert list(fig.frames[1].data[0].y) == [1, 1] and fig.frames[1].layout.xaxis.range == (0, 2)
    slider = fig.layout.sliders[0]
    assert slider.name == "step" and slider.active == 1 and slider.currentvalue.prefix == "step: "
    assert [list(s.args[0]) for s in slider.steps] == [["a"], ["b"]]


def test_visibility_menu_shows_one_group_and_the_shared_traces():
    menu = plotting.visibility_menu(["g0", "g1"], 2, "group", shared=1, dropdown=True, y=1.2)
    assert menu["type"] == "dropdown" and menu["y"] == 1.2 and menu["name"] == "group"
    shown = [b["args"][0]["visible"] for b in menu["buttons"]]
    assert shown == [[True, True, False, False, True], [False, False, True, True, True]]
    assert all(b["method"] == "restyle" for b in menu["buttons"])


def test_redraw_moves_the_data_and_keeps_the_style():
    fig = go.Figure(
        [go.Scatter(x=[0, 1], y=[0, 0], name="a", line={"color": plotting.PALETTE["blue"]}),
         go.Scatter(x=[0], y=[0], marker={"color": [0.0]})]
    )  # fmt: skip
    new = [
        go.Scatter(x=[0, 1], y=[2, 3], name="b"),
        go.Scatter(x=[5], y=[6], marker={"color": [1.0]}),
    ]
    plotting.redraw(fig, new, yaxis_range=[0, 4])
    assert list(fig.data[0].y) == [2, 3] and fig.data[0].name == "b"
    assert fig.data[0].line.color == plotting.PALETTE["blue"]  # not reset by the new trace
    assert list(fig.data[1].marker.color) == [1.0] and list(fig.layout.yaxis.range) == [0, 4]


def test_step_marker_rings_one_marker_per_curve_at_the_step():
    m = plotting.step_marker(3.0, [1.0, np.nan], ["#000000", "#0072B2"])
    assert list(m.x) == [3.0, 3.0] and m.showlegend is False and m.hoverinfo == "skip"
    assert m.marker.line.color == plotting.PALETTE["black"]


def test_fit_range_and_rgba_name_bad_input():
    # Used to be NumPy's "zero-size array to reduction operation minimum".
    with pytest.raises(ValueError, match=r"values must hold a finite number .* got \[\]"):
        plotting.fit_range([])
    with pytest.raises(ValueError, match=r"values must hold a finite number .* got \[nan\]"):
        plotting.fit_range([np.nan])
    with pytest.raises(ValueError, match="values must hold a positive finite number"):
        plotting.fit_range([-1.0, 0.0], log=True)
    # Used to be int()'s "invalid literal for int() with base 16".
    with pytest.raises(ValueError, match=r'colour must be "#RRGGBB", .* got \'red\''):
        plotting.rgba("red", 0.5)
    with pytest.raises(ValueError, match=r"colour must be \"#RRGGBB\", .* got '#12345'"):
        plotting.rgba("#12345", 0.5)
    assert plotting.rgba("#0072B2", 0.5) == "rgba(0,114,178,0.5)"
    assert plotting.fit_range([1.0, 2.0]) == [0.95, 2.05]
