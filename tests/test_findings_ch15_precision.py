"""Chapter 15's findings on reduced precision, checked on seeds the chapter does not use
(it uses seeds 0, 1 and 2 for every experiment).

Each test checks the direction the prose asserts, not the chapter's numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

from lnbook.topics.precision import experiments

NEW_SEEDS = (3, 4, 5)
METHODS = list(experiments.METHODS)
NAIVE_2, F32_1, F32_2 = (
    METHODS.index(m) for m in ("two-pass, in the dtype", "one-pass, float32", "two-pass, float32")
)


@pytest.fixture(scope="module")
def overflow():
    return experiments.overflow(seeds=NEW_SEEDS)


@pytest.fixture(scope="module")
def stats():
    return {d: experiments.statistics_error(d, seeds=NEW_SEEDS) for d in experiments.HALF}


def _at(result, scale):
    return list(result["scales"]).index(scale)


def test_the_float16_sum_of_squares_overflows_past_spread_4_for_d_4096(overflow):
    assert overflow["sumsq_inf"][:, _at(overflow, 3.8)].max() == 0
    assert overflow["sumsq_inf"][:, _at(overflow, 4.2)].min() > 0
    assert overflow["sumsq_inf"][:, _at(overflow, 8.0)].min() == 1


def test_the_naive_output_collapses_to_zero_not_nan_and_float32_statistics_stay_exact(overflow):
    assert overflow["naive_zero"][:, _at(overflow, 8.0)].min() == 1
    assert overflow["naive_nonfinite"].max() == 0
    assert overflow["f32_nonfinite"].max() == 0
    assert overflow["f32_err"].max() <= 2.0  # half a float16 step at 4: the output's rounding


@pytest.mark.parametrize("dtype", experiments.HALF)
def test_in_dtype_accumulation_grows_with_d_and_fails_at_large_offsets(stats, dtype):
    r = stats[dtype]
    naive = r["out_err"][NAIVE_2]  # (seeds, offsets, ds)
    assert (naive[:, 0, -1] > 10 * r["floor"][:, 0, -1]).all()
    assert (naive[:, 0, -1] > naive[:, 0, 0]).all()
    last = naive[:, -1, -1]
    assert (np.isinf(last) | (last > 1)).all()


@pytest.mark.parametrize("dtype", experiments.HALF)
def test_two_pass_float32_statistics_are_as_good_as_the_input_allows(stats, dtype):
    r = stats[dtype]
    assert (r["out_err"][F32_2] / r["floor"]).max() < 1.5


def test_one_pass_float32_still_fails_at_offset_1000(stats):
    r = stats["float16"]
    assert (r["out_err"][F32_1, :, -1, :].max(axis=1) > 10 * r["floor"][:, -1, :].max()).all()


def test_eps_1e8_vanishes_in_float16_and_tiny_rows_turn_nan():
    t = experiments.tiny_variance(seeds=NEW_SEEDS)
    e8 = list(t["eps_values"]).index(1e-8)
    assert np.isnan(t["naive"][e8][:, t["stds"] <= 1e-4]).all()
    assert not np.isnan(t["naive"][e8][:, t["stds"] > 1e-4]).any()
    assert np.allclose(t["naive"][0], t["exact"][0], rtol=2e-2)
    assert np.allclose(t["float32_stats"], t["exact"], rtol=1e-2)


def test_torch_half_layer_norm_is_as_accurate_as_float32_statistics():
    pytest.importorskip("torch")
    r = experiments.torch_half_error(seeds=NEW_SEEDS)
    for d in experiments.HALF:
        assert (r[d]["torch"] <= 1.01 * r[d]["floor"]).all()
        assert (r[d]["naive"] > 100 * r[d]["floor"]).all()


@pytest.mark.parametrize("dtype", experiments.HALF)
def test_torch_rms_norm_default_eps_is_float32s_for_half_input(dtype):
    pytest.importorskip("torch")
    for seed in NEW_SEEDS:
        assert experiments.rms_default_eps(dtype, seed=seed) == 2.0**-23
