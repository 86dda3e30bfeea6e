"""Chapter 13: each finding the prose asserts, checked on seeds the chapter does not use (it
trains seeds 0, 1 and 2), with the chapter's rates, steps and model."""

from __future__ import annotations

import numpy as np
import pytest

from lnbook.topics.attention_logits import experiments

SEEDS = (3, 4, 5)
LOW, HIGH, OFF, ON = 0, 1, 0, 1  # the rates 0.01 and 0.1; without and with QK-norm


@pytest.fixture(scope="module")
def runs():
    return experiments.logit_runs(lrs=(0.01, 0.1), qk_norms=(None, "layer"), seeds=SEEDS,
                                  steps=120)  # fmt: skip


@pytest.fixture(scope="module")
def s(runs):
    return experiments.logit_summary(runs, window=20)


def test_no_run_blows_up_to_nan(runs):
    assert np.isfinite(runs["loss"]).all()


def test_at_the_low_rate_every_run_learns_and_qk_norm_keeps_the_logits_smaller(s):
    assert s["final_loss"][LOW].max() < 0.01
    assert s["peak_logit"][LOW, OFF].min() > 2 * s["peak_logit"][LOW, ON].max()


def test_at_the_high_rate_without_qk_norm_the_logits_run_away_and_the_entropy_collapses(s):
    assert s["peak_logit"][HIGH, OFF].min() > 1000
    assert s["final_entropy"][HIGH, OFF].max() < 0.05


def test_at_the_high_rate_qk_norm_bounds_the_logits_and_every_seed_learns(s):
    assert s["peak_logit"][HIGH, ON].max() < 50
    assert s["final_entropy"][HIGH, ON].min() > 0.1
    assert s["final_loss"][HIGH, ON].max() < 0.05
    assert s["final_loss"][HIGH, OFF].min() > 10 * s["final_loss"][HIGH, ON].max()


def test_at_the_high_rate_without_qk_norm_the_seeds_end_far_apart(s):
    assert s["final_loss"][HIGH, OFF].max() > 2 * s["final_loss"][HIGH, OFF].min()


def test_the_logits_pass_100_early_while_the_loss_is_near_chance(runs):
    cross = experiments.logit_crossing(runs, threshold=100.0)
    step, loss = cross["step"][HIGH, OFF], cross["loss"][HIGH, OFF]
    assert (step >= 0).all() and step.max() <= 20
    assert loss.min() > 0.9 * np.log(15)


def test_larger_logits_mean_lower_entropy_on_another_draw():
    r = experiments.entropy_at_scale(n_keys=16, seed=7)
    assert np.all(np.diff(r["entropy"]) < 0)
    assert r["entropy"][0] > 0.99 * r["uniform"] and r["entropy"][-1] < 0.05


@pytest.mark.parametrize("seed", [3, 11])
def test_the_ngpt_stream_stays_on_the_sphere_and_the_pre_norm_stream_grows(seed):
    r = experiments.ngpt_stream(n_layers=24, d=64, alpha=0.05, n=32, seed=seed)
    assert np.abs(r["ngpt_norm"] - 1).max() < 1e-12
    assert np.abs(r["turn"] - r["predicted"]).max() < 1e-12
    lengths = r["pre_norm"].mean(axis=1)
    assert lengths[-1] > 4 * lengths[1]
    assert abs(lengths[-1] / lengths[1] / np.sqrt(24) - 1) < 0.15


def test_bounded_logits_attend_sharply_over_few_keys_only():
    # The chapter's d_h = 8; here d_h = 9 too (bound 3): the same contrast.
    for d_h, few, many in ((8, 0.9, 0.25), (9, 0.9, 0.4)):
        bound = experiments.qk_bound(np.ones(d_h), np.ones(d_h))
        assert experiments.top_weight_bound(bound, 17) > few
        assert experiments.top_weight_bound(bound, 1024) < many
