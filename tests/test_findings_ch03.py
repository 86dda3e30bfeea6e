"""Chapter 3's findings on float32 variance, checked on seeds the chapter does not use
(it draws its data from seed 0). Each test checks the direction the prose asserts, not the
chapter's numbers. (The backward pass is an identity, checked against torch and finite
differences in tests/test_numpy_ln.py and tests/test_torch_ln.py.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lnbook import numpy_ln
from lnbook.topics.from_scratch import experiments

OFFSETS = 10.0 ** np.arange(0, 6.5, 0.5)  # the chapter's


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_pass_variance_breaks_on_offset_data_and_two_pass_does_not(seed):
    r = experiments.variance_pitfall(OFFSETS, n_examples=64, n_features=256, seed=seed)
    k4 = int(np.argmin(np.abs(OFFSETS - 1e4)))
    assert r["err_one_pass"][0] < 1e-4  # fine without an offset
    assert r["nan_one_pass"][k4] > 0  # negative variances at 1e4
    assert r["err_one_pass_finite"][k4] > 1.0  # the rest off by standard deviations
    first_bad = OFFSETS[int(np.argmax(r["err_one_pass"] > 1e-2))]
    assert 10 <= first_bad <= 1e4  # "hundreds of times its spread"
    assert r["err_two_pass"].max() < 1e-5  # float32 rounding, at every offset


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_corrected_float32_layer_norm_beats_torch_on_offset_data(seed):
    x32 = (1e4 + np.random.default_rng(seed).standard_normal((8, 1024))).astype(np.float32)
    ref = torch.nn.functional.layer_norm(torch.tensor(x32, dtype=torch.float64), (1024,)).numpy()
    err_ours = np.abs(numpy_ln.layer_norm(x32, 1024) - ref).max()
    err_torch = np.abs(
        torch.nn.functional.layer_norm(torch.tensor(x32), (1024,)).numpy() - ref
    ).max()
    assert err_ours < 1e-5 and err_torch > 100 * err_ours
