"""Chapter 11: each finding the prose asserts, checked on seeds the chapter does not use
(it trains seeds 0, 1 and 2 and draws the RNNs of seeds 0, 1 and 2), with the chapter's
settings."""

from __future__ import annotations

import numpy as np
import pytest

from lnbook.topics.recurrent import experiments

SEEDS = (3, 4, 5)


@pytest.fixture(scope="module")
def runs():
    return experiments.digit_runs(seeds=SEEDS)


def test_both_normalized_lstms_lower_the_loss_faster_at_first(runs):
    early = runs["loss"][..., :30].mean(-1)  # (3 kinds, S)
    assert (early[1] < early[0]).all() and (early[2] < early[0]).all()


def test_all_three_learn_the_digits(runs):
    assert runs["accuracy"][:, :, 0].min() > 0.88


def test_per_step_statistics_differ_from_step_to_step(runs):
    stored = runs["stored_std"]  # (2, S, 8): from below, from the previous step
    assert (stored[0].max(axis=1) / stored[0].min(axis=1) > 1.2).all()
    assert (runs["seen_std"][1, :, :, 0] == 0).all() and (stored[1][:, 0] < 1e-3).all()
    assert (stored[1][:, 1:] > 0.5).all()


def test_borrowed_statistics_cost_accuracy_the_own_ones_do_not(runs):
    acc, own = runs["accuracy"], runs["own_stats_accuracy"]
    assert (acc[2, :, 0] - acc[2, :, -1] > 0.05).all()
    assert np.abs(own - own[:, :1]).max() < 0.01
    drop_ln = acc[1, :, 0] - acc[1, :, -1]
    assert (drop_ln > -0.01).all()  # LN does not gain from blank rows
    assert drop_ln.max() > 0.01  # nor is it immune (seeds 3-5 on an Intel machine: 0.4-4.3)
    # Not tested here: how many of the chapter's seeds BN loses less on (a count the prose
    # gives, whichever it is; seeds 3-5 on an Intel machine: BN lost 20-24 points).


def test_only_batch_norm_ties_a_digit_to_its_batch(runs):
    assert runs["batch_change"][:2].max() < 1e-5
    assert runs["batch_change"][2].min() > 0.5 and runs["batch_flips"][2].min() > 0


def test_the_lstm_cell_state_grows_and_h_stays_bounded(runs):
    assert runs["h_norm"].max() < np.sqrt(32)
    c = runs["c_norm"]
    assert (c[:2, :, -1] > c[:2, :, 7]).all()
    # The BN-LSTM's cell state is the smallest: seeds 3-5 stay under 3 at every step, the
    # LN-LSTM's is 5.6-14.9 at step 200.
    assert c[2].max() < c[1, :, -1].min()


def test_layer_norm_bounds_the_relu_rnn_state_and_the_plain_one_explodes():
    grid = experiments.rnn_norm_grid(scales=(0.5, 1.0, 1.5, 2.0), steps=200, hidden=64,
                                     seeds=SEEDS)  # fmt: skip
    assert grid["plain"][-1, :, -1].min() > 1e30 and grid["plain"][0].max() < 50
    assert grid["layer"].max() <= grid["bound"] and grid["layer"][..., 10:].min() > 1
