"""Live widgets, driven without a kernel: set a control, read the figure."""

from __future__ import annotations

import ipywidgets as W
import numpy as np
import pytest

from lnbook import live
from lnbook._validate import check_number
from lnbook.data import layer_activations
from lnbook.topics.affine import widgets as affine_widgets
from lnbook.topics.batch_norm import widgets as batch_norm_widgets
from lnbook.topics.covariate_shift import experiments as covariate_shift_experiments
from lnbook.topics.covariate_shift import widgets as covariate_shift_widgets
from lnbook.topics.geometry import widgets as geometry_widgets
from lnbook.topics.precision import widgets as precision_widgets
from lnbook.topics.recurrent import widgets as recurrent_widgets
from lnbook.topics.statistics import widgets as statistics_widgets
from lnbook.topics.transformers import experiments as transformers_experiments
from lnbook.topics.transformers import widgets as transformers_widgets
from lnbook.topics.variants import experiments as variants_experiments
from lnbook.topics.variants import widgets as variants_widgets

X = layer_activations(n_examples=6, n_features=12, seed=1)


def ln(row, eps):
    return (row - row.mean()) / np.sqrt(row.var() + eps)


def test_example_explorer_redraws_on_every_control():
    e = statistics_widgets.example_explorer(X)
    fig = e.figure
    np.testing.assert_allclose(fig.data[0].y, X[0])
    e.controls["example"].value = 3
    e.controls["shift"].value = 2.0
    e.controls["scale"].value = -1.5
    e.controls["n_features"].value = 7
    e.controls["eps"].value = 0.5
    row = -1.5 * X[3, :7] + 2.0
    np.testing.assert_allclose(fig.data[0].y, row)  # the features, transformed
    np.testing.assert_allclose(fig.data[3].y, ln(row, 0.5), atol=1e-12)  # after layer norm
    assert len(fig.data[0].x) == 7
    assert f"std {row.std():.2f}" in fig.data[4].text[0]
    lo, hi = fig.layout.yaxis.range
    assert lo <= row.min() and hi >= row.max()  # the axis follows the data


def test_example_explorer_controls_allow_values_off_the_static_grid():
    e = statistics_widgets.example_explorer(X)
    e.controls["shift"].value = 1.23
    np.testing.assert_allclose(e.figure.data[0].y, X[0] + 1.23)


def test_gamma_beta_explorer_redraws_on_every_control():
    rng = np.random.default_rng(0)
    pf = {"gamma": rng.uniform(0.5, 2, 12), "beta": rng.normal(0, 1, 12)}
    e = affine_widgets.gamma_beta_explorer(X, pf)
    fig = e.figure
    before = np.array(fig.data[1].y)
    e.controls["gamma"].value = 2.0
    e.controls["beta"].value = 1.0
    y = 2.0 * ln(X[0], 1e-5) + 1.0
    mean_line = fig.data[2].x
    assert mean_line[0] == pytest.approx(y.mean())
    assert not np.array_equal(before, fig.data[1].y)
    e.controls["per_feature"].value = True
    y_pf = 2.0 * pf["gamma"] * ln(X[0], 1e-5) + 1.0 + pf["beta"]
    assert fig.data[2].x[0] == pytest.approx(y_pf.mean())
    assert f"std {y_pf.std():.2f}" in fig.data[3].text[0]
    e.controls["example"].value = 4
    y4 = 2.0 * pf["gamma"] * ln(X[4], 1e-5) + 1.0 + pf["beta"]
    assert fig.data[2].x[0] == pytest.approx(y4.mean())


