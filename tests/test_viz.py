"""Figure builders, checked on content: traces, frames, sliders, labels."""

from __future__ import annotations

import numpy as np

from lnbook import viz


def _result(k: int = 3, d: int = 5) -> dict[str, np.ndarray]:
    """A hand-made result: frame 0 clean, frame 1 off the chart, frame 2 NaN."""
    ref = np.tile(np.linspace(-1.5, 1.5, d), (k, 1))
    one = ref.copy()
    one[1] = ref[1] * 100
    one[2] = np.nan
    return {
        "offsets": 10.0 ** np.arange(k),
        "err_one_pass": np.array([1e-6, 150.0, np.inf]),
        "err_two_pass": np.array([1e-7, 2e-7, 0.0]),
        "x_hat_ref": ref,
        "x_hat_one_pass": one,
        "x_hat_two_pass": ref + 1e-7,
    }


def test_variance_pitfall_figure_has_one_frame_per_offset():
    fig = viz.variance_pitfall_figure(_result())
    assert [f.name for f in fig.frames] == ["1e0", "1e1", "1e2"]
    slider = fig.layout.sliders[0]
    assert [s.label for s in slider.steps] == ["1e0", "1e1", "1e2"]
    assert all(s.method == "animate" and list(s.args[0]) == [s.label] for s in slider.steps)


def test_variance_pitfall_frames_carry_each_offsets_data():
    r = _result()
    fig = viz.variance_pitfall_figure(r)
    for k, frame in enumerate(fig.frames):
        assert list(frame.traces) == [0, 1, 2, 5]
        np.testing.assert_array_equal(frame.data[0].y, r["x_hat_ref"][k])
        np.testing.assert_array_equal(frame.data[2].y, r["x_hat_one_pass"][k])
        assert list(frame.data[3].x) == [r["offsets"][k]] * 2  # the marker follows the slider
    # The plotted one-pass values differ between frames: the slider changes the data.
    assert not np.array_equal(fig.frames[0].data[2].y, fig.frames[1].data[2].y)


def test_variance_pitfall_figure_says_when_values_leave_the_chart():
    fig = viz.variance_pitfall_figure(_result())
    notes = [f.layout.annotations[0].text for f in fig.frames]
    assert notes[0] == ""
    assert "4 of 5 values off the chart" in notes[1]  # the middle value is 0 and "150" in notes[1]
    assert "NaN" in notes[2]


def test_variance_pitfall_error_panel_is_log_and_keeps_every_point():
    fig = viz.variance_pitfall_figure(_result())
    assert fig.layout.xaxis2.type == "log" and fig.layout.yaxis2.type == "log"
    one_pass_error = fig.data[4]
    assert np.isfinite(one_pass_error.y).all()  # inf drawn at the ceiling, not dropped
    assert one_pass_error.y[2] == max(one_pass_error.y)
    assert min(fig.data[3].y) > 0  # an exact zero would vanish from a log axis


def test_figures_are_labelled_and_use_the_palette():
    fig = viz.variance_pitfall_figure(_result())
    assert fig.layout.title.text
    for axis in (fig.layout.xaxis, fig.layout.yaxis, fig.layout.xaxis2, fig.layout.yaxis2):
        assert axis.title.text
    colours = {t.line.color for t in fig.data if t.line and t.line.color}
    colours |= {t.marker.color for t in fig.data[:3] if t.marker and t.marker.color}
    assert colours <= set(viz.PALETTE.values())


def test_variance_pitfall_figure_stays_light():
    n = 13
    r = {
        "offsets": 10.0 ** np.arange(n),
        "err_one_pass": np.ones(n),
        "err_two_pass": np.ones(n) * 1e-7,
        "x_hat_ref": np.zeros((n, 32)),
        "x_hat_one_pass": np.zeros((n, 32)),
        "x_hat_two_pass": np.zeros((n, 32)),
    }
    assert len(viz.variance_pitfall_figure(r).to_json()) < 100_000
