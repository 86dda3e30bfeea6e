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


# ------------------------------------------------------------ the part along the weights -----


def _along(w, g):
    """The part of g along w, written here from the exercise's statement."""
    w, g = np.asarray(w, dtype=float), np.asarray(g, dtype=float)
    return float(np.sum(w * g) / np.sum(w * w)) * w


def _rows(w, g):
    return (w * g).sum(-1, keepdims=True) / (w * w).sum(-1, keepdims=True) * w


RADIAL = [
    (_along, checking.CORRECT, "0.1 w"),
    (lambda w, g: _along(w.ravel(), g.ravel()).reshape(w.shape), checking.CORRECT, "0.1 w"),
    (lambda w, g: torch.tensor(w) * float((torch.tensor(w) * torch.tensor(g)).sum()
                                          / (torch.tensor(w) ** 2).sum()),
     checking.CORRECT, "0.1 w"),
    (lambda w, g: g - _along(w, g), checking.WRONG, "across w"),
    (lambda w, g: np.zeros_like(w), checking.WRONG, "that is 0"),
    (lambda w, g: np.sum(w * g) * w, checking.WRONG, "divide by |w|^2: <w, g> w"),
    (lambda w, g: np.sum(w * g) / np.linalg.norm(w) * w, checking.WRONG, "not |w|"),
    (lambda w, g: np.sum(w * g) / np.sum(g * g) * g, checking.WRONG, "part of w along g"),
    (_rows, checking.WRONG, "each row"),
    (lambda w, g: (w * g).sum(0) / (w * w).sum(0) * w, checking.WRONG, "each column"),
    (lambda w, g: w @ g.T, checking.WRONG, "matrix product"),
    (lambda w, g: w.T @ g, checking.WRONG, "matrix product"),
    (lambda w, g: np.sum(w * g) / np.sum(w * w), checking.WRONG, "single number"),
    (lambda w, g: (w * g).sum(-1) / (w * w).sum(-1), checking.WRONG, "one number per row"),
    (lambda w, g: 2 * _along(w, g), checking.WRONG, "multiple of w"),
    (lambda w, g: None, checking.WRONG, "return"),
    (lambda w, g: _along(w, g).ravel(), checking.WRONG, "shape"),
    (lambda w, g: np.full(w.shape, np.nan), checking.WRONG, "NaN"),
]  # fmt: skip


@pytest.mark.parametrize("fn, status, fragment", RADIAL, ids=range(len(RADIAL)))
def test_radial_part_diagnoses(fn, status, fragment):
    v = checks.radial_part(fn)
    assert v.status == status and fragment in v.message, v


def test_radial_part_reports_a_function_that_changes_its_arguments():
    def in_place(w, g):
        w *= np.sum(w * g) / np.sum(w * w)
        return w

    v = checks.radial_part(in_place)
    assert v.status == checking.WRONG and "in place" in v.message


def test_radial_parts_layer_has_a_gradient_orthogonal_to_its_weights():
    # The checker's claim ("the part along w is the decay's 0.1 w"), checked by autograd:
    # the loss of a layer followed by torch's layer norm is blind to the scale of w.
    what, w, g = checks._radial_cases()[0]
    rng = np.random.default_rng(10)
    rng.normal(size=(4, 3))  # the draws _radial_cases makes, in its order
    x, t = torch.tensor(rng.normal(size=3)), torch.tensor(rng.normal(size=4))
    wt = torch.tensor(w, requires_grad=True)
    loss = t @ torch.nn.functional.layer_norm(wt @ x, (4,), eps=0.0)
    loss.backward()
    np.testing.assert_allclose(g - 0.1 * w, wt.grad.numpy(), atol=1e-12)
    assert abs(float((wt.grad * wt.detach()).sum())) < 1e-12
    np.testing.assert_allclose(_along(w, g), 0.1 * w, atol=1e-12)


def test_radial_part_stub_and_garbage():
    def stub(w, g):
        raise NotImplementedError

    assert checks.radial_part(stub).status == checking.NOT_ATTEMPTED
    for garbage in (42, lambda w, g: "w", lambda w, g: 1 / 0, lambda w, g: {"w": 1},
                    lambda w, g: [[1, 2], [3]], lambda w, g: object(), lambda: 0):  # fmt: skip
        v = checks.radial_part(garbage)
        assert v.status == checking.WRONG and v.message