def test_explorer_is_a_displayable_widget():
    e = statistics_widgets.example_explorer(X)
    assert e.figure in e.widget.children
    assert set(e.controls) == {"example", "shift", "scale", "n_features", "eps"}


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda: statistics_widgets.example_explorer(np.ones(5)),
            r"\(N, D\) batch, got shape \(5,\)",
        ),
        (
            lambda: variants_widgets.recentering_explorer(np.ones((2, 3))),
            r"shape \(D,\).*got \(2, 3\)",
        ),
        (
            lambda: affine_widgets.gamma_beta_explorer(
                X, {"gamma": np.ones(3), "beta": np.zeros(12)}
            ),
            r"per_feature\['gamma'\] must have shape \(12,\)",
        ),
        # A start outside a slider's range: the slider would move it to its end unsaid.
        (lambda: geometry_widgets.sphere_explorer((10, 0, 0)), r"x\[0\] must be in \[-4, 4\]"),
        (lambda: geometry_widgets.sphere_explorer((1, 2)), "x must be three numbers"),
        (lambda: recurrent_widgets.norm_explorer(scale=10), r"scale must be in \[0.25, 3\]"),
        (lambda: recurrent_widgets.norm_explorer(hidden=0), r"hidden must be in \[4, 256\]"),
        (lambda: transformers_widgets.warmup_explorer(steps=0), "steps must be >= 1, got 0"),
    ],
)
def test_explorers_reject_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_start_values_must_be_numbers_of_the_controls_kind():
    assert check_number("lr", 0.5, 0, 1) == 0.5
    assert check_number("steps", np.int64(20), 10, 100, integer=True) == 20
    assert type(check_number("steps", np.int64(20), 10, 100, integer=True)) is int
    with pytest.raises(TypeError, match="steps must be a whole number, got float 2.5"):
        recurrent_widgets.norm_explorer(steps=2.5)
    with pytest.raises(TypeError, match=r"x\[0\] must be a number, got str 'a'"):
        geometry_widgets.sphere_explorer(("a", 0, 0))
    with pytest.raises(ValueError, match=r"in \[0, 1\], got nan"):
        check_number("lr", float("nan"), 0, 1)
    with pytest.raises(ValueError, match=r"noise must be finite and >= 0, got inf"):
        check_number("noise", float("inf"), 0)


def test_latency_benchmark_runs_and_reports_every_widget():
    from lnbook import latency

    r = latency.widget_latency(repeats=1)
    assert set(r) == {
        "ch01 example_explorer",
        "ch02 gamma_beta_explorer",
        "ch04 batch_dependence_explorer",
        "ch06 covariate_shift_explorer",
        "ch07 recentering_explorer",
        "ch07 s_curve_explorer",
        "ch09 sphere_explorer",
        "ch10 rate_explorer",
        "ch12 profile_explorer",
        "ch13 logit_explorer",
        "ch11 norm_explorer",
        "ch14 outlier_explorer",
        "ch15 statistics_explorer",
        "ch15 saved_bytes_explorer",
    }
    assert all(v["updates"] >= 6 and v["median_ms"] > 0 for v in r.values())


def test_batch_dependence_explorer_follows_its_controls():
    pool, labels = layer_activations(n_examples=80, n_features=6, seed=2, return_labels=True)
    e = batch_norm_widgets.batch_dependence_explorer(pool, labels, example=0, draws=3)
    fig = e.figure
    e.controls["batch_size"].value = 2
    # In a batch of two every output is d / sqrt(d^2 + eps): +-1 where the examples differ
    # clearly, never beyond.
    bn = np.array([t.y for t in fig.data[:3]])
    assert np.abs(bn).max() < 1 and np.abs(bn).max() > 0.999
    np.testing.assert_allclose(fig.data[3].y, ln(pool[0], 1e-5), atol=1e-12)  # layer norm
    before = [list(t.y) for t in fig.data[:3]]
    e.controls["seed"].value = 7
    assert [list(t.y) for t in fig.data[:3]] != before  # a new draw, new batches
    e.controls["composition"].value = "same_class"
    np.testing.assert_allclose(fig.data[3].y, ln(pool[0], 1e-5), atol=1e-12)


