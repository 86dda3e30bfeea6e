"""Figure builders, checked on content: traces, frames, sliders, labels."""

from __future__ import annotations

import functools
import importlib
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from lnbook import _results, plotting
from lnbook.data import layer_activations
from lnbook.topics.affine import experiments as affine_experiments
from lnbook.topics.affine import figures as affine_figures
from lnbook.topics.attention_logits import experiments as attention_logits_experiments
from lnbook.topics.attention_logits import figures as attention_logits_figures
from lnbook.topics.batch_norm import experiments as batch_norm_experiments
from lnbook.topics.batch_norm import figures as batch_norm_figures
from lnbook.topics.covariate_shift import figures as covariate_shift_figures
from lnbook.topics.distributed import experiments as distributed_experiments
from lnbook.topics.distributed import figures as distributed_figures
from lnbook.topics.effective_rate import experiments as effective_rate_experiments
from lnbook.topics.effective_rate import figures as effective_rate_figures
from lnbook.topics.folding import experiments as folding_experiments
from lnbook.topics.folding import figures as folding_figures
from lnbook.topics.from_scratch import figures as from_scratch_figures
from lnbook.topics.geometry import experiments as geometry_experiments
from lnbook.topics.geometry import figures as geometry_figures
from lnbook.topics.outliers import experiments as outliers_experiments
from lnbook.topics.outliers import figures as outliers_figures
from lnbook.topics.performance import figures as performance_figures
from lnbook.topics.placements import experiments as placements_experiments
from lnbook.topics.placements import figures as placements_figures
from lnbook.topics.precision import experiments as precision_experiments
from lnbook.topics.precision import figures as precision_figures
from lnbook.topics.recurrent import experiments as recurrent_experiments
from lnbook.topics.recurrent import figures as recurrent_figures
from lnbook.topics.statistics import experiments as statistics_experiments
from lnbook.topics.statistics import figures as statistics_figures
from lnbook.topics.transformers import experiments as transformers_experiments
from lnbook.topics.transformers import figures as transformers_figures
from lnbook.topics.variants import experiments as variants_experiments
from lnbook.topics.variants import figures as variants_figures


def _result(k: int = 3, d: int = 5) -> dict[str, np.ndarray]:
    """A hand-made result: frame 0 clean, frame 1 off the chart, frame 2 NaN."""
    ref = np.tile(np.linspace(-1.5, 1.5, d), (k, 1))
    one = ref.copy()
    one[1] = ref[1] * 100
    one[2] = np.nan
    return {
        "offsets": 10.0 ** np.arange(k),
        "err_one_pass": np.array([1e-6, 150.0, np.inf]),
        "err_one_pass_finite": np.array([1e-6, 150.0, np.nan]),
        "nan_one_pass": np.array([0.0, 0.0, 1.0]),
        "err_two_pass": np.array([1e-7, 2e-7, 0.0]),
        "x_hat_ref": ref,
        "x_hat_one_pass": one,
        "x_hat_two_pass": ref + 1e-7,
    }


def test_variance_pitfall_figure_has_one_frame_per_offset():
    fig = from_scratch_figures.variance_pitfall_figure(_result())
    assert [f.name for f in fig.frames] == ["1", "10", "100"]
    slider = fig.layout.sliders[0]
    assert [s.label for s in slider.steps] == ["1", "10", "100"]
    assert all(s.method == "animate" and list(s.args[0]) == [s.label] for s in slider.steps)


def test_variance_pitfall_frames_carry_each_offsets_data():
    r = _result()
    fig = from_scratch_figures.variance_pitfall_figure(r)
    for k, frame in enumerate(fig.frames):
        assert list(frame.traces) == [0, 1, 2, 6]
        np.testing.assert_array_equal(frame.data[0].y, r["x_hat_ref"][k])
        np.testing.assert_array_equal(frame.data[2].y, r["x_hat_one_pass"][k])
        assert list(frame.data[3].x) == [r["offsets"][k]] * 2  # the marker follows the slider
    # The plotted one-pass values differ between frames: the slider changes the data.
    assert not np.array_equal(fig.frames[0].data[2].y, fig.frames[1].data[2].y)


def test_variance_pitfall_figure_says_when_values_leave_the_chart():
    fig = from_scratch_figures.variance_pitfall_figure(_result())
    notes = [f.layout.annotations[0].text for f in fig.frames]
    assert notes[0] == ""
    assert "4 of 5 values off the chart" in notes[1]  # the middle value is 0 and "150" in notes[1]
    assert "NaN" in notes[2]


def test_variance_pitfall_error_panel_marks_nan_apart_from_finite_errors():
    fig = from_scratch_figures.variance_pitfall_figure(_result())
    assert fig.layout.xaxis2.type == "log" and fig.layout.yaxis2.type == "log"
    one_pass, nan_marks = fig.data[4], fig.data[5]
    np.testing.assert_array_equal(one_pass.y[:2], [1e-6, 150.0])  # finite errors as they are
    assert list(nan_marks.x) == [100.0] and nan_marks.text == ("100% NaN",)
    assert nan_marks.y[0] > 150.0  # drawn above every finite error
    assert min(fig.data[3].y) > 0  # an exact zero would vanish from a log axis


def test_figures_are_labelled_and_use_the_palette():
    fig = from_scratch_figures.variance_pitfall_figure(_result())
    assert fig.layout.title.text
    for axis in (fig.layout.xaxis, fig.layout.yaxis, fig.layout.xaxis2, fig.layout.yaxis2):
        assert axis.title.text
    colours = {t.line.color for t in fig.data if t.line and t.line.color}
    colours |= {t.marker.color for t in fig.data[:3] if t.marker and t.marker.color}
    assert colours <= set(plotting.PALETTE.values())


def test_variance_pitfall_figure_stays_light():
    n = 13
    r = {
        "offsets": 10.0 ** np.arange(n),
        "err_one_pass": np.ones(n),
        "err_one_pass_finite": np.ones(n),
        "nan_one_pass": np.zeros(n),
        "err_two_pass": np.ones(n) * 1e-7,
        "x_hat_ref": np.zeros((n, 32)),
        "x_hat_one_pass": np.zeros((n, 32)),
        "x_hat_two_pass": np.zeros((n, 32)),
    }
    assert len(from_scratch_figures.variance_pitfall_figure(r).to_json()) < 100_000


# ---------------------------------------------------------------- chapters 1 and 2 -------


X = layer_activations(n_examples=6, n_features=10, seed=0)


def test_batch_stats_buttons_switch_between_before_and_after():
    stats = statistics_experiments.row_statistics(X)
    fig = statistics_figures.batch_stats_figure(X, stats)
    np.testing.assert_array_equal(fig.data[0].z, X)
    before, after = fig.layout.updatemenus[0].buttons
    assert before.label == "before layer norm" and after.label == "after layer norm"
    np.testing.assert_array_equal(after.args[0]["z"][0], stats["y"])
    np.testing.assert_array_equal(after.args[0]["x"][1], stats["mean_after"])
    np.testing.assert_array_equal(before.args[0]["x"][2], stats["std_before"])


def test_handwriting_figure_shares_one_scale_per_row():
    r = statistics_experiments.handwriting(np.arange(64.0), [(0.5, 0.0), (2.0, 3.0)])
    fig = statistics_figures.handwriting_figure(r)
    assert len(fig.data) == 4
    assert {t.coloraxis for t in fig.data} == {"coloraxis", "coloraxis2"}
    assert fig.layout.coloraxis.cmax == pytest.approx(r["written"].max())
    assert fig.layout.coloraxis.colorscale[0][1] != fig.layout.coloraxis.colorscale[-1][1]


