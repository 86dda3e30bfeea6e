"""Chapter 12's exercises (placements): each checker's catalogue of wrong answers with its
diagnosis, the truth of the True/False exercise recomputed here, and the cases chosen so
that no mistake passes by luck."""

from __future__ import annotations

import numpy as np
import pytest

from lnbook import checking, numpy_ln
from lnbook.topics.placements import checks


@pytest.fixture(autouse=True)
def _no_tries_yet(monkeypatch):
    # Wrong tries are counted per kernel (expected values from the second on): start from none.
    monkeypatch.setattr(checking, "_wrong_tries", {})


SANDWICH = [
    (lambda x, f, a, b: x + b(f(a(x))), checking.CORRECT, "no norm touches"),
    (lambda x, f, a, b: b(x + f(a(x))), checking.WRONG, "as post-norm does"),
    (lambda x, f, a, b: x + f(a(x)), checking.WRONG, "That is pre-norm"),
    (lambda x, f, a, b: x + b(f(x)), checking.WRONG, "OLMo 2's block"),
    (lambda x, f, a, b: x + a(f(b(x))), checking.WRONG, "swapped"),
    (lambda x, f, a, b: b(f(a(x))), checking.WRONG, "residual connection is missing"),
    (lambda x, f, a, b: a(x) + b(f(a(x))), checking.WRONG, "raw x"),
    (lambda x, f, a, b: x + b(f(b(x))), checking.WRONG, "differ from the sandwich"),
    (lambda x, f, a, b: x[:2], checking.WRONG, "shape"),
]


@pytest.mark.parametrize("fn, status, fragment", SANDWICH, ids=range(len(SANDWICH)))
def test_sandwich_block_diagnoses(fn, status, fragment):
    v = checks.sandwich_block(fn)
    assert v.status == status and fragment in v.message, v


def test_sandwich_block_does_not_change_the_learners_input():
    def in_place(x, f, a, b):
        x += b(f(a(x)))
        return x

    v = checks.sandwich_block(in_place)
    assert v.status == checking.WRONG and "x" in v.message


DEEPNORM = [
    (lambda n: ((2 * n) ** 0.25, (8 * n) ** -0.25), checking.CORRECT, "grows slowly"),
    (lambda n: np.array([(2 * n) ** 0.25, (8 * n) ** -0.25]), checking.CORRECT, "Right"),
    (lambda n: ((8 * n) ** -0.25, (2 * n) ** 0.25), checking.WRONG, "swapped"),
    (lambda n: ((2 * n) ** 0.25, (8 * n) ** 0.25), checking.WRONG, "not (8 N)^(1/4)"),
    (lambda n: ((4 * n) ** 0.25, (16 * n) ** -0.25), checking.WRONG, "not sublayers"),
    (lambda n: ((3 * n) ** 0.25, (12 * n) ** -0.25), checking.WRONG, "encoder-decoder"),
    (lambda n: ((2 * n) ** 0.5, (8 * n) ** -0.5), checking.WRONG, "fourth root"),
    (lambda n: (12**0.25, 48**-0.25), checking.WRONG, "N = 18"),  # right for 6 blocks only
    (lambda n: 3.0, checking.WRONG, "two numbers"),
    (lambda n: ("a", "b"), checking.WRONG, "Alpha"),
]


@pytest.mark.parametrize("fn, status, fragment", DEEPNORM, ids=range(len(DEEPNORM)))
def test_deepnorm_constants_diagnoses(fn, status, fragment):
    v = checks.deepnorm_constants(fn)
    assert v.status == status and fragment in v.message, v


def test_deepnorm_expected_values_only_from_the_second_wrong_try():
    wrong = lambda n: (1.0, 1.0)  # noqa: E731
    assert "Expected" not in checks.deepnorm_constants(wrong).message
    assert "alpha = (2 N)^(1/4) = 1.861" in checks.deepnorm_constants(wrong).message


def _stream(step, n_blocks, d=16, seed=7):
    """The residual stream's mean norm per token after n_blocks blocks of two random
    linear sublayers, written here (another seed than the checker's)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((32, d))
    for _ in range(2 * n_blocks):
        w = rng.standard_normal((d, d)) / np.sqrt(d)
        x = step(x, lambda h, w=w: h @ w, lambda h: numpy_ln.layer_norm(h, d))
    return np.linalg.norm(x, axis=-1).mean()


def test_the_stream_truth_is_what_the_stacks_show():
    steps = {
        "pre": lambda x, f, ln: x + f(ln(x)),
        "post": lambda x, f, ln: ln(x + f(x)),
        "sandwich": lambda x, f, ln: x + ln(f(ln(x))),
        "olmo": lambda x, f, ln: x + ln(f(x)),
    }
    grows = {k: _stream(s, 12) > 1.5 * _stream(s, 2) for k, s in steps.items()}
    assert grows == {"pre": True, "post": False, "sandwich": True, "olmo": True}
    assert _stream(steps["post"], 12) == pytest.approx(4.0, rel=1e-3)  # sqrt(16)
    truth = {"pre_grows": True, "post_grows": False, "sandwich_capped": False,
             "olmo_grows": True, "alpha_grows": True, "no_final_grows": True}  # fmt: skip
    right = {q: truth[k] for q, k in checks.STREAM_QUESTIONS.items()}
    assert checks.stream_predictions(lambda: right).status == checking.CORRECT
    for q in right:
        v = checks.stream_predictions(lambda q=q: dict(right, **{q: not right[q]}))
        assert v.status == checking.WRONG and "1 of 6 wrong" in v.message
