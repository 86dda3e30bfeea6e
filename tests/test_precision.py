"""Unit tests of chapter 15's precision experiments: the float16/bfloat16 imitation against
NumPy's float16 and ml_dtypes' bfloat16, the accumulation paths against each other, and the
experiments' tables against the formats' definitions."""

from __future__ import annotations

import sys

import ml_dtypes
import numpy as np
import pytest

from lnbook import _optional
from lnbook.topics.precision import experiments


def _awkward_values() -> np.ndarray:
    """float32 values that test rounding: random, ties, overflow, subnormals, specials."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(20_000).astype(np.float32) * np.float32(10.0) ** rng.integers(
        -12, 6, 20_000
    ).astype(np.float32)
    ties = np.array([1 + 2.0**-8, 1 + 3 * 2.0**-8, 2048 + 1, 2048 + 3], np.float32)
    edges = np.array([65504, 65519, 65520, 1e5, 3.4e38, 1e-8, 3e-8, 6e-8, 1e-45, 0.0], np.float32)
    specials = np.array([np.inf, -np.inf, np.nan, -0.0], np.float32)
    return np.concatenate([x, ties, -ties, edges, -edges, specials])


@pytest.mark.parametrize(
    ("dtype", "native"), [("float16", np.float16), ("bfloat16", ml_dtypes.bfloat16)]
)
def test_round_to_matches_the_real_formats_bit_for_bit(dtype, native):
    x = _awkward_values()
    with np.errstate(over="ignore"):
        expected = x.astype(native).astype(np.float32)
    got = experiments.round_to(x, dtype)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)  # NaN where NaN, signs of inf kept
    assert np.array_equal(np.signbit(got[np.isfinite(got)]), np.signbit(expected[np.isfinite(got)]))


def test_round_to_refuses_other_dtypes():
    with pytest.raises(ValueError, match="dtype"):
        experiments.round_to(1.0, "float8")


@pytest.mark.parametrize("dtype", experiments.HALF)
def test_accumulate_rounds_every_partial_sum_on_every_path(dtype):
    """The compiled path (NumPy's float16, ml_dtypes' bfloat16) and the loop the browser
    edition takes give the same bits, and both equal a sum rounded step by step here."""
    rng = np.random.default_rng(1)
    a = experiments.round_to(3.0 + rng.standard_normal((3, 300)), dtype)
    native = experiments.accumulate(a, dtype)
    looped = experiments.accumulate(a, dtype, compiled=False)
    total, by_hand = np.zeros(3, np.float32), np.empty_like(a)
    native_type = np.float16 if dtype == "float16" else ml_dtypes.bfloat16
    for k in range(a.shape[1]):
        total = (total.astype(native_type) + a[:, k].astype(native_type)).astype(np.float32)
        by_hand[:, k] = total
    np.testing.assert_array_equal(native, by_hand)
    np.testing.assert_array_equal(looped, by_hand)


def test_ml_dtypes_is_optional():
    assert _optional.ml_dtypes_bfloat16() == np.dtype(ml_dtypes.bfloat16)
    saved = sys.modules.get("ml_dtypes")
    sys.modules["ml_dtypes"] = None  # as in the browser edition: the import fails
    try:
        assert _optional.ml_dtypes_bfloat16() is None
    finally:
        sys.modules["ml_dtypes"] = saved


def test_eps_table_agrees_with_the_formats():
    rows = {(r["eps"], r["dtype"]): r for r in experiments.eps_table((1e-5, 1e-8, 1e-3))}
    for eps in (1e-5, 1e-8, 1e-3):
        assert rows[eps, "float16"]["value"] == float(np.float16(eps))
        assert rows[eps, "bfloat16"]["value"] == float(np.float32(eps).astype(ml_dtypes.bfloat16))
    assert rows[1e-5, "float16"]["kind"] == "subnormal"  # below 2**-14
    assert rows[1e-3, "float16"]["kind"] == "normal"
    assert rows[1e-8, "float16"]["kind"] == "zero" and rows[1e-8, "bfloat16"]["kind"] == "normal"
    assert rows[1e-3, "float16"]["absorbed"] is False  # 1e-3 > 2**-11: 1 + eps != 1
    assert rows[1e-5, "float16"]["absorbed"] is True


def test_rms_eps_effect_is_the_closed_form():
    r = experiments.rms_eps_effect((1e-4, 1.0), (1e-6, 2.0**-7))
    np.testing.assert_allclose(r["scale"][1, 0], np.sqrt(1e-4 / (1e-4 + 2.0**-7)))
    # 1e-6 next to 1 in bfloat16 (gap 2**-7): lost; next to 1e-4 (gap ~2**-20): kept.
    assert r["lost_in_bfloat16"][0].tolist() == [False, True]


def test_statistics_error_shapes_and_bad_dtype():
    r = experiments.statistics_error("float16", (64, 128), (0.0, 10.0), (0,), rows=2)
    assert r["out_err"].shape == (len(experiments.METHODS), 1, 2, 2)
    assert r["floor"].shape == (1, 2, 2)
    with pytest.raises(ValueError, match="dtype"):
        experiments.statistics_error("float32")


def test_naive_float16_layer_norm_of_an_overflowing_row_is_zero_not_nan():
    """The documented behaviour of the naive computation: 1/sqrt(inf) = 0."""
    x = experiments.round_to(np.full((1, 8), 300.0) * np.arange(1, 9), "float16")
    _, var, y = experiments._naive_layer_norm(x, "float16", 1e-5, one_pass=False)
    assert np.isinf(var).all() and (y == 0).all()


def test_autocast_dtypes_reports_the_cpu_and_says_when_cuda_is_not_measured():
    torch = pytest.importorskip("torch")
    r = experiments.autocast_dtypes()
    assert r["torch"] == torch.__version__
    assert set(r["cpu"]) == {"linear", "layer_norm_of_linear", "layer_norm_of_float32"}
    assert (r["cuda"] is None) == (not torch.cuda.is_available())


def test_the_experiments_refuse_sizes_they_cannot_measure():
    for call, name in (
        (lambda: experiments.overflow(d=0), "d"),
        (lambda: experiments.overflow(rows=0), "rows"),
        (lambda: experiments.statistics_error("float16", rows=0), "rows"),
        (lambda: experiments.statistics_error("float16", ds=(64, 1)), r"ds .* got \[64, 1\]"),
        (lambda: experiments.tiny_variance(d=1), "d"),
        (lambda: experiments.eps_table((1e-5, 0.0)), "eps_values"),
    ):
        with pytest.raises(ValueError, match=name):
            call()
    with pytest.raises(TypeError, match="NumPy array"):
        experiments.accumulate([1.0, 2.0], "float16")


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: experiments.statistics_error("float16", ds=64), TypeError,
         r"ds must be a non-empty sequence of ints >= 2, e\.g\. \(64,\), got int 64"),
        (lambda: experiments.statistics_error("float16", offsets=10.0), TypeError,
         r"offsets must be a non-empty sequence of finite numbers, e\.g\. \(10\.0,\)"),
        (lambda: experiments.statistics_error("float16", seeds=()), ValueError,
         "seeds must be a non-empty sequence"),
        (lambda: experiments.torch_half_error(0), TypeError,
         r"seeds must be a non-empty sequence of ints >= 0, e\.g\. \(0,\), got int 0"),
        (lambda: experiments.torch_half_error(d=0), ValueError, "d must be an int >= 2"),
        (lambda: experiments.overflow(2.0), TypeError,
         r"scales must be a non-empty sequence of positive finite numbers, e\.g\. \(2\.0,\)"),
        (lambda: experiments.overflow(seeds=0), TypeError,
         r"seeds must be a non-empty sequence of ints >= 0, e\.g\. \(0,\), got int 0"),
        (lambda: experiments.overflow(()), ValueError, "scales must be a non-empty sequence"),
        (lambda: experiments.tiny_variance(1e-3), TypeError,
         r"stds must be a non-empty sequence of positive finite numbers, e\.g\. \(0\.001,\)"),
        (lambda: experiments.tiny_variance(eps_values=1e-5), TypeError,
         r"eps_values must be a non-empty sequence of finite numbers >= 0, e\.g\. \(1e-05,\)"),
        (lambda: experiments.tiny_variance(seeds=[]), ValueError,
         "seeds must be a non-empty sequence of ints >= 0"),
        (lambda: experiments.eps_table(1e-5), TypeError,
         r"eps_values must be a non-empty sequence of positive finite numbers, e\.g\. \(1e-05,\)"),
        (lambda: experiments.eps_table([]), ValueError, "eps_values must be a non-empty sequence"),
        (lambda: experiments.rms_eps_effect(1.0), TypeError,
         r"mean_squares must be a non-empty sequence of finite numbers >= 0, e\.g\. \(1\.0,\)"),
        (lambda: experiments.rms_eps_effect([-1.0]), ValueError,
         r"mean_squares must be .* >= 0, got \[-1\.0\]"),
        (lambda: experiments.rms_eps_effect(eps_values=["1e-6"]), TypeError,
         r"eps_values must be .*: '1e-6' is a str"),
    ],
)  # fmt: skip
def test_sequence_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
