"""Chapter 14's exercise checkers: right answers (written with torch, an oracle independent
of the checkers' NumPy), each diagnosed mistake with the fragment of its diagnosis, and
answers that are not answers. The stub, garbage answers and non-callables:
tests/test_checks.py (CHECKERS), with every other chapter's checkers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lnbook import checking
from lnbook.topics.outliers import checks


@pytest.fixture(autouse=True)
def _no_tries_yet(monkeypatch):
    monkeypatch.setattr(checking, "_wrong_tries", {})


def _token_limit(d, outlier, others):
    y = np.full(d, float(others))
    y[0] = outlier
    return y


def _torch_limit(d):
    # The oracle: torch's layer norm of a token with a huge outlier (float64, eps 0).
    x = torch.randn(d, dtype=torch.float64, generator=torch.Generator().manual_seed(d))
    x[0] = 1e9
    return F.layer_norm(x, (d,), eps=0.0).numpy()


LIMIT = [
    (_torch_limit, checking.CORRECT, "sqrt(D - 1)"),
    (lambda d: _token_limit(d, np.sqrt(d), 0), checking.WRONG, "RMSNorm's limit"),
    (lambda d: _token_limit(d, np.sqrt(d - 1), 0), checking.WRONG, "the others are not 0"),
    (lambda d: _token_limit(d, (d - 1) / np.sqrt(d), -1 / np.sqrt(d)), checking.WRONG, "unbiased"),
    (lambda d: np.zeros(d), checking.WRONG, "cannot all vanish"),
    (lambda d: -_torch_limit(d), checking.WRONG, "sign is flipped"),
    (lambda d: _token_limit(d, d - 1, -1), checking.WRONG, "not by M / D"),
    (lambda d: _torch_limit(d) + 0.1, checking.WRONG, "is not the limit"),
    (lambda d: _torch_limit(4), checking.WRONG, "should have shape (16,)"),
]


@pytest.mark.parametrize("fn, status, fragment", LIMIT, ids=range(len(LIMIT)))
def test_outlier_limit_diagnoses(fn, status, fragment):
    v = checks.outlier_limit(fn)
    assert v.status == status and fragment in v.message, v.message


def _torch_channels_last(x, eps=1e-6, **kw):
    # ConvNeXt's way: move the channels last, layer_norm over them, move them back.
    t = torch.as_tensor(x).permute(0, 2, 3, 1)
    return F.layer_norm(t, t.shape[-1:], eps=eps).permute(0, 3, 1, 2).numpy()


def _over(x, axes, ddof=0, eps_outside=False):
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True, ddof=ddof)
    return (x - mu) / ((np.sqrt(var) + 1e-6) if eps_outside else np.sqrt(var + 1e-6))


CHANNELS_LAST = [
    (_torch_channels_last, checking.CORRECT, "over its channels"),
    (lambda x: _over(x, 1).astype(np.float32), checking.CORRECT, ""),
    (lambda x: F.group_norm(torch.as_tensor(x), 1, eps=1e-6).numpy(), checking.WRONG,
     "group norm with one group"),
    (lambda x: _over(x, (2, 3)), checking.WRONG, "instance norm"),
    (lambda x: _over(x, -1), checking.WRONG, "last axis"),
    (lambda x: _over(x, 0), checking.WRONG, "across the batch"),
    (lambda x: _over(x, 1, ddof=1), checking.WRONG, "unbiased"),
    (lambda x: _over(x, 1, eps_outside=True), checking.WRONG, "inside the square root"),
    (lambda x: _over(x, 1) + 1, checking.WRONG, "over axis 1"),
    (lambda x: _over(x, 1)[0], checking.WRONG, "shape"),
]  # fmt: skip


@pytest.mark.parametrize("fn, status, fragment", CHANNELS_LAST, ids=range(len(CHANNELS_LAST)))
def test_channels_last_layer_norm_diagnoses(fn, status, fragment):
    v = checks.channels_last_layer_norm(fn)
    assert v.status == status and fragment in v.message, v.message


def _torch_ada_ln(x, c, w, b, *, swap=False, one_plus=True, silu=True, norm=True):
    x, c, w, b = (torch.as_tensor(a) for a in (x, c, w, b))
    shift, scale = ((F.silu(c) if silu else c) @ w + b).chunk(2, dim=-1)
    if swap:
        shift, scale = scale, shift
    x_hat = F.layer_norm(x, x.shape[-1:], eps=1e-6) if norm else x
    return (x_hat * ((1 + scale) if one_plus else scale) + shift).numpy()


ADA_LN = [
    (_torch_ada_ln, checking.CORRECT, "gamma = 1 + scale"),
    (lambda *a: _torch_ada_ln(*a, one_plus=False), checking.WRONG, "1 + scale"),
    (lambda *a: _torch_ada_ln(*a, swap=True), checking.WRONG, "swapped"),
    (lambda *a: _torch_ada_ln(*a, silu=False), checking.WRONG, "SiLU"),
    (lambda *a: _torch_ada_ln(*a, norm=False), checking.WRONG, "Normalize x first"),
    (lambda x, c, w, b: _torch_ada_ln((x - x.mean(0)) / np.sqrt(x.var(0) + 1e-6), c, w, b,
                                      norm=False), checking.WRONG, "not each column"),
    (lambda *a: _torch_ada_ln(*a) + 0.5, checking.WRONG, "two halves"),
]  # fmt: skip


@pytest.mark.parametrize("fn, status, fragment", ADA_LN, ids=range(len(ADA_LN)))
def test_ada_ln_diagnoses(fn, status, fragment):
    v = checks.ada_ln(fn)
    assert v.status == status and fragment in v.message, v.message


def test_ada_ln_changing_the_inputs_in_place_is_reported():
    def in_place(x, c, w, b):
        c *= 2
        return _torch_ada_ln(x, c, w, b)

    v = checks.ada_ln(in_place)
    assert v.status == checking.WRONG and "changed `c` in place" in v.message, v.message


@pytest.mark.parametrize(
    "checker, fn",
    [(checks.outlier_limit, fn) for fn, _, _ in LIMIT]
    + [(checks.channels_last_layer_norm, fn) for fn, _, _ in CHANNELS_LAST]
    + [(checks.ada_ln, fn) for fn, _, _ in ADA_LN],
)
def test_every_diagnosis_reads_as_sentences_on_both_tries(checker, fn):
    from test_checks import _sentence_problems  # the house rule for messages, written once

    messages = [checker(fn).message]
    if checking.WITHHELD in messages[0]:
        messages.append(checker(fn).message)  # the second try shows the expected values
    for message in messages:
        assert not _sentence_problems(message), (message, _sentence_problems(message))