def test_warmup_explorer_trains_only_when_asked():
    e = transformers_widgets.warmup_explorer(steps=3)  # the real training, three steps
    assert [t.name for t in e.figure.data] == ["not trained yet"]  # the empty placeholder
    e.controls["n_layers"].value = 1  # changing a control does not train
    assert len(e.figure.data) == 1
    e.run.click()
    (run,) = e.figure.data  # the placeholder gave way to the run
    assert len(run.y) == 3 and np.isfinite(run.y).all() and "1 layers" in run.name


def _fake_training(seen: list, explorer_box: list, fail: bool = False):
    """A stand-in for transformers_experiments.warmup_training (seconds of real training):
    records the explorer's buttons as they are while it runs, returns a made-up curve (or fails)."""

    def train(placement, *, lr, warmup, n_layers, steps):
        e = explorer_box[0]
        clear = e.buttons[0]
        seen.append((e.run.disabled, e.run.description, clear.disabled))
        if fail:
            raise RuntimeError("training failed")
        return np.linspace(2.7, 0.1 * n_layers, steps)

    return train


def test_warmup_explorer_is_busy_while_training_and_ready_after(monkeypatch):

    seen, box = [], []
    monkeypatch.setattr(transformers_experiments, "warmup_training", _fake_training(seen, box))
    e = transformers_widgets.warmup_explorer(steps=5)
    box.append(e)
    assert not e.run.disabled and e.run.description == "train"
    e.run.click()
    # During the run: no second click (train and clear disabled), and it says so.
    assert seen == [(True, "training…", True)]
    assert not e.run.disabled and e.run.description == "train" and not e.buttons[0].disabled


def test_warmup_explorer_gives_its_buttons_back_when_training_fails(monkeypatch, caplog):

    seen, box = [], []
    monkeypatch.setattr(
        transformers_experiments, "warmup_training", _fake_training(seen, box, fail=True)
    )
    e = transformers_widgets.warmup_explorer(steps=5)
    box.append(e)
    e.run.click()  # ipywidgets reports a callback's exception (here, in the log)
    assert seen == [(True, "training…", True)]
    assert not e.run.disabled and e.run.description == "train" and not e.buttons[0].disabled
    assert "training failed" in caplog.text
    assert [t.name for t in e.figure.data] == ["not trained yet"]  # nothing drawn


def test_warmup_explorer_runs_replace_the_placeholder_and_clear_restores_it(monkeypatch):

    box = []
    monkeypatch.setattr(transformers_experiments, "warmup_training", _fake_training([], box))
    e = transformers_widgets.warmup_explorer(steps=5)
    box.append(e)
    e.run.click()
    e.controls["n_layers"].value = 2
    e.controls["warmup"].value = 20
    e.run.click()
    fig = e.figure
    assert [t.name for t in fig.data] == [
        "post-norm, 6 layers, lr 0.01, no warm-up",
        "post-norm, 2 layers, lr 0.01, warm-up 20 steps",
    ]
    np.testing.assert_allclose(fig.data[1].y, np.linspace(2.7, 0.2, 5))
    assert fig.data[0].line.color != fig.data[1].line.color  # one colour a run
    assert fig.layout.showlegend  # the one-run legend too: it names the settings
    clear = e.buttons[0]
    assert clear.description == "clear" and clear in e.widget.children[1].children
    clear.click()
    (placeholder,) = fig.data
    assert placeholder.name == "not trained yet" and np.isnan(placeholder.y).all()
    assert len(placeholder.x) == 5 and list(fig.layout.yaxis.range) == [0, 3.2]


def test_warmup_explorer_loss_axis_grows_for_a_diverging_run(monkeypatch):

    diverging = np.array([2.7, 4.0, 6.0, np.nan, np.nan])
    monkeypatch.setattr(transformers_experiments, "warmup_training", lambda *a, **k: diverging)
    e = transformers_widgets.warmup_explorer(steps=5)
    e.run.click()
    lo, hi = e.figure.layout.yaxis.range
    assert lo == 0 and hi >= 6.0


