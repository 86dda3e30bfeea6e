"""The benchmark's machinery: timing, thread limits, and the measurements it reports.

Speeds are never asserted (they depend on the machine); what is checked is that the
benchmark measures what it says it measures.
"""

from __future__ import annotations

import pytest
import torch
from threadpoolctl import threadpool_info

from lnbook import bench


def test_median_seconds_times_one_call_of_a_known_duration():
    import time

    calls = []

    def sleep_2ms():
        calls.append(1)
        time.sleep(0.002)

    t = bench.median_seconds(sleep_2ms, rounds=3, min_round_s=0.005)
    assert 0.002 <= t < 0.02  # sleep never returns early; scheduling adds a little
    assert len(calls) >= 1 + 3 * 3  # warm-up, then rounds of >= 3 calls to last 5 ms
    with pytest.raises(ValueError, match="rounds"):
        bench.median_seconds(sleep_2ms, rounds=0)


def test_single_thread_limits_both_pools_and_restores_them():
    before = torch.get_num_threads()
    with bench.single_thread():
        assert torch.get_num_threads() == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    assert torch.get_num_threads() == before


def test_norm_costs_reports_every_implementation():
    costs = bench.norm_costs((64, 32), rounds=1)
    assert set(costs) == {
        "numpy_ln", "numpy_rms", "torch_ln", "torch_rms", "torch_ln_fb", "torch_rms_fb",
    }  # fmt: skip
    assert all(0 < t < 1 for t in costs.values())
