"""The chapters' experiments, checked against closed forms and torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lnbook import experiments


def test_layer_norm_one_pass_matches_torch_in_float64_without_offset():
    # The one-pass formula is mathematically right; only its rounding is the problem.
    x = np.random.default_rng(1).standard_normal((5, 16))
    expected = torch.nn.functional.layer_norm(torch.tensor(x), (16,)).numpy()
    np.testing.assert_allclose(experiments.layer_norm_one_pass(x), expected, atol=1e-12)


def test_layer_norm_one_pass_breaks_in_float32_with_large_offset():
    x = (1e4 + np.random.default_rng(2).standard_normal((16, 256))).astype(np.float32)
    ref = torch.nn.functional.layer_norm(torch.tensor(x, dtype=torch.float64), (256,)).numpy()
    y = experiments.layer_norm_one_pass(x)
    assert np.isnan(y).any() or np.abs(y - ref).max() > 1e-1


def test_variance_pitfall_separates_the_algorithms():
    offsets = [1.0, 1e2, 1e4, 1e6]
    r = experiments.variance_pitfall(offsets, n_examples=32, n_features=128, shown_features=8)
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
    r = experiments.variance_pitfall([1e3], n_examples=4, n_features=64, shown_features=64)
    row = r["x_hat_ref"][0]
    assert abs(row.mean()) < 1e-12
    assert row.var() == pytest.approx(1.0, rel=1e-3)  # eps = 1e-5 shrinks it slightly


def test_finite_difference_grad_matches_closed_form():
    x = np.random.default_rng(3).standard_normal((3, 4))
    grad = experiments.finite_difference_grad(lambda v: float((v**3).sum()), x)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-6, atol=1e-8)
    # The input is left untouched.
    assert np.array_equal(x, np.random.default_rng(3).standard_normal((3, 4)))
