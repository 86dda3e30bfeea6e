"""Chapter 13's exercises (attention logits): each checker's catalogue of wrong answers, each
with its diagnosis. (The stub and garbage answers: tests/test_checks.py's shared contract.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lnbook import checking
from lnbook.topics.attention_logits import checks


@pytest.fixture(autouse=True)
def _no_tries_yet(monkeypatch):
    monkeypatch.setattr(checking, "_wrong_tries", {})


# ---- the bound, written here from the exercise's statement
def bound(gq, gk):
    return np.sqrt(len(gq)) * np.max(np.abs(np.asarray(gq) * np.asarray(gk)))


BOUND = [
    (bound, checking.CORRECT, "sqrt(d_head)"),
    (lambda gq, gk: float(bound(gq, gk)), checking.CORRECT, "sqrt(d_head)"),
    (lambda gq, gk: torch.tensor(bound(gq, gk)), checking.CORRECT, "sqrt(d_head)"),
    (lambda gq, gk: len(gq) * np.max(np.abs(gq * gk)), checking.WRONG, "division by sqrt"),
    (lambda gq, gk: np.max(np.abs(gq * gk)), checking.WRONG, "length 1"),
    (lambda gq, gk: np.sqrt(len(gq)) * np.max(np.abs(gq)) * np.max(np.abs(gk)), checking.WRONG,
     "different coordinates"),
    (lambda gq, gk: np.sqrt(len(gq)) * np.max(gq * gk), checking.WRONG, "absolute values"),
    (lambda gq, gk: np.sqrt(len(gq)) * np.sum(np.abs(gq * gk)), checking.WRONG, "sums"),
    (lambda gq, gk: np.sqrt(len(gq)) * np.linalg.norm(gq) * np.linalg.norm(gk), checking.WRONG,
     "Cauchy-Schwarz"),
    (lambda gq, gk: 1.0, checking.WRONG, "is not the largest"),
    (lambda gq, gk: [1.0, 2.0], checking.WRONG, "single number"),
]  # fmt: skip


@pytest.mark.parametrize("fn, status, fragment", BOUND, ids=range(len(BOUND)))
def test_qk_logit_bound_diagnoses(fn, status, fragment):
    v = checks.qk_logit_bound(fn)
    assert v.status == status and fragment in v.message, v


# ---- RMSNorm per head, written here from the statement
def rms(q, g, eps):
    return q / np.sqrt(np.mean(q * q, axis=-1, keepdims=True) + eps) * g


RMS = [
    (rms, checking.CORRECT, "root mean square"),
    (lambda q, g, eps: rms(q, g, eps).astype(np.float32), checking.CORRECT, "root mean square"),
    (lambda q, g, eps: torch.nn.functional.rms_norm(torch.tensor(q), (q.shape[-1],),
                                                    torch.tensor(g), eps),
     checking.CORRECT, "root mean square"),
    (lambda q, g, eps: rms(q, 1.0, eps), checking.WRONG, "gamma is missing"),
    (lambda q, g, eps: rms(q - q.mean(-1, keepdims=True), g, eps), checking.WRONG,
     "subtracts the mean"),
    (lambda q, g, eps: q / np.sqrt(np.mean(q * q, axis=(1, 3), keepdims=True) + eps) * g,
     checking.WRONG, "whole width"),
    (lambda q, g, eps: q / np.sqrt(np.mean(q * q, axis=-2, keepdims=True) + eps) * g,
     checking.WRONG, "over the tokens"),
    (lambda q, g, eps: q / (np.sqrt(np.mean(q * q, axis=-1, keepdims=True)) + eps) * g,
     checking.WRONG, "outside the square root"),
    (lambda q, g, eps: q / np.sqrt(np.sum(q * q, axis=-1, keepdims=True) + eps) * g,
     checking.WRONG, "sum of squares"),
    (lambda q, g, eps: q * g, checking.WRONG, "Not RMSNorm"),
    (lambda q, g, eps: rms(q, g, eps)[0], checking.WRONG, "shape"),
]  # fmt: skip


@pytest.mark.parametrize("fn, status, fragment", RMS, ids=range(len(RMS)))
def test_qk_rms_norm_diagnoses(fn, status, fragment):
    v = checks.qk_rms_norm(fn)
    assert v.status == status and fragment in v.message, v


def test_qk_rms_norm_leaves_the_inputs_alone():
    def in_place(q, g, eps):
        q /= np.sqrt(np.mean(q * q, axis=-1, keepdims=True) + eps)
        return q * g

    v = checks.qk_rms_norm(in_place)
    assert v.status == checking.WRONG and "q" in v.message


# ---- the entropy, written here from the statement (with scipy's logsumexp as the oracle)
def entropy(z):
    from scipy.special import logsumexp

    log_p = z - logsumexp(z, axis=-1, keepdims=True)
    return -(np.exp(log_p) * log_p).sum(axis=-1)


def naive(z):
    p = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    return -(p * np.log(p)).sum(axis=-1)


ENTROPY = [
    (entropy, checking.CORRECT, "Stable"),
    (lambda z: torch.special.entr(torch.softmax(torch.tensor(z), -1)).sum(-1), checking.CORRECT,
     "Stable"),
    (naive, checking.WRONG, "subtract each row's largest logit"),
    (lambda z: entropy(z) / np.log(2), checking.WRONG, "bits"),
    (lambda z: -entropy(z), checking.WRONG, "sign is flipped"),
    (lambda z: -(np.exp(z) * z).sum(axis=-1), checking.WRONG, "divide by their sum"),
    (lambda z: np.full(z.shape[0], np.log(z.shape[-1])), checking.WRONG, "uniform"),
    (lambda z: entropy(z) if z.max() < 100 else entropy(z / 1000), checking.WRONG,
     "check the large logits"),
    (lambda z: entropy(z)[:, None], checking.WRONG, "shape"),
]  # fmt: skip


@pytest.mark.parametrize("fn, status, fragment", ENTROPY, ids=range(len(ENTROPY)))
def test_attention_entropy_diagnoses(fn, status, fragment):
    with np.errstate(all="ignore"):
        v = checks.attention_entropy(fn)
    assert v.status == status and fragment in v.message, v


def test_every_diagnosed_mistake_lands_away_from_the_answer():
    """No mistake of the catalogues passes by luck: each is judged wrong above, and its value
    differs from the right one by far more than the harness's tolerance on some case."""
    gq, gk = checks._BOUND_CASES[0]
    values = [fn(gq, gk) for fn, status, _ in BOUND[3:9]]
    assert all(abs(v / bound(gq, gk) - 1) > 0.1 for v in values)
