"""lnbook.fusion: the fused residual add + layer norm, against torch and the unfused pair."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lnbook import fusion


def _inputs(shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    r = (3.0 + rng.standard_normal(shape)).astype(dtype)  # an offset the norm removes
    d = shape[-1]
    return x, r, rng.uniform(0.5, 1.5, d).astype(dtype), rng.standard_normal(d).astype(dtype)


@pytest.mark.parametrize("shape", [(7, 33), (2, 3, 16), (1, 5), (3000, 40)])
def test_add_layer_norm_matches_torch_float64(shape):
    x, r, w, b = _inputs(shape)
    y, h = fusion.add_layer_norm(x, r, shape[-1], w, b, 1e-5)
    ht = torch.tensor(x) + torch.tensor(r)
    yt = F.layer_norm(ht, (shape[-1],), torch.tensor(w), torch.tensor(b), 1e-5)
    np.testing.assert_allclose(h, ht.numpy(), rtol=0, atol=0)  # one rounding, either way
    np.testing.assert_allclose(y, yt.numpy(), rtol=1e-12, atol=1e-12)


def test_fused_and_unfused_give_identical_bits_float32():
    # Many row blocks (the block holds 256 KiB of rows), rows with a large offset.
    x, r, w, b = _inputs((1500, 96), np.float32, seed=3)
    r += np.float32(1e3)
    y1, h1 = fusion.add_layer_norm(x, r, 96, w, b)
    y2, h2 = fusion.add_layer_norm_unfused(x, r, 96, w, b)
    assert np.array_equal(y1, y2) and np.array_equal(h1, h2)


def test_add_layer_norm_writes_into_given_outputs_and_leaves_inputs():
    x, r, w, b = _inputs((10, 8), np.float32)
    x0, r0 = x.copy(), r.copy()
    out, res = np.empty_like(x), np.empty_like(x)
    y, h = fusion.add_layer_norm(x, r, 8, w, b, out=out, residual_out=res)
    assert y is out and h is res
    assert np.array_equal(x, x0) and np.array_equal(r, r0)


def test_add_layer_norm_without_weight_and_bias_normalizes_the_sum():
    x, r, _, _ = _inputs((4, 6))
    y, h = fusion.add_layer_norm(x, r, 6)
    expected = F.layer_norm(torch.tensor(x + r), (6,)).numpy()
    np.testing.assert_allclose(y, expected, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"residual": np.zeros((4, 5))}, ValueError, "residual must have x's shape"),
        ({"residual": np.zeros((4, 6), np.float32)}, TypeError, "residual has dtype"),
        ({"out": np.zeros((4, 5))}, ValueError, "out must have x's shape"),
        ({"residual_out": [[0.0] * 6] * 4}, TypeError, "residual_out must be a NumPy array"),
        ({"normalized_shape": 5}, ValueError, "normalized_shape"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, words):
    x, r, _, _ = _inputs((4, 6))
    args = {"x": x, "residual": r, "normalized_shape": 6, **kwargs}
    with pytest.raises(error, match=words):
        fusion.add_layer_norm(**args)


def test_outputs_overlapping_inputs_are_refused():
    x, r, _, _ = _inputs((4, 6))
    with pytest.raises(ValueError, match="separate arrays"):
        fusion.add_layer_norm(x, r, 6, out=x)
    out = np.empty_like(x)
    with pytest.raises(ValueError, match="separate arrays"):
        fusion.add_layer_norm(x, r, 6, out=out, residual_out=out)


def test_bytes_moved_counts_five_arrays_unfused_and_four_fused():
    assert fusion.bytes_moved((4096, 1024), 4, "unfused") == 5 * 4096 * 1024 * 4
    assert fusion.bytes_moved((4096, 1024), 2, "fused") == 4 * 4096 * 1024 * 2
    with pytest.raises(ValueError, match="kind"):
        fusion.bytes_moved((2, 2), 4, "both")


def test_add_norm_runs_compute_the_same_thing_both_ways():
    runs = fusion.add_norm_runs((8, 16), backend="numpy")
    assert runs["unfused"]() is None and runs["fused"]() is not None
    with pytest.raises(ValueError, match="backend"):
        fusion.add_norm_runs((8, 16), backend="jax")


def test_alternate_times_every_callable_in_turns_and_passes_the_rest_through():
    order = []

    def timer(fn, scale):
        fn()
        return scale * len(order)

    runs = {"a": lambda: order.append("a"), "b": lambda: order.append("b"), "note": "kept"}
    result = fusion.alternate(runs, timer, repeats=2, scale=0.5)
    assert order == ["a", "b", "a", "b"]  # in turns
    assert result["note"] == "kept"
    assert list(result["a"]) == [0.5, 1.5] and list(result["b"]) == [1.0, 2.0]


def test_the_byte_count_and_the_timing_helpers_refuse_bad_arguments():
    with pytest.raises(ValueError, match="itemsize"):
        fusion.bytes_moved((4, 8), -4, "fused")
    with pytest.raises(ValueError, match="shape"):
        fusion.add_norm_runs((2, 3, 4))
    with pytest.raises(TypeError, match="runs"):
        fusion.alternate([lambda: None], lambda fn: 1.0)
