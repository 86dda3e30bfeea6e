"""The chapters' experiments, checked against closed forms and torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lnbook import folding, models, training
from lnbook.data import layer_activations
from lnbook.stacked import StackedMLP
from lnbook.topics.affine import experiments as affine_experiments
from lnbook.topics.batch_norm import experiments as batch_norm_experiments
from lnbook.topics.covariate_shift import experiments as covariate_shift_experiments
from lnbook.topics.folding import experiments as folding_experiments
from lnbook.topics.from_scratch import experiments as from_scratch_experiments
from lnbook.topics.performance import experiments as performance_experiments
from lnbook.topics.statistics import experiments as statistics_experiments
from lnbook.topics.transformers import experiments as transformers_experiments
from lnbook.topics.variants import experiments as variants_experiments


def test_layer_norm_one_pass_matches_torch_in_float64_without_offset():
    # The one-pass formula is mathematically right; only its rounding is the problem.
    x = np.random.default_rng(1).standard_normal((5, 16))
    expected = torch.nn.functional.layer_norm(torch.tensor(x), (16,)).numpy()
    np.testing.assert_allclose(
        from_scratch_experiments.layer_norm_one_pass(x), expected, atol=1e-12
    )


def test_layer_norm_one_pass_breaks_in_float32_with_large_offset():
    x = (1e4 + np.random.default_rng(2).standard_normal((16, 256))).astype(np.float32)
    ref = torch.nn.functional.layer_norm(torch.tensor(x, dtype=torch.float64), (256,)).numpy()
    y = from_scratch_experiments.layer_norm_one_pass(x)
    assert np.isnan(y).any() or np.abs(y - ref).max() > 1e-1


def test_variance_pitfall_separates_the_algorithms():
    offsets = [1.0, 1e2, 1e4, 1e6]
    r = from_scratch_experiments.variance_pitfall(
        offsets, n_examples=32, n_features=128, shown_features=8
    )
    assert r["offsets"].tolist() == offsets
    for key in ("err_one_pass", "err_two_pass", "err_one_pass_finite", "nan_one_pass"):
        assert r[key].shape == (4,)
    for key in ("x_hat_ref", "x_hat_one_pass", "x_hat_two_pass"):
        assert r[key].shape == (4, 8)
    # Two-pass stays at float32 precision at every offset; one-pass degrades.
    assert (r["err_two_pass"] < 1e-5).all()
    assert r["err_one_pass"][0] < 1e-4
    assert r["err_one_pass"][2] > 1e-2 and r["err_one_pass"][3] > 1e-2
    assert ((r["nan_one_pass"] >= 0) & (r["nan_one_pass"] <= 1)).all()
    # A NaN output counts as an infinite error.
    assert np.isinf(r["err_one_pass"][r["nan_one_pass"] > 0]).all()


def test_variance_pitfall_reference_is_normalized():
    r = from_scratch_experiments.variance_pitfall(
        [1e3], n_examples=4, n_features=64, shown_features=64
    )
    row = r["x_hat_ref"][0]
    assert abs(row.mean()) < 1e-12
    assert row.var() == pytest.approx(1.0, rel=1e-3)  # eps = 1e-5 shrinks it slightly


def test_finite_difference_grad_matches_closed_form():
    x = np.random.default_rng(3).standard_normal((3, 4))
    grad = from_scratch_experiments.finite_difference_grad(lambda v: float((v**3).sum()), x)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-6, atol=1e-8)
    # The input is left untouched.
    assert np.array_equal(x, np.random.default_rng(3).standard_normal((3, 4)))


def test_finite_difference_grad_names_a_loss_that_is_not_one_number():
    fd = from_scratch_experiments.finite_difference_grad
    # The usual slip: the loss without its .sum() returns an array, not a number.
    with pytest.raises(ValueError, match=r"f must return one number .* array of shape \(2, 3\)"):
        fd(lambda v: v * 2.0, np.ones((2, 3)))
    with pytest.raises(TypeError, match="f must return one number"):
        fd(lambda v: "loss", np.ones(2))
    with pytest.raises(TypeError, match="f must be callable"):
        fd(None, np.ones(2))
    # A 0-d array or a NumPy scalar is one number.
    np.testing.assert_allclose(fd(lambda v: np.array((v**2).sum()), np.ones(2)), 2.0, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"offsets": 1e4}, TypeError, r"offsets must be a non-empty sequence .* got float 10000"),
        ({"offsets": []}, ValueError, "offsets must be a non-empty sequence"),
        ({"offsets": [1.0, float("nan")]}, ValueError, r"offsets .* got \[1\.0, nan\]"),
        ({"n_features": 0}, ValueError, "n_features must be >= 1, got 0"),
        ({"n_examples": 0}, ValueError, "n_examples must be >= 1, got 0"),
        ({"shown_features": 0}, ValueError, "shown_features must be an int >= 1"),
    ],
)
def test_variance_pitfall_names_its_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        from_scratch_experiments.variance_pitfall(**({"offsets": [1.0]} | kwargs))


# ---------------------------------------------------------------- chapter 1 -------------


def _ln_rows(x, eps):
    """Closed-form layer norm of each row, written out independently of lnbook."""
    mu = x.mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(axis=-1, keepdims=True) + eps)


def test_row_statistics_match_closed_form():
    x = np.random.default_rng(0).normal(3, 2, size=(6, 9))
    s = statistics_experiments.row_statistics(x, eps=1e-5)
    np.testing.assert_allclose(s["y"], _ln_rows(x, 1e-5), atol=1e-12)
    np.testing.assert_allclose(s["mean_before"], x.mean(1))
    np.testing.assert_allclose(s["std_before"], x.std(1))
    assert np.abs(s["mean_after"]).max() < 1e-12
    np.testing.assert_allclose(s["std_after"], x.std(1) / np.sqrt(x.var(1) + 1e-5))


def test_row_statistics_rejects_a_single_example():
    with pytest.raises(ValueError, match=r"\(N, D\).*\(5,\)"):
        statistics_experiments.row_statistics(np.ones(5))


def test_explore_example_applies_shift_scale_and_truncation():
    x = np.random.default_rng(1).standard_normal((4, 10))
    r = statistics_experiments.explore_example(x, 2, shift=1.5, scale=-2.0, n_features=6, eps=0.1)
    row = -2.0 * x[2, :6] + 1.5
    np.testing.assert_allclose(r["x"], row)
    np.testing.assert_allclose(r["x_hat"], _ln_rows(row[None], 0.1)[0], atol=1e-12)
    assert r["std_after"] == pytest.approx(row.std() / np.sqrt(row.var() + 0.1))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"example": 4}, r"example must be an int in \[0, 4\)"),
        ({"n_features": 0}, "n_features"),
        ({"n_features": 11}, "n_features"),
    ],
)
def test_explore_example_rejects_out_of_range_controls(kwargs, match):
    with pytest.raises(ValueError, match=match):
        statistics_experiments.explore_example(np.zeros((4, 10)), **kwargs)


def test_explore_scenes_covers_every_scene_and_example():
    x = layer_activations(n_examples=5, n_features=12)
    r = statistics_experiments.explore_scenes(x, [0, 3])
    assert len(r) == len(statistics_experiments.EXPLORER_SCENES) and all(len(s) == 2 for s in r)
    # The scenes that only shift or positively scale leave the output unchanged, up to eps
    # (scale x0.2 makes the variance 25 times smaller, so eps = 1e-5 weighs more).
    base = r[0][1]["x_hat"]
    for k, scene in enumerate(statistics_experiments.EXPLORER_SCENES):
        if scene["n_features"] is None and scene["eps"] == 1e-5 and scene["scale"] > 0:
            np.testing.assert_allclose(r[k][1]["x_hat"], base, atol=1e-3)


def test_invariances_are_rounding_only():
    inv = statistics_experiments.invariances(layer_activations(), example=3, seed=2)
    assert set(inv) == {"shift", "scale", "negative_scale_flip", "other_example"}
    assert max(inv.values()) < 1e-12


# Ba, Kiros and Hinton (2016), Table 1 (rows batch norm and layer norm), and Zhang and
# Sennrich (2019), Table 1 (RMSNorm): typed from the papers, the oracle for the computation.
PAPER_TABLE = {
    "batch norm": [True, False, True, True, True, False],
    "layer norm": [True, True, False, True, False, True],
    "RMSNorm": [True, False, False, True, False, True],
}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_invariance_table_reproduces_the_papers(seed):
    table = statistics_experiments.invariance_table(seed=seed)
    for method, expected in PAPER_TABLE.items():
        got = [table[method][c] for c in statistics_experiments.INVARIANCE_COLUMNS]
        assert got == expected, method


def test_axis_contrast_matches_torch():
    x = layer_activations(n_examples=8, n_features=5)
    r = statistics_experiments.axis_contrast(x)
    t = torch.tensor(x)
    np.testing.assert_allclose(
        r["layer"], torch.nn.functional.layer_norm(t, (5,)).numpy(), atol=1e-12
    )
    bn = torch.nn.functional.batch_norm(t, None, None, training=True).numpy()
    np.testing.assert_allclose(r["batch"], bn, atol=1e-12)
    np.testing.assert_allclose(r["col_mean"], x.mean(0))
    np.testing.assert_allclose(r["row_std"], x.std(1))


def test_handwriting_normalizes_every_pen_to_the_same_picture():
    image = np.random.default_rng(4).uniform(0, 16, 64)
    r = statistics_experiments.handwriting(image, [(0.3, 0.0), (2.0, 5.0), (1.0, 12.0)], eps=0.0)
    assert r["written"].shape == r["normalized"].shape == (3, 8, 8)
    np.testing.assert_allclose(r["written"][1], (2.0 * image + 5.0).reshape(8, 8))
    for k in range(3):
        np.testing.assert_allclose(
            r["normalized"][k], _ln_rows(image[None], 0.0)[0].reshape(8, 8), atol=1e-9
        )
    with pytest.raises(ValueError, match=r"\(64,\)"):
        statistics_experiments.handwriting(np.ones(63), [(1.0, 0.0)])


@pytest.mark.parametrize(
    ("pens", "got"),
    [
        ([(0.3,), (1.0,)], r"got shape \(2, 1\)"),  # a reshape made these one pen
        ([1, 0, 2, 0.5], r"got shape \(4,\)"),  # and these two
        ([(1, 0, 2)], r"got shape \(1, 3\)"),
        ([], r"got shape \(0,\)"),
        ([(1, 0), (2,)], r"got \[\(1, 0\), \(2,\)\]"),  # ragged
        ([(0, 1.0)], r"got \[\[0\.0, 1\.0\]\]"),  # pressure 0
        ([(1.0, float("nan"))], "finite"),
    ],
)
def test_handwriting_refuses_what_is_not_pen_pairs(pens, got):
    want = r"pens must be \(pressure, paper\) pairs, shape \(P, 2\), with pressure > 0"
    with pytest.raises(ValueError, match=want + ".*" + got):
        statistics_experiments.handwriting(np.ones(64), pens)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        # batch norm's own message would name its internals, not the argument
        (lambda: statistics_experiments.invariance_table(n_examples=1), ValueError,
         "n_examples must be an int >= 2, got 1"),
        (lambda: statistics_experiments.invariance_table(d_out=0), ValueError,
         "d_out must be an int >= 2, got 0"),
        (lambda: statistics_experiments.invariance_table(d_in=0), ValueError,
         "d_in must be an int >= 1, got 0"),
        (lambda: statistics_experiments.explore_scenes(layer_activations(), 0), TypeError,
         r"examples must be a non-empty sequence of ints >= 0, e\.g\. \(0,\), got int 0"),
        (lambda: statistics_experiments.explore_scenes(layer_activations(), []), ValueError,
         "examples must be a non-empty sequence"),
        (lambda: statistics_experiments.explore_scenes(layer_activations(), [0], {}), TypeError,
         "scenes must be a non-empty sequence of scene dicts"),
        (lambda: statistics_experiments.explore_scenes(layer_activations(), [0], [{"shift": 1}]),
         ValueError, r"each of scenes must be a dict with keys \['eps', 'n_features'"),
    ],
)  # fmt: skip
def test_statistics_experiments_name_their_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- chapter 2 -------------


def test_affine_histograms_match_closed_form_moments():
    x = np.random.default_rng(5).normal(1, 3, size=(10, 40))
    gamma_pf = np.linspace(0.5, 1.5, 40)
    settings = [{"gamma": 2.0, "beta": -1.0}, {"gamma": gamma_pf, "beta": 0.5}]
    h = affine_experiments.affine_histograms(x, 3, settings, bins=np.linspace(-20, 20, 81))
    assert h["example"].shape == h["batch"].shape == (2, 80)
    np.testing.assert_allclose(h["batch"].sum(axis=1), 1.0)  # every value lands in a bin
    x_hat = _ln_rows(x, 1e-5)
    assert h["mean"][0] == pytest.approx(-1.0, abs=1e-12)
    assert h["std"][0] == pytest.approx(2.0 * x_hat[3].std())
    assert h["mean"][1] == pytest.approx((gamma_pf * x_hat[3] + 0.5).mean())


def test_recover_example_gives_back_one_example_only():
    x = layer_activations(n_examples=6, n_features=16)
    r = affine_experiments.recover_example(x, 2)
    assert r["gamma"] == pytest.approx(np.sqrt(x[2].var() + 1e-5))
    assert r["beta"] == pytest.approx(x[2].mean())
    assert r["error"][2] < 1e-12
    assert (np.delete(r["error"], 2) > 1e-2).all()
    # Everyone comes back with example 2's mean.
    np.testing.assert_allclose(r["mean_out"], x[2].mean(), atol=1e-12)


def test_train_digits_mlp_learns_and_weight_decay_shrinks_gamma():
    base = training.train_digits_mlp(steps=150, seed=0)
    assert base["test_accuracy"] > 0.9  # ten classes: chance is 0.1
    assert base["loss"][-20:].mean() < base["loss"][:20].mean() / 3
    assert base["n_norm_params"] == 2 * 2 * 64 and len(base["gammas"]) == 2
    decayed = training.train_digits_mlp(steps=150, weight_decay=0.5, seed=0)
    exempt = training.train_digits_mlp(steps=150, weight_decay=0.5, decay_norm_params=False, seed=0)

    def mean_gamma(r):
        return np.concatenate(r["gammas"]).mean()

    assert mean_gamma(decayed) < mean_gamma(exempt) - 0.1


def test_train_digits_mlp_restores_torch_threads(three_torch_threads):
    training.train_digits_mlp(steps=2)
    assert torch.get_num_threads() == three_torch_threads


def test_affine_histograms_keep_every_value_with_default_bins():
    # gamma = 5 and beta = 8 push values beyond the default edges (-8, 12): the end bins hold them.
    x = layer_activations()
    h = affine_experiments.affine_histograms(x, 0, [{"gamma": 5.0, "beta": 8.0}])
    np.testing.assert_allclose(h["example"].sum(), 1.0)
    np.testing.assert_allclose(h["batch"].sum(), 1.0)
    assert h["batch"][0, -1] > 0.05


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda x: affine_experiments.affine_histograms(x, 99, [{"gamma": 1, "beta": 0}]),
            "example",
        ),
        (
            lambda x: affine_experiments.affine_histograms(
                x, 0, [{"gamma": np.ones(3), "beta": 0}]
            ),
            r"settings\[0\]\['gamma'\].*\(32,\).*\(3,\)",
        ),
        (lambda x: affine_experiments.recover_example(x, -1), r"k must be an int in \[0, 16\)"),
        (lambda x: statistics_experiments.invariances(x[:1]), "at least 2 examples"),
        (lambda x: statistics_experiments.invariances(x, example=16), "example"),
        (lambda x: statistics_experiments.row_statistics(x[0]), r"\(N, D\)"),
    ],
)
def test_chapter_experiments_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call(layer_activations())


def test_norm_parameter_histograms_count_every_value():
    runs = {"a": {"gammas": [np.array([0.5, 1.0, 9.0])], "betas": [np.array([-5.0, 0.0])]}}
    h = affine_experiments.norm_parameter_histograms(runs)
    assert h["gamma"]["a"].sum() == 3 and h["gamma"]["a"][-1] == 1  # 9.0 in the last bin
    assert h["beta"]["a"].sum() == 2 and h["beta"]["a"][0] == 1  # -5.0 in the first bin
    # a list of runs (one per seed) is counted together
    pooled = affine_experiments.norm_parameter_histograms({"a": [runs["a"], runs["a"]]})
    np.testing.assert_array_equal(pooled["gamma"]["a"], 2 * h["gamma"]["a"])


@pytest.mark.parametrize("norm", ["rms", "batch"])
def test_train_digits_mlp_reports_the_parameters_of_any_norm(norm):
    r = training.train_digits_mlp(norm=norm, steps=3)
    assert len(r["gammas"]) == 2
    assert len(r["betas"]) == (0 if norm == "rms" else 2)  # RMSNorm has no beta


# ---------------------------------------------------------------- chapter 4 -------------


def test_norm_sets_follow_wu_and_he():
    n, c, p = 3, 4, 5
    bn = batch_norm_experiments.norm_sets((n, c, p), "batch norm")
    ln = batch_norm_experiments.norm_sets((n, c, p), "layer norm")
    inn = batch_norm_experiments.norm_sets((n, c, p), "instance norm")
    gn = batch_norm_experiments.norm_sets((n, c, p), "group norm", groups=2)
    assert len(np.unique(bn)) == c and (bn[:, 1, :] == bn[0, 1, 0]).all()
    assert len(np.unique(ln)) == n and (ln[1] == ln[1, 0, 0]).all()
    assert len(np.unique(inn)) == n * c
    assert len(np.unique(gn)) == n * 2 and gn[0, 0, 0] == gn[0, 1, 3] != gn[0, 2, 0]
    with pytest.raises(ValueError, match="method must be one of"):
        batch_norm_experiments.norm_sets((n, c, p), "weight norm")
    for bad in (3, 0, -2, 2.0):
        with pytest.raises(ValueError, match="groups must be a positive divisor of the 4"):
            batch_norm_experiments.norm_sets((n, c, p), "group norm", groups=bad)
    with pytest.raises(ValueError, match=r"shape must be three positive ints"):
        batch_norm_experiments.norm_sets((n, c), "layer norm")


@pytest.mark.parametrize("method", batch_norm_experiments.NORM_METHODS)
def test_norm_sets_match_what_each_norm_actually_averages(method):
    # Oracle: perturb element (0, 0, 0) and see which outputs of the real normalization move;
    # exactly the elements that share its statistics (its set) must move.
    x = np.random.default_rng(1).standard_normal((3, 4, 5))
    t = torch.tensor(x)
    norm = {
        "batch norm": lambda a: torch.nn.functional.batch_norm(a, None, None, training=True),
        "layer norm": lambda a: torch.nn.functional.layer_norm(a, (4, 5)),
        "instance norm": lambda a: torch.nn.functional.instance_norm(a),
        "group norm": lambda a: torch.nn.functional.group_norm(a, 2),
        # Channels-last (ConvNeXt, a transformer's tokens): torch's layer norm over the
        # last axis, with the channels moved there.
        "layer norm per position": lambda a: torch.nn.functional.layer_norm(
            a.transpose(1, 2), (4,)
        ).transpose(1, 2),
    }[method]
    bumped = t.clone()
    bumped[0, 0, 0] += 1.0
    moved = (norm(bumped) - norm(t)).abs().numpy() > 1e-9
    moved[0, 0, 0] = True
    labels = batch_norm_experiments.norm_sets((3, 4, 5), method, groups=2)
    np.testing.assert_array_equal(moved, labels == labels[0, 0, 0])


def test_normalize_over_matches_torch_definitions():
    x = np.random.default_rng(0).normal(2, 3, size=(3, 4, 2, 5))
    t = torch.tensor(x)
    ln = torch.nn.functional.layer_norm(t, (4, 2, 5)).numpy()
    np.testing.assert_allclose(batch_norm_experiments.normalize_over(x, (1, 2, 3)), ln, atol=1e-12)
    inn = torch.nn.functional.instance_norm(t).numpy()
    np.testing.assert_allclose(batch_norm_experiments.normalize_over(x, (2, 3)), inn, atol=1e-12)


def test_group_norm_equivalences_are_exact():
    x = np.random.default_rng(0).normal(2, 3, size=(3, 4, 2, 5))
    eq = batch_norm_experiments.group_norm_equivalences(x)
    assert eq == {
        "one_group_vs_layer": pytest.approx(0, abs=1e-12),
        "c_groups_vs_instance": pytest.approx(0, abs=1e-12),
    }
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        batch_norm_experiments.group_norm_equivalences(x[0])


def _bn_train_rows(batch):
    """Closed-form batch norm (training mode, eps = 1e-5), independent of lnbook."""
    return (batch - batch.mean(0)) / np.sqrt(batch.var(0) + 1e-5)


def test_batch_dependence_measures_the_examples_output_in_each_batch():
    pool, labels = layer_activations(n_examples=300, n_features=8, seed=1, return_labels=True)
    r = batch_norm_experiments.batch_dependence(pool, labels, 5, [2, 24], draws=40, seed=3)
    assert r["bn_random"].shape == r["bn_same_class"].shape == (2, 40, 8)
    np.testing.assert_allclose(r["ln"], _ln_rows(pool[5][None], 1e-5)[0], atol=1e-12)
    assert (r["spread_ln"] < 1e-12).all()
    # Batch size 2: each output is d / sqrt(d^2 + eps) with d half the difference of the two
    # examples: +-1 where they differ clearly, never beyond.
    out = r["bn_random"][0]
    assert np.abs(out).max() < 1 and np.abs(out).max() > 0.999
    # The draws really differ (random companions), and a bigger batch varies less.
    assert r["spread_random"][0] > r["spread_random"][1] > 0


def test_batch_dependence_same_class_batches_use_that_class():
    pool, labels = layer_activations(n_examples=200, n_features=8, seed=1, return_labels=True)
    # Reproduce one same-class draw by hand: the example's output is batch norm of its batch.
    r = batch_norm_experiments.batch_dependence(pool, labels, 0, [4], draws=2, seed=9)
    rng = np.random.default_rng(9)
    others = np.delete(np.arange(200), 0)
    for _ in range(2):  # the two random draws come first
        rng.choice(others, size=3, replace=False)
    same = others[labels[others] == labels[0]]
    pick = rng.choice(same, size=3, replace=False)
    expected = _bn_train_rows(np.vstack([pool[0], pool[pick]]))[0]
    np.testing.assert_allclose(r["bn_same_class"][0, 0], expected, atol=1e-9)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"batch_sizes": [1]}, r"batch_sizes must be ints in \[2, "),
        ({"batch_sizes": [2.5]}, "batch_sizes must be ints"),
        ({"batch_sizes": []}, "batch_sizes must be ints"),
        ({"batch_sizes": [60]}, "other members"),
        ({"draws": 1}, "draws must be an int >= 2"),
        ({"example": 50}, "example"),
        ({"labels": np.zeros(3)}, r"labels must have shape \(50,\)"),
    ],
)
def test_batch_dependence_rejects_bad_input(kwargs, match):
    pool, labels = layer_activations(n_examples=50, n_features=4, return_labels=True)
    args = {"pool": pool, "labels": labels, "example": 0, "batch_sizes": [2]} | kwargs
    with pytest.raises(ValueError, match=match):
        batch_norm_experiments.batch_dependence(**args)


def test_train_inference_gap_shows_batch_norm_modes_and_none_for_layer_norm():
    pool = layer_activations(n_examples=300, n_features=8, seed=0)
    gap = batch_norm_experiments.train_inference_gap(pool, steps=50, shift=1.0)
    assert set(gap) == {"same data", "shifted data", "batches of 2"}
    assert all(g["layer norm"] < 1e-6 for g in gap.values())  # a module with no modes
    assert gap["shifted data"]["batch norm"] > gap["same data"]["batch norm"] > 0


def test_module_mode_gap_sees_batch_norm_modes():
    # Oracle for the measurement itself: torch's BatchNorm1d has two modes, LayerNorm none.
    batch = np.random.default_rng(0).normal(3, 2, size=(8, 4))
    assert batch_norm_experiments._module_mode_gap(torch.nn.BatchNorm1d(4).double(), batch) > 0.5
    assert batch_norm_experiments._module_mode_gap(torch.nn.LayerNorm(4).double(), batch) == 0.0


def test_composition_shift_is_the_difference_of_average_outputs():
    pool, labels = layer_activations(n_examples=300, n_features=6, seed=2, return_labels=True)
    r = batch_norm_experiments.batch_dependence(pool, labels, 0, [4, 8], draws=6, seed=1)
    by_hand = np.abs(r["bn_same_class"].mean(1) - r["bn_random"].mean(1)).mean(-1)
    np.testing.assert_allclose(r["composition_shift"], by_hand)
    floor = np.abs(r["bn_random"][:, :3].mean(1) - r["bn_random"][:, 3:].mean(1)).mean(-1)
    np.testing.assert_allclose(r["composition_floor"], floor)


def test_live_features_keeps_units_active_often_enough():
    h = np.array([[0.0, 1.0, 0.0], [0.0, 2.0, 3.0], [1.0, 0.0, 0.0], [0.0, 1.0, 2.0]])
    np.testing.assert_array_equal(batch_norm_experiments.live_features(h, 0.5), [False, True, True])


def test_small_batch_training_shapes_and_batch_norm_breaks_at_two():
    r = batch_norm_experiments.small_batch_training(
        batch_sizes=(2,), steps=200, eval_every=100, seeds=(0,)
    )
    assert list(r["steps"]) == [100, 200]
    assert r["curves"][("batch", 2)].shape == r["loss_curves"][("batch", 2)].shape == (1, 2)
    assert r["final_mean"][("layer", 2)] > r["final_mean"][("batch", 2)] + 0.1
    # layer norm has one function: training mode in batches of 2 is inference mode
    assert r["final_train_mode"][("layer", 2)] == pytest.approx(r["final"][("layer", 2)])
    assert r["final_loss"][("batch", 2)][0] == r["loss_curves"][("batch", 2)][0, -1]
    with pytest.raises(ValueError, match="dividing steps"):
        batch_norm_experiments.small_batch_training(steps=150, eval_every=100)


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_small_batch_seed_runs_are_the_separate_runs_stacked(norm, float64_digits):
    float64_digits(training, batch_norm_experiments)  # see the fixture (conftest.py)
    # Batch size 7: the training-mode accuracy's last batch is short (540 held-out digits).
    # Not 2: there batch norm turns rounding into steps at once (seed_runs' docstring).
    stacked = batch_norm_experiments.seed_runs(norm, 7, (0, 3), steps=30, eval_every=10, lr=3e-3)
    assert stacked["loss"].shape == (2, 30) and stacked["curve_accuracy"].shape == (2, 3)
    for k, seed in enumerate((0, 3)):
        one = training.train_digits_mlp(norm=norm, batch_size=7, steps=30, eval_every=10,
                                        lr=3e-3, seed=seed, train_mode_accuracy=True)  # fmt: skip
        np.testing.assert_allclose(stacked["loss"][k], one["loss"], rtol=1e-9)
        np.testing.assert_array_equal(stacked["curve_accuracy"][k], one["curve_accuracy"])
        assert stacked["test_accuracy"][k] == one["test_accuracy"]
        assert stacked["test_accuracy_train_mode"][k] == one["test_accuracy_train_mode"]


def test_fit_digits_stacked_takes_an_optimizer_or_rates_not_both():
    members = [models.MLP(64, 8, 10, depth=1, norm="layer") for _ in range(2)]
    model = StackedMLP(members)
    X, Y = torch.zeros(2, 5, 64), torch.zeros(2, 5, dtype=torch.long)
    rngs = [np.random.default_rng(0), np.random.default_rng(1)]
    opt = torch.optim.AdamW(model.parameters())
    with pytest.raises(ValueError, match="with opt, lr and weight_decay must be None"):
        training.fit_digits_stacked(model, torch.ones(2), X, Y, rngs, steps=1, batch_size=2,
                                    opt=opt)  # fmt: skip
    with pytest.raises(ValueError, match=r"rates \(E,\) or an optimizer"):
        training.fit_digits_stacked(model, None, X, Y, rngs, steps=1, batch_size=2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 1}, r"batch_size must be an int in \[2, 540\], got 1"),
        ({"batch_size": 541}, r"batch_size must be an int in \[2, 540\]"),
        ({"steps": 0}, "steps must be an int >= 1"),
        ({"seeds": ()}, "at least one seed"),
        ({"eval_every": 7}, "dividing steps"),
    ],
)
def test_small_batch_seed_runs_refuse_bad_arguments(kwargs, message):
    args = {"batch_size": 4, "seeds": (0,), "steps": 20, "eval_every": 10, "lr": 1e-3} | kwargs
    norm, batch_size, seeds = "batch", args.pop("batch_size"), args.pop("seeds")
    with pytest.raises(ValueError, match=message):
        batch_norm_experiments.seed_runs(norm, batch_size, seeds, **args)


def test_digits_accuracy_in_batches_runs_training_mode_and_leaves_the_model_alone():
    torch.manual_seed(0)
    model = models.MLP(64, 16, 10, depth=1, norm="batch", placement="post")
    X_train, Y_train, X_test, Y_test, _ = training.digits_split(0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    acc = training.digits_accuracy_in_batches(model, X_test, Y_test, 2)
    for k, v in model.state_dict().items():  # running statistics included
        assert torch.equal(v, before[k]), k
    # the oracle: batch norm's training mode, written with torch's own functional
    n = len(X_test) // 2 * 2
    lin, act, out = model.net[0], model.net[2], model.net[-1]
    right = 0
    with torch.no_grad():
        for i in range(0, n, 2):
            h = torch.nn.functional.batch_norm(lin(X_test[i : i + 2]), None, None, training=True)
            right += (out(act(h)).argmax(-1) == Y_test[i : i + 2]).sum().item()
    assert acc == pytest.approx(right / n)
    with pytest.raises(ValueError, match="batch_size"):
        training.digits_accuracy_in_batches(model, X_test, Y_test, 1)


# ---------------------------------------------------------------- chapter 5 -------------


def test_padding_pollution_layer_norm_untouched_batch_norm_moved():
    r = transformers_experiments.padding_pollution([4, 9, 2], d=6, seed=1)
    assert r["ln"] == 0.0 and r["bn_padded"] > 0.1 and r["bn_masked"] > 0.1
    assert r["pad_fraction"] == pytest.approx(1 - 15 / 27)
    assert r["valid"].sum() == 15
    with pytest.raises(ValueError, match="lengths"):
        transformers_experiments.padding_pollution([5])


def test_masked_batch_norm_matches_batch_norm_of_the_valid_tokens():
    x = np.random.default_rng(0).standard_normal((2, 4, 3))
    valid = np.array([[True, True, False, False], [True, True, True, False]])
    out = transformers_experiments._masked_batch_norm(x, valid)
    ref = torch.nn.functional.batch_norm(torch.tensor(x[valid]), None, None, training=True)
    np.testing.assert_allclose(out[valid], ref.numpy(), atol=1e-12)


def test_incremental_decoding_layer_norm_is_final_at_once():
    r = transformers_experiments.incremental_decoding(t=10, d=4, seed=2)
    assert (r["ln_change"] == 0).all()
    assert np.isnan(r["bn_change"][0]) and r["bn_change"][-1] == pytest.approx(0, abs=1e-12)
    assert (r["bn_change"][1:-1] > 0).all()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: transformers_experiments.incremental_decoding(t=0), ValueError,
         "t must be an int >= 2, got 0"),  # not batch norm's "more than 1 value per channel"
        (lambda: transformers_experiments.incremental_decoding(d=0), ValueError,
         "d must be an int >= 1, got 0"),
        (lambda: transformers_experiments.transformer_init_gradients(depths=6), TypeError,
         r"depths must be a non-empty sequence of ints >= 1, e\.g\. \(6,\), got int 6"),
        (lambda: transformers_experiments.transformer_init_gradients(depths=()), ValueError,
         "depths must be a non-empty sequence"),
        (lambda: transformers_experiments.transformer_init_gradients(seeds=0), TypeError,
         r"seeds must be a non-empty sequence of ints >= 0, e\.g\. \(0,\), got int 0"),
        (lambda: transformers_experiments.transformer_init_gradients("pre"), TypeError,
         "placements must be a non-empty sequence of placement names"),
        (lambda: transformers_experiments.warmup_grid(seeds=0), TypeError,
         r"seeds must be a non-empty sequence of ints >= 0, e\.g\. \(0,\), got int 0"),
        (lambda: transformers_experiments.warmup_grid(seeds=()), ValueError,
         "seeds must be a non-empty sequence"),
        (lambda: transformers_experiments.warmup_grid(lrs=1e-2), TypeError,
         "lrs must be a non-empty sequence of positive finite numbers"),
        (lambda: transformers_experiments.warmup_grid(configs=("pre", 0)), TypeError,
         r"configs must be a non-empty sequence of \(placement, warm-up steps\) pairs"),
    ],
)  # fmt: skip
def test_transformer_experiments_name_their_arguments_before_training(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_transformer_init_gradients_shapes_and_residual_growth():
    r = transformers_experiments.transformer_init_gradients(depths=(2, 6), d=64, seeds=(0, 1))
    assert [len(v) for v in r["layer_grad"]["pre"]] == [2, 6]
    # Post-norm ends every block with a norm of width 64: token norms are sqrt(64) = 8.
    np.testing.assert_allclose(r["residual_norm"]["post"][1], 8.0, rtol=1e-4)
    assert r["residual_norm"]["pre"][1][-1] > r["residual_norm"]["pre"][1][0]
    # With Xavier initialisation post-norm's FFN gradient grows towards the output (Xiong).
    post = r["layer_grad"]["post"][1]
    assert post[-1] > 1.5 * post[0]


def test_warmup_training_learns_and_rejects_bad_placement():
    loss = transformers_experiments.warmup_training("pre", lr=1e-2, n_layers=2, steps=60, seed=0)
    assert loss.shape == (60,)
    assert loss[:5].mean() > 2.0 and loss[-10:].mean() < loss[:5].mean() / 2
    with pytest.raises(ValueError, match="placement"):
        transformers_experiments.warmup_training("middle")
    grid = transformers_experiments.warmup_grid(
        lrs=(1e-2,), configs=(("pre", 0), ("post", 5)), seeds=(0,), n_layers=1, steps=25
    )
    assert grid["configs"] == [("pre", 0), ("post", 5)]
    assert grid["loss"][(1e-2, "post", 5)].shape == (1, 25)
    assert grid["final"][(1e-2, "pre", 0)].shape == (1,)
    with pytest.raises(ValueError, match="seeds"):
        transformers_experiments.warmup_grid(seeds=())


def test_warmup_schedule_ramps_the_rate():
    # A warm-up of 5 steps with a zero learning-rate start: the first steps barely move the
    # weights, so the first losses match a run with a 100x smaller rate more closely than a
    # run without warm-up does.
    cold = transformers_experiments.warmup_training("pre", lr=1e-2, warmup=0, n_layers=1, steps=3)
    warm = transformers_experiments.warmup_training("pre", lr=1e-2, warmup=100, n_layers=1, steps=3)
    slow = transformers_experiments.warmup_training("pre", lr=1e-4, warmup=0, n_layers=1, steps=3)
    assert cold[0] == warm[0] == slow[0]  # same model and batch before any update
    assert abs(warm[2] - slow[2]) < abs(cold[2] - slow[2])


# ---------------------------------------------------------------- chapter 6 -------------


def test_unit_inputs_are_what_each_activation_receives():
    # Recomputed by hand from the weights: Linear -> norm -> sigmoid, unit 3 of each layer.
    torch.manual_seed(0)
    m = covariate_shift_experiments.sigmoid_mlp("batch")
    x = torch.rand(20, 64)
    got = covariate_shift_experiments._unit_inputs(m, x)  # (L, N, D)
    h, expected = x, []
    linears = [layer for layer in m.net if isinstance(layer, torch.nn.Linear)]
    for lin in linears[:-1]:
        z = h @ lin.weight.T + lin.bias
        z = (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + 1e-5)  # batch statistics
        expected.append(z.detach().numpy())
        h = torch.sigmoid(z)
    np.testing.assert_allclose(got, np.array(expected), atol=1e-5)
    # Probing in training mode must not move the running statistics of the model itself.
    bn = [layer for layer in m.net if isinstance(layer, torch.nn.BatchNorm1d)][0]
    assert bn.num_batches_tracked.item() == 0 and torch.all(bn.running_mean == 0)


@pytest.mark.parametrize(
    "norm, noise", [(None, 0.0), ("layer", 0.0), ("batch", 0.0), ("batch", 1.0)]
)
def test_covariate_shift_probes_do_not_disturb_training(norm, noise):
    # Not the weights, not batch norm's running statistics, not the noise's random stream.
    a = covariate_shift_experiments.covariate_shift_run(
        norm, noise=noise, steps=30, checkpoints=4, n_probe=16
    )
    b = covariate_shift_experiments.covariate_shift_run(norm, noise=noise, steps=30, checkpoints=0)
    np.testing.assert_array_equal(a["loss"], b["loss"])
    assert a["steps"].tolist() == [0, 10, 20, 30] and b["steps"].tolist() == []
    assert a["inputs"].shape == (4, 3, 16) and a["hist"].shape == (4, 3, 40)
    np.testing.assert_allclose(a["hist"].sum(-1), 1.0)  # end bins keep every image
    np.testing.assert_allclose(
        a["percentiles"][..., 1], np.median(a["inputs"], axis=-1), rtol=1e-6, atol=1e-6
    )
    assert a["all_percentiles"].shape == (4, 3, 64, 3)
    np.testing.assert_array_equal(a["all_percentiles"][:, :, 0], a["percentiles"])  # unit 0


def test_covariate_shift_batch_norm_unit_starts_standardized():
    # With gamma = 1 and beta = 0 at step 0, batch norm's unit over the probe batch has
    # mean 0 and standard deviation 1 (up to eps): the definition of batch norm.
    r = covariate_shift_experiments.covariate_shift_run(
        "batch", steps=1, checkpoints=2, n_probe=200
    )
    first = r["inputs"][0]  # (L, P)
    np.testing.assert_allclose(first.mean(-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(first.std(-1), 1.0, atol=1e-3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"steps": 0}, "steps must be an int >= 1, got 0"),
        ({"checkpoints": 1}, r"checkpoints \(0 for none\) must be an int >= 2"),
        ({"n_probe": 1}, r"n_probe must be an int in \[2, 540\], got 1"),
        ({"n_probe": 5000}, "n_probe"),
        ({"unit": 64}, r"unit must be an int in \[0, 63\]"),
        ({"unit": -1}, "unit"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": -1.0}, "lr must be a positive finite number"),
        ({"lr": float("nan")}, "lr"),
        ({"steps": 2.5}, "steps"),
    ],
)
def test_covariate_shift_run_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        covariate_shift_experiments.covariate_shift_run(None, **kwargs)


def test_distribution_shift_is_the_mean_absolute_move():
    p = np.zeros((3, 2, 3))
    p[1, 0] = [1.0, 2.0, 3.0]  # layer 0 moves by 1, 2, 3 then back
    p[2, 1] = 0.5  # layer 1 stays, then moves by 0.5
    np.testing.assert_allclose(
        covariate_shift_experiments.distribution_shift(p), [(6 + 6) / 6, 1.5 / 6]
    )
    with pytest.raises(ValueError, match="shape"):
        covariate_shift_experiments.distribution_shift(np.zeros((1, 2, 3)))


def test_distribution_shift_relative_and_over_units():
    # Two units of one layer: both move by 1 per checkpoint; widths 2 and 4.
    p = np.zeros((3, 1, 2, 3))
    p[:, 0, 0] = [[0, 1, 2], [1, 2, 3], [2, 3, 4]]
    p[:, 0, 1] = [[0, 2, 4], [1, 3, 5], [2, 4, 6]]
    np.testing.assert_allclose(covariate_shift_experiments.distribution_shift(p), [1.0])
    np.testing.assert_allclose(
        covariate_shift_experiments.distribution_shift(p, relative=True), [(1 / 2 + 1 / 4) / 2]
    )


def test_steps_to_target_uses_the_running_mean():
    loss = np.array([3.0, 1.0, 3.0, 1.0, 0.4, 0.4, 0.4])
    assert covariate_shift_experiments.steps_to_target(loss, 0.5, window=1) == 5.0
    assert covariate_shift_experiments.steps_to_target(loss, 1.0, window=1) == 2.0
    assert (
        covariate_shift_experiments.steps_to_target(loss, 1.0, window=2) == 5.0
    )  # (1 + 0.4) / 2 <= 1
    assert np.isnan(covariate_shift_experiments.steps_to_target(loss, 0.1, window=2))
    assert np.isnan(covariate_shift_experiments.steps_to_target(np.full(5, np.nan), 1.0, window=1))
    with pytest.raises(ValueError, match="window"):
        covariate_shift_experiments.steps_to_target(loss, 0.5, window=8)


def test_lr_summary_reads_the_grid():
    nan = np.nan
    result = {
        "lrs": np.array([0.1, 1.0, 10.0]),
        "labels": ["a", "b"],
        "steps": {
            "a": np.array([[50.0, 70.0], [20.0, nan], [nan, nan]]),
            "b": np.array([[nan, nan], [nan, nan], [nan, nan]]),
        },
        "final": {
            "a": np.array([[0.1, 0.2], [0.3, 0.6], [np.inf, 2.0]]),
            "b": np.array([[2.3, 2.2], [2.4, 2.0], [nan, 5.0]]),
        },
    }
    s = covariate_shift_experiments.lr_summary(result)
    assert s["a"]["reached"] == [0.1] and s["a"]["best_lr"] == 0.1 and s["a"]["best_steps"] == 60
    assert s["a"]["above_chance"] == [10.0]
    assert s["b"]["reached"] == [] and np.isnan(s["b"]["best_lr"])
    assert s["b"]["above_chance"] == [1.0, 10.0]


@pytest.mark.parametrize(
    "net",
    [{"norm": None}, {"norm": "layer"}, {"norm": "batch"}, {"norm": "rms"},
     {"norm": "layer", "activation": "relu", "init": "he"}],
)  # fmt: skip
def test_stacked_runs_are_the_separate_runs(net):
    # The oracle: covariate_shift_run, one run at a time with torch's own SGD. Moderate
    # rates: at 1 the ReLU network is chaotic enough to blow float rounding up to 1e-3
    # within 15 steps, in either implementation.
    lrs, seeds = (0.05, 0.3), (0, 1)
    loss, acc, norms = covariate_shift_experiments.stacked_sgd_runs(net, lrs, seeds, steps=15)
    assert loss.shape == (2, 2, 15) and acc.shape == (2, 2) and norms.shape == (2, 2, 2, 3)
    for i, lr in enumerate(lrs):
        for j, seed in enumerate(seeds):
            ref = covariate_shift_experiments.covariate_shift_run(
                **net, lr=lr, steps=15, checkpoints=0, seed=seed
            )
            np.testing.assert_allclose(loss[i, j], ref["loss"], rtol=1e-5)
            assert abs(acc[i, j] - ref["test_accuracy"]) < 1e-6
    # The weight norms, from one network trained alone by torch's SGD: the hidden linear
    # layers' weights and bias, before and after.
    torch.manual_seed(seeds[1])
    X, Y, _, _, rng = training.digits_split(seeds[1])
    m = covariate_shift_experiments.sigmoid_mlp(
        net["norm"], init=net.get("init", "xavier"), activation=net.get("activation", "sigmoid")
    )
    linear = [layer for layer in m.modules() if isinstance(layer, torch.nn.Linear)][:-1]

    def norm_of(layer):
        return float(torch.cat([layer.weight.detach().reshape(-1), layer.bias.detach()]).norm())

    before = [norm_of(layer) for layer in linear]
    opt = torch.optim.SGD(m.parameters(), lr=lrs[1])
    training.fit_digits(m, opt, X, Y, rng, steps=15, batch_size=64)
    after = [norm_of(layer) for layer in linear]
    np.testing.assert_allclose(norms[1, 1], [before, after], rtol=1e-5)


@pytest.mark.parametrize(
    "net",
    [
        {"norm": None},
        {"norm": "batch"},
        {"norm": "layer", "noise": 1.0},
        {"norm": "batch", "noise": 1.0},
    ],
)
def test_covariate_shift_runs_are_the_runs_one_by_one(net):
    both = covariate_shift_experiments.covariate_shift_runs(
        **net, seeds=(0, 3), steps=30, checkpoints=4
    )
    for run, seed in zip(both, (0, 3), strict=True):
        ref = covariate_shift_experiments.covariate_shift_run(
            **net, steps=30, checkpoints=4, seed=seed
        )
        for key in ("steps", "inputs", "all_percentiles", "hist", "loss"):
            np.testing.assert_allclose(run[key], ref[key], rtol=1e-4, atol=1e-5)
        assert abs(run["test_accuracy"] - ref["test_accuracy"]) < 1e-6


def test_lr_sensitivity_stacks_noisy_nets_each_with_its_own_noise():
    # Each noisy member draws from its own generator what it would draw alone.
    r = covariate_shift_experiments.lr_sensitivity(
        {"noisy": {"norm": "layer", "noise": 1.0}}, lrs=(0.1, 0.3), seeds=(0, 1), steps=20
    )
    for i, lr in enumerate((0.1, 0.3)):
        for j, seed in enumerate((0, 1)):
            ref = covariate_shift_experiments.covariate_shift_run(
                "layer", noise=1.0, lr=lr, steps=20, checkpoints=0, seed=seed
            )
            np.testing.assert_allclose(
                r["final"]["noisy"][i, j], ref["loss"][-20:].mean(), rtol=1e-5
            )
    with pytest.raises(ValueError, match="only runs with norm"):
        covariate_shift_experiments.stacked_sgd_runs({"norm": "dyt"}, (0.1,), (0,), steps=5)
    with pytest.raises(ValueError, match=r"lrs must be .* positive finite .* got \[0\.1, -1\.0\]"):
        covariate_shift_experiments.stacked_sgd_runs({"norm": None}, (0.1, -1.0), (0,), steps=5)
    with pytest.raises(TypeError, match=r"lrs must be .*: '0\.1' is a str"):
        covariate_shift_experiments.stacked_sgd_runs({"norm": None}, ("0.1",), (0,), steps=5)
    with pytest.raises(ValueError, match=r"got also \['batch_size'\]"):
        covariate_shift_experiments.stacked_sgd_runs(
            {"norm": None, "batch_size": 16}, (0.1,), (0,), steps=5
        )
    with pytest.raises(TypeError, match="kwargs must be a dict"):
        covariate_shift_experiments.stacked_sgd_runs(["layer"], (0.1,), (0,), steps=5)
    with pytest.raises(ValueError, match="seeds must be a non-empty sequence .* empty tuple"):
        covariate_shift_experiments.stacked_sgd_runs({"norm": None}, (0.1,), (), steps=5)
    with pytest.raises(ValueError, match=r"seeds must be .* ints >= 0, got \[-1\]"):
        covariate_shift_experiments.stacked_sgd_runs({"norm": None}, (0.1,), (-1,), steps=5)


def test_lr_sensitivity_runs_other_settings_one_by_one():
    # A setting the stacked runs do not take (here the batch size) is honoured, not dropped.
    r = covariate_shift_experiments.lr_sensitivity(
        {"x": {"norm": "layer", "batch_size": 16}}, lrs=(0.1,), seeds=(0,), steps=20
    )
    ref = covariate_shift_experiments.covariate_shift_run(
        "layer", batch_size=16, lr=0.1, steps=20, checkpoints=0
    )
    assert r["final"]["x"][0, 0] == ref["loss"][-20:].mean()


def test_lr_sensitivity_shapes():
    r = covariate_shift_experiments.lr_sensitivity(
        {"x": {"norm": "layer"}}, lrs=(0.1, 1.0), seeds=(0, 1), steps=25, target=10.0
    )
    assert r["final"]["x"].shape == r["steps"]["x"].shape == (2, 2)
    assert (r["steps"]["x"] == 20).all()  # a loss below 10 is reached at the first window


def test_landscape_smoothness_matches_an_independent_look_ahead():
    # Step 0, recomputed with torch.func from a model built the same way.
    lr, etas = 0.5, (0.5, 2.0)
    r = covariate_shift_experiments.landscape_smoothness(
        "layer", lrs=(lr,), etas=etas, steps=3, every=2
    )[0]
    torch.manual_seed(0)
    X, Y, _, _, rng = training.digits_split(0)
    m = covariate_shift_experiments.sigmoid_mlp("layer")
    idx = torch.from_numpy(rng.integers(0, len(X), size=64))
    x, y = X[idx], Y[idx]
    names = [n for n, _ in m.named_parameters()]
    w0 = {n: p.detach() for n, p in m.named_parameters()}

    def loss_at(w):
        return torch.nn.functional.cross_entropy(torch.func.functional_call(m, w, (x,)), y)

    def grad(w):  # torch.autograd.grad on a functional call: no parameter is touched
        w = {n: v.clone().requires_grad_(True) for n, v in w.items()}
        return dict(zip(names, torch.autograd.grad(loss_at(w), [w[n] for n in names]), strict=True))

    g = grad(w0)
    flat = torch.cat([g[n].reshape(-1) for n in names])
    losses, changes = [loss_at(w0).item()], []
    for eta in etas:
        w = {n: w0[n] - eta * lr * g[n] for n in names}
        losses.append(loss_at(w).item())
        g_e = grad(w)
        changes.append(torch.cat([(g_e[n] - g[n]).reshape(-1) for n in names]).norm().item())
    assert r["steps"].tolist() == [0, 2] and r["loss_range"].shape == (1, 2)
    np.testing.assert_allclose(r["loss_range"][0, 0], np.ptp(losses), rtol=1e-4)
    np.testing.assert_allclose(r["grad_change"][0, 0], max(changes), rtol=1e-4)
    betas = [c / (e * lr * flat.norm().item()) for c, e in zip(changes, etas, strict=True)]
    np.testing.assert_allclose(r["beta"][0, 0], max(betas), rtol=1e-4)


@pytest.mark.parametrize("norm", [None, "batch"])
def test_landscape_seeds_side_by_side_are_the_runs_alone(norm):
    # Two rates and two seeds side by side, against each run alone.
    both = covariate_shift_experiments.landscape_smoothness(
        norm, lrs=(1.0, 0.3), steps=12, every=4, seeds=(0, 3)
    )
    for k, lr in enumerate((1.0, 0.3)):
        for i, seed in enumerate((0, 3)):
            alone = covariate_shift_experiments.landscape_smoothness(
                norm, lrs=(lr,), steps=12, every=4, seeds=(seed,)
            )[0]
            for key in ("loss_range", "grad_change", "beta", "grad_norm", "loss"):
                np.testing.assert_allclose(both[k][key][i], alone[key][0], rtol=1e-4)


def test_landscape_look_ahead_does_not_disturb_training():
    a = covariate_shift_experiments.landscape_smoothness(None, steps=12, every=1)[0]
    b = covariate_shift_experiments.landscape_smoothness(None, steps=12, every=100)[0]
    np.testing.assert_array_equal(a["loss"], b["loss"])
    with pytest.raises(ValueError, match="etas"):
        covariate_shift_experiments.landscape_smoothness(None, etas=(0.0, 1.0))
    with pytest.raises(ValueError, match=r"lrs must be .* positive finite numbers, got \[nan\]"):
        covariate_shift_experiments.landscape_smoothness(None, lrs=(float("nan"),))
    with pytest.raises(ValueError, match=r"lrs must be a non-empty sequence of positive finite"):
        covariate_shift_experiments.lr_sensitivity({"x": {}}, lrs=np.array([0.1, -1.0]))


# ---------------------------------------------------------------- chapter 7 -------------


def test_recentering_layer_norm_ignores_a_shift_rms_norm_does_not():
    x = np.random.default_rng(0).normal(1.0, 2.0, size=(5, 8))
    r = variants_experiments.recentering(x, shift=3.0, scale=2.0, eps=1e-5)
    assert r["ln_shift"] < 1e-12  # the shift is exactly absorbed by the mean
    # RMSNorm of x + c: by hand, (x + c) / sqrt(mean((x + c)^2) + eps).
    rms = lambda v: v / np.sqrt((v * v).mean(axis=1, keepdims=True) + 1e-5)  # noqa: E731
    assert r["rms_shift"] == pytest.approx(np.abs(rms(x + 3.0) - rms(x)).max())
    assert r["rms_scale"] == pytest.approx(np.abs(rms(2.0 * x) - rms(x)).max())
    assert r["ln_scale"] < 1e-4 and r["rms_scale"] < 1e-4  # only eps breaks it
    assert variants_experiments.recentering(x, eps=0.0)["rms_scale"] < 1e-12


def test_norm_comparison_trains_each_norm_for_each_seed():
    r = variants_experiments.norm_comparison(("rms", "dyt"), seeds=(0, 1), steps=5)
    assert set(r) == {"rms", "dyt"}
    assert r["rms"]["loss"].shape == (2, 5) and r["dyt"]["accuracy"].shape == (2,)
    with pytest.raises(ValueError, match="seeds"):
        variants_experiments.norm_comparison(seeds=())


def test_norm_input_output_records_one_norm_and_fits_a_tanh():
    r = variants_experiments.norm_input_output(steps=3, n_layers=1, d=16, n_points=100)
    assert r["x"].shape == r["y"].shape == r["token_scale"].shape == (100,)
    assert r["loss"].shape == (3,) and (r["token_scale"] > 0).all()
    # Each point lies on its token's line: y = (x - mu_t) / sqrt(std_t^2 + eps), so
    # |y| * std_t <= |x - mu_t| and the slope through the token's points is 1/std_t.
    assert np.isfinite(r["y"]).all() and np.abs(r["y"]).max() < 16**0.5 + 1e-6
    # The fitted curve is a least-squares fit: no worse than the best pure scale of tanh
    # at a nearby steepness.
    t = np.tanh(r["alpha"] * r["x"])
    best = ((r["y"] - r["gamma"] * t) ** 2).mean()
    assert best == pytest.approx(r["tanh_err"])
    t2 = np.tanh(1.1 * r["alpha"] * r["x"])
    g2 = (r["y"] * t2).sum() / (t2 * t2).sum()
    assert best <= ((r["y"] - g2 * t2) ** 2).mean() + 1e-12


def test_fit_tanh_recovers_a_tanh_and_a_line():
    x = np.linspace(-5, 5, 201)
    f = variants_experiments.fit_tanh(x, 1.5 * np.tanh(0.8 * x))
    assert f["alpha"] == pytest.approx(0.8, rel=0.03) and f["gamma"] == pytest.approx(1.5, rel=0.03)
    assert f["tanh_err"] < 1e-3 < f["linear_err"]
    line = variants_experiments.fit_tanh(x, 0.3 * x)
    assert line["slope"] == pytest.approx(0.3) and line["linear_err"] < 1e-20
    with pytest.raises(ValueError, match="same number"):
        variants_experiments.fit_tanh(x, x[:-1])


def test_s_curve_is_layer_norm_of_tokens_of_spread_scales():
    r0, r1 = (
        variants_experiments.s_curve(0.0, n_tokens=8, d=6),
        variants_experiments.s_curve(1.0, n_tokens=8, d=6),
    )
    x1 = torch.tensor(r1["x"].reshape(8, 6))
    expected = torch.nn.functional.layer_norm(x1, (6,)).numpy().ravel()
    np.testing.assert_allclose(r1["y"], expected, atol=1e-12)
    np.testing.assert_allclose(r1["token_scale"], np.repeat(x1.std(-1, unbiased=False).numpy(), 6))
    # The same features for every spread: only the tokens' scales differ.
    ratio = (r1["x"] / r0["x"]).reshape(8, 6)
    np.testing.assert_allclose(ratio, ratio[:, :1].repeat(6, axis=1))
    assert np.ptp(np.log(ratio[:, 0])) > 1.0
    with pytest.raises(ValueError, match="spread"):
        variants_experiments.s_curve(-1.0)
    with pytest.raises(ValueError, match="d must be"):
        variants_experiments.s_curve(1.0, d=1)


def test_shifted_norms_against_torch():
    x = np.array([0.5, -1.0, 2.0, 0.0, 1.5])
    r = variants_experiments.shifted_norms(x, shift=3.0, scale=-2.0, eps=1e-3)
    moved = torch.tensor(x * -2.0 + 3.0)
    np.testing.assert_allclose(r["x"], moved.numpy())
    expected_ln = torch.nn.functional.layer_norm(moved, (5,), eps=1e-3).numpy()
    np.testing.assert_allclose(r["ln"], expected_ln, atol=1e-12)
    expected_rms = torch.nn.functional.rms_norm(moved, (5,), eps=1e-3).numpy()
    np.testing.assert_allclose(r["rms"], expected_rms, atol=1e-12)
    assert r["mean"] == pytest.approx(moved.mean().item())
    assert r["rms_value"] == pytest.approx(moved.square().mean().sqrt().item())
    with pytest.raises(ValueError, match=r"shape \(D,\)"):
        variants_experiments.shifted_norms(np.ones((2, 3)))
    with pytest.raises(ValueError, match="shift must be"):
        variants_experiments.shifted_norms(x, shift=float("nan"))
    with pytest.raises(ValueError, match="eps must be"):
        variants_experiments.shifted_norms(x, eps=-1.0)


def test_gradient_properties_against_autograd():
    g = variants_experiments.gradient_properties(n=32, d=8, seed=1)
    # The same draws; layer norm's dx from torch's autograd (eps = 1e-5, as the package's
    # forward), RMSNorm's from its closed form dx = r (g - x_hat mean(g x_hat)).
    rng = np.random.default_rng(1)
    x = rng.normal(2.0, 3.0, size=(32, 8))
    dy = rng.standard_normal((32, 8))
    gamma = rng.normal(1.0, 0.5, size=8)
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.layer_norm(xt, (8,), torch.tensor(gamma), None, 1e-5).backward(
        torch.tensor(dy)
    )
    dx_ln = xt.grad.numpy()
    x_hat = torch.nn.functional.layer_norm(torch.tensor(x), (8,), eps=1e-5).numpy()
    r = 1 / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6)
    gg, xr = dy * gamma, x * r
    dx_rms = r * (gg - xr * (gg * xr).mean(-1, keepdims=True))

    def cos(a, b):
        return np.abs(
            (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        ).max()

    def mean_ratio(a):
        return (np.abs(a.mean(-1)) / np.abs(a).mean(-1)).max()

    assert g["ln_mean"] < 1e-12 and mean_ratio(dx_ln) < 1e-12  # zero up to rounding
    # The cosines are eps's effect, about eps / var ~ 1e-6: equal to several digits.
    assert g["ln_cos_xhat"] == pytest.approx(cos(dx_ln, x_hat), rel=1e-4)
    assert g["ln_cos_x"] == pytest.approx(cos(dx_ln, x), rel=1e-4)
    assert g["rms_cos_x"] == pytest.approx(cos(dx_rms, x), rel=1e-4)
    assert g["rms_mean"] == pytest.approx(mean_ratio(dx_rms), rel=1e-9) and g["rms_mean"] > 0.05
    assert 1e-8 < g["ln_cos_xhat"] < 1e-5


def test_eps_defaults_reads_torch_and_sorts():
    rows = variants_experiments.eps_defaults()
    table = {name: eps for name, eps, _ in rows}
    assert table["PyTorch nn.LayerNorm"] == torch.nn.LayerNorm(3).eps
    assert table["PyTorch nn.RMSNorm (float32, float16, bfloat16 input)"] == 2.0**-23
    assert table["PyTorch nn.RMSNorm (float64 input)"] == 2.0**-52
    # The table's claim, measured: on bfloat16 input torch's default is float32's eps, not
    # bfloat16's 2**-7 (which would give 0.33 here: 2**-5 / sqrt(2**-10 + 2**-7)).
    x = torch.full((1, 8), 2.0**-5, dtype=torch.bfloat16)
    y = torch.nn.RMSNorm(8, dtype=torch.bfloat16)(x)
    assert y.dtype == torch.bfloat16 and torch.equal(y, torch.ones_like(y))
    assert torch.nn.functional.rms_norm(x, (8,), eps=2.0**-7)[0, 0] < 0.34
    eps = [e for _, e, _ in rows]
    assert eps == sorted(eps, reverse=True) and len(rows) == 3 + len(
        variants_experiments.OTHER_EPS_DEFAULTS
    )


def test_eps_gain_is_the_closed_form():
    s = np.array([1e-5, 1e-3, 0.1, 10.0])
    np.testing.assert_allclose(
        variants_experiments.eps_gain(s, 1e-5), s / np.sqrt(s**2 + 1e-5), rtol=1e-9
    )
    with pytest.raises(ValueError, match="positive"):
        variants_experiments.eps_gain(np.array([0.0, 1.0]), 1e-5)


@pytest.mark.parametrize("norm", ["rms", "dyt", "layer_detached"])
def test_warmup_training_takes_any_norm(norm):
    loss = transformers_experiments.warmup_training("pre", norm=norm, n_layers=1, d=16, steps=3)
    assert loss.shape == (3,) and np.isfinite(loss).all()


def test_tutorial_style_layer_norm_is_unbiased_std_plus_eps():
    x = np.random.default_rng(3).normal(size=(4, 8))
    t = torch.tensor(x)
    expected = (t - t.mean(-1, keepdim=True)) / (t.std(-1, keepdim=True) + 1e-5)  # torch's std
    np.testing.assert_allclose(variants_experiments.layer_norm_tutorial_style(x), expected.numpy())


def test_pitfalls_card_against_torch():
    p = variants_experiments.pitfalls(d=16, seed=0)
    rng = np.random.default_rng(0)  # the same draws, in the same order, as the card
    x = torch.tensor(rng.normal(0.0, 1.0, size=(64, 16)))
    flat = torch.tensor(5.0 + 1e-4 * rng.standard_normal((1, 16)))

    def tutorial(v):
        return (v - v.mean(-1, keepdim=True)) / (v.std(-1, keepdim=True) + 1e-5)

    ln = torch.nn.functional.layer_norm
    assert p["tutorial_gap"] == pytest.approx((tutorial(x) - ln(x, (16,))).abs().max().item())
    assert p["tutorial_gap_flat"] == pytest.approx(
        (tutorial(flat) - ln(flat, (16,))).abs().max().item()
    )
    assert p["tutorial_gap_flat"] > 10 * p["tutorial_gap"]  # eps matters for flat examples
    bn = torch.nn.functional.batch_norm(x, None, None, training=True)  # over the examples
    assert p["wrong_axis_gap"] == pytest.approx((ln(x, (16,)) - bn).abs().max().item(), rel=1e-4)
    assert p["sign_flip"] == 0.0
    assert p["one_pass_min_var"] < 0 and 0 < p["one_pass_nan_share"] < 1


# ---------------------------------------------------------------- chapter 8 -------------


def test_offset_accuracy_errors_against_float64():
    r = performance_experiments.offset_accuracy((0.0, 1e4), shape=(16, 256), seed=1)
    assert r["offsets"].tolist() == [0.0, 1e4]
    # Recompute torch's error independently: float32 kernel vs float64 on the same numbers.
    z = np.random.default_rng(1).standard_normal((16, 256))
    x = (1e4 + z).astype(np.float32)
    ref = torch.nn.functional.layer_norm(torch.tensor(x, dtype=torch.float64), (256,)).numpy()
    torch_err = np.abs(torch.nn.functional.layer_norm(torch.tensor(x), (256,)).numpy() - ref).max()
    assert r["PyTorch F.layer_norm"][1] == pytest.approx(torch_err)
    assert r["lnbook NumPy"][1] < 5e-6 and r["lnbook PyTorch"][1] < 5e-6
    assert r["lnbook NumPy, no correction"][1] > 10 * r["lnbook NumPy"][1]
    assert all(v[0] < 5e-6 for k, v in r.items() if k != "offsets")  # no offset: all fine


def test_folding_the_centring_makes_layer_norm_rmsnorm_exactly_on_other_seeds_and_sizes():
    # Seeds and sizes chapter 7 does not use; the oracle is the unfolded layer-norm network.
    r = variants_experiments.centring_folded(seeds=(3, 4, 5), n_layers=2, d=16)
    assert (r["max_logit_diff"] < 1e-12 * r["logit_scale"]).all()
    assert (r["stream_mean"] < 1e-12).all() and (r["ln_stream_mean"] > 0.1).all()


def test_fold_centring_changes_every_norm_and_refuses_what_it_cannot_fold():
    from lnbook import models, torch_ln

    model = models.TinyTransformer(norm="layer", placement="pre").double()
    folded = folding.fold_centring(model)
    norms = [m for m in folded.modules() if isinstance(m, torch_ln.RMSNorm | torch_ln.LayerNorm)]
    assert norms and all(isinstance(m, torch_ln.RMSNorm) for m in norms)
    assert all(isinstance(m, torch_ln.LayerNorm) for m in models.norm_layers(model))
    ids = torch.randint(0, 16, (2, 9))
    with torch.no_grad():
        assert torch.allclose(model(ids), folded(ids), rtol=0, atol=1e-12)
    for bad in (
        models.TinyTransformer(norm="layer", placement="post"),
        # A norm on the residual stream itself (these two changed the logits by 2-20%).
        models.TinyTransformer(norm="layer", placement="sandwich"),
        models.TinyTransformer(norm="layer", placement="mix", n_layers=4),
        models.TinyTransformer(norm="rms", placement="pre"),
        models.TinyTransformer(norm="layer", placement="pre", encoder_decoder=True),
    ):
        with pytest.raises(ValueError, match="decoder-only, pre-norm layer-norm"):
            folding.fold_centring(bad)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: batch_norm_experiments.small_batch_training(2), TypeError,
         r"batch_sizes must be a non-empty sequence of ints >= 2, e\.g\. \(2,\), got int 2"),
        (lambda: batch_norm_experiments.small_batch_training((128, 1)), ValueError,
         r"batch_sizes must be .* ints >= 2, got \[128, 1\]"),
        (lambda: batch_norm_experiments.small_batch_training(seeds=0), TypeError,
         "seeds must be a non-empty sequence of ints"),
        (lambda: batch_norm_experiments.small_batch_training(norms="batch"), TypeError,
         "norms must be a non-empty sequence of norm names"),
        (lambda: covariate_shift_experiments.covariate_shift_runs("layer", seeds=0), TypeError,
         "seeds must be a non-empty sequence of ints"),
        (lambda: covariate_shift_experiments.lr_sensitivity({"x": {}}, lrs=0.1), TypeError,
         r"lrs must be a non-empty sequence of positive finite numbers, e\.g\. \(0\.1,\)"),
        (lambda: covariate_shift_experiments.lr_sensitivity({"x": {}}, seeds=()), ValueError,
         "seeds must be a non-empty sequence"),
        (lambda: covariate_shift_experiments.lr_sensitivity(["layer"]), TypeError,
         "configs must be a non-empty dict of label -> settings, got list"),
        (lambda: variants_experiments.norm_comparison(seeds=0), TypeError,
         "seeds must be a non-empty sequence of ints"),
        (lambda: variants_experiments.norm_comparison("rms"), TypeError,
         "norms must be a non-empty sequence of norm names"),
        (lambda: variants_experiments.copy_comparison(seeds=()), ValueError,
         "seeds must be a non-empty sequence"),
        (lambda: variants_experiments.centring_folded(0), TypeError,
         "seeds must be a non-empty sequence of ints"),
        (lambda: folding_experiments.folding_errors(0), TypeError,
         "seeds must be a non-empty sequence of ints"),
    ],
)  # fmt: skip
def test_training_experiments_check_their_sequences_before_training(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ------------------------------------- every name checked before the first run trains ----


def _no_training(monkeypatch, module, *names: str) -> None:
    """Make ``module``'s training functions fail the test if called: a check that comes
    after the first group has trained reads "trained", not the ValueError."""

    def trained(*args, **kwargs):
        raise AssertionError("trained")

    for name in names:
        monkeypatch.setattr(module, name, trained)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: transformers_experiments.transformer_init_gradients(("post", "pree")),
         ValueError,
         r"placements must be a non-empty sequence of placement names, each one of "
         r"\('pre', 'post'\), got \['post', 'pree'\]: 'pree' is not one of them"),
        # An encoder-decoder (the default) takes only pre- and post-norm.
        (lambda: transformers_experiments.transformer_init_gradients(("pre", "sandwich")),
         ValueError, r"placements .* 'sandwich' is not one of them"),
        (lambda: transformers_experiments.transformer_init_gradients(
            ("pre", "pree"), encoder_decoder=False),
         ValueError, r"placements .* 'mix'\), got \['pre', 'pree'\]: 'pree' is not one of"),
        (lambda: transformers_experiments.warmup_grid(configs=(("post", 0), ("pree", 0))),
         ValueError,
         r"the placements in configs must be .* got \['post', 'pree'\]: 'pree' is not one of"),
        (lambda: transformers_experiments.warmup_grid(configs=(("post", 0), ("pre", -5))),
         ValueError,
         r"the warm-ups in configs must be a non-empty sequence of ints >= 0, got \[0, -5\]"),
        (lambda: transformers_experiments.warmup_grid(configs=(("post", 0), ("pre", 1.5))),
         TypeError, r"the warm-ups in configs .* 1\.5 is a float"),
    ],
    ids=["init-typo", "init-encoder-decoder", "init-decoder-only", "warmup-typo",
         "warmup-negative", "warmup-float"],
)  # fmt: skip
def test_transformer_experiments_check_every_name_before_training(monkeypatch, call, error, match):
    _no_training(
        monkeypatch, transformers_experiments, "copy_task_model", "train_copy_transformers"
    )
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: variants_experiments.norm_comparison(("layer", "rmss")),
         r"norms must be a non-empty sequence of norm names, each one of \('layer', 'batch', "
         r"'rms', 'dyt', 'layer_detached', None\), got \['layer', 'rmss'\]: 'rmss' is not"),
        (lambda: variants_experiments.copy_comparison(("layer", "rmss")),
         r"norms .* got \['layer', 'rmss'\]: 'rmss' is not one of them"),
        # The transformer refuses batch norm: refused with the others, before any training.
        (lambda: variants_experiments.copy_comparison(("layer", "batch")),
         r"norms .* each one of \('layer', 'rms', 'dyt', 'layer_detached', None\), got "
         r"\['layer', 'batch'\]: 'batch' is not one of them"),
        (lambda: batch_norm_experiments.small_batch_training(norms=("batch", "lyaer")),
         r"norms .* each one of \('layer', 'batch', 'rms', None\), got \['batch', 'lyaer'\]: "
         r"'lyaer' is not one of them"),
        # Dynamic Tanh does not stack (lnbook.stacked.StackedMLP): refused up front.
        (lambda: batch_norm_experiments.small_batch_training(norms=("batch", "dyt")),
         r"norms .* 'dyt' is not one of them"),
    ],
    ids=["norm_comparison", "copy_comparison", "copy_comparison-batch", "small_batch",
         "small_batch-dyt"],
)  # fmt: skip
def test_norm_experiments_check_every_name_before_training(monkeypatch, call, match):
    _no_training(monkeypatch, variants_experiments, "train_digits_mlp", "train_copy_transformer")
    _no_training(monkeypatch, batch_norm_experiments, "seed_runs")
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: transformers_experiments.transformer_init_gradients(("pre", "post")),
        lambda: transformers_experiments.transformer_init_gradients(
            models.MODEL_PLACEMENTS, encoder_decoder=False
        ),
        lambda: transformers_experiments.warmup_grid(
            configs=tuple((p, 3) for p in models.MODEL_PLACEMENTS) + (("pre", np.int64(0)),)
        ),
        lambda: variants_experiments.norm_comparison(models.NORMS),
        lambda: variants_experiments.copy_comparison(
            ("layer", "rms", "dyt", "layer_detached", None)
        ),
        lambda: batch_norm_experiments.small_batch_training(norms=(None, "rms", "layer", "batch")),
    ],
    ids=[
        "init",
        "init-decoder-only",
        "warmup_grid",
        "norm_comparison",
        "copy_comparison",
        "small_batch",
    ],
)
def test_norm_and_placement_checks_pass_every_name_the_models_take(monkeypatch, call):
    # Every name the training code takes gets through the checks to the training itself.
    _no_training(
        monkeypatch, transformers_experiments, "copy_task_model", "train_copy_transformers"
    )
    _no_training(monkeypatch, variants_experiments, "train_digits_mlp", "train_copy_transformer")
    _no_training(monkeypatch, batch_norm_experiments, "seed_runs")
    with pytest.raises(AssertionError, match="trained"):
        call()


def test_stacked_norms_are_the_norms_the_stacked_mlp_stacks():
    # small_batch_training's torch-free list, against lnbook.stacked itself.
    stacks = []
    for norm in models.NORMS:
        members = [models.MLP(64, 8, 10, depth=2, norm=norm, placement="post") for _ in range(2)]
        try:
            StackedMLP(members)
        except ValueError as e:
            assert "cannot stack" in str(e)
        else:
            stacks.append(norm)
    assert tuple(stacks) == batch_norm_experiments.STACKED_NORMS


# ------------------------------------------------------- bad input, named ---------------


def _histogram_run():
    return {"gammas": [np.ones(3)], "betas": [np.zeros(3)]}


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        # Teaching code: a list used to be "'list' object has no attribute 'mean'".
        (lambda: from_scratch_experiments.layer_norm_one_pass([[1.0, 2.0], [3.0]]), ValueError,
         r"x must be a \(\.\.\., D\) array, got a ragged list \(rows of different lengths\)"),
        (lambda: variants_experiments.layer_norm_tutorial_style([[1.0, 2.0], [3.0]]),
         ValueError, "x must be a .* ragged list"),
        (lambda: from_scratch_experiments.layer_norm_one_pass(2.0), ValueError,
         r"x must be a \(\.\.\., D\) array with D >= 1, got shape \(\)"),
        (lambda: variants_experiments.layer_norm_tutorial_style([["a", "b"]]), TypeError,
         r"x must be a \(\.\.\., D\) array of real numbers, got dtype <U1"),
        # Sequence arguments: a bare number used to be "len() of unsized object" or worse.
        (lambda: performance_experiments.offset_accuracy(1e4), TypeError,
         r"offsets must be a non-empty sequence of finite numbers, e\.g\. \(10000\.0,\)"),
        (lambda: performance_experiments.offset_accuracy((0.0, np.inf)), ValueError,
         r"offsets must be .* finite numbers, got \[0\.0, inf\]"),
        (lambda: performance_experiments.offset_accuracy(shape=256), ValueError,
         r"shape must be \(N, D\), two sizes, got 256"),
        (lambda: covariate_shift_experiments.landscape_smoothness(None, lrs=0.5), TypeError,
         r"lrs must be a non-empty sequence of positive finite numbers, e\.g\. \(0\.5,\)"),
        (lambda: covariate_shift_experiments.landscape_smoothness(None, seeds=0), TypeError,
         r"seeds must be a non-empty sequence of ints >= 0, e\.g\. \(0,\), got int 0"),
        (lambda: covariate_shift_experiments.landscape_smoothness(None, etas=2.0), TypeError,
         r"etas must be a non-empty sequence of positive finite numbers, e\.g\. \(2\.0,\)"),
        # A dict of runs, each with gammas and betas: else a bare KeyError 'gammas'.
        (lambda: affine_experiments.norm_parameter_histograms([_histogram_run()]), TypeError,
         r"runs must be a non-empty dict of label -> train_digits_mlp result .* got list"),
        (lambda: affine_experiments.norm_parameter_histograms({}), ValueError,
         r"runs must be a non-empty dict .* got dict \{\}"),
        (lambda: affine_experiments.norm_parameter_histograms({"a": {"loss": 1.0}}), ValueError,
         r"runs\['a'\] must have the keys 'gammas' and 'betas' .* got \['loss'\]"),
        (lambda: affine_experiments.norm_parameter_histograms({"a": [_histogram_run(), 3]}),
         TypeError, r"runs\['a'\] must be a train_digits_mlp result \(a dict\) .* got int"),
        (lambda: affine_experiments.norm_parameter_histograms(
            {"none": {"gammas": [], "betas": []}}), ValueError,
         r"runs\['none'\] has no gammas to count \(norm=None"),
        (lambda: affine_experiments.norm_parameter_histograms(
            {"a": _histogram_run()}, edges={"gamma": [0.0, 1.0]}), ValueError,
         r'edges must be a dict \{"gamma": edges, "beta": edges\}'),
    ],
)  # fmt: skip
def test_teaching_code_and_experiments_name_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_teaching_code_takes_a_list_as_float64_and_keeps_an_arrays_dtype():
    x = [[1.0, 2.0, 4.0], [0.0, 1.0, 5.0]]
    one_pass, tutorial = (
        from_scratch_experiments.layer_norm_one_pass,
        variants_experiments.layer_norm_tutorial_style,
    )
    for fn in (one_pass, tutorial):
        np.testing.assert_array_equal(fn(x), fn(np.array(x)))
        np.testing.assert_array_equal(fn([[1, 2, 4]]), fn(np.array([[1.0, 2.0, 4.0]])))
    assert one_pass(np.ones((2, 3), np.float32)).dtype == np.float32
