"""Chapter 10's effective-rate exercise: the checker's catalogue of wrong answers, each with
its diagnosis; the stub is "not attempted yet", garbage never crashes it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lnbook import checking
from lnbook.topics.effective_rate import checks


@pytest.fixture(autouse=True)
def _no_tries_yet(monkeypatch):
    # Wrong tries are counted per kernel (expected values from the second on): start from none.
    monkeypatch.setattr(checking, "_wrong_tries", {})


def _norm_sq(eta, lam, w0, g, k, shrink=None, added=lambda eta, g, n: eta**2 * g**2 / n):
    """|W_k|^2, written here from the exercise's statement (and variants for mistakes)."""
    shrink = (1 - eta * lam) ** 2 if shrink is None else shrink
    n = w0**2
    for _ in range(k):
        n = shrink * n + added(eta, g, n)
    return n


def right(eta, lam, w0, g, k):
    return eta / _norm_sq(eta, lam, w0, g, k)


def closed_form(eta, lam, w0, g, k):
    if lam == 0:
        return eta / math.sqrt(w0**4 + 2 * k * eta**2 * g**2)
    settled = eta * g**2 / (2 * lam)
    return eta / math.sqrt(settled + (w0**4 - settled) * math.exp(-4 * eta * lam * k))


def linear_norms(eta, lam, w0, g, k):
    n = w0
    for _ in range(k):
        n = (1 - eta * lam) * n + eta * g / n
    return eta / n**2


CATALOGUE = [
    (right, checking.CORRECT, "settle"),
    # float32 answers are judged by what float32 holds (the harness's tolerance).
    (lambda eta, lam, w0, g, k: np.float32(right(eta, lam, w0, g, k)), checking.CORRECT, "settle"),
    (lambda eta, lam, w0, g, k: torch.tensor(right(eta, lam, w0, g, k), dtype=torch.float64),
     checking.CORRECT, "settle"),
    (lambda eta, lam, w0, g, k: eta / math.sqrt(_norm_sq(eta, lam, w0, g, k)), checking.WRONG,
     "eta / |W|; the effective rate is eta / |W|^2"),
    (lambda eta, lam, w0, g, k: math.sqrt(_norm_sq(eta, lam, w0, g, k)), checking.WRONG,
     "that is the norm"),
    (lambda eta, lam, w0, g, k: _norm_sq(eta, lam, w0, g, k), checking.WRONG, "that is |W_k|^2"),
    (lambda eta, lam, w0, g, k: eta / w0**2, checking.WRONG, "before the first step"),
    (lambda eta, lam, w0, g, k: eta / _norm_sq(eta, lam, w0, g, k,
                                               added=lambda eta, g, n: eta**2 * g**2),
     checking.WRONG, "scales as 1/|W|"),
    (lambda eta, lam, w0, g, k: eta / _norm_sq(eta, lam, w0, g, k,
                                               added=lambda eta, g, n: eta * g**2 / n),
     checking.WRONG, "not eta |g|^2"),
    (lambda eta, lam, w0, g, k: eta / _norm_sq(eta, lam, w0, g, k, shrink=1 - eta * lam),
     checking.WRONG, "(1 - eta lam)^2"),
    (lambda eta, lam, w0, g, k: eta / _norm_sq(eta, lam, w0, g, k, shrink=(1 - lam) ** 2),
     checking.WRONG, "not (1 - lam)"),
    (lambda eta, lam, w0, g, k: right(eta, lam, w0, g, k - 1), checking.WRONG, "steps; take all"),
    (lambda eta, lam, w0, g, k: right(eta, lam, w0, g, k + 1), checking.WRONG, "steps; take"),
    (closed_form, checking.WRONG, "continuous-time approximation"),
    (linear_norms, checking.WRONG, "Pythagoras"),
    (lambda eta, lam, w0, g, k: 2 * right(eta, lam, w0, g, k), checking.WRONG, "step by step"),
    (lambda eta, lam, w0, g, k: [1.0, 2.0], checking.WRONG, "single number"),
    (lambda eta, lam, w0, g, k: None, checking.WRONG, "single number"),
    (lambda eta, lam, w0, g, k: math.inf, checking.WRONG, "finite"),
]  # fmt: skip


@pytest.mark.parametrize("fn, status, fragment", CATALOGUE, ids=range(len(CATALOGUE)))
def test_effective_rate_after_diagnoses(fn, status, fragment):
    v = checks.effective_rate_after(fn)
    assert v.status == status and fragment in v.message, v


def test_the_stub_is_not_attempted_and_garbage_gets_a_verdict():
    def stub(*args):
        raise NotImplementedError

    assert checks.effective_rate_after(stub).status == checking.NOT_ATTEMPTED
    for garbage in (42, lambda *a: "0.1", lambda *a: 1 / 0, lambda *a: {"rate": 1},
                    lambda *a: np.ones(3), lambda *a: 10**400, lambda *a: object()):  # fmt: skip
        v = checks.effective_rate_after(garbage)
        assert v.status == checking.WRONG and v.message


def test_the_expected_value_is_shown_only_from_the_second_wrong_try():
    wrong = lambda eta, lam, w0, g, k: 2 * right(eta, lam, w0, g, k)  # noqa: E731
    first = checks.effective_rate_after(wrong)
    second = checks.effective_rate_after(wrong)
    assert "Expected" not in first.message and "Expected" in second.message
    assert f"{right(1.0, 0.0, 2.0, 2.0, 10):.6g}" in second.message


def test_the_cases_tell_every_diagnosed_mistake_apart():
    # No mistake of the catalogue may pass by luck: in at least one case each lands clearly
    # away from the answer (the harness's tolerance is 1e-6 relative).
    numeric = [fn for fn, status, _ in CATALOGUE[:-3] if status == checking.WRONG]
    for fn in numeric:
        gaps = [abs(float(fn(*case)) / right(*case) - 1) for case in checks._RATE_CASES]
        assert max(gaps) > 1e-3
