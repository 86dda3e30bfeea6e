"""Live widgets, driven without a kernel: set a control, read the figure."""

from __future__ import annotations

import numpy as np
import pytest

from lnbook import widgets
from lnbook.data import layer_activations

X = layer_activations(n_examples=6, n_features=12, seed=1)


def ln(row, eps):
    return (row - row.mean()) / np.sqrt(row.var() + eps)


def test_example_explorer_redraws_on_every_control():
    e = widgets.example_explorer(X)
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
    e = widgets.example_explorer(X)
    e.controls["shift"].value = 1.23
    np.testing.assert_allclose(e.figure.data[0].y, X[0] + 1.23)


def test_gamma_beta_explorer_redraws_on_every_control():
    rng = np.random.default_rng(0)
    pf = {"gamma": rng.uniform(0.5, 2, 12), "beta": rng.normal(0, 1, 12)}
    e = widgets.gamma_beta_explorer(X, pf)
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
    e = widgets.example_explorer(X)
    assert e.figure in e.widget.children
    assert set(e.controls) == {"example", "shift", "scale", "n_features", "eps"}


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: widgets.example_explorer(np.ones(5)), r"\(N, D\) batch, got shape \(5,\)"),
        (lambda: widgets.recentering_explorer(np.ones((2, 3))), r"shape \(D,\).*got \(2, 3\)"),
        (
            lambda: widgets.gamma_beta_explorer(X, {"gamma": np.ones(3), "beta": np.zeros(12)}),
            r"per_feature\['gamma'\] must have shape \(12,\)",
        ),
    ],
)
def test_explorers_reject_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_latency_benchmark_runs_and_reports_every_widget():
    from lnbook import bench

    r = bench.widget_latency(repeats=1)
    assert set(r) == {
        "ch01 example_explorer",
        "ch02 gamma_beta_explorer",
        "ch04 batch_dependence_explorer",
        "ch06 covariate_shift_explorer",
        "ch07 recentering_explorer",
        "ch07 s_curve_explorer",
    }
    assert all(v["updates"] >= 6 and v["median_ms"] > 0 for v in r.values())


def test_batch_dependence_explorer_follows_its_controls():
    pool, labels = layer_activations(n_examples=80, n_features=6, seed=2, return_labels=True)
    e = widgets.batch_dependence_explorer(pool, labels, example=0, draws=3)
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
    e = widgets.warmup_explorer(steps=3)
    assert len(e.figure.data) == 1  # the empty placeholder
    e.controls["n_layers"].value = 1  # changing a control does not train
    assert len(e.figure.data) == 1
    e.run.click()
    assert len(e.figure.data) == 2
    assert len(e.figure.data[1].y) == 3 and "1 layers" in e.figure.data[1].name


def test_covariate_shift_explorer_redraws_and_trains_on_demand():
    from lnbook import experiments

    e = widgets.covariate_shift_explorer(steps=20, checkpoints=3)
    fig = e.figure
    e.controls["layer"].value = 0
    e.controls["checkpoint"].value = 1
    run = experiments.covariate_shift_run("layer", steps=20, checkpoints=3)  # the same run
    np.testing.assert_allclose(fig.data[5].y, run["hist"][1, 0])  # bars: layer 1, step 10
    assert list(fig.data[3].x) == [10] * 3 and "layer norm, lr 1," in fig.layout.title.text
    assert e.controls["checkpoint"].label == "10"  # the slider reads training steps
    e.controls["net"].value = "batch norm"  # trains the batch-norm network
    e.controls["lr"].value = 0.1
    run = experiments.covariate_shift_run("batch", lr=0.1, steps=20, checkpoints=3)
    np.testing.assert_allclose(fig.data[5].y, run["hist"][1, 0])
    assert fig.layout.title.text.startswith("One hidden unit's input during training: batch norm")
    with pytest.raises(ValueError, match="checkpoints"):
        widgets.covariate_shift_explorer(checkpoints=0)


def test_recentering_explorer_follows_its_controls():
    row = X[0]
    e = widgets.recentering_explorer(row)
    fig = e.figure
    e.controls["shift"].value = 4.0
    e.controls["scale"].value = -0.5
    e.controls["eps"].value = 1e-2
    moved = -0.5 * row + 4.0
    np.testing.assert_allclose(fig.data[0].y, moved)
    np.testing.assert_allclose(fig.data[1].y, ln(moved, 1e-2), atol=1e-12)
    np.testing.assert_allclose(fig.data[2].y, moved / np.sqrt((moved**2).mean() + 1e-2))


def test_s_curve_explorer_follows_its_controls():
    from lnbook import experiments

    e = widgets.s_curve_explorer()
    e.controls["spread"].value = 0.5
    e.controls["n_tokens"].value = 5
    e.controls["d"].value = 4
    e.controls["seed"].value = 3
    r = experiments.s_curve(0.5, n_tokens=5, d=4, seed=3)
    np.testing.assert_allclose(e.figure.data[0].y, r["y"], atol=1e-4)
    assert len(e.figure.data[0].x) == 20 and f"{r['alpha']:.2f}" in e.figure.data[1].name
