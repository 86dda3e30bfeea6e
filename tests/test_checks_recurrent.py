"""Chapter 11's exercises (recurrent): each checker's catalogue of wrong answers with its
diagnosis, and the truths checked against independent oracles (torch's layer norm, lnbook's
BatchNormLSTM in torch, a brute-force search for the bound)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lnbook import checking
from lnbook.recurrent import BatchNormLSTM, LayerNormLSTM
from lnbook.topics.recurrent import checks


@pytest.fixture(autouse=True)
def _no_tries_yet(monkeypatch):
    # Wrong tries are counted per kernel (expected values from the second on): start from none.
    monkeypatch.setattr(checking, "_wrong_tries", {})


def torch_ln(a, gain, bias, eps):
    """The oracle: torch's layer norm over the last axis (all 4H values of a row)."""
    t = torch.tensor(a)
    return F.layer_norm(t, (t.shape[-1],), torch.tensor(gain), torch.tensor(bias), eps).numpy()


def per_gate(a, gain, bias, eps):
    B = a.shape[0]
    r = torch.tensor(a).reshape(B, 4, -1)
    y = F.layer_norm(r, (r.shape[-1],), eps=eps).reshape(B, -1).numpy()
    return gain * y + bias


def over_batch(a, gain, bias, eps):
    return gain * (a - a.mean(0)) / np.sqrt(a.var(0) + eps) + bias


def unbiased(a, gain, bias, eps):
    mu = a.mean(-1, keepdims=True)
    return gain * (a - mu) / np.sqrt(a.var(-1, ddof=1, keepdims=True) + eps) + bias


GATES = [
    (torch_ln, checking.CORRECT, "own"),
    (lambda a, g, b, e: torch_ln(a, g, b, e).astype(np.float32), checking.CORRECT, "own"),
    (per_gate, checking.WRONG, "each gate's H values separately"),
    (over_batch, checking.WRONG, "that is batch norm"),
    (unbiased, checking.WRONG, "unbiased variance"),
    (lambda a, g, b, e: (a - a.mean(-1, keepdims=True)) / np.sqrt(a.var(-1, keepdims=True) + e),
     checking.WRONG, "gain and the bias are missing"),
    (lambda a, g, b, e: torch_ln(a, b, g, e), checking.WRONG, "swapped"),
    (lambda a, g, b, e: g * (a - a.mean(-1, keepdims=True)) / (a.std(-1, keepdims=True) + e) + b,
     checking.WRONG, "inside the square root"),
    (lambda a, g, b, e: a, checking.WRONG, "differ"),
    (lambda a, g, b, e: a[:, :4], checking.WRONG, "shape"),
]  # fmt: skip


@pytest.mark.parametrize("fn, status, fragment", GATES)
def test_gate_inputs_catalogue(fn, status, fragment):
    v = checks.ln_gate_inputs(fn)
    assert v.status == status and fragment in v.message, v


def bound_oracle(H: int, gain: float) -> float:
    """The largest |relu(gain * a_hat)| by search: the best of many random summed inputs
    and of every 'k entries high, the rest low' pattern (the maximizer is among those)."""
    best = 0.0
    for k in range(1, H):
        a = np.r_[np.ones(k), np.zeros(H - k)]
        a_hat = (a - a.mean()) / a.std()
        best = max(best, float(np.linalg.norm(np.maximum(gain * a_hat, 0))))
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20_000, H)) * rng.exponential(1.0, (20_000, H)) ** 3
    a_hat = (a - a.mean(1, keepdims=True)) / a.std(1, keepdims=True)
    random_best = np.linalg.norm(np.maximum(gain * a_hat, 0), axis=1).max()
    assert random_best <= best * (1 + 1e-12)  # no random input beats the pattern
    return best


BOUNDS = [
    (lambda H, g: bound_oracle(H, g), checking.CORRECT, "sqrt(H - 1)"),
    (lambda H, g: g * math.sqrt(H), checking.WRONG, "before the ReLU"),
    (lambda H, g: math.sqrt(H - 1), checking.WRONG, "the gain multiplies"),
    (lambda H, g: math.sqrt(H), checking.WRONG, "gain is missing"),
    (lambda H, g: g * math.sqrt(H / 2), checking.WRONG, "half positive"),
    (lambda H, g: g**2 * (H - 1), checking.WRONG, "squared norm"),
    (lambda H, g: 3.0, checking.WRONG, "not the largest"),
    (lambda H, g: torch.tensor(g * math.sqrt(H - 1)), checking.CORRECT, "sqrt(H - 1)"),
]


@pytest.mark.parametrize("fn, status, fragment", BOUNDS)
def test_bound_catalogue(fn, status, fragment):
    v = checks.relu_ln_bound(fn)
    assert v.status == status and fragment in v.message, v


def _bn_truths() -> dict[str, bool]:
    """The questions' truths from lnbook's BatchNormLSTM and LayerNormLSTM (torch), not
    the NumPy RNN the checker uses."""
    torch.manual_seed(0)
    m = BatchNormLSTM(3, 4, max_steps=4, dtype=torch.float64)
    for _ in range(5):
        m(torch.randn(16, 4, 3, dtype=torch.float64))
    x = torch.randn(8, 6, 3, dtype=torch.float64)
    others = torch.cat([x[:1], torch.randn(7, 6, 3, dtype=torch.float64)])
    m.eval()
    with torch.no_grad():
        h = m(x)[0]
        h_other = m(others)[0]
        ref = BatchNormLSTM(3, 4, max_steps=6, dtype=torch.float64).eval()
        ref.load_state_dict({k: v for k, v in m.state_dict().items() if "running" not in k},
                            strict=False)  # fmt: skip
        for name, buf in m.named_buffers():
            getattr(ref, name).copy_(torch.cat([buf, buf[-1:].expand(2, -1)]))  # step 4 reused
        h_ref = ref(x)[0]
        m.train()
        h_train, h_train_other = m(x[:, :4])[0], m(others[:, :4])[0]
        zero = m.summed_inputs(x[:, :4])["hh"][:, 0].var(0).max().item() == 0
        ln = LayerNormLSTM(3, 4, dtype=torch.float64)
        h_ln, h_ln_other = ln(x)[0], ln(others)[0]
    return {
        "reuse": torch.equal(h[:, 5], h_ref[:, 5]),
        "eval": not torch.allclose(h[0], h_other[0], rtol=0, atol=1e-12),
        "train": not torch.allclose(h_train[0], h_train_other[0], rtol=0, atol=1e-12),
        "zero": zero,
        "layer": torch.allclose(h_ln[0], h_ln_other[0], rtol=0, atol=1e-12),
    }


def test_predictions_truth_matches_the_torch_models():
    truth = _bn_truths()
    answers = {q: truth[k] for q, k in checks.RECURRENT_QUESTIONS.items()}
    assert checks.recurrent_predictions(lambda: answers).status == checking.CORRECT
    for q in answers:
        flipped = dict(answers, **{q: not answers[q]})
        v = checks.recurrent_predictions(lambda flipped=flipped: flipped)
        assert v.status == checking.WRONG and q in v.message