def test_covariate_shift_explorer_redraws_and_trains_on_demand():

    e = covariate_shift_widgets.covariate_shift_explorer(steps=20, checkpoints=3)
    fig = e.figure
    e.controls["layer"].value = 0
    e.controls["checkpoint"].value = 1
    run = covariate_shift_experiments.covariate_shift_run(
        "layer", steps=20, checkpoints=3
    )  # the same run
    np.testing.assert_allclose(fig.data[5].y, run["hist"][1, 0])  # bars: layer 1, step 10
    assert list(fig.data[3].x) == [10] * 3 and "layer norm, lr 1," in fig.layout.title.text
    assert e.controls["checkpoint"].label == "10"  # the slider reads training steps
    e.controls["net"].value = "batch norm"  # trains the batch-norm network
    e.controls["lr"].value = 0.1
    run = covariate_shift_experiments.covariate_shift_run("batch", lr=0.1, steps=20, checkpoints=3)
    np.testing.assert_allclose(fig.data[5].y, run["hist"][1, 0])
    assert fig.layout.title.text.startswith("One hidden unit's input during training: batch norm")
    with pytest.raises(ValueError, match="checkpoints"):
        covariate_shift_widgets.covariate_shift_explorer(checkpoints=0)


def test_covariate_shift_sliders_that_train_fire_on_release_only():
    # Dragging the rate or the seed would train a network for every value passed.
    e = covariate_shift_widgets.covariate_shift_explorer(steps=20, checkpoints=3)
    assert e.controls["lr"].continuous_update is False
    assert e.controls["seed"].continuous_update is False
    assert e.controls["checkpoint"].continuous_update is True  # only redraws: live


def test_explorer_lays_its_controls_out_in_an_even_grid():
    e = transformers_widgets.warmup_explorer(steps=3)
    grid, actions, figure = e.widget.children
    assert isinstance(grid, W.GridBox) and figure is e.figure
    assert list(grid.children) == list(e.controls.values())
    # Equal columns, as many as fit, each at least one labelled control wide.
    assert grid.layout.grid_template_columns.startswith("repeat(auto-fill, minmax(")
    assert grid.layout.grid_template_columns.endswith(", 1fr))")
    widths = {c.style.description_width for c in e.controls.values()}
    assert len(widths) == 1 and widths.pop().endswith("em")  # one description width
    assert all(c.layout.width == "auto" for c in e.controls.values())  # filling the cell
    norm = e.controls["placement"]
    assert norm.layout.display == "flex"  # toggle buttons beside their label
    assert list(actions.children) == [e.run, *e.buttons]


def test_live_figures_are_plotly_figure_widgets_without_a_fixed_width():
    import plotly.graph_objects as go

    e = statistics_widgets.example_explorer(X)
    assert isinstance(e.figure, live.LiveFigure)
    assert isinstance(e.figure, go.FigureWidget)  # plotly's API, unchanged
    # (tests/test_live.py draws it in JupyterLab: as wide as its output area.)
    # No fixed width, which would stop plotly sizing the figure to its output.
    assert e.figure.layout.width is None


def test_recentering_explorer_follows_its_controls():
    row = X[0]
    e = variants_widgets.recentering_explorer(row)
    fig = e.figure
    e.controls["shift"].value = 4.0
    e.controls["scale"].value = -0.5
    e.controls["eps"].value = 1e-2
    moved = -0.5 * row + 4.0
    np.testing.assert_allclose(fig.data[0].y, moved)
    np.testing.assert_allclose(fig.data[1].y, ln(moved, 1e-2), atol=1e-12)
    np.testing.assert_allclose(fig.data[2].y, moved / np.sqrt((moved**2).mean() + 1e-2))


def test_s_curve_explorer_follows_its_controls():

    e = variants_widgets.s_curve_explorer()
    e.controls["spread"].value = 0.5
    e.controls["n_tokens"].value = 5
    e.controls["d"].value = 4
    e.controls["seed"].value = 3
    r = variants_experiments.s_curve(0.5, n_tokens=5, d=4, seed=3)
    np.testing.assert_allclose(e.figure.data[0].y, r["y"], atol=1e-4)
    assert len(e.figure.data[0].x) == 20 and f"{r['alpha']:.2f}" in e.figure.data[1].name


