"""Chapter 15's exercise checkers (reduced precision): each known mistake gets its diagnosis.

The generic properties (stub, garbage, non-callables, sentences) are tested for every
checker in tests/test_checks.py, whose CHECKERS list holds these two.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lnbook import checking
from lnbook.topics.precision import checks


@pytest.fixture(autouse=True)
def _no_tries_yet(monkeypatch):
    monkeypatch.setattr(checking, "_wrong_tries", {})


def _f32_layer_norm(x, eps, *, ddof=0, eps_outside=False, one_pass=False):
    """Layer norm of float16 rows computed in float32 (or one of its mistakes)."""
    x32 = x.astype(np.float32)
    mu = x32.mean(axis=-1, keepdims=True)
    if one_pass:
        var = (x32 * x32).mean(axis=-1, keepdims=True) - mu * mu
    else:
        var = x32.var(axis=-1, keepdims=True, ddof=ddof)
    with np.errstate(all="ignore"):
        if eps_outside:
            return ((x32 - mu) / (np.sqrt(var) + eps)).astype(np.float16)
        return ((x32 - mu) / np.sqrt(var + eps)).astype(np.float16)


def _in_float16(x, eps):
    xc = x - x.mean(axis=-1, keepdims=True)
    with np.errstate(all="ignore"):
        return xc / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + np.float16(eps))


def _overflowing(x, eps):
    with np.errstate(all="ignore"):
        return (x * x) / (x * x)  # inf / inf: NaN where the squares overflow


HALF_LN = [
    (_f32_layer_norm, checking.CORRECT, "float32 statistics"),
    (
        lambda x, eps: torch.nn.functional.layer_norm(torch.from_numpy(x), (64,), eps=eps),
        checking.CORRECT,
        "float32 statistics",
    ),
    (lambda x, eps: _f32_layer_norm(x, eps).astype(np.float32), checking.WRONG, "dtype float32"),
    (_in_float16, checking.WRONG, "statistics in float16"),
    (_overflowing, checking.WRONG, "inf or NaN"),
    (lambda x, eps: _f32_layer_norm(x, eps, one_pass=True), checking.WRONG, "one-pass"),
    (lambda x, eps: _f32_layer_norm(x, eps, ddof=1), checking.WRONG, "unbiased"),
    (lambda x, eps: _f32_layer_norm(x, eps, eps_outside=True), checking.WRONG, "inside the"),
    (lambda x, eps: _f32_layer_norm(x, 0.0), checking.WRONG, "eps is missing"),
    (lambda x, eps: _f32_layer_norm(x, eps) * 2, checking.WRONG, "differ"),
    (lambda x, eps: _f32_layer_norm(x, eps).T, checking.WRONG, "shape"),
]


@pytest.mark.parametrize(("fn", "status", "fragment"), HALF_LN, ids=range(len(HALF_LN)))
def test_layer_norm_half_diagnoses(fn, status, fragment):
    v = checks.layer_norm_half(fn)
    assert v.status == status, v.message
    assert fragment in v.message


def _truth() -> dict[str, bool]:
    """The answers, worked out by hand from the formats (not from the checker)."""
    return {
        "eps = 1e-5 written in float16 is a normal float16 number": False,  # < 2**-14
        "eps = 1e-8 written in float16 is exactly 0": True,  # < 2**-25
        "eps = 1e-8 written in bfloat16 is exactly 0": False,  # float32's exponent range
        "In float16, 1.0 + 1e-5 equals 1.0": True,  # the gap after 1 is 2**-10
        "300.0 squared in float16 is inf": True,  # 90000 > 65504
        "In float16, 2048.0 + 1.0 equals 2049.0": False,  # the gap at 2048 is 2: a tie, to even
    }


def test_half_predictions_accepts_the_truth_and_names_a_wrong_answer():
    assert set(_truth()) == set(checks.HALF_QUESTIONS)
    assert checks.half_predictions(_truth).passed
    flipped = _truth()
    flipped["In float16, 1.0 + 1e-5 equals 1.0"] = False
    v = checks.half_predictions(lambda: flipped)
    assert v.status == checking.WRONG and "1.0 + 1e-5" in v.message
