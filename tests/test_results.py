"""lnbook._results: the long experiments' results kept between a test run's executions."""

from __future__ import annotations

import numpy as np
import pytest

from lnbook._results import remembered

CALLS = []


@remembered
def experiment(n: int, *, scale: float = 1.0) -> dict:
    CALLS.append((n, scale))
    return {"x": np.arange(n) * scale}


@pytest.fixture(autouse=True)
def _fresh_calls():
    CALLS.clear()


def test_off_by_default_every_call_computes(monkeypatch):
    monkeypatch.delenv("LNBOOK_RESULTS", raising=False)
    experiment(3)
    experiment(3)
    assert CALLS == [(3, 1.0), (3, 1.0)]


def test_store_always_computes_and_reuse_returns_the_kept_result(monkeypatch, tmp_path):
    monkeypatch.setenv("LNBOOK_RESULTS", f"store:{tmp_path}")
    first = experiment(4, scale=2.0)
    experiment(4, scale=2.0)  # store never reads: the chapter tests always compute
    assert CALLS == [(4, 2.0), (4, 2.0)]
    monkeypatch.setenv("LNBOOK_RESULTS", f"reuse:{tmp_path}")
    again = experiment(4, scale=2.0)
    assert CALLS == [(4, 2.0), (4, 2.0)]  # not computed a third time
    np.testing.assert_array_equal(again["x"], first["x"])
    assert again["x"] is not first["x"]  # a copy: the caller may change it freely
    experiment(4, scale=3.0)  # other arguments: computed, and not kept by a reuse run
    experiment(4, scale=3.0)
    assert CALLS[-2:] == [(4, 3.0), (4, 3.0)]


def test_a_bad_setting_is_refused(monkeypatch):
    monkeypatch.setenv("LNBOOK_RESULTS", "somewhere")
    with pytest.raises(ValueError, match="LNBOOK_RESULTS must be 'store:DIR' or 'reuse:DIR'"):
        experiment(1)
