"""Chapter 10: each finding the prose asserts, checked on seeds the chapter does
not use (it trains seeds 0, 1 and 2), with the chapter's rates, decays and steps."""

from __future__ import annotations

import numpy as np
import pytest

from lnbook.topics.effective_rate import experiments

SEEDS = (3, 4, 5)
LRS, DECAYS = (0.1, 0.3, 1.0), (0.0, 0.003, 0.01)


@pytest.fixture(scope="module")
def grid():
    runs = experiments.rate_runs(LRS, DECAYS, SEEDS, steps=800)
    return runs, experiments.rate_summary(runs, window=200)


def test_the_gradient_stays_orthogonal_to_the_weights(grid):
    runs, s = grid
    assert s["max_cosine"].max() < 1e-3  # eps's effect, not zero
    assert s["recurrence"].max() < 1e-4  # |W|^2 grows by eta^2 |g|^2, shrinks by decay


def test_without_decay_the_norm_only_grows_and_the_effective_rate_falls(grid):
    runs, s = grid
    norm = runs["norm"][:, 0]  # (R, S, T + 1)
    assert (np.diff(norm, axis=-1) > -1e-6 * norm[..., 1:]).all()
    assert (s["final_norm"][:, 0] > 1.05 * s["start_norm"][:, 0]).all()
    assert (s["final_rate"][:, 0] < s["start_rate"][:, 0]).all()


def test_without_decay_a_tenfold_range_of_rates_ends_in_a_narrow_range_of_effective_rates(grid):
    runs, s = grid
    rates = s["final_rate"][:, 0].mean(axis=-1)  # (R,)
    assert rates.max() / rates.min() < 3


def test_with_time_to_settle_the_decay_brings_the_predicted_equilibrium(grid):
    runs, s = grid
    settled = np.broadcast_to(s["settled"][..., None], s["angle"].shape)
    assert s["settled"].sum() >= 3  # (0.3, 0.01), (1, 0.003), (1, 0.01)
    # Near the prediction: seeds 3-5 measured at most 14% (angle) and 8% (norm), the
    # chapter's seeds 8% and 5%; the bound leaves room for other seeds, not for a miss.
    assert (np.abs(s["angle"] / s["predicted_angle"] - 1)[settled] < 0.2).all()
    assert (np.abs(s["window_norm"] / s["predicted_norm"] - 1)[settled] < 0.12).all()


def test_a_decay_too_slow_for_the_run_leaves_the_angle_below_the_prediction(grid):
    runs, s = grid
    assert not s["settled"][0, 1]  # eta 0.1, lambda 0.003: 830 steps per relaxation time
    assert (s["angle"][0, 1] / s["predicted_angle"][0, 1] < 0.9).all()


def test_without_decay_the_angle_falls_much_further_than_the_effective_rate(grid):
    runs, s = grid
    fall = s["angle_windows"][:, 0, :, 0] / s["angle_windows"][:, 0, :, -1]  # (R, S)
    assert (fall > 3 * (s["start_rate"] / s["final_rate"])[:, 0]).all()
