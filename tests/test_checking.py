"""The checker harness's own parts (lnbook.checking, lnbook._deadline), apart from any
exercise: tests/test_checks.py judges the checkers built on them."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from lnbook import _deadline, checking


@pytest.fixture(autouse=True)
def _no_tries_yet(monkeypatch):
    monkeypatch.setattr(checking, "_wrong_tries", {})


def test_returned_array_names_a_known_wrong_shape_before_the_plain_one():
    hints = {(3,): "One number per row: keep the features."}
    _, verdict = checking.returned_array(lambda x: x.sum(axis=1), (np.ones((3, 4)),), (3, 4))
    assert "should have shape (3, 4), got (3,)" in verdict.message
    _, verdict = checking.returned_array(
        lambda x: x.sum(axis=1), (np.ones((3, 4)),), (3, 4), wrong_shapes=hints
    )
    assert verdict.message == "One number per row: keep the features."
    y, verdict = checking.returned_array(lambda x: 2 * x, (np.ones((3, 4)),), (3, 4))
    assert verdict is None and np.array_equal(y, np.full((3, 4), 2.0))


def test_returned_array_passes_on_the_calls_verdict():
    _, verdict = checking.returned_array(lambda: 1 / 0, (), (1,))
    assert verdict.status == checking.WRONG and "ZeroDivisionError" in verdict.message


KNOWN = [(np.zeros(3), "all zeros"), (np.ones(3), "all ones")]


@pytest.mark.parametrize(
    "given, status, message",
    [
        (np.arange(3.0), checking.CORRECT, "right"),
        (np.ones(3), checking.WRONG, "Case 1: all ones."),
        (np.full(3, 7.0), checking.WRONG, "something else"),
    ],
)
def test_compare_says_correct_or_names_the_first_known_mistake(given, status, message):
    v = checking.compare(
        given, np.arange(3.0), KNOWN, "something else", success="right", prefix="Case 1: "
    )
    assert v.status == status and v.message == message


def test_compare_falls_back_to_a_ready_verdict_with_its_withheld_answer():
    otherwise = checking.wrong("Off somewhere.", answer="Expected 0, 1, 2.")
    assert checking.compare(np.full(3, 7.0), np.arange(3.0), KNOWN, otherwise) is otherwise
    assert checking.known_mistake(np.full(3, 7.0), KNOWN) is None
    assert checking.known_mistake(np.zeros(3), KNOWN, atol=0) == "all zeros"


QUESTIONS = {"is 2 even": "even", "is 3 even": "odd"}


@checking.predictions(QUESTIONS, "Divide by 2.", "Both right.", explain=lambda k, t: f"{k}: {t}")
def parity_predictions() -> dict[str, bool]:
    """``fn()`` answers QUESTIONS."""
    return {"even": True, "odd": False}


def test_predictions_makes_the_truth_table_a_checker_of_its_name():
    assert parity_predictions.__name__ == "parity_predictions"
    assert parity_predictions.__doc__ == "``fn()`` answers QUESTIONS."
    assert parity_predictions(lambda: {"is 2 even": True, "is 3 even": False}).passed
    wrong = {"is 2 even": True, "is 3 even": True}
    first, second = parity_predictions(lambda: wrong), parity_predictions(lambda: wrong)
    assert first.message.startswith("1 of 2 wrong: 'is 3 even'. Divide by 2.")
    assert "odd: False" not in first.message and "'is 3 even': odd: False" in second.message
    assert checking._wrong_tries == {"parity_predictions": 2}


def test_the_limit_never_traces_the_harness_nor_its_own_machinery(monkeypatch):
    # In the fallback the trace function sees every new frame: the learner's are traced, the
    # frames of the harness (lnbook.checking, which entered the limit), of lnbook._deadline
    # and of contextlib are not.
    if sys.gettrace() is not None:
        pytest.skip("a debugger or coverage tracer is active: the fallback leaves it alone")
    monkeypatch.setattr(_deadline, "alarm_usable", lambda: False)
    seen = []
    original = _deadline._Limit.on_call

    def on_call(self, frame, event, arg):
        seen.append((frame.f_code.co_filename, original(self, frame, event, arg) is not None))
        return original(self, frame, event, arg)

    monkeypatch.setattr(_deadline._Limit, "on_call", on_call)

    def answer():
        checking.sentence("called back into the harness")
        return 1

    result, verdict = checking.call(answer)
    assert result == 1 and verdict is None
    traced = {file for file, tracing in seen if tracing}
    assert traced == {__file__}
    assert {checking.__file__, _deadline.__file__} <= {file for file, _ in seen}
