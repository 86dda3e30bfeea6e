"""Chapter 16's exercise checkers: right answers (the merge written from the data itself with
torch, an oracle independent of the checkers' formula), each diagnosed mistake with the
fragment of its diagnosis, and answers that are not answers. The stub, garbage answers and
non-callables: tests/test_checks.py (CHECKERS), with every other chapter's checkers."""

from __future__ import annotations

import pytest
import torch

from lnbook import checking
from lnbook.topics.distributed import checks


@pytest.fixture(autouse=True)
def _no_tries_yet(monkeypatch):
    monkeypatch.setattr(checking, "_wrong_tries", {})


def _merge_by_data(a, b):
    # The oracle: two sets with exactly these statistics (two values each side of the mean,
    # then scaled), put together, and their statistics taken by torch.
    def numbers(n, mean, m2):
        z = torch.randn(int(n), dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        z = z - z.mean()
        return mean + z * torch.sqrt(m2 / (z**2).sum())

    both = torch.cat([numbers(*a), numbers(*b)])
    return len(both), float(both.mean()), float(((both - both.mean()) ** 2).sum())


def _merge(a, b, *, gap=True, weighted=True, over_n=True, variance=False):
    (na, ma, m2a), (nb, mb, m2b) = a, b
    n, delta = na + nb, mb - ma
    mean = ma + delta * nb / n if weighted else (ma + mb) / 2
    m2 = m2a + m2b + (delta**2 * na * nb / (n if over_n else 1) if gap else 0)
    return n, mean, m2 / n if variance else m2


MERGE = [
    (_merge_by_data, checking.CORRECT, "Chan et al."),
    (_merge, checking.CORRECT, ""),
    (lambda a, b: _merge(a, b, gap=False), checking.WRONG, "misses the gap"),
    (lambda a, b: _merge(a, b, weighted=False), checking.WRONG, "weigh each by its count"),
    (lambda a, b: _merge(a, b, over_n=False), checking.WRONG, "division by n"),
    (lambda a, b: _merge(a, b, variance=True), checking.WRONG, "that is the variance"),
    (lambda a, b: (a[0] + b[0], a[1], a[2] + b[2]), checking.WRONG, "put together"),
    (lambda a, b: (1, 2), checking.WRONG, "shape"),
]


@pytest.mark.parametrize("fn, status, fragment", MERGE, ids=range(len(MERGE)))
def test_merge_diagnoses(fn, status, fragment):
    v = checks.merge(fn)
    assert v.status == status and fragment in v.message, v.message


def _ring(p, itemsize, *, factor=True, received=False, counts=False):
    n_chan = 3 if counts else 2
    naive = (2 * (p - 1) / p if factor else 1) * 2 * itemsize
    chan = (p if received else p - 1) * n_chan * itemsize if factor else 2 * itemsize
    return naive, chan


BYTES = [
    (_ring, checking.CORRECT, "P / 2 times"),
    (lambda p, i: _ring(p, i, factor=False), checking.WRONG, "handed to each collective"),
    (lambda p, i: _ring(p, i, received=True), checking.WRONG, "not the receiver's own"),
    (lambda p, i: _ring(p, i, counts=True), checking.WRONG, "counts need not travel"),
    (lambda p, i: ((p - 1) / p * 2 * i, (p - 1) * 2 * i), checking.WRONG, "reduce-scatter"),
    (lambda p, i: _ring(p, 1), checking.WRONG, "times itemsize"),
    (lambda p, i: (1.0, 2.0), checking.WRONG, "Each method passes 2 numbers"),
    (lambda p, i: 3.0, checking.WRONG, "shape"),
]


@pytest.mark.parametrize("fn, status, fragment", BYTES, ids=range(len(BYTES)))
def test_ring_bytes_per_token_diagnoses(fn, status, fragment):
    v = checks.ring_bytes_per_token(fn)
    assert v.status == status and fragment in v.message, v.message


TRUTH = [True, True, True, False, False, True]  # read off the chapter's sections, by hand


def test_communication_predictions_truth_and_a_wrong_answer():
    questions = list(checks.COMMUNICATION_QUESTIONS)
    right = dict(zip(questions, TRUTH, strict=True))
    assert checks.communication_predictions(lambda: right).status == checking.CORRECT
    wrong = {**right, questions[3]: True}  # "dgamma must be all-reduced" with features split
    v = checks.communication_predictions(lambda: wrong)
    assert v.status == checking.WRONG and "1 of 6 wrong" in v.message and "dgamma" in v.message


@pytest.mark.parametrize(
    "checker, fn",
    [(checks.merge, fn) for fn, _, _ in MERGE]
    + [(checks.ring_bytes_per_token, fn) for fn, _, _ in BYTES],
)
def test_every_diagnosis_reads_as_sentences_on_both_tries(checker, fn):
    from test_checks import _sentence_problems  # the house rule for messages, written once

    messages = [checker(fn).message]
    if checking.WITHHELD in messages[0]:
        messages.append(checker(fn).message)  # the second try shows the expected values
    for message in messages:
        assert not _sentence_problems(message), (message, _sentence_problems(message))