def test_norm_explorer_follows_its_controls():
    from lnbook.topics.recurrent import experiments as recurrent_experiments
    from lnbook.topics.recurrent import widgets as recurrent_widgets

    e = recurrent_widgets.norm_explorer(scale=1.0, steps=50, hidden=16)
    fig = e.figure
    assert len(fig.data[2].x) == 50
    e.controls["steps"].value = 120
    assert len(fig.data[2].x) == 120
    e.controls["scale"].value = 2.5
    # The plain RNN's mean (trace 2) is the geometric mean of the seeds' norms.
    expected = recurrent_experiments.rnn_norms(2.5, steps=120, hidden=16)["plain"]
    np.testing.assert_allclose(fig.data[2].y, np.exp(np.log(expected).mean(axis=0)), rtol=1e-12)
    e.controls["hidden"].value = 64
    assert fig.data[-1].y[0] == pytest.approx(np.sqrt(63))  # the bound follows H


def test_sharded_stats_explorer_runs_the_chosen_process_group(monkeypatch):
    # The wiring only: each control's value reaches the experiment (which starts process
    # groups; tests/test_distributed.py runs those) and the figure follows its result.
    from test_figures import _fake_accuracy_grid

    from lnbook.topics.distributed import experiments as distributed_experiments
    from lnbook.topics.distributed import widgets as distributed_widgets

    calls = []

    def sweep(world_size, d, dtype, seed):
        calls.append((world_size, d, dtype, seed))
        grid = _fake_accuracy_grid((world_size,), (d,), (dtype,), (seed,))
        grid["var_error"] = grid["var_error"] * (1 + seed)
        return grid

    monkeypatch.setattr(distributed_experiments, "accuracy_sweep", sweep)
    e = distributed_widgets.sharded_stats_explorer()
    before = np.array(e.figure.data[0].y, dtype=float)
    e.controls["world_size"].value = 4
    e.controls["d"].value = 1024
    e.controls["dtype"].value = "float64"
    e.controls["seed"].value = 3
    assert calls == [(2, 64, "float32", 0), (4, 64, "float32", 0), (4, 1024, "float32", 0),
                     (4, 1024, "float64", 0), (4, 1024, "float64", 3)]  # fmt: skip
    assert e.figure.layout.title.text == "4 ranks, D = 1024, float64, seed 3"
    assert not np.allclose(before, np.array(e.figure.data[0].y, dtype=float))
    assert e.figure.data[3].y[0] == pytest.approx(2 * 2 * 3 / 4 * 8)  # naive, P = 4, float64


def test_statistics_explorer_follows_its_controls():
    """Chapter 15: each control reruns the experiment for its value and redraws."""
    e = precision_widgets.statistics_explorer()
    first = [np.array(t.y) for t in e.figure.data]
    e.controls["offset"].value = 1000.0
    assert "offset 1000" in e.figure.layout.title.text
    moved = [np.array(t.y) for t in e.figure.data]
    assert any(not np.array_equal(a, b) for a, b in zip(first, moved, strict=True))
    e.controls["dtype"].value = "bfloat16"
    assert e.figure.layout.title.text.startswith("bfloat16")
    e.controls["seed"].value = 4
    assert "seed 4" in e.figure.layout.title.text


def test_saved_bytes_explorer_follows_its_controls():
    from lnbook.topics.folding import widgets as folding_widgets

    e = folding_widgets.saved_bytes_explorer()
    before = [list(t.y) for t in e.figure.data]
    e.controls["d"].value = 1024
    after = [list(t.y) for t in e.figure.data]
    assert all(a[0] > 3 * b[0] for a, b in zip(after, before, strict=True))  # 4x the features
    e.controls["dtype"].value = "float64"
    doubled = [list(t.y) for t in e.figure.data]
    assert doubled[0][0] > 1.9 * after[0][0]
    assert "D = 1024" in e.figure.layout.title.text
