"""Chapter 16: each finding the prose asserts, checked on seeds the chapter does not use (it
uses seeds 0, 1 and 2), with the chapter's sizes, on real process groups (one per world size
for each experiment)."""

from __future__ import annotations

import numpy as np
import pytest

from lnbook.topics.distributed import experiments

SEEDS = (3, 4, 5)
WORLD_SIZES = (2, 3, 4)


@pytest.fixture(scope="module")
def grid():
    return experiments.accuracy_grid(WORLD_SIZES, (64, 1024), ("float32", "float64"),
                                     seeds=SEEDS)  # fmt: skip


@pytest.fixture(scope="module")
def agree():
    return experiments.agreement(WORLD_SIZES, seeds=SEEDS)


def test_every_split_agrees_with_one_process_in_float64(agree):
    keys = [f"{m}_{k}" for m in experiments.METHODS for k in ("y", "dx", "dgamma", "dbeta")]
    keys += ["seq_y", "seq_dx", "seq_dgamma", "seq_dbeta", "tp_out", "tp_dx", "tp_dgamma",
             "tp_dw1", "tp_dw2"]  # fmt: skip
    assert max(agree[p][k].max() for p in agree for k in keys) < 1e-13


def test_float32_naive_sums_cancel_and_the_careful_ways_hold(grid):
    offsets, methods = list(grid["offsets"]), list(grid["methods"])
    v = grid["var_error"][:, :, grid["dtypes"].index("float32")]  # (P, d, method, seed, offset)
    naive, chan, two = (v[:, :, methods.index(m)] for m in ("naive", "chan", "two_pass"))
    o2, o3, o4 = (offsets.index(o) for o in (1e2, 1e3, 1e4))
    assert v[..., offsets.index(0.0)].max() < 1e-6
    assert naive[..., o3].min() > 1e-2 and naive[..., o4].min() > 1.0
    assert chan[..., o4].max() < 1e-3 and two[..., o4].max() < 1e-4
    assert (two[..., o4].max(axis=-1) <= chan[..., o4].max(axis=-1)).all()
    naive_slope = np.log10(naive[..., o3].mean() / naive[..., o2].mean())
    chan_slope = np.log10(chan[..., o4].mean() / chan[..., o3].mean())
    assert 1.5 < naive_slope < 2.5 and 0.5 < chan_slope < 1.5


def test_bytes_follow_the_ring_model(grid):
    p = np.array(grid["world_sizes"])[:, None]  # (P, 1)
    passed, ring = grid["bytes_passed"], grid["ring_bytes"]  # (P, dtype, method)
    itemsize = np.array([4, 8])[None, :]  # float32, float64
    assert np.allclose(passed, 2 * itemsize[..., None])  # two numbers per token
    k_naive, k_chan = grid["methods"].index("naive"), grid["methods"].index("chan")
    assert np.allclose(ring[..., k_naive], 2 * (p - 1) / p * 2 * itemsize)
    assert np.allclose(ring[..., k_chan], (p - 1) * 2 * itemsize)


def test_backward_sends_two_sums_and_sequence_parallel_needs_the_gradient_sum(agree):
    for r in agree.values():
        assert (r["chan_backward_bytes"] == 16).all()
        assert (r["seq_forward_collectives"] == 0).all()
        assert r["seq_partial"].min() > 0.5
        assert r["seq_drift_partial"].min() > 0.05 and (r["seq_drift_synced"] == 0).all()


def test_a_drifted_replica_is_caught_and_never_pulled_back(agree):
    for r in agree.values():
        assert (r["tp_drift"] == 0).all()
        assert np.allclose(r["drifted_drift"], 1e-3, rtol=1e-9)
        assert r["drifted_out"].min() > 1e-4 and (r["drifted_dgamma_gap"] == 0).all()
