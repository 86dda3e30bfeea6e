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


@remembered
def labelled(configs: dict, scale: float = 1.0) -> list:
    CALLS.append(list(configs))
    return [f"{label} x{scale}" for label in configs]


def test_a_call_is_keyed_by_its_arguments_by_name_and_dicts_in_order(monkeypatch, tmp_path):
    monkeypatch.setenv("LNBOOK_RESULTS", f"store:{tmp_path}")
    labelled({"a": 1, "b": 2})
    monkeypatch.setenv("LNBOOK_RESULTS", f"reuse:{tmp_path}")
    assert labelled(configs={"a": 1, "b": 2}, scale=1.0) == ["a x1.0", "b x1.0"]  # same call
    assert len(CALLS) == 1
    # The same dict in another order is another call: its result lists the labels so.
    assert labelled({"b": 2, "a": 1}) == ["b x1.0", "a x1.0"]
    assert len(CALLS) == 2


def test_a_bad_setting_is_refused(monkeypatch):
    monkeypatch.setenv("LNBOOK_RESULTS", "somewhere")
    with pytest.raises(ValueError, match="LNBOOK_RESULTS must be 'store:DIR' or 'reuse:DIR'"):
        experiment(1)


def test_binned_names_edges_that_are_not_increasing():
    from lnbook._results import binned

    assert binned([1.0, 5.0, -1.0], np.array([0.0, 2.0, 4.0])).tolist() == [2, 1]
    for edges in ([3.0, 1.0, 2.0], [1.0], 3.0, [0.0, np.nan]):
        with pytest.raises(
            ValueError, match="edges must be 2 or more finite numbers in increasing"
        ):
            binned([1.0, 2.0], edges)
