"""Chapter 9's exercise checkers (sections 1-3): the stub, right answers, each diagnosed
mistake with the fragment of its diagnosis, and answers that are not answers.

The truth of the true/false exercise is checked here against torch's autograd, an oracle
independent of the finite differences the checker computes it with.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lnbook import checking
from lnbook.topics.geometry import checks


@pytest.fixture(autouse=True)
def _no_tries_yet(monkeypatch):
    monkeypatch.setattr(checking, "_wrong_tries", {})


# The stub, garbage answers and non-callables: tests/test_checks.py (CHECKERS), with every
# other chapter's checkers.


def _eye(d):
    return np.eye(d)


CENTRING = [
    (lambda d: np.eye(d) - np.ones((d, d)) / d, checking.CORRECT, "P @ P = P"),
    (lambda d: np.eye(d) - np.full((d, d), 1.0 / d, dtype=np.float32), checking.CORRECT, ""),
    (_eye, checking.WRONG, "identity"),
    (lambda d: np.ones((d, d)) / d, checking.WRONG, "replaces every value by the mean"),
    (lambda d: np.eye(d) - np.ones((d, d)), checking.WRONG, "divides by D"),
    (lambda d: np.eye(d) - np.ones((d, d)) / (d - 1), checking.WRONG, "not D - 1"),
    (lambda d: np.ones((d, d)) / d - np.eye(d), checking.WRONG, "sign is flipped"),
    (lambda d: np.eye(d) - np.ones((d, d)) / d**2, checking.WRONG, "divide 1 1^T by D once"),
    (lambda d: np.eye(5) - np.ones((5, 5)) / 5, checking.WRONG, "should have shape (8, 8)"),
    (lambda d: np.eye(d) - np.ones((d, d)) / d + 0.1, checking.WRONG, "P @ ones should be 0"),
]


@pytest.mark.parametrize("fn, status, fragment", CENTRING, ids=range(len(CENTRING)))
def test_centring_matrix_diagnoses(fn, status, fragment):
    v = checks.centring_matrix(fn)
    assert v.status == status and fragment in v.message, v.message


def _torch_jacobian(x, norm="layer", ddof=0):
    """The Jacobian by torch's autograd: the oracle for the right answer and the mistakes."""
    d = x.size

    def f(v):
        if norm == "rms":
            return torch.nn.functional.rms_norm(v, (d,), eps=0.0)
        mu = v.mean()
        return (v - mu) / ((v - mu) ** 2).sum().div(d - ddof).sqrt()

    return torch.func.jacrev(f)(torch.tensor(x)).numpy()


JACOBIAN = [
    (lambda x: _torch_jacobian(x), checking.CORRECT, "rank 4"),
    (lambda x: _torch_jacobian(x, "rms"), checking.WRONG, "RMSNorm's Jacobian"),
    (lambda x: _torch_jacobian(x, ddof=1), checking.WRONG, "unbiased"),
    (lambda x: _torch_jacobian(x) * x.var(), checking.WRONG, "not by sigma"),
    (lambda x: _torch_jacobian(x) / x.std(), checking.WRONG, "not the variance"),
    (lambda x: -_torch_jacobian(x), checking.WRONG, "sign"),
    (lambda x: (np.eye(x.size) - 1 / x.size) / x.std(), checking.WRONG, "x_hat x_hat^T / D term"),
    (lambda x: np.eye(x.size), checking.WRONG, "d mu / d x_i = 1/D"),
    (lambda x: _torch_jacobian(x)[:, :3], checking.WRONG, "shape (6, 6)"),
]


@pytest.mark.parametrize("fn, status, fragment", JACOBIAN, ids=range(len(JACOBIAN)))
def test_layer_norm_jacobian_diagnoses(fn, status, fragment):
    v = checks.layer_norm_jacobian(fn)
    assert v.status == status and fragment in v.message, v.message


def test_layer_norm_jacobian_missing_terms_are_named():
    def no_mean_term(x):
        s = x.std()
        x_hat = (x - x.mean()) / s
        return (np.eye(x.size) - np.outer(x_hat, x_hat) / x.size) / s

    def x_hat_not_over_d(x):
        s = x.std()
        x_hat = (x - x.mean()) / s
        return (np.eye(x.size) - 1 / x.size - np.outer(x_hat, x_hat)) / s

    assert "-1 1^T / D term is missing" in checks.layer_norm_jacobian(no_mean_term).message
    assert "divided by D too" in checks.layer_norm_jacobian(x_hat_not_over_d).message


def test_layer_norm_jacobian_changing_x_in_place_is_reported():
    def in_place(x):
        x -= x.mean()
        return _torch_jacobian(x)

    v = checks.layer_norm_jacobian(in_place)
    assert v.status == checking.WRONG and "in place" in v.message


def _truth_by_torch() -> dict[str, bool]:
    """The six answers, computed with torch's own norms and autograd (an independent oracle)."""
    g = torch.Generator().manual_seed(5)
    x = 1.0 + 0.1 * torch.randn(8, generator=g, dtype=torch.float64)
    ones = torch.ones(8, dtype=torch.float64)

    def ln(v, eps=0.0):
        return torch.nn.functional.layer_norm(v, (8,), eps=eps)

    def rms(v):
        return torch.nn.functional.rms_norm(v, (8,), eps=0.0)

    x_hat = ln(x)

    def jvp(f, v):
        return torch.func.jvp(f, (x,), (v,))[1]

    keys = ln(torch.randn(16, 8, generator=g, dtype=torch.float64) + 2.0)
    weights = torch.softmax(keys @ (4.0 * ones), dim=0)
    return {
        "shift": not torch.allclose(ln(x + 5), x_hat, atol=1e-9),
        "length": bool(abs(x_hat.norm() - 8**0.5) < 1e-9),
        "ln_ones": bool(jvp(ln, ones).abs().max() < 1e-9),
        "rms_ones": bool(jvp(rms, ones).abs().max() < 1e-9),
        "eps_xhat": bool(jvp(lambda v: ln(v, 1e-2), x_hat).abs().max() < 1e-9),
        "uniform": bool((weights - 1 / 16).abs().max() < 1e-12),
    }


def test_geometry_predictions_truth_agrees_with_torch():
    truth = _truth_by_torch()
    right = {q: truth[key] for q, key in checks.GEOMETRY_QUESTIONS.items()}
    v = checks.geometry_predictions(lambda: right)
    assert v.passed, v.message


@pytest.mark.parametrize("question", list(checks.GEOMETRY_QUESTIONS))
def test_geometry_predictions_names_the_wrong_one(question):
    truth = _truth_by_torch()
    answer = {q: truth[key] for q, key in checks.GEOMETRY_QUESTIONS.items()}
    answer[question] = not answer[question]
    v = checks.geometry_predictions(lambda: answer)
    assert v.status == checking.WRONG and "1 of 6 wrong" in v.message and question in v.message