def test_example_explorer_frames_and_buttons_compose():
    examples, scenes = [0, 2, 5], statistics_experiments.EXPLORER_SCENES[:4]
    results = statistics_experiments.explore_scenes(X, examples, scenes)
    fig = statistics_figures.example_explorer_figure(
        results, [s["label"] for s in scenes], [f"example {e}" for e in examples]
    )
    per = len(statistics_figures.explorer_traces(results[0][0]))
    assert len(fig.data) == per * 3
    assert [t.visible for t in fig.data[::per]] == [True, False, False]
    # Buttons restyle visibility only; frames never set it, so the two controls compose.
    for b, button in enumerate(fig.layout.updatemenus[0].buttons):
        assert button.method == "restyle"
        assert list(button.args[0]["visible"]) == [i // per == b for i in range(per * 3)]
    for k, frame in enumerate(fig.frames):
        assert all(t.visible is None for t in frame.data)
        np.testing.assert_allclose(frame.data[per].y, results[k][1]["x"])  # example 2's bars
    assert list(fig.layout.yaxis2.range) == [-4, 4]


def test_live_explorer_update_matches_static_traces():
    a = statistics_experiments.explore_example(X, 1)
    b = statistics_experiments.explore_example(X, 4, shift=2.0, n_features=5)
    fig = statistics_figures.live_explorer_figure(a)
    statistics_figures.update_example_explorer(fig, b)
    for trace, expected in zip(fig.data, statistics_figures.explorer_traces(b), strict=True):
        np.testing.assert_array_equal(trace.y, expected.y)


def test_live_explorer_value_axis_holds_the_std_band():
    # A few large features: the band (mean 2.5, std 4.33) reaches below every feature.
    x = np.array([[0.0, 0.0, 0.0, 10.0], [1.0, 2.0, 3.0, 4.0]])
    skewed = statistics_experiments.explore_example(x, 0)
    opened = statistics_figures.live_explorer_figure(skewed)  # the axis it opens with
    updated = statistics_figures.live_explorer_figure(statistics_experiments.explore_example(x, 1))
    statistics_figures.update_example_explorer(updated, skewed)  # the axis after a change
    for fig in (opened, updated):
        lo, hi = fig.layout.yaxis.range
        band = fig.data[1].y  # the mean ± std rectangle
        assert lo <= min(band) < -1.8 and max(band) <= hi, fig.layout.yaxis.range
        assert hi >= 10.0


def test_explorer_statistics_stay_centred_over_their_panel_with_fewer_features():
    # With few features in use, statistics centred over the features would sit over the
    # right panel's value axis; they stay over the middle of the panel.
    fig = statistics_figures.live_explorer_figure(statistics_experiments.explore_example(X, 0))
    statistics_figures.update_example_explorer(
        fig, statistics_experiments.explore_example(X, 0, n_features=3)
    )
    lo, hi = fig.layout.xaxis2.range
    assert fig.data[4].x[0] == pytest.approx((lo + hi) / 2)
    scenes = [s for s in statistics_experiments.EXPLORER_SCENES if s["n_features"]][:1]
    results = statistics_experiments.explore_scenes(
        X, [0], statistics_experiments.EXPLORER_SCENES[:1] + scenes
    )
    static = statistics_figures.example_explorer_figure(results, ["all", "few"], ["a"])
    lo, hi = static.layout.xaxis2.range
    assert [f.data[4].x[0] for f in static.frames] == [pytest.approx((lo + hi) / 2)] * 2


def test_live_warmup_runs_replace_the_placeholder_and_clear_restores_it():
    fig = transformers_figures.live_warmup_figure(np.full(4, np.nan), "not trained yet")
    transformers_figures.add_warmup_run(fig, np.linspace(2.7, 1.0, 4), "a")
    transformers_figures.add_warmup_run(fig, np.array([2.7, 5.0, np.nan, np.nan]), "b")  # diverges
    assert [t.name for t in fig.data] == ["a", "b"]
    assert fig.layout.yaxis.range[1] >= 5.0  # the diverging run stays on the chart
    assert fig.data[0].line.color != fig.data[1].line.color
    transformers_figures.clear_warmup_runs(fig)
    assert [t.name for t in fig.data] == ["not trained yet"] and len(fig.data[0].x) == 4
    assert list(fig.layout.yaxis.range) == [0, 3.2]


def test_axis_contrast_buttons_show_each_normalization():
    r = statistics_experiments.axis_contrast(X)
    fig = statistics_figures.axis_contrast_figure(r)
    layer, batch = fig.layout.updatemenus[0].buttons
    np.testing.assert_array_equal(layer.args[0]["z"][0], r["layer"])
    np.testing.assert_array_equal(batch.args[0]["z"][0], r["batch"])
    assert "column" in batch.label and "row" in layer.label


def test_invariance_markdown_lists_every_entry():
    table = {"layer norm": {"a": True, "b": False}, "RMSNorm": {"a": True, "b": True}}
    md = statistics_figures.invariance_markdown(table)
    assert md.splitlines()[0] == "| | a | b |"
    assert "| **layer norm** | invariant | – |" in md
    assert "| **RMSNorm** | invariant | invariant |" in md


def test_gamma_beta_figure_one_frame_per_setting():
    settings = [{"gamma": 1.0, "beta": 0.0}, {"gamma": 2.0, "beta": 1.0}]
    h = affine_experiments.affine_histograms(X, 0, settings)
    fig = affine_figures.gamma_beta_figure(h, ["a", "b"])
    assert [f.name for f in fig.frames] == ["a", "b"]
    np.testing.assert_array_equal(fig.frames[1].data[0].y, h["batch"][1])
    np.testing.assert_array_equal(fig.frames[1].data[1].y, h["example"][1])
    assert fig.frames[1].data[2].x[0] == pytest.approx(1.0)  # the mean line sits at beta


def test_recover_figure_buttons_animate_to_each_choice():
    results = [affine_experiments.recover_example(X, k) for k in (0, 3)]
    fig = affine_figures.recover_figure(results, ["undo 0", "undo 3"])
    assert [b.args[0][0] for b in fig.layout.updatemenus[0].buttons] == ["undo 0", "undo 3"]
    np.testing.assert_array_equal(fig.frames[1].data[2].y, results[1]["error"])


def test_trained_gamma_beta_figure_histograms_every_run():
    run = {"gammas": [np.array([0.9, 1.1, 1.2])], "betas": [np.array([0.0, 0.1, -0.1])]}
    fig = affine_figures.trained_gamma_beta_figure(
        affine_experiments.norm_parameter_histograms({"a": run, "b": run})
    )
    assert len(fig.data) == 4
    assert sum(fig.data[0].y) == 3 and sum(fig.data[1].y) == 3


def test_norm_sets_buttons_show_each_partition():
    sets = {
        m: batch_norm_experiments.norm_sets((2, 4, 3), m)
        for m in batch_norm_experiments.NORM_METHODS
    }
    fig = batch_norm_figures.norm_sets_figure(sets)
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == list(batch_norm_experiments.NORM_METHODS)
    bn_z = np.array(buttons[0].args[0]["z"][0])
    assert bn_z.shape == (2, 12)
    assert (bn_z[:, :3] == 1.0).all() and (bn_z[:, 3:] < 1).all()  # channel 0, every example
    ln_z = np.array(buttons[1].args[0]["z"][0])
    assert (ln_z[0] == 1.0).all() and (ln_z[1] < 1).all()  # example 0, every channel
    # Per position: example 0's first position in every channel block, nothing else.
    pp_z = np.array(buttons[4].args[0]["z"][0])
    dark = np.zeros((2, 12), bool)
    dark[0, ::3] = True
    np.testing.assert_array_equal(pp_z == 1.0, dark)
    assert pp_z[0, 1] != pp_z[0, 2] and pp_z[0, 1] != pp_z[1, 1]  # the chessboard of shades


def test_batch_dependence_figure_slider_and_buttons_compose():
    pool, labels = layer_activations(n_examples=300, n_features=5, seed=0, return_labels=True)
    r = batch_norm_experiments.batch_dependence(pool, labels, 0, [2, 8], draws=3)
    fig = batch_norm_figures.batch_dependence_figure(r)
    per = 4  # 3 draws + layer norm
    assert [f.name for f in fig.frames] == ["2", "8"]
    for k, frame in enumerate(fig.frames):
        np.testing.assert_array_equal(frame.data[0].y, r["bn_random"][k, 0])
        np.testing.assert_array_equal(frame.data[per].y, r["bn_same_class"][k, 0])
        assert all(t.visible is None for t in frame.data)
    visible = [list(b.args[0]["visible"]) for b in fig.layout.updatemenus[0].buttons]
    assert visible[0][:per] == [True] * per and visible[1][:per] == [False] * per


def test_small_batch_figure_draws_every_configuration():
    result = {
        "steps": np.array([10, 20]),
        "curves": {
            ("batch", 4): np.array([[0.5, 0.6], [0.7, 0.8]]),
            ("layer", 4): np.array([[0.9, 0.9], [0.9, 0.9]]),
        },
        "loss_curves": {
            ("batch", 4): np.array([[2.0, 1.0], [1.0, 0.5]]),
            ("layer", 4): np.array([[0.5, 0.1], [0.5, 0.1]]),
        },
    }
    fig = batch_norm_figures.small_batch_figure(result)
    names = ["batch norm, batch 4", "layer norm, batch 4"]
    assert [t.name for t in fig.data] == names * 2
    assert [t.showlegend for t in fig.data] == [True, True, False, False]  # one entry each
    np.testing.assert_allclose(fig.data[0].y, [60.0, 70.0])
    np.testing.assert_allclose(fig.data[0].error_y.array, [10.0, 10.0])
    np.testing.assert_allclose(fig.data[2].y, [1.5, 0.75])  # the loss panel, not in percent
    assert fig.data[2].xaxis == "x2" and fig.layout.yaxis2.type == "log"
    assert "10 steps" in fig.layout.yaxis2.title.text


def test_decoding_figure_plots_both_changes():
    r = {"ln_change": np.zeros(4), "bn_change": np.array([np.nan, 1.0, 0.5, 0.0])}
    fig = transformers_figures.decoding_figure(r)
    np.testing.assert_array_equal(fig.data[0].y, r["bn_change"])
    np.testing.assert_array_equal(fig.data[1].y, r["ln_change"])


def test_init_gradients_figure_slider_moves_per_layer_curves():
    r = transformers_experiments.transformer_init_gradients(depths=(2, 3), d=16, seeds=(0,))
    fig = transformers_figures.init_gradients_figure(r)
    assert [f.name for f in fig.frames] == ["2", "3"]
    np.testing.assert_allclose(fig.frames[1].data[0].y, r["layer_grad"]["post"][1])
    np.testing.assert_allclose(fig.frames[1].data[3].y, r["residual_norm"]["pre"][1])
    assert list(fig.frames[1].data[4].x) == [3, 3]  # the marker sits at the chosen depth


def test_warmup_figure_one_frame_per_learning_rate():
    configs = [("post", 0), ("post", 10), ("pre", 0)]
    curves = {
        (lr, p, w): np.stack([np.full(5, lr + w), np.full(5, lr + w + 1)])
        for lr in (0.1, 0.01)
        for p, w in configs
    }
    grid = {"lrs": [0.1, 0.01], "configs": configs, "loss": curves}
    fig = transformers_figures.warmup_figure(grid)
    assert [f.name for f in fig.frames] == ["0.1", "0.01"]
    assert fig.layout.sliders[0].active == 1  # opens on the last rate
    names = [t.name for t in fig.frames[1].data]
    expected = ["post-norm, no warm-up"] * 2 + ["post-norm, warm-up 10 steps"] * 2
    assert names == expected + ["pre-norm, no warm-up"] * 2
    # One line per seed, not their average.
    np.testing.assert_allclose(fig.frames[1].data[0].y, 0.01)
    np.testing.assert_allclose(fig.frames[1].data[1].y, 1.01)


def _fake_shift_run(offset: float, c: int = 3, layers: int = 2, p: int = 10) -> dict:
    inputs = offset + np.arange(c * layers * p, dtype=float).reshape(c, layers, p) / 100
    edges = np.linspace(-8, 8, 41)
    hist = np.array([[_results.binned(v, edges) / p for v in lay] for lay in inputs])
    pct = np.moveaxis(np.percentile(inputs, (15, 50, 85), axis=-1), 0, -1)
    return {"steps": np.array([0, 5, 10]), "inputs": inputs, "percentiles": pct,
            "edges": edges, "hist": hist}  # fmt: skip


def test_covariate_shift_figure_frames_and_layer_buttons_compose():
    runs = {"a": _fake_shift_run(0.0), "b": _fake_shift_run(2.0)}
    fig = covariate_shift_figures.covariate_shift_figure(runs)
    per = 6  # traces per network and layer
    assert len(fig.data) == 2 * 2 * per
    assert [f.name for f in fig.frames] == ["0", "5", "10"]
    # A frame updates each (layer, network)'s marker and bars, in that order.
    frame = fig.frames[2]
    assert len(frame.data) == len(frame.traces) == 2 * 2 * 2
    for i, (layer, lab) in enumerate([(0, "a"), (0, "b"), (1, "a"), (1, "b")]):
        marker, bars = frame.data[2 * i], frame.data[2 * i + 1]
        assert list(marker.x) == [10] * 3
        np.testing.assert_allclose(marker.y, runs[lab]["percentiles"][2, layer], rtol=1e-6)
        np.testing.assert_allclose(bars.y, runs[lab]["hist"][2, layer], rtol=1e-6)
        assert fig.data[frame.traces[2 * i + 1]].type == "bar"
    visible = [list(b.args[0]["visible"]) for b in fig.layout.updatemenus[0].buttons]
    assert visible[0] == [True] * 2 * per + [False] * 2 * per
    assert visible[1] == [False] * 2 * per + [True] * 2 * per
    assert [t.visible for t in fig.data] == visible[1]  # opens on the last layer


def test_live_covariate_shift_update_matches_the_static_traces():
    run = _fake_shift_run(1.0)
    fig = covariate_shift_figures.live_covariate_shift_figure(run, 0, 0, "x")
    covariate_shift_figures.update_covariate_shift(fig, run, 1, 2, "y")
    for t, expected in zip(
        fig.data, covariate_shift_figures.covariate_shift_traces(run, 1, 2), strict=True
    ):
        np.testing.assert_array_equal(t.y, expected.y)
    assert fig.layout.title.text.endswith("y")


def test_lr_sensitivity_figure_draws_failures_at_the_top():
    nan = np.nan
    r = {
        "lrs": np.array([0.1, 1.0]),
        "labels": ["a"],
        "target": 0.5,
        "final": {"a": np.array([[0.2, 0.4], [nan, 9.0]])},
        "steps": {"a": np.array([[100.0, 200.0], [nan, nan]])},
    }
    fig = covariate_shift_figures.lr_sensitivity_figure(r)
    markers_loss, median_loss, markers_steps, median_steps = fig.data
    np.testing.assert_allclose(markers_loss.y, [0.2, 0.4, 3.0, 3.0])
    np.testing.assert_allclose(median_loss.y, [0.3, 3.0])
    np.testing.assert_allclose(markers_steps.y, [100, 200, 220, 220])  # never: at 1.1 x max
    assert list(markers_loss.x) == [0.1, 0.1, 1.0, 1.0]


def test_training_curves_figure_bands_span_the_seeds():
    loss = np.array([[1.0, 1.0, 1.0, 1.0], [3.0, 3.0, 3.0, 3.0], [2.0, 2.0, 2.0, 2.0]])
    fig = covariate_shift_figures.training_curves_figure({"a": loss}, window=2)
    low, high, median = fig.data
    np.testing.assert_allclose(low.y, [1.0] * 3)
    np.testing.assert_allclose(high.y, [3.0] * 3)
    np.testing.assert_allclose(median.y, [2.0] * 3)
    assert list(median.x) == [2, 3, 4]


def test_smoothness_figure_buttons_switch_networks():
    def r(v):
        return {"steps": np.array([0, 10]), "loss_range": np.full(2, v),
                "grad_change": np.full(2, v), "beta": np.full(2, v)}  # fmt: skip

    results = {"n1": {"a": r(1.0), "b": r(2.0)}, "n2": {"a": r(3.0), "b": r(4.0)}}
    fig = covariate_shift_figures.smoothness_figure(results)
    assert len(fig.data) == 2 * 2 * 3
    visible = [list(b.args[0]["visible"]) for b in fig.layout.updatemenus[0].buttons]
    assert visible[0] == [True] * 6 + [False] * 6 and visible[1] == [False] * 6 + [True] * 6
    np.testing.assert_allclose(fig.data[6].y, 3.0)


# ---------------------------------------------------------------- chapter 7 -------------


def test_recentering_figure_one_frame_per_shift_with_both_norms():

    row = np.array([0.2, -1.0, 0.5, 1.3])
    results = {s: variants_experiments.shifted_norms(row, shift=s) for s in (-2.0, 0.0, 2.0)}
    fig = variants_figures.recentering_figure(results, active=1)
    assert [f.name for f in fig.frames] == ["-2", "+0", "+2"]
    assert fig.layout.sliders[0].active == 1
    bars, ln, rms = fig.frames[2].data
    np.testing.assert_allclose(bars.y, row + 2.0)
    np.testing.assert_allclose(ln.y, fig.frames[0].data[1].y)  # layer norm ignores the shift
    assert not np.allclose(rms.y, fig.frames[0].data[2].y)  # RMSNorm does not
    lo, hi = fig.layout.yaxis.range
    assert lo < row.min() - 2 and hi > row.max() + 2  # every frame's input fits the axis


def test_live_recentering_update_matches_the_static_traces():

    row = np.array([0.2, -1.0, 0.5, 1.3])
    fig = variants_figures.live_recentering_figure(variants_experiments.shifted_norms(row))
    r = variants_experiments.shifted_norms(row, shift=30.0, scale=-1.0)
    variants_figures.update_recentering(fig, r)
    for t, expected in zip(fig.data, variants_figures.recentering_traces(r), strict=True):
        np.testing.assert_allclose(t.y, expected.y)
        assert t.name == expected.name
    assert fig.layout.yaxis.range[1] > 30


def test_s_curve_figure_frames_per_spread_and_fit_line():

    curves = {s: variants_experiments.s_curve(s, n_tokens=4, d=3) for s in (0.0, 1.0)}
    fig = variants_figures.s_curve_figure(curves, active=1)
    assert [f.name for f in fig.frames] == ["0", "1"]
    points, fit = fig.frames[1].data
    np.testing.assert_allclose(points.x, curves[1.0]["x"], atol=1e-4)  # rounded to 4 decimals
    np.testing.assert_allclose(points.marker.color, np.log10(curves[1.0]["token_scale"]), atol=1e-3)
    c = curves[1.0]
    grid = np.linspace(c["x"].min(), c["x"].max(), len(fit.x))
    np.testing.assert_allclose(fit.y, c["gamma"] * np.tanh(c["alpha"] * grid), atol=1e-4)
    live = variants_figures.norm_map_figure(curves[0.0], "t")
    variants_figures.update_s_curve(live, curves[1.0])
    np.testing.assert_allclose(live.data[0].y, curves[1.0]["y"], atol=1e-4)


def test_eps_gain_figure_one_line_per_eps():
    s = np.array([1e-3, 1.0])
    fig = variants_figures.eps_gain_figure(
        s, {"a": np.array([0.3, 1.0]), "b": np.array([0.1, 1.0])}
    )
    assert [t.name for t in fig.data] == ["a", "b"] and fig.layout.xaxis.type == "log"
    np.testing.assert_allclose(fig.data[1].y, [0.1, 1.0])


# ---------------------------------------------------------------- chapter 8 -------------


def _grid_rows():
    rows = []
    for norm, pass_ in (("layer", "forward"), ("rms", "forward")):
        for impl, native, t in (("A", False, 2.0), ("B", True, 1.0)):
            rows.append({"shape": "4x4", "mib": 1.0, "norm": norm, "pass": pass_, "impl": impl,
                         "native": native, "seconds": t, "gbps": 8 / t, "x_copy": 2 * t,
                         "x_native": t, "compile_s": float("nan")})  # fmt: skip
    return rows


def test_speed_figure_one_view_per_norm_and_pass_with_the_copy_line():
    fig = performance_figures.speed_figure(_grid_rows())
    assert len(fig.data) == 2  # one bar trace per view
    bars = fig.data[0]
    assert list(bars.y) == ["A", "B"] and list(bars.x) == [4.0, 8.0]
    assert list(bars.text) == ["4.0× copy", "2.0× copy"]
    (line,) = fig.layout.shapes
    assert line.x0 == line.x1 == 16.0  # gbps * x_copy: the bytes at copy speed
    visible = [list(b.args[0]["visible"]) for b in fig.layout.updatemenus[0].buttons]
    assert visible == [[True, False], [False, True]]
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == [
        "layer norm, forward", "RMSNorm, forward"]  # fmt: skip


def test_roofline_figure_roof_is_the_minimum_of_the_two_limits():
    fig = performance_figures.roofline_figure(
        {"copy_gbps": 10.0, "matmul_gflops": 100.0}, {"k": (0.5, 3.0)}
    )
    roof = fig.data[0]
    np.testing.assert_allclose(roof.y, np.minimum(100.0, 10.0 * np.array(roof.x)))
    assert list(fig.data[1].x) == [0.5] and list(fig.data[1].y) == [3.0]


def test_accuracy_and_bandwidth_figures_plot_the_results():
    acc = {"offsets": np.array([0.0, 1e4]), "lnbook NumPy": np.array([1e-7, 2e-7]),
           "PyTorch F.layer_norm": np.array([1e-7, 1e-3])}  # fmt: skip
    fig = performance_figures.accuracy_figure(acc)
    assert [t.name for t in fig.data] == ["lnbook NumPy", "PyTorch F.layer_norm"]
    assert list(fig.data[1].x) == ["0", "10000"] and fig.layout.yaxis.type == "log"
    bw = performance_figures.bandwidth_figure(
        {"mib": np.array([1.0, 64.0]), "gbps": np.array([100.0, 30.0])}
    )
    assert list(bw.data[0].y) == [100.0, 30.0] and bw.layout.xaxis.type == "log"


# ---------------------------------------------------------------- every figure -----------
# Properties every figure builder must have, checked on each one with small inputs: the
# axes hold every slider step's data, controls are named, text is readable, log axes carry
# no minor labels, and colours come from the palette.


def _shift_curves() -> dict:
    return {
        "lrs": np.array([0.1, 1.0]),
        "labels": ["a"],
        "target": 0.5,
        "final": {"a": np.array([[0.2, 0.4], [np.nan, 9.0]])},
        "steps": {"a": np.array([[100.0, 200.0], [np.nan, np.nan]])},
    }


def _smoothness_results() -> dict:
    def r(v):
        return {"steps": np.array([0, 10]), "loss_range": np.array([v, 3 * v]),
                "grad_change": np.full(2, v), "beta": np.array([v, 40 * v])}  # fmt: skip

    return {"n1": {"a": r(1.0), "b": r(2.0)}, "n2": {"a": r(0.01), "b": r(4.0)}}


def _warmup_grid() -> dict:
    configs = [("post", 0), ("pre", 0)]
    # The largest rate diverges above chance: its curves must stay in view too.
    loss = {(lr, p, w): np.stack([np.linspace(3.0, 0.1 if lr < 1 else 5.0, 8)] * 2)
            for lr in (0.1, 1.0) for p, w in configs}  # fmt: skip
    return {"lrs": [0.1, 1.0], "configs": configs, "loss": loss}


def _figure_builders() -> dict:
    """One small, real-shaped call of every figure builder, by name (built lazily)."""
    dep_pool, dep_labels = layer_activations(
        n_examples=300, n_features=5, seed=0, return_labels=True
    )
    scenes = statistics_experiments.EXPLORER_SCENES[:4]
    row = np.array([0.2, -1.0, 0.5, 1.3])
    return {
        "variance_pitfall": lambda: from_scratch_figures.variance_pitfall_figure(_result()),
        "batch_stats": lambda: statistics_figures.batch_stats_figure(
            X, statistics_experiments.row_statistics(X)
        ),
        "handwriting": lambda: statistics_figures.handwriting_figure(
            statistics_experiments.handwriting(np.arange(64.0), [(0.5, 0.0), (2.0, 3.0)])
        ),
        "example_explorer": lambda: statistics_figures.example_explorer_figure(
            statistics_experiments.explore_scenes(X, [0, 2], scenes),
            [s["label"] for s in scenes],
            ["example 0", "example 2"],
        ),
        "live_explorer": lambda: statistics_figures.live_explorer_figure(
            statistics_experiments.explore_example(X, 1)
        ),
        "axis_contrast": lambda: statistics_figures.axis_contrast_figure(
            statistics_experiments.axis_contrast(X)
        ),
        "gamma_beta": lambda: affine_figures.gamma_beta_figure(
            affine_experiments.affine_histograms(
                X, 0, [{"gamma": 0.5, "beta": -2.0}, {"gamma": 3.0, "beta": 2.0}]
            ),
            ["a", "b"],
        ),
        "live_gamma_beta": lambda: affine_figures.live_gamma_beta_figure(
            affine_experiments.affine_histograms(X, 0, [{"gamma": 1.0, "beta": 0.0}])
        ),
        "recover": lambda: affine_figures.recover_figure(
            [affine_experiments.recover_example(X, k) for k in (0, 3)], ["undo 0", "undo 3"]
        ),
        "trained_gamma_beta": lambda: affine_figures.trained_gamma_beta_figure(
            affine_experiments.norm_parameter_histograms(
                {"a": {"gammas": [np.array([0.9, 1.2])], "betas": [np.array([0.0, 0.1])]}}
            )
        ),
        "norm_sets": lambda: batch_norm_figures.norm_sets_figure(
            {
                m: batch_norm_experiments.norm_sets((2, 4, 3), m)
                for m in batch_norm_experiments.NORM_METHODS
            }
        ),
        "batch_dependence": lambda: batch_norm_figures.batch_dependence_figure(
            batch_norm_experiments.batch_dependence(dep_pool, dep_labels, 0, [2, 8, 16], draws=3)
        ),
        "live_batch_dependence": lambda: batch_norm_figures.live_batch_dependence_figure(
            batch_norm_experiments.batch_dependence(dep_pool, dep_labels, 0, [4], draws=3), "random"
        ),
        "small_batch": lambda: batch_norm_figures.small_batch_figure(
            {
                "steps": np.array([10, 20]),
                "curves": {("batch", 4): np.array([[0.5, 0.6]])},
                "loss_curves": {("batch", 4): np.array([[1.0, 0.5]])},
            }
        ),
        "decoding": lambda: transformers_figures.decoding_figure(
            {"ln_change": np.zeros(4), "bn_change": np.array([np.nan, 1.0, 0.5, 0.0])}
        ),
        # Opens on 6 layers; the 9-layer step has layers the opening one lacks.
        "init_gradients": lambda: transformers_figures.init_gradients_figure(
            transformers_experiments.transformer_init_gradients(depths=(2, 6, 9), d=8, seeds=(0,))
        ),
        "warmup": lambda: transformers_figures.warmup_figure(_warmup_grid()),
        "live_warmup": lambda: transformers_figures.live_warmup_figure(
            np.linspace(2.7, 0.1, 10), "a"
        ),
        "covariate_shift": lambda: covariate_shift_figures.covariate_shift_figure(
            {"a": _fake_shift_run(0.0), "b": _fake_shift_run(2.0)}
        ),
        "live_covariate_shift": lambda: covariate_shift_figures.live_covariate_shift_figure(
            _fake_shift_run(1.0), 0, 0, "x"
        ),
        "lr_sensitivity": lambda: covariate_shift_figures.lr_sensitivity_figure(_shift_curves()),
        "training_curves": lambda: covariate_shift_figures.training_curves_figure(
            {"a": np.linspace(2.0, 0.5, 12)[None].repeat(2, 0)}, window=2
        ),
        "training_curves_log": lambda: covariate_shift_figures.training_curves_figure(
            {"a": np.geomspace(2.0, 1e-3, 12)[None].repeat(2, 0)}, window=2, log_y=True
        ),
        "smoothness": lambda: covariate_shift_figures.smoothness_figure(_smoothness_results()),
        "recentering": lambda: variants_figures.recentering_figure(
            {s: variants_experiments.shifted_norms(row, shift=s) for s in (-8.0, 0.0, 8.0)},
            active=1,
        ),
        "live_recentering": lambda: variants_figures.live_recentering_figure(
            variants_experiments.shifted_norms(row)
        ),
        "s_curve": lambda: variants_figures.s_curve_figure(
            {s: variants_experiments.s_curve(s, n_tokens=4, d=3) for s in (0.0, 1.5)}
        ),
        "norm_map": lambda: variants_figures.norm_map_figure(
            variants_experiments.s_curve(1.0, n_tokens=4, d=3), "t"
        ),
        "eps_gain": lambda: variants_figures.eps_gain_figure(
            np.geomspace(1e-7, 1, 8), {"a": np.linspace(0.1, 1, 8)}
        ),
        "bandwidth": lambda: performance_figures.bandwidth_figure(
            {"mib": np.array([0.25, 1.0, 64.0]), "gbps": np.array([60.0, 50.0, 20.0])}
        ),
        "roofline": lambda: performance_figures.roofline_figure(
            {"copy_gbps": 10.0, "matmul_gflops": 100.0}, {"k": (0.5, 3.0)}
        ),
        "speed": lambda: performance_figures.speed_figure(_grid_rows()),
        "accuracy": lambda: performance_figures.accuracy_figure(
            {"offsets": np.array([0.0, 1e4]), "lnbook NumPy": np.array([1e-7, 2e-7])}
        ),
        "sphere": lambda: geometry_figures.sphere_figure(
            geometry_experiments.sphere_path([2.4, 0.2, 1.6])
        ),
        "live_sphere": lambda: geometry_figures.live_sphere_figure(
            geometry_experiments.sphere_point([1.0, 2.0, 3.0])
        ),
        "jacobian_spectrum": lambda: geometry_figures.jacobian_spectrum_figure(
            geometry_experiments.jacobian_facts(np.random.default_rng(1).normal(0.5, 2.0, 8))
        ),
        "gamma_decay": lambda: geometry_figures.gamma_decay_figure(
            np.array([0.1, 1.0]),
            {
                label: [geometry_experiments.gamma_decay(np.array([0.1, 1.0]), zero_centred=zc)]
                for label, zc in (("decay on γ", False), ("decay on w, γ = 1 + w", True))
            },
        ),
        "rate": lambda: effective_rate_figures.rate_figure(*_rate_grid(), active=1),
        "live_rate": lambda: effective_rate_figures.live_rate_figure(*_rate_grid()),
        "init_profile": lambda: placements_figures.init_profile_figure(_placements_profile()),
        "live_profile": lambda: placements_figures.live_profile_figure(
            placements_experiments.init_profile(("deepnorm", "pre"), depths=(3,), seeds=(0,), d=16)
        ),
        "stability": lambda: placements_figures.stability_figure(
            placements_experiments.rate_grid(
                [("deepnorm", 1e-2), ("admin", 3e-2), ("pre", 3e-2)],
                seeds=(0, 1),
                n_layers=1,
                d=16,
                steps=4,
                batch=4,
            )
        ),  # fmt: skip
        "logit": lambda: attention_logits_figures.logit_figure(_logit_grid(), active=1),
        "live_logit": lambda: attention_logits_figures.live_logit_figure(_logit_grid(lrs=(0.1,))),
        "training": lambda: recurrent_figures.training_figure(_digit_runs()),
        "statistics": lambda: recurrent_figures.statistics_figure(_digit_runs(), active=1),
        "norm": lambda: recurrent_figures.norm_figure(
            recurrent_experiments.rnn_norm_grid(scales=(0.5, 2.0), steps=30, hidden=8), active=1
        ),
        "live_norm": lambda: recurrent_figures.live_norm_figure(
            recurrent_experiments.rnn_norms(1.5, steps=30, hidden=8)
        ),
        "outlier": lambda: outliers_figures.outlier_figure(
            outliers_experiments.outlier_sweep((1.0, 8.0, 64.0), d=6, n_tokens=20), active=1
        ),
        "live_outlier": lambda: outliers_figures.live_outlier_figure(
            outliers_experiments.outlier_norms(8.0, 6, n_tokens=3)
        ),
        "channel_sizes": lambda: outliers_figures.channel_sizes_figure(
            outliers_experiments.trained_channel_sizes((0,), steps=5, n_layers=1, d=16)
        ),
        "conditioning": lambda: outliers_figures.conditioning_figure(
            outliers_experiments.conditioning_runs(("adaLN-Zero", "none"), (0,), steps=30, d=8)
        ),
        "ownership": lambda: distributed_figures.ownership_figure(
            distributed_experiments.ownership(n_tokens=5, d=7, world_size=3)
        ),
        "sharded_stats": lambda: distributed_figures.sharded_stats_figure(
            _fake_accuracy_grid(), active=1
        ),
        "live_sharded_stats": lambda: distributed_figures.live_sharded_stats_figure(
            _fake_accuracy_grid(world_sizes=(3,), d_values=(16,), dtypes=("float32",), seeds=(4,))
        ),
        "statistics_error": lambda: precision_figures.statistics_error_figure(_precision_stats()),
        "live_statistics": lambda: precision_figures.live_statistics_figure(
            precision_experiments.statistics_error("bfloat16", (64, 256), (10.0,), (0,))
        ),
        "overflow": lambda: precision_figures.overflow_figure(
            precision_experiments.overflow((2.0, 8.0), d=256, seeds=(0, 1), rows=2)
        ),
        "tiny_variance": lambda: precision_figures.tiny_variance_figure(
            precision_experiments.tiny_variance((1e-5, 1e-2, 1.0), d=32, seeds=(0, 1))
        ),
        "saved_bytes": lambda: folding_figures.saved_bytes_figure(
            folding_experiments.saved_per_token((16, 64), n=2)
        ),
        "live_saved": lambda: folding_figures.live_saved_figure(
            folding_experiments.saved_per_token((32,), n=2)
        ),
    }


@functools.cache
def _precision_stats() -> dict:
    return {
        d: precision_experiments.statistics_error(d, (64, 256), (0.0, 100.0), (0, 1))
        for d in precision_experiments.HALF
    }


def _fake_accuracy_grid(world_sizes=(2, 3), d_values=(8, 16), dtypes=("float32", "float64"),
                        seeds=(0, 1)) -> dict:  # fmt: skip
    """``distributed_experiments.accuracy_grid``'s shapes, with made-up errors that differ
    everywhere (the real one starts process groups: tests/test_distributed.py)."""
    offsets = np.array(distributed_experiments.OFFSETS)
    methods = distributed_experiments.METHODS
    shape = (len(world_sizes), len(d_values), len(dtypes), len(methods), len(seeds), len(offsets))
    var_error = 10.0 ** -np.random.default_rng(0).uniform(1, 15, size=shape)
    itemsize = np.array([4.0 if d == "float32" else 8.0 for d in dtypes])
    p = np.array(world_sizes, dtype=float)[:, None, None]
    factor = np.array([[2.0, 0.0, 2.0]]) * ((p - 1) / p) + np.array([[0.0, 1.0, 0.0]]) * (p - 1)
    ring = factor * 2 * itemsize[None, :, None]  # (P, dtype, method)
    return {"world_sizes": tuple(world_sizes), "d_values": tuple(d_values), "dtypes": tuple(dtypes),
            "offsets": offsets, "methods": methods, "seeds": tuple(seeds),
            "var_error": var_error, "y_error": var_error * 3,
            "bytes_passed": np.broadcast_to(2 * itemsize[None, :, None], ring.shape).copy(),
            "ring_bytes": ring}  # fmt: skip


def test_sharded_stats_figure_frames_per_ranks_and_size_and_a_precision_menu():
    grid = _fake_accuracy_grid()
    fig = distributed_figures.sharded_stats_figure(grid, active=0)
    assert [f.name for f in fig.frames] == ["2 ranks, D = 8", "2 ranks, D = 16", "3 ranks, D = 8",
                                            "3 ranks, D = 16"]  # fmt: skip
    menu = fig.layout.updatemenus[0]
    assert [b.label for b in menu.buttons] == ["float32", "float64"]
    # Each group: 3 methods' lines, then the bytes bars; the menu shows one group.
    assert menu.buttons[1].args[0]["visible"] == [False] * 4 + [True] * 4
    frame = fig.frames[3]  # 3 ranks, D = 16
    for j in range(2):
        for k in range(3):
            line = frame.data[4 * j + k]
            expected = np.median(grid["var_error"][1, 1, j, k], axis=0)
            np.testing.assert_allclose(line.y, expected)
        np.testing.assert_allclose(frame.data[4 * j + 3].y, grid["ring_bytes"][1, j])
    assert not np.allclose(fig.frames[0].data[0].y, frame.data[0].y)


def test_live_sharded_stats_update_matches_the_static_traces():
    from lnbook.live import LiveFigure

    one = _fake_accuracy_grid(world_sizes=(2,), d_values=(8,), dtypes=("float64",), seeds=(0,))
    other = _fake_accuracy_grid(world_sizes=(4,), d_values=(8,), dtypes=("float64",), seeds=(1,))
    other["var_error"] = other["var_error"][..., ::-1]
    fig = LiveFigure(distributed_figures.live_sharded_stats_figure(one))
    distributed_figures.update_sharded_stats(fig, other)
    static = distributed_figures.sharded_stats_traces(other, 0, 0, 0)
    for live, want in zip(fig.data, static, strict=True):
        np.testing.assert_allclose(np.asarray(live.y, dtype=float), np.asarray(want.y, dtype=float))
    assert fig.layout.title.text.startswith("4 ranks")


def test_ownership_figure_colours_each_rank_block():
    own = distributed_experiments.ownership(n_tokens=5, d=7, world_size=3)
    fig = distributed_figures.ownership_figure(own)
    hidden, sequence = (np.asarray(t.z) - 0.5 for t in fig.data)
    assert hidden[0].tolist() == [0, 0, 0, 1, 1, 2, 2]  # 7 features: 3, 2, 2
    assert sequence[:, 0].tolist() == [0, 0, 1, 1, 2] and (sequence == sequence[:, :1]).all()


@functools.cache
def _placements_profile() -> dict:
    return placements_experiments.init_profile(
        ("post", "pre", "sandwich", "admin"), depths=(1, 4), seeds=(0, 1), d=16, batch=4
    )


@functools.cache
def _logit_grid(lrs=(0.01, 0.1)) -> dict:
    return attention_logits_experiments.logit_runs(lrs, seeds=(0, 1), steps=8)


@functools.cache
def _digit_runs() -> dict:
    return recurrent_experiments.digit_runs((0, 1), steps=12, hidden=4, pads=(0, 3), long_steps=5)


@functools.cache
def _rate_grid() -> tuple[dict, dict]:
    r = effective_rate_experiments.rate_runs((0.1, 0.5), (0.0, 0.01), (0,), steps=40)
    return r, effective_rate_experiments.rate_summary(r, window=20, curve_window=10)


FIGURES = list(_figure_builders())


@pytest.fixture(scope="module")
def built() -> dict:
    return {}


@pytest.fixture(params=FIGURES)
def figure(request, built) -> tuple[str, object]:
    name = request.param
    if name not in built:
        built[name] = _figure_builders()[name]()
    return name, built[name]


TOPIC_FIGURES = [
    importlib.import_module(f"lnbook.topics.{p.name}.figures")
    for p in sorted((Path(plotting.__file__).parent / "topics").iterdir())
    if (p / "figures.py").exists()
]


def test_every_figure_builder_is_checked():
    # A new builder must join the list above: these checks are only as good as its reach.
    builders = {
        n
        for module in TOPIC_FIGURES
        for n in dir(module)
        if n.endswith("_figure") and callable(getattr(module, n))
    }
    missing = builders - {f"{n}_figure" for n in FIGURES}
    assert not missing, missing


def _values(trace, letter: str) -> np.ndarray | None:
    """The numbers a trace plots along ``letter`` ("x"/"y"), None for categories."""
    v = trace[letter]
    if v is None:
        other = trace["y" if letter == "x" else "x"]
        if other is None or trace.type != "bar":
            return None
        v = np.arange(len(other))  # plotly's default positions, 0, 1, 2, ...
    v = np.asarray(v, dtype=object).ravel()
    if any(isinstance(e, str) for e in v):
        return None
    v = v.astype(float)
    return v[np.isfinite(v)]


def _axis(fig, layout_override: dict, name: str) -> dict:
    """The properties of layout axis ``name`` in force: a frame's or a button's over the
    figure's own, following ``matches`` to the axis whose range it shares."""
    axis = dict(fig.layout[name].to_plotly_json()) if fig.layout[name] else {}
    axis.update(layout_override.get(name, {}))
    if axis.get("range") is None and axis.get("matches"):
        return _axis(fig, layout_override, f"{name[0]}axis{axis['matches'][1:]}")
    return axis


def _layout_states(fig) -> list[dict]:
    """The axis settings each control can leave: none, then each button's relayout."""
    states = [{}]
    for menu in fig.layout.updatemenus:
        for b in menu.buttons:
            if b.method in ("update", "relayout"):
                changes = b.args[-1] if b.method == "update" else b.args[0]
                state: dict = {}
                for key, value in changes.items():
                    axis, _, prop = key.partition(".")
                    if "axis" in axis:
                        state.setdefault(axis, {})[prop] = value
                states.append(state)
    return states


# Axes that clip on purpose, each saying so in the figure itself (tested above).
DELIBERATE_CLIPS = {("variance_pitfall", "yaxis")}  # the one-pass values off the chart


def test_frames_keep_every_step_inside_the_axes(figure):
    # Plotly does not re-run autorange when a slider or a button animates to a frame: an
    # axis whose data frames change needs a fixed range that holds every frame's data.
    name, fig = figure
    for state in _layout_states(fig):
        for frame in fig.frames:
            indices = list(frame.traces) if frame.traces else list(range(len(frame.data)))
            data = [fig.data[i] for i in range(len(fig.data))]
            moved_axes = set()
            for i, new in zip(indices, frame.data, strict=True):
                base = data[i].to_plotly_json()
                merged = {**base, **{k: v for k, v in new.to_plotly_json().items() if k != "type"}}
                data[i] = type(data[i])(merged)
                moved_axes |= {
                    ("x", "xaxis" + (data[i].xaxis or "x")[1:]),
                    ("y", "yaxis" + (data[i].yaxis or "y")[1:]),
                }
            frame_layout = frame.layout.to_plotly_json() if frame.layout else {}
            override = {**state, **{k: v for k, v in frame_layout.items() if "axis" in k}}
            for letter, axis_name in moved_axes:
                axis = _axis(fig, override, axis_name)
                if axis.get("type") == "category" or (name, axis_name) in DELIBERATE_CLIPS:
                    continue
                assert axis.get("range") is not None, f"{name}: {axis_name} has no fixed range"
                lo, hi = sorted(axis["range"])
                for t in data:
                    if "xaxis" + (t.xaxis or "x")[1:] != axis_name and letter == "x":
                        continue
                    if "yaxis" + (t.yaxis or "y")[1:] != axis_name and letter == "y":
                        continue
                    v = _values(t, letter)
                    if v is None or not len(v):
                        continue
                    if axis.get("type") == "log":
                        v = np.log10(v[v > 0])
                    assert lo - 1e-9 <= v.min() and v.max() <= hi + 1e-9, (
                        f"{name}, frame {frame.name}: {t.name} leaves {axis_name} {axis['range']}"
                    )


def test_init_gradients_figure_every_depth_shows_all_its_layers():
    r = transformers_experiments.transformer_init_gradients(depths=(2, 6, 9), d=8, seeds=(0,))
    fig = transformers_figures.init_gradients_figure(r)
    assert fig.layout.sliders[0].active == 1  # opens on 6 layers
    for axis in (fig.layout.xaxis, fig.layout.xaxis2):
        assert axis.range[0] < 1 and axis.range[1] >= 9  # layers 1 to 9 of the deepest
    top = max(r["layer_grad"][p][-1].max() for p in r["layer_grad"])
    assert fig.layout.yaxis.range[1] >= top  # the deepest model's gradients too


def test_controls_are_named_for_the_sites_own_controls(figure):
    name, fig = figure
    for menu in fig.layout.updatemenus:
        assert menu.name and menu.name.strip(), f"{name}: an updatemenu has no name"
    for slider in fig.layout.sliders:
        assert slider.name and slider.name.strip(), f"{name}: a slider has no name"
        assert slider.currentvalue.prefix == f"{slider.name}: "


def _font_sizes(node, path: str = ""):
    """Every (path, size) of a font in a figure's JSON: data, layout, frames, button args."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("font") and isinstance(value, dict) and "size" in value:
                for size in np.ravel(value["size"]):
                    yield f"{path}.{key}", size
            if key.endswith("font_size") or key.endswith("font.size"):
                yield f"{path}.{key}", value
            if key != "template":  # plotly's own template is not this project's choice
                yield from _font_sizes(value, f"{path}.{key}")
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _font_sizes(value, f"{path}[{i}]")


def test_no_text_is_smaller_than_12_px(figure):
    name, fig = figure
    small = [(p, s) for p, s in _font_sizes(fig.to_plotly_json()) if s < 12]
    assert not small, f"{name}: {small}"
    assert (fig.layout.font.size or 12) >= 12
    # Plotly shrinks bar labels to fit unless told a minimum.
    if any(t.type == "bar" and t.text is not None for t in fig.data):
        assert fig.layout.uniformtext.minsize >= 12


def _axes(fig):
    layouts = [fig.layout.to_plotly_json()] + [
        f.layout.to_plotly_json() for f in fig.frames if f.layout
    ]
    for layout in layouts:
        for key, axis in layout.items():
            if "axis" in key and isinstance(axis, dict):
                yield key, axis


def test_log_axes_label_no_minor_ticks(figure):
    # Left to itself (no dtick, or "D1"/"D2"), plotly labels 2 to 9 between decades in a
    # small font, and those labels collide: decades only, or values written out in full.
    name, fig = figure
    for key, axis in _axes(fig):
        if axis.get("type") != "log":
            continue
        if axis.get("tickvals") is not None:
            texts = axis.get("ticktext")
            assert texts is not None and len(texts) == len(axis["tickvals"]), (name, key)
            for value, text in zip(axis["tickvals"], texts, strict=True):
                assert float(text) == pytest.approx(value), (name, key, text)  # in full
        else:
            dtick = axis.get("dtick")
            assert isinstance(dtick, (int, float)) and dtick >= 1 and dtick == int(dtick), (
                f"{name}: {key} leaves its log ticks to plotly (dtick {dtick!r})"
            )


def test_log_axis_over_a_short_span_labels_1_2_5_in_full():
    fig = covariate_shift_figures.training_curves_figure(
        {"a": np.geomspace(2.0, 0.15, 12)[None]}, window=1, log_y=True
    )
    axis = fig.layout.yaxis
    assert list(axis.tickvals) == pytest.approx([0.2, 0.5, 1.0, 2.0])  # 0.15 to 2
    assert list(axis.ticktext) == ["0.2", "0.5", "1", "2"]
    wide = variants_figures.eps_gain_figure(np.geomspace(1e-7, 1, 8), {"a": np.linspace(0.1, 1, 8)})
    assert wide.layout.xaxis.dtick == 1 and wide.layout.xaxis.tickvals is None  # decades


@pytest.mark.parametrize(("decades", "dtick"), [(8.5, 2), (16, 2), (17, 5), (74, 10), (170, 50)])
def test_log_axis_over_many_decades_labels_at_most_eight(decades, dtick):
    props = plotting.log_axis([1.0, 10.0**decades])
    assert props["dtick"] == dtick and decades / dtick <= 8
    assert props["minor"]["dtick"] in (1, dtick // 5)  # marks between labels, whole decades


def _colours(node, path: str = ""):
    """Every colour string a figure sets itself (not its template, not colour scales)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("template", "colorscale", "coloraxis"):  # no colour, or a data scale
                continue
            colour = key.rsplit(".", 1)[-1].endswith("color")  # color, bgcolor, line.color...
            if colour and isinstance(value, str):
                yield f"{path}.{key}", value
            elif colour and isinstance(value, (list, tuple)):
                yield from ((f"{path}.{key}", v) for v in value if isinstance(v, str))
            else:
                yield from _colours(value, f"{path}.{key}")
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _colours(value, f"{path}[{i}]")


def _rgb(colour: str) -> tuple[int, ...]:
    colour = colour.strip().lower()
    if colour.startswith("#"):
        return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    assert colour.startswith("rgb"), colour
    return tuple(int(float(c)) for c in colour[colour.index("(") + 1 : -1].split(",")[:3])


def test_figures_draw_only_palette_colours(figure):
    # The site's dark mode swaps the template and maps PALETTE["black"] to a light grey:
    # any other hard-coded colour (a "#333" text, a white box) would escape that mapping.
    name, fig = figure
    palette = {_rgb(c) for c in plotting.PALETTE.values()}
    spec = fig.to_plotly_json()
    spec["frames"] = [f.to_plotly_json() for f in fig.frames]
    for path, colour in _colours(spec):
        assert _rgb(colour) in palette, f"{name}: {path} = {colour}"


def test_explorer_statistics_sit_above_every_normalized_bar():
    scenes = statistics_experiments.EXPLORER_SCENES
    results = statistics_experiments.explore_scenes(X, [0, 2], scenes)
    fig = statistics_figures.example_explorer_figure(
        results, [s["label"] for s in scenes], ["a", "b"]
    )
    top = fig.layout.yaxis2.range[1]
    for frame in fig.frames:
        bars = [t for t in frame.data if t.type == "bar" and t.yaxis == "y2"]
        notes = [t for t in frame.data if t.type == "scatter" and t.mode == "text"]
        assert notes and all(n.y[0] == top and n.textposition.startswith("top") for n in notes)
        assert all(not n.cliponaxis for n in notes)  # drawn above the panel, not clipped
        assert max(np.abs(b.y).max() for b in bars) < top


def test_gamma_beta_statistics_sit_above_the_histogram():
    h = affine_experiments.affine_histograms(X, 0, [{"gamma": 3.0, "beta": 0.0}])
    for fig in (
        affine_figures.gamma_beta_figure(h, ["a"]),
        affine_figures.live_gamma_beta_figure(h),
    ):
        note = fig.data[3]
        assert note.yaxis == "y2" and note.y[0] == fig.layout.yaxis2.range[1]
        assert note.textposition.startswith("top") and note.cliponaxis is False


def test_recurrent_statistics_figure_frames_follow_the_padding():
    runs = _digit_runs()
    fig = recurrent_figures.statistics_figure(runs, active=0)
    assert [f.name for f in fig.frames] == ["0 blank rows", "3 blank rows"]
    # Each frame's "used" trace (the third of each panel) is step min(t, 8)'s stored std:
    # flat after step 8, and as long as the padded sequence.
    for frame, p in zip(fig.frames, (0, 3), strict=True):
        used = np.asarray(frame.data[5].y)  # the second panel's (from h): (8 + p,)
        assert len(used) == 8 + p
        np.testing.assert_allclose(used[7:], runs["stored_std"][1, :, -1].mean())
        seen = np.asarray(frame.data[4].y)
        np.testing.assert_allclose(seen, runs["seen_std"][1, :, p // 3, : 8 + p].mean(axis=0))


def test_recurrent_norm_figure_draws_each_scale_and_the_bound():
    grid = recurrent_experiments.rnn_norm_grid(scales=(0.5, 2.0), steps=30, hidden=8)
    fig = recurrent_figures.norm_figure(grid, active=0)
    assert [f.name for f in fig.frames] == ["0.5", "2"]
    plain_mean = [np.asarray(f.data[2].y) for f in fig.frames]
    assert plain_mean[1][-1] > 100 * plain_mean[0][-1]  # the larger scale grows
    np.testing.assert_allclose(fig.data[-1].y, np.sqrt(7))
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.title.text


# ---------------------------------------------------------------- chapter 15 -------------


def test_statistics_error_figure_slider_over_offsets_and_buttons_over_dtypes():
    r = _precision_stats()
    fig = precision_figures.statistics_error_figure(r)
    per_dtype = len(fig.data) // 2
    assert per_dtype == 2 * len(precision_experiments.METHODS) + 1  # 2 panels, + floor
    assert [f.name for f in fig.frames] == ["0", "100"]
    assert fig.layout.sliders[0].name.startswith("offset")
    menu = fig.layout.updatemenus[0]
    assert [b.label for b in menu.buttons] == ["float16", "bfloat16"]
    assert [t.visible for t in fig.data] == [True] * per_dtype + [False] * per_dtype
    # The frames move the data: the naive one-pass output error (float16, output panel)
    # differs between offsets 0 and 100, and each frame holds both dtypes' traces.
    i = 1  # method 0, panel 1 (output)
    assert len(fig.frames[0].data) == len(fig.data)
    assert not np.array_equal(fig.frames[0].data[i].y, fig.frames[1].data[i].y)
    expected = np.median(
        np.clip(np.nan_to_num(r["float16"]["out_err"][0, :, 1, :], nan=1e2, posinf=1e2), 1e-9, 1e2),
        axis=0,
    )
    np.testing.assert_allclose(fig.frames[1].data[i].y, expected)
    assert fig.data[per_dtype - 1].name.startswith("exact output")


def test_statistics_error_figure_draws_inf_at_the_top():
    r = {k: dict(v) for k, v in _precision_stats().items()}
    r["float16"]["out_err"] = np.full_like(r["float16"]["out_err"], np.inf)
    fig = precision_figures.statistics_error_figure(r)
    assert max(fig.data[1].y) == precision_figures.CAP
    assert "inf or NaN" in fig.data[1].text
    assert fig.layout.yaxis2.range[1] > np.log10(precision_figures.CAP)


def test_live_statistics_update_matches_the_static_traces():
    r = precision_experiments.statistics_error("float16", (64, 256), (100.0,), (1,))
    fig = go.FigureWidget(precision_figures.live_statistics_figure(r))
    other = precision_experiments.statistics_error("bfloat16", (64, 256), (0.0,), (2,))
    precision_figures.update_statistics(fig, other)
    static = precision_figures.live_statistics_figure(other)
    for live, ref in zip(fig.data, static.data, strict=True):
        np.testing.assert_array_equal(live.y, ref.y)
    assert "bfloat16" in fig.layout.title.text


def test_overflow_and_tiny_variance_figures_plot_the_results():
    o = precision_experiments.overflow((2.0, 8.0), d=256, seeds=(0, 1), rows=2)
    fig = precision_figures.overflow_figure(o)
    means = [t for t in fig.data if t.mode == "lines+markers"]
    np.testing.assert_array_equal(means[0].y, o["sumsq_inf"].mean(axis=0))
    t = precision_experiments.tiny_variance((1e-5, 1e-2, 1.0), d=32, seeds=(0, 1))
    fig = precision_figures.tiny_variance_figure(t)
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["eps = 1e-05", "eps = 1e-08"]
    assert len(fig.data) == 6 and [tr.visible for tr in fig.data] == [True] * 3 + [False] * 3
    assert np.isnan(fig.data[4].y[0])  # eps = 1e-8 is 0 in float16: the tiny row is NaN


def test_saved_bytes_figure_menu_shows_one_setting_at_a_time():
    result = folding_experiments.saved_per_token((16, 64), n=2)
    fig = folding_figures.saved_bytes_figure(result)
    n = len(folding_experiments.SAVERS)
    assert len(fig.data) == 3 * n
    assert [t.visible for t in fig.data] == [True] * n + [False] * (2 * n)
    buttons = fig.layout.updatemenus[0].buttons
    assert len(buttons) == 3
    # the third button shows the folded setting, where keeping x_hat needs the fewest bytes
    shown = [t for t, v in zip(fig.data, buttons[2].args[0]["visible"], strict=True) if v]
    keep_xh = list(folding_experiments.SAVERS).index("keeps x_hat, rstd")
    assert min(shown, key=lambda t: t.y[-1]) is shown[keep_xh]
    assert shown[keep_xh].y[-1] < fig.data[n + keep_xh].y[-1]  # less than the unfolded block
