"""Chapter 15's findings on fusion and folding, on seeds and sizes the chapter does not use.

The chapter asserts them on seeds 0-2 (and D in 128..2048); these check that they are not
luck: fused and unfused add + norm agree bit for bit, every fold agrees with its network to
rounding, and the bytes autograd keeps follow the chapter's formulas.
"""

import numpy as np
import pytest

from lnbook import fusion
from lnbook.topics.folding import experiments


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_fused_and_unfused_agree_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    n, d = 700 + 37 * seed, 384 + 8 * seed
    x, r = (rng.standard_normal((n, d)).astype(np.float32) for _ in range(2))
    r += np.float32(100.0 * seed)  # a residual stream with an offset
    w, b = rng.uniform(0.2, 2.0, d).astype(np.float32), rng.standard_normal(d).astype(np.float32)
    y1, h1 = fusion.add_layer_norm(x, r, d, w, b)
    y2, h2 = fusion.add_layer_norm_unfused(x, r, d, w, b)
    assert np.array_equal(y1, y2) and np.array_equal(h1, h2)


def test_every_fold_agrees_with_its_network_to_rounding():
    errors = experiments.folding_errors(seeds=(3, 4, 5), steps=10, copy_steps=5)
    for key in ("ln_linear32", "bn_linear32", "bn_conv32", "bn_linear_torch", "bn_conv_torch"):
        assert errors[key].max() < 1e-6, key
    assert errors["ln_linear64"].max() < 1e-12
    assert errors["centring32"].max() < 1e-5 and errors["centring64"].max() < 1e-10


@pytest.mark.parametrize("dtype, size", [("float32", 4), ("float64", 8)])
def test_saved_bytes_follow_the_formulas(dtype, size):
    ds = np.array([96, 200, 700])
    s = experiments.saved_per_token(tuple(ds), dtype=dtype, n=3)
    native, book, keep_x, keep_xh = experiments.SAVERS
    assert np.array_equal(s["alone"][native], size * (ds + 2))  # x, mean, rstd
    assert np.array_equal(s["alone"][book], size * (2 * ds + 1))  # x, x_hat, rstd
    assert np.array_equal(s["alone"][keep_x], size * (ds + 2))
    assert np.array_equal(s["alone"][keep_xh], size * (ds + 1))
    for name in experiments.SAVERS:  # a linear layer after the norm keeps its input too
        assert np.array_equal(s["block"][name], s["alone"][name] + size * ds)
    assert np.array_equal(s["folded"][book], size * (2 * ds + 1))  # y is x_hat: shared
    assert np.array_equal(s["folded"][keep_xh], size * (ds + 1))  # one tensor for both