def test_radial_parts_mistakes_are_told_apart():
    # Each diagnosed value lands clearly away from the answer in the (4, 3) case.
    what, w, g = checks._radial_cases()[0]
    right = _along(w, g)
    for fn, _status, _ in RADIAL[3:10]:
        assert np.abs(np.asarray(fn(w, g)) - right).max() > 1e-3 * np.abs(right).max()


# ---------------------------------------------------------------- the equilibrium norm -----


def eq_right(eta, lam, g):
    return (eta * g**2 / (2 * lam)) ** 0.25


def eq_exact(eta, lam, g):
    # The fixed point of |W|^2 <- (1 - eta lam)^2 |W|^2 + eta^2 g^2 / |W|^2, solved here.
    return (eta**2 * g**2 / (1 - (1 - eta * lam) ** 2)) ** 0.25


def eq_iterated(eta, lam, g):
    # The recurrence run to its fixed point: an oracle independent of the closed forms.
    n = 1.0
    for _ in range(200_000):
        n = (1 - eta * lam) ** 2 * n + eta**2 * g**2 / n
    return math.sqrt(n)


EQUILIBRIUM = [
    (eq_right, checking.CORRECT, "fourth root"),
    (eq_exact, checking.CORRECT, "fourth root"),
    (eq_iterated, checking.CORRECT, "fourth root"),
    (lambda eta, lam, g: np.float64(eq_right(eta, lam, g)), checking.CORRECT, "fourth root"),
    (lambda eta, lam, g: torch.tensor(eq_right(eta, lam, g)), checking.CORRECT, "fourth root"),
    (lambda eta, lam, g: eq_right(eta, lam, g) ** 2, checking.WRONG, "that is |W|^2"),
    (lambda eta, lam, g: eq_right(eta, lam, g) ** 4, checking.WRONG, "that is |W|^4"),
    (lambda eta, lam, g: (eta * g**2 / lam) ** 0.25, checking.WRONG, "factor 2"),
    (lambda eta, lam, g: (lam * g**2 / (2 * eta)) ** 0.25, checking.WRONG, "swapped"),
    (lambda eta, lam, g: (eta * g / (2 * lam)) ** 0.25, checking.WRONG, "square g_tilde"),
    (lambda eta, lam, g: (eta * g**2 / 2) ** 0.25, checking.WRONG, "denominator"),
    (lambda eta, lam, g: math.sqrt(eta / (2 * lam)) * g, checking.WRONG, "depends on |W| too"),
    (lambda eta, lam, g: eta / eq_right(eta, lam, g) ** 2, checking.WRONG, "effective rate"),
    (lambda eta, lam, g: 1.1 * eq_right(eta, lam, g), checking.WRONG, "solve for |W|"),
    (lambda eta, lam, g: [1.0, 2.0], checking.WRONG, "single number"),
    (lambda eta, lam, g: None, checking.WRONG, "single number"),
    (lambda eta, lam, g: math.nan, checking.WRONG, "finite"),
]  # fmt: skip


@pytest.mark.parametrize("fn, status, fragment", EQUILIBRIUM, ids=range(len(EQUILIBRIUM)))
def test_equilibrium_norm_diagnoses(fn, status, fragment):
    v = checks.equilibrium_norm(fn)
    assert v.status == status and fragment in v.message, v


def test_equilibrium_norm_stub_garbage_and_the_second_try():
    def stub(eta, lam, g):
        raise NotImplementedError

    assert checks.equilibrium_norm(stub).status == checking.NOT_ATTEMPTED
    for garbage in (42, lambda *a: "1.0", lambda *a: 1 / 0, lambda *a: np.ones(3),
                    lambda *a: 10**400, lambda *a: object(), lambda: 0):  # fmt: skip
        v = checks.equilibrium_norm(garbage)
        assert v.status == checking.WRONG and v.message


def test_equilibrium_norm_shows_the_expected_value_from_the_second_wrong_try():
    off = lambda eta, lam, g: 1.1 * eq_right(eta, lam, g)  # noqa: E731
    assert "Expected" not in checks.equilibrium_norm(off).message
    assert "Expected" in checks.equilibrium_norm(off).message


def test_equilibrium_cases_tell_the_first_order_and_exact_forms_from_the_mistakes():
    for case in checks._EQUILIBRIUM_CASES:
        assert abs(eq_exact(*case) / eq_right(*case) - 1) > 1e-5  # told apart, both accepted
        assert abs(eq_iterated(*case) / eq_exact(*case) - 1) < 1e-9
    for fn, _status, _ in EQUILIBRIUM[5:13]:
        assert max(abs(fn(*c) / eq_right(*c) - 1) for c in checks._EQUILIBRIUM_CASES) > 1e-2
