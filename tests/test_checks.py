"""Exercise checkers: a catalogue of wrong answers, each with its diagnosis.

Every checker must (1) say "not attempted yet" for the stub, (2) pass a correct answer,
(3) recognize each classic mistake with a specific message, and (4) never raise, whatever
the learner returns.
"""

from __future__ import annotations

import re
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from nbclient import NotebookClient

from lnbook import _deadline, checking, models
from lnbook.topics.affine import checks as affine_checks
from lnbook.topics.attention_logits import checks as attention_logits_checks
from lnbook.topics.batch_norm import checks as batch_norm_checks
from lnbook.topics.covariate_shift import checks as covariate_shift_checks
from lnbook.topics.distributed import checks as distributed_checks
from lnbook.topics.effective_rate import checks as effective_rate_checks
from lnbook.topics.folding import checks as folding_checks
from lnbook.topics.from_scratch import checks as from_scratch_checks
from lnbook.topics.geometry import checks as geometry_checks
from lnbook.topics.outliers import checks as outliers_checks
from lnbook.topics.performance import checks as performance_checks
from lnbook.topics.placements import checks as placements_checks
from lnbook.topics.precision import checks as precision_checks
from lnbook.topics.recurrent import checks as recurrent_checks
from lnbook.topics.statistics import checks as statistics_checks
from lnbook.topics.transformers import checks as transformers_checks
from lnbook.topics.variants import checks as variants_checks


@pytest.fixture(autouse=True)
def _no_tries_yet(monkeypatch):
    # Checkers count wrong tries per kernel (hints first, expected values from the second
    # wrong try): every test starts from none, whatever ran before it.
    monkeypatch.setattr(checking, "_wrong_tries", {})


def stub(*args):
    raise NotImplementedError


X = np.array([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])


def ln_rows(x, eps):
    mu = x.mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(axis=-1, keepdims=True) + eps)


def loops_forever(*args):
    while True:
        pass


def _like_input(convert):
    """An answer of the input's shape (the first argument's, where it is an array), made
    by ``convert``: a shape-right answer goes further into a checker than a wrong one."""

    def answer(*a):
        x = np.asarray(a[0], dtype=np.float64) if a and np.ndim(a[0]) else np.ones((5, 6))
        return convert(x)

    return answer


GARBAGE = [
    lambda *a: None,
    _like_input(lambda x: torch.from_numpy(x).bfloat16()),  # NumPy has no bfloat16
    _like_input(lambda x: torch.empty(x.shape, device="meta")),  # a tensor with no data
    _like_input(lambda x: x.astype(complex)),
    lambda *a: [[1.0, 2.0], [3.0]],  # ragged
    lambda *a: torch.ones(5, 6, requires_grad=True),
    lambda *a: np.full((5, 6), np.inf),
    lambda *a: 10**400,
    lambda *a: (10**400, 4.0, X),
    lambda *a: ("5", "4", X),
    lambda *a: "layer norm",
    lambda *a: [1, 2],
    lambda *a: {"a": 1},
    lambda *a: np.full((5, 6), np.nan),
    lambda *a: np.full((6, 6), np.nan),  # square: the shape of a (D, D) answer
    lambda *a: np.full((8, 8), np.inf),
    lambda *a: torch.ones(5, 5, requires_grad=True),
    lambda *a: object(),
    lambda *a: 1 / 0,
    lambda *a: (_ for _ in ()).throw(KeyError("oops")),
]

CHECKERS = [
    affine_checks.layer_norm_affine,
    affine_checks.affine_predictions,
    batch_norm_checks.batch_predictions,
    from_scratch_checks.variance_rows,
    from_scratch_checks.backward_predictions,
    from_scratch_checks.layer_norm_backward,
    covariate_shift_checks.percentile_bands,
    covariate_shift_checks.scale_invariance_predictions,
    covariate_shift_checks.gradient_predictiveness,
    transformers_checks.residual_placement,
    transformers_checks.masked_mean,
    transformers_checks.decoding_predictions,
    batch_norm_checks.norm_axes,
    batch_norm_checks.batch_norm_training,
    batch_norm_checks.batch_norm_inference,
    statistics_checks.layer_norm_by_hand,
    statistics_checks.layer_norm_rows,
    statistics_checks.invariance_predictions,
    affine_checks.undo_layer_norm,
    affine_checks.count_norm_parameters,
    affine_checks.weight_decay_groups,
    variants_checks.rms_norm,
    variants_checks.output_std,
    variants_checks.rms_predictions,
    performance_checks.roofline_seconds,
    performance_checks.layer_norm_blocked,
    performance_checks.median_time,
    geometry_checks.centring_matrix,
    geometry_checks.layer_norm_jacobian,
    geometry_checks.geometry_predictions,
    effective_rate_checks.radial_part,
    effective_rate_checks.effective_rate_after,
    effective_rate_checks.equilibrium_norm,
    placements_checks.sandwich_block,
    placements_checks.deepnorm_constants,
    placements_checks.stream_predictions,
    attention_logits_checks.qk_logit_bound,
    attention_logits_checks.qk_rms_norm,
    attention_logits_checks.attention_entropy,
    recurrent_checks.ln_gate_inputs,
    recurrent_checks.recurrent_predictions,
    recurrent_checks.relu_ln_bound,
    outliers_checks.outlier_limit,
    outliers_checks.channels_last_layer_norm,
    outliers_checks.ada_ln,
    performance_checks.triton_forward_bytes,
    distributed_checks.merge,
    distributed_checks.ring_bytes_per_token,
    distributed_checks.communication_predictions,
    precision_checks.half_predictions,
    precision_checks.layer_norm_half,
    folding_checks.fold_affine,
    folding_checks.fold_conv_batch_norm,
]


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda c: c.__name__)
def test_stub_is_not_attempted_yet(checker):
    v = checker(stub)
    assert v.status == checking.NOT_ATTEMPTED and not v.passed
    assert "NotImplementedError" in v.message


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("answer", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_answers_get_a_verdict_not_a_crash(checker, answer):
    v = checker(answer)
    assert v.status == checking.WRONG and v.message


def test_reduced_precision_and_complex_answers_are_explained():
    def bf16(x, eps):
        return torch.nn.functional.layer_norm(torch.from_numpy(x).bfloat16(), x.shape[-1:])

    v = statistics_checks.layer_norm_rows(bf16)
    assert v.status == checking.WRONG and "bfloat16 tensor" in v.message
    import ml_dtypes  # chapter 15's NumPy bfloat16 (pinned in requirements.txt)

    v = statistics_checks.layer_norm_rows(lambda x, eps: ln_rows(x, eps).astype(ml_dtypes.bfloat16))
    assert v.status == checking.WRONG and "bfloat16 array" in v.message
    v = statistics_checks.layer_norm_rows(lambda x, eps: ln_rows(x, eps).astype(complex))
    assert v.status == checking.WRONG and "real numbers, got complex" in v.message
    v = statistics_checks.layer_norm_rows(lambda x, eps: torch.from_numpy(ln_rows(x, eps)).float())
    assert v.passed  # float32 stays welcome


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda c: c.__name__)
def test_non_callables_are_explained(checker):
    v = checker(42)
    assert v.status == checking.WRONG and "function" in v.message


def _loops_inside_try(*args):
    while True:
        try:
            sum(range(1000))
        except Exception:  # a learner's catch-all must not swallow the time limit
            pass


def test_endless_loops_are_stopped_even_inside_except_exception(monkeypatch):
    monkeypatch.setattr(checking, "TIME_LIMIT_S", 0.2)
    v = statistics_checks.layer_norm_rows(_loops_inside_try)
    assert v.status == checking.WRONG and "endless loop" in v.message


def test_endless_loops_are_stopped(monkeypatch):
    monkeypatch.setattr(checking, "TIME_LIMIT_S", 0.2)
    v = statistics_checks.layer_norm_rows(loops_forever)
    assert v.status == checking.WRONG and "endless loop" in v.message


def test_the_time_limit_uses_the_alarm_in_the_main_thread_on_unix():
    # The tests above stopped their loops with SIGALRM; the ones below without a signal.
    assert _deadline.alarm_usable()


@pytest.fixture
def without_signals(monkeypatch):
    """The checkers as in Pyodide, which has no signals: the trace-based time limit."""
    if sys.gettrace() is not None:
        pytest.skip("a debugger or coverage tracer is active: the fallback leaves it alone")
    monkeypatch.setattr(_deadline, "alarm_usable", lambda: False)
    monkeypatch.setattr(checking, "TIME_LIMIT_S", 0.2)
    alarm = signal.getsignal(signal.SIGALRM)
    yield
    assert signal.getsignal(signal.SIGALRM) is alarm  # no signal was used
    assert sys.gettrace() is None  # and no trace function is left behind


@pytest.mark.parametrize("answer", [loops_forever, _loops_inside_try])
def test_endless_loops_are_stopped_without_signals(without_signals, answer):
    start = time.monotonic()
    v = statistics_checks.layer_norm_rows(answer)
    assert v.status == checking.WRONG and "endless loop" in v.message
    assert time.monotonic() - start < 10  # stopped near the limit, not by pytest


def test_right_answers_pass_without_signals(without_signals):
    assert statistics_checks.layer_norm_rows(ln_rows).status == checking.CORRECT


def test_a_generator_resumed_after_the_check_is_not_stopped(without_signals):
    made = []

    def answer(x, eps):
        made.append(i for i in range(3))
        return ln_rows(x, eps)

    statistics_checks.layer_norm_rows(answer)
    time.sleep(0.3)  # past the deadline: the generator's frame must not raise now
    assert list(made[0]) == [0, 1, 2]


def test_endless_loops_are_stopped_in_another_thread(monkeypatch):
    # A thread receives no signals (a kernel running cells in one, say): the real fallback.
    if sys.gettrace() is not None:
        pytest.skip("a debugger or coverage tracer is active: the fallback leaves it alone")
    monkeypatch.setattr(checking, "TIME_LIMIT_S", 0.2)
    verdicts = []
    thread = threading.Thread(
        target=lambda: verdicts.append(statistics_checks.layer_norm_rows(loops_forever))
    )
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive() and "endless loop" in verdicts[0].message


def test_the_fallback_leaves_a_debuggers_trace_function_alone(monkeypatch):
    monkeypatch.setattr(_deadline, "alarm_usable", lambda: False)
    events = []

    def tracer(frame, event, arg):  # stands for a debugger or coverage
        events.append(event)

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        v = statistics_checks.layer_norm_rows(ln_rows)
        still = sys.gettrace()
    finally:
        sys.settrace(previous)
    assert v.status == checking.CORRECT and still is tracer and "call" in events


def test_exceptions_are_reported_with_their_type():
    v = statistics_checks.layer_norm_rows(lambda x, eps: x.nonexistent)
    assert "AttributeError" in v.message


# ------------------------------------------------------------------- by hand ---------

BY_HAND = [
    ((5.0, 4.0, (X - 5) / 2), checking.CORRECT, "mu = 5"),
    ((5.0, 32 / 7, (X - 5) / 2), checking.WRONG, "unbiased variance"),
    ((5.0, 2.0, (X - 5) / 2), checking.WRONG, "standard deviation"),
    ((4.0, 4.0, (X - 5) / 2), checking.WRONG, "mean of the 8 values"),
    ((5.0, 4.0, (X - 5) / 4), checking.WRONG, "divides by var"),
    ((5.0, 4.0, (X - 5)), checking.WRONG, "x_hat should be"),
    ((5.0, 4.0, [0.0] * 7), checking.WRONG, "shape (8,)"),
    ((5.0, 4.0), checking.WRONG, "three things"),
    ((5.0, 4.0, None), checking.WRONG, "None"),
    (("5", 4.0, (X - 5) / 2), checking.WRONG, "mu should be a single number"),
    ((5.0, float("nan"), (X - 5) / 2), checking.WRONG, "finite number"),
    ((5.0, 4.0, torch.tensor((X - 5) / 2, requires_grad=True)), checking.CORRECT, "mu = 5"),
    (("five", 4.0, (X - 5) / 2), checking.WRONG, "single number"),
]


@pytest.mark.parametrize("answer, status, fragment", BY_HAND)
def test_layer_norm_by_hand_diagnoses(answer, status, fragment):
    v = statistics_checks.layer_norm_by_hand(lambda: answer)
    assert v.status == status and fragment in v.message, v


# ------------------------------------------------------------------- rows ------------


def _eps_outside(x, eps):
    return (x - x.mean(-1, keepdims=True)) / (x.std(-1, keepdims=True) + eps)


ROWS = [
    (ln_rows, checking.CORRECT, "mean 0"),
    (lambda x, eps: (x - x.mean(0)) / np.sqrt(x.var(0) + eps), checking.WRONG, "column"),
    (
        lambda x, eps: (
            (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, ddof=1, keepdims=True) + eps)
        ),
        checking.WRONG,
        "unbiased",
    ),
    (_eps_outside, checking.WRONG, "inside the square root"),
    (lambda x, eps: x - x.mean(-1, keepdims=True), checking.WRONG, "did not divide"),
    (lambda x, eps: x / np.sqrt(x.var(-1, keepdims=True) + eps), checking.WRONG, "subtract"),
    (lambda x, eps: ln_rows(x, 0.0), checking.WRONG, "eps is missing"),
    (lambda x, eps: x.mean(-1), checking.WRONG, "keepdims"),
    (lambda x, eps: ln_rows(x, eps).T, checking.WRONG, "shape"),
    (lambda x, eps: ln_rows(x, eps) * 2, checking.WRONG, "differ"),
    (lambda x, eps: torch.tensor(ln_rows(x, eps)), checking.CORRECT, "mean 0"),
]


@pytest.mark.parametrize("fn, status, fragment", ROWS, ids=range(len(ROWS)))
def test_layer_norm_rows_diagnoses(fn, status, fragment):
    v = statistics_checks.layer_norm_rows(fn)
    assert v.status == status and fragment in v.message, v


# ------------------------------------------------------------------- invariance ------

RIGHT = {
    "add 5 to every feature": True,
    "multiply every feature by 3": True,
    "multiply every feature by -2": False,
    "add 0, 1, 2, ... to the features": False,
    "multiply every feature by 0": False,
    "change another example of the batch": True,
}


def test_invariance_predictions_correct():
    v = statistics_checks.invariance_predictions(lambda: dict(RIGHT))
    assert v.passed and "changes to other examples leave the output unchanged" in v.message


@pytest.mark.parametrize("question", list(RIGHT))
def test_invariance_predictions_names_the_wrong_one(question):
    answer = dict(RIGHT, **{question: not RIGHT[question]})
    v = statistics_checks.invariance_predictions(lambda: answer)
    assert v.status == checking.WRONG and "1 of 6 wrong" in v.message and question in v.message


def test_invariance_predictions_missing_and_non_bool():
    partial = {k: v for k, v in RIGHT.items() if "3" not in k}
    assert "missing" in statistics_checks.invariance_predictions(lambda: partial).message
    v = statistics_checks.invariance_predictions(
        lambda: dict(RIGHT, **{"add 5 to every feature": "yes"})
    )
    assert "True or False" in v.message


# ------------------------------------------------------------------- undo ------------

UNDO = [
    (lambda x, eps: (np.sqrt(x.var() + eps), x.mean()), checking.CORRECT, "recover"),
    (lambda x, eps: (np.sqrt(x.var()), x.mean()), checking.WRONG, "sqrt(var + eps), so"),
    (lambda x, eps: (x.mean(), np.sqrt(x.var() + eps)), checking.WRONG, "swapped"),
    (lambda x, eps: (x.var() + eps, x.mean()), checking.WRONG, "variance"),
    (lambda x, eps: (1.0, 0.0), checking.WRONG, "off by"),
    (lambda x, eps: (np.ones(16), x.mean()), checking.WRONG, "one number for all features"),
    (lambda x, eps: np.sqrt(x.var() + eps), checking.WRONG, "two numbers"),
]


@pytest.mark.parametrize("fn, status, fragment", UNDO, ids=range(len(UNDO)))
def test_undo_layer_norm_diagnoses(fn, status, fragment):
    v = affine_checks.undo_layer_norm(fn)
    assert v.status == status and fragment in v.message, v


# ------------------------------------------------------------------- count -----------

COUNT = [
    (lambda d, L: 2 * d * L, checking.CORRECT, "2 x d_hidden"),
    (lambda d, L: d * L, checking.WRONG, "only gamma"),
    (lambda d, L: 2 * d, checking.WRONG, "one layer norm's worth"),
    (lambda d, L: 2 * L, checking.WRONG, "one value per feature"),
    (lambda d, L: 2 * d * L + 1, checking.WRONG, "d values of gamma"),
    (lambda d, L: float(2 * d * L), checking.WRONG, "whole number"),
    (lambda d, L: True, checking.WRONG, "whole number"),
]


@pytest.mark.parametrize("fn, status, fragment", COUNT, ids=range(len(COUNT)))
def test_count_norm_parameters_diagnoses(fn, status, fragment):
    v = affine_checks.count_norm_parameters(fn)
    assert v.status == status and fragment in v.message, v


# ------------------------------------------------------------------- decay groups ----


def _all_decayed(model, wd):
    return [{"params": list(model.parameters()), "weight_decay": wd}]


def _none_decayed(model, wd):
    return [{"params": list(model.parameters()), "weight_decay": 0.0}]


def _forgot_biases(model, wd):
    norm = {id(p) for p in models.norm_parameters(model)}
    return [
        {"params": [p for p in model.parameters() if id(p) not in norm], "weight_decay": wd},
        {"params": models.norm_parameters(model), "weight_decay": 0.0},
    ]


def _missing_params(model, wd):
    return [
        {
            "params": [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)],
            "weight_decay": wd,
        }
    ]


DECAY = [
    (models.param_groups, checking.CORRECT, "do not"),
    (_all_decayed, checking.WRONG, "net.1.weight is decayed"),
    (_none_decayed, checking.WRONG, "has weight_decay=0, not the 0.1 asked for"),
    (_forgot_biases, checking.WRONG, "net.0.bias is decayed"),
    (_missing_params, checking.WRONG, "in no group"),
    (lambda m, wd: [{"weight_decay": wd}], checking.WRONG, "'params'"),
    (
        lambda m, wd: [{"params": [torch.zeros(2)], "weight_decay": wd}],
        checking.WRONG,
        "model's parameters",
    ),
]


@pytest.mark.parametrize("fn, status, fragment", DECAY, ids=range(len(DECAY)))
def test_weight_decay_groups_diagnoses(fn, status, fragment):
    v = affine_checks.weight_decay_groups(fn)
    assert v.status == status and fragment in v.message, v


# ------------------------------------------------------------------- verdicts --------


def test_verdict_renders_and_asserts():
    ok = checking.Verdict(checking.CORRECT, "fine")
    bad = checking.Verdict(checking.WRONG, "a <b> tag")
    assert str(ok).startswith("✔ Correct.") and ok.assert_correct() is ok
    assert "&lt;b&gt;" in bad._repr_html_()
    with pytest.raises(AssertionError, match="wrong: a <b> tag"):
        bad.assert_correct()


# ------------------------------------------------------------------- chapter 4 -------

AXES_RIGHT = {"batch norm": (0, 2, 3), "layer norm": (1, 2, 3), "instance norm": (2, 3)}

AXES = [
    (lambda m: AXES_RIGHT[m], checking.CORRECT, "Only batch norm"),
    (
        lambda m: {"batch norm": (0, -2, -1), "layer norm": [1, 2, 3], "instance norm": (-1, -2)}[
            m
        ],
        checking.CORRECT,
        "Only batch norm",
    ),
    (lambda m: dict(AXES_RIGHT, **{"batch norm": (0,)})[m], checking.WRONG, "positions"),
    (
        lambda m: dict(AXES_RIGHT, **{"batch norm": (1, 2, 3), "layer norm": (0, 2, 3)})[m],
        checking.WRONG,
        "axes of layer norm",
    ),
    (lambda m: dict(AXES_RIGHT, **{"layer norm": (1,)})[m], checking.WRONG, "layer norm: (1,)"),
    (lambda m: "all", checking.WRONG, "tuple of axis numbers"),
    (lambda m: "023", checking.WRONG, "tuple of axis numbers"),
    (lambda m: (1.9, 2.2, 3.7), checking.WRONG, "ints"),
    (lambda m: (4, 6, 7), checking.WRONG, "axes 0 to 3"),
    (lambda m: dict(AXES_RIGHT, **{"batch norm": (0, 2, 3, -1)})[m], checking.WRONG, "twice"),
]


@pytest.mark.parametrize("fn, status, fragment", AXES, ids=range(len(AXES)))
def test_norm_axes_diagnoses(fn, status, fragment):
    v = batch_norm_checks.norm_axes(fn)
    assert v.status == status and fragment in v.message, v


def bn_rows(x, eps, ddof=0):
    return (x - x.mean(0)) / np.sqrt(x.var(0, ddof=ddof) + eps)


BN_TRAIN = [
    (bn_rows, checking.CORRECT, "mean 0 over the batch"),
    (lambda x, eps: ln_rows(x, eps), checking.WRONG, "layer norm"),
    (lambda x, eps: bn_rows(x, eps, ddof=1), checking.WRONG, "unbiased"),
    (lambda x, eps: (x - x.mean(0)) / (x.std(0) + eps), checking.WRONG, "inside the square root"),
    (lambda x, eps: bn_rows(x, 0.0), checking.WRONG, "eps is missing"),
    (lambda x, eps: x - x.mean(0), checking.WRONG, "differ"),
    (lambda x, eps: bn_rows(x, eps)[:3], checking.WRONG, "shape"),
]


@pytest.mark.parametrize("fn, status, fragment", BN_TRAIN, ids=range(len(BN_TRAIN)))
def test_batch_norm_training_diagnoses(fn, status, fragment):
    v = batch_norm_checks.batch_norm_training(fn)
    assert v.status == status and fragment in v.message, v


BN_INFER = [
    (lambda x, m, v, eps: (x - m) / np.sqrt(v + eps), checking.CORRECT, "running statistics"),
    (lambda x, m, v, eps: bn_rows(x, eps), checking.WRONG, "training mode"),
    (lambda x, m, v, eps: (x - m) / (np.sqrt(v) + eps), checking.WRONG, "inside the square root"),
    (lambda x, m, v, eps: (x - m) / (v + eps), checking.WRONG, "square root"),
    (lambda x, m, v, eps: (x - m) / np.sqrt(v), checking.WRONG, "eps is missing"),
    (lambda x, m, v, eps: x - m, checking.WRONG, "differ"),
]


@pytest.mark.parametrize("fn, status, fragment", BN_INFER, ids=range(len(BN_INFER)))
def test_batch_norm_inference_diagnoses(fn, status, fragment):
    v = batch_norm_checks.batch_norm_inference(fn)
    assert v.status == status and fragment in v.message, v


# ------------------------------------------------------------------- chapter 5 -------


def _block(x, f, norm, placement):
    return x + f(norm(x)) if placement == "pre" else norm(x + f(x))


PLACEMENT = [
    (_block, checking.CORRECT, "Pre-norm"),
    (
        lambda x, f, n, p: _block(x, f, n, "post" if p == "pre" else "pre"),
        checking.WRONG,
        "that is post-norm",
    ),
    (lambda x, f, n, p: f(n(x)) if p == "pre" else n(x + f(x)), checking.WRONG, "residual"),
    (lambda x, f, n, p: x + f(n(x)) if p == "pre" else n(f(x)), checking.WRONG, "residual"),
    (lambda x, f, n, p: n(x) + f(n(x)) if p == "pre" else n(x + f(x)), checking.WRONG, "raw x"),
]


@pytest.mark.parametrize("fn, status, fragment", PLACEMENT, ids=range(len(PLACEMENT)))
def test_residual_placement_diagnoses(fn, status, fragment):
    v = transformers_checks.residual_placement(fn)
    assert v.status == status and fragment in v.message, v


MASKED = [
    (lambda x, v: x[v].mean(0), checking.CORRECT, "padding counts not at all"),
    (lambda x, v: x.mean((0, 1)), checking.WRONG, "padding positions are included"),
    (
        lambda x, v: np.mean([x[b][v[b]].mean(0) for b in range(len(x))], axis=0),
        checking.WRONG,
        "each sequence's mean",
    ),
    (lambda x, v: x[v].sum(0), checking.WRONG, "differ"),
]


@pytest.mark.parametrize("fn, status, fragment", MASKED, ids=range(len(MASKED)))
def test_masked_mean_diagnoses(fn, status, fragment):
    v = transformers_checks.masked_mean(fn)
    assert v.status == status and fragment in v.message, v


def _bands(h):
    return np.percentile(h, (15, 50, 85), axis=1).T


PERCENTILES = [
    (_bands, checking.CORRECT, "One row per checkpoint"),
    (lambda h: np.percentile(h, (15, 50, 85), axis=1, method="nearest").T, checking.CORRECT, ""),
    (lambda h: torch.tensor(_bands(h)), checking.CORRECT, ""),
    (lambda h: np.percentile(h, (15, 50, 85), axis=1), checking.WRONG, "shape (3, C)"),
    (lambda h: np.percentile(h, (0.15, 0.5, 0.85), axis=1).T, checking.WRONG, "np.quantile"),
    (lambda h: _bands(h)[:, ::-1], checking.WRONG, "reverse order"),
    (
        lambda h: np.stack([h.mean(1) - h.std(1), h.mean(1), h.mean(1) + h.std(1)], 1),
        checking.WRONG,
        "normal distribution",
    ),
    (lambda h: _bands(h) + 0.5, checking.WRONG, "expected"),
    (lambda h: _bands(h)[:2], checking.WRONG, "shape"),
    (lambda h: np.percentile(h, (15, 50, 85), axis=0), checking.WRONG, "over the images"),
]


@pytest.mark.parametrize("fn, status, fragment", PERCENTILES, ids=range(len(PERCENTILES)))
def test_percentile_bands_diagnoses(fn, status, fragment):
    v = covariate_shift_checks.percentile_bands(fn)
    assert v.status == status and fragment in v.message, v


def _predictiveness(grad, w, etas):
    g = grad(w)
    return max(np.linalg.norm(grad(w - eta * g) - g) for eta in etas)


def _in_place(grad, w, etas):
    w -= etas[0] * grad(w)
    return 0.0


PREDICTIVE = [
    (_predictiveness, checking.CORRECT, "quadratic"),
    (
        lambda grad, w, etas: torch.tensor(_predictiveness(grad, w, etas)),
        checking.CORRECT,
        "",
    ),
    (
        lambda grad, w, etas: [np.linalg.norm(grad(w - e * grad(w)) - grad(w)) for e in etas],
        checking.WRONG,
        "one value per eta",
    ),
    (
        lambda grad, w, etas: min(np.linalg.norm(grad(w - e * grad(w)) - grad(w)) for e in etas),
        checking.WRONG,
        "smallest",
    ),
    (
        lambda grad, w, etas: max(np.linalg.norm(grad(w + e * grad(w)) - grad(w)) for e in etas),
        checking.WRONG,
        "against it",
    ),
    (
        lambda grad, w, etas: max(np.linalg.norm(grad(w - e * grad(w))) for e in etas),
        checking.WRONG,
        "subtract the gradient",
    ),
    (
        lambda grad, w, etas: max(
            np.linalg.norm(grad(w - e * grad(w)) - grad(w)) / (e * np.linalg.norm(grad(w)))
            for e in etas
        ),
        checking.WRONG,
        "beta-smoothness",
    ),
    (_in_place, checking.WRONG, "in place"),
    (lambda grad, w, etas: 0.123, checking.WRONG, "largest change is"),
]


@pytest.mark.parametrize("fn, status, fragment", PREDICTIVE, ids=range(len(PREDICTIVE)))
def test_gradient_predictiveness_diagnoses(fn, status, fragment):
    v = covariate_shift_checks.gradient_predictiveness(fn)
    assert v.status == status and fragment in v.message, v


def test_gradient_predictiveness_quadratic_closed_form():
    # On f = w.A.w / 2 the answer is max(eta) * |A g| exactly; the checker's own oracle
    # must agree with that closed form.
    a = np.array([1.0, 4.0, 9.0])
    w = np.array([1.0, -1.0, 0.5])
    g = a * w
    etas = np.array([0.05, 0.2, 0.5, 1.0])
    assert np.isclose(_predictiveness(lambda v: a * v, w, etas), 1.0 * np.linalg.norm(a * g))


VARIANCE = [
    (lambda x: x.var(axis=1), checking.CORRECT, "subtract the mean first"),
    (lambda x: ((x - x.mean(1, keepdims=True)) ** 2).mean(1), checking.CORRECT, ""),
    (lambda x: (x * x).mean(1) - x.mean(1) ** 2, checking.WRONG, "one-pass"),
    (lambda x: x.var(axis=1, ddof=1), checking.WRONG, "unbiased"),
    (lambda x: x.std(axis=1), checking.WRONG, "standard deviation"),
    (lambda x: x.var(axis=0), checking.WRONG, "shape"),
    (lambda x: x.var(axis=1) + 1, checking.WRONG, "expected a variance"),
    (lambda x: x.astype(np.float64).var(axis=1), checking.WRONG, "float64"),
    (lambda x: [float(v) for v in x.var(axis=1)], checking.CORRECT, ""),
]


@pytest.mark.parametrize("fn, status, fragment", VARIANCE, ids=range(len(VARIANCE)))
def test_variance_rows_diagnoses(fn, status, fragment):
    v = from_scratch_checks.variance_rows(fn)
    assert v.status == status and fragment in v.message, v


def _bw(dx_of, dgamma_of=None, dbeta_of=None):
    """A learner's backward assembled from parts (each a function of dy, x_hat, rstd, g)."""

    def fn(dy, x_hat, rstd, gamma):
        g = dy * gamma
        dgamma = (dy * x_hat).sum(0) if dgamma_of is None else dgamma_of(dy, x_hat)
        dbeta = dy.sum(0) if dbeta_of is None else dbeta_of(dy, x_hat)
        return dx_of(dy, x_hat, rstd, g), dgamma, dbeta

    return fn


def _c1(x_hat, g):
    return (x_hat * g).mean(1, keepdims=True)


def _c2(g):
    return g.mean(1, keepdims=True)


BACKWARD = [
    (_bw(lambda dy, xh, r, g: r * (g - _c2(g) - xh * _c1(xh, g))), checking.CORRECT, "autograd"),
    (_bw(lambda dy, xh, r, g: r * (g - xh * _c1(xh, g))), checking.WRONG, "mean term is missing"),
    (_bw(lambda dy, xh, r, g: r * (g - _c2(g))), checking.WRONG, "projection term is missing"),
    (_bw(lambda dy, xh, r, g: r * g), checking.WRONG, "both correction terms"),
    (
        _bw(lambda dy, xh, r, g: r * (dy - _c2(dy) - xh * _c1(xh, dy))),
        checking.WRONG,
        "gamma is missing",
    ),
    (_bw(lambda dy, xh, r, g: g - _c2(g) - xh * _c1(xh, g)), checking.WRONG, "rstd is missing"),
    (_bw(lambda dy, xh, r, g: r * (g + _c2(g) + xh * _c1(xh, g))), checking.WRONG, "not added"),
    (
        _bw(lambda dy, xh, r, g: r * (g - _c2(g) - xh * (xh * g).sum(1, keepdims=True))),
        checking.WRONG,
        "not a sum",
    ),
    (
        _bw(lambda dy, xh, r, g: r * (g - _c2(g) - xh * _c1(xh, g)), lambda dy, xh: dy.sum(0)),
        checking.WRONG,
        "that is dbeta",
    ),
    (
        _bw(
            lambda dy, xh, r, g: r * (g - _c2(g) - xh * _c1(xh, g)), None, lambda dy, xh: dy.mean(0)
        ),
        checking.WRONG,
        "dbeta is wrong",
    ),
    (_bw(lambda dy, xh, r, g: 2 * r * g), checking.WRONG, "Hint: dx = rstd"),
    (lambda dy, xh, r, gamma: dy, checking.WRONG, "three arrays"),
    (lambda dy, xh, r, gamma: (dy, dy, dy), checking.WRONG, "dgamma should have shape (8,)"),
]


@pytest.mark.parametrize("fn, status, fragment", BACKWARD, ids=range(len(BACKWARD)))
def test_layer_norm_backward_diagnoses(fn, status, fragment):
    v = from_scratch_checks.layer_norm_backward(fn)
    assert v.status == status and fragment in v.message, v


@pytest.mark.parametrize(
    "checker, questions, right",
    [
        # From the definitions: shared gamma/beta restore one example; layer norm's output has
        # mean 0; gamma scales every deviation.
        (
            affine_checks.affine_predictions,
            affine_checks.AFFINE_QUESTIONS,
            [True, False, True, True],
        ),
        # Training-mode batch norm reads the batch (and refuses a batch of one, as torch);
        # inference mode reads running statistics; layer norm reads one example.
        (
            batch_norm_checks.batch_predictions,
            batch_norm_checks.BATCH_QUESTIONS,
            [True, False, True, False],
        ),
        # From dx = rstd * (g - c2 - x_hat * c1): no component along 1 or x_hat; scales as
        # 1/std; blind to a shift of x.
        (
            from_scratch_checks.backward_predictions,
            from_scratch_checks.BACKWARD_QUESTIONS,
            [True, True, False, False],
        ),
        # Layer norm reads one token: neither later tokens nor padding reach it.
        (
            transformers_checks.decoding_predictions,
            transformers_checks.DECODING_QUESTIONS,
            [False, True, False, True],
        ),
        # From the derivation in chapter 6: L(cW) = L(W) for c > 0.
        (
            covariate_shift_checks.scale_invariance_predictions,
            covariate_shift_checks.SCALE_QUESTIONS,
            [False, True, True, True],
        ),
        # RMSNorm: x / sqrt(mean(x^2) + eps) changes under a shift, not under a positive scale;
        # dx = r (g - x r^2 mean(x g)) is orthogonal to x only; a constant token gives +-1;
        # DyT is element-wise.
        (
            variants_checks.rms_predictions,
            variants_checks.RMS_QUESTIONS,
            [True, False, False, True, False, False],
        ),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_prediction_checkers_right_and_each_wrong_answer_named(checker, questions, right):
    right = dict(zip(questions, right, strict=True))
    assert checker(lambda: right).passed
    for q in right:
        v = checker(lambda q=q: dict(right, **{q: not right[q]}))
        assert v.status == checking.WRONG and f"1 of {len(right)} wrong" in v.message
        assert q in v.message


def _ln(x, eps, axis=-1, ddof=0, outside=False):
    mu = x.mean(axis=axis, keepdims=True)
    sd = x.std(axis=axis, keepdims=True, ddof=ddof)
    return (x - mu) / (sd + eps if outside else np.sqrt(sd**2 + eps))


AFFINE = [
    (lambda x, g, b, e: g * _ln(x, e) + b, checking.CORRECT, "scale and shift"),
    (
        lambda x, g, b, e: torch.nn.functional.layer_norm(
            torch.tensor(x), (x.shape[1],), torch.tensor(g), torch.tensor(b), e
        ),
        checking.CORRECT,
        "",
    ),  # fmt: skip
    (lambda x, g, b, e: _ln(x, e), checking.WRONG, "gamma and beta are missing"),
    (lambda x, g, b, e: g * _ln(x, e), checking.WRONG, "beta is missing"),
    (lambda x, g, b, e: _ln(x, e) + b, checking.WRONG, "gamma is missing"),
    (lambda x, g, b, e: b * _ln(x, e) + g, checking.WRONG, "swapped"),
    (lambda x, g, b, e: _ln(g * x + b, e), checking.WRONG, "before normalizing"),
    (lambda x, g, b, e: g * _ln(x, e, axis=0) + b, checking.WRONG, "batch axis"),
    (lambda x, g, b, e: g * _ln(x, e, ddof=1) + b, checking.WRONG, "unbiased"),
    (lambda x, g, b, e: g * _ln(x, e, outside=True) + b, checking.WRONG, "std + eps"),
    (lambda x, g, b, e: g * _ln(x, e) + b + 0.1, checking.WRONG, "Hint"),
    (lambda x, g, b, e: (g * _ln(x, e) + b).T, checking.WRONG, "shape"),
]


@pytest.mark.parametrize("fn, status, fragment", AFFINE, ids=range(len(AFFINE)))
def test_layer_norm_affine_diagnoses(fn, status, fragment):
    v = affine_checks.layer_norm_affine(fn)
    assert v.status == status and fragment in v.message, v


def _rms(x, w, e, axis=-1):
    return x / np.sqrt((x * x).mean(axis=axis, keepdims=True) + e) * w


RMS = [
    (_rms, checking.CORRECT, "root mean square"),
    (
        lambda x, w, e: torch.nn.functional.rms_norm(torch.tensor(x), (6,), torch.tensor(w), e),
        checking.CORRECT,
        "",
    ),
    (lambda x, w, e: _ln(x, e) * w, checking.WRONG, "subtracted the mean"),
    (lambda x, w, e: x / (np.sqrt((x * x).mean(-1, keepdims=True)) + e) * w, checking.WRONG,
     "inside the square root"),
    (lambda x, w, e: _rms(x, w, e, axis=0), checking.WRONG, "axis 0"),
    (lambda x, w, e: _rms(x, 1.0, e), checking.WRONG, "weight is missing"),
    (lambda x, w, e: x / np.sqrt(x.var(-1, keepdims=True) + e) * w, checking.WRONG,
     "standard deviation"),
    (lambda x, w, e: _rms(x, w, 0.0), checking.WRONG, "eps is missing"),
    (lambda x, w, e: x / np.linalg.norm(x, axis=-1, keepdims=True) * w, checking.WRONG,
     "L2 norm"),
    (lambda x, w, e: x / np.sqrt((x * x).sum(-1, keepdims=True) + e) * w, checking.WRONG,
     "L2 norm"),
    (lambda x, w, e: x / ((x * x).mean(-1, keepdims=True) + e) * w, checking.WRONG,
     "square root is missing"),
    (lambda x, w, e: _rms(x, 1.0, e) + w, checking.WRONG, "You added the weight"),
    (lambda x, w, e: x / np.sqrt((x * x).mean() + e) * w, checking.WRONG, "whole batch"),
    (lambda x, w, e: x / np.sqrt((x * x).mean(-1) + e) * w, checking.WRONG, "keepdims=True"),
    (lambda x, w, e: _rms(x, w, e) + 0.1, checking.WRONG, "differ from RMSNorm"),
    (lambda x, w, e: _rms(x, w, e).T, checking.WRONG, "shape"),
]  # fmt: skip


@pytest.mark.parametrize("fn, status, fragment", RMS, ids=range(len(RMS)))
def test_rms_norm_diagnoses(fn, status, fragment):
    v = variants_checks.rms_norm(fn)
    assert v.status == status and fragment in v.message, v


OUTPUT_STD = [
    (lambda s, e: s / np.sqrt(s**2 + e), checking.CORRECT, "s / sqrt(s**2 + eps)"),
    # Measured instead of derived: layer norm of a row of spread s, its std (the oracle).
    (
        lambda s, e: np.array([
            torch.nn.functional.layer_norm(
                1.0 + v * torch.tensor([-1.0, 1.0], dtype=torch.float64), (2,), eps=e
            ).std(unbiased=False).item()
            for v in s
        ]),
        checking.CORRECT,
        "",
    ),
    (lambda s, e: 1.0, checking.WRONG, "ignores eps"),
    (lambda s, e: s / (s + e), checking.WRONG, "adds eps to the standard deviation"),
    (lambda s, e: s / (s + np.sqrt(e)), checking.WRONG, "adds sqrt(eps)"),
    (lambda s, e: s**2 / (s**2 + e), checking.WRONG, "variance"),
    (lambda s, e: s / np.sqrt(e), checking.WRONG, "small-s limit"),
    (lambda s, e: s / np.sqrt(s**2 + 2 * e), checking.WRONG, "expected"),
    (lambda s, e: (s / np.sqrt(s**2 + e))[:3], checking.WRONG, "shape"),
]  # fmt: skip


@pytest.mark.parametrize("fn, status, fragment", OUTPUT_STD, ids=range(len(OUTPUT_STD)))
def test_output_std_diagnoses(fn, status, fragment):
    v = variants_checks.output_std(fn)
    assert v.status == status and fragment in v.message, v


def test_prediction_checkers_accept_zero_d_boolean_arrays_and_tensors():
    right = dict(
        zip(variants_checks.RMS_QUESTIONS, [True, False, False, True, False, False], strict=True)
    )
    as_tensors = {q: torch.tensor(v) for q, v in right.items()}
    as_arrays = {q: np.array(v) for q, v in right.items()}
    assert variants_checks.rms_predictions(lambda: as_tensors).passed
    assert variants_checks.rms_predictions(lambda: as_arrays).passed
    several = dict(right, **{next(iter(right)): torch.tensor([True, False])})
    assert "should be True or False" in variants_checks.rms_predictions(lambda: several).message
    v = variants_checks.rms_predictions(lambda: {"q1": True})
    assert "question strings as keys" in v.message


ROOFLINE = [
    (lambda s, p, g: {"forward": 2, "backward": 3, "forward+backward": 5}[p] * s[0] * s[1] * 4
     / (g * 1e9), checking.CORRECT, "2 arrays"),
    (lambda s, p, g: s[0] * s[1] * 4 / (g * 1e9), checking.WRONG, "moves one array"),
    (lambda s, p, g: 2 * s[0] * s[1] * 32 / (g * 1e9), checking.WRONG, "bits"),
    (lambda s, p, g: 2 * s[0] * s[1] * 4 / (g * 2**30), checking.WRONG, "2**30"),
    (lambda s, p, g: 2 * s[0] * s[1] * 4 / (g * 1e9), checking.WRONG, "'backward'"),
    (lambda s, p, g: 2 * s[0] * s[1] / (g * 1e9), checking.WRONG, "values, not bytes"),
    (lambda s, p, g: 2 * s[0] * s[1] * 4 / g, checking.WRONG, "1e9"),
    (lambda s, p, g: [1.0, 2.0], checking.WRONG, "single number"),
    (lambda s, p, g: None, checking.WRONG, "forget to `return`"),
    (lambda s, p, g: 2e3 * s[0] * s[1] * 4 / (g * 1e9), checking.WRONG, "milliseconds"),
    (lambda s, p, g: {"forward": 2, "backward": 3, "forward+backward": 4}[p] * s[0] * s[1] * 4
     / (g * 1e9), checking.WRONG, "fused pass"),
]  # fmt: skip


@pytest.mark.parametrize("fn, status, fragment", ROOFLINE, ids=range(len(ROOFLINE)))
def test_roofline_seconds_diagnoses(fn, status, fragment):
    v = performance_checks.roofline_seconds(fn)
    assert v.status == status and fragment in v.message, v


TRITON_BYTES = [
    (lambda d, s: 2 * d * s + 8, checking.CORRECT, "two float32 statistics"),
    (lambda d, s: 2 * d * s, checking.WRONG, "stores mean and rstd"),
    (lambda d, s: 2 * d * s + 2 * s, checking.WRONG, "whatever x's dtype"),
    (lambda d, s: 2 * d * s + 4, checking.WRONG, "needs both mean and rstd"),
    (lambda d, s: 2 * d * s + 16, checking.WRONG, "not float64"),
    (lambda d, s: 8 * d + 8, checking.WRONG, "counts x and y as float32"),
    (lambda d, s: 4 * d * s + 8, checking.WRONG, "gamma and beta are read once"),
    (lambda d, s: d * s + 8, checking.WRONG, "two arrays of the row's size"),
    (lambda d, s: 8 * (2 * d * s + 8), checking.WRONG, "counts bits"),
    (lambda d, s: 2 * d * s + 9, checking.WRONG, "Count what one program reads"),
    (lambda d, s: None, checking.WRONG, "forget to `return`"),
]


@pytest.mark.parametrize("fn, status, fragment", TRITON_BYTES, ids=range(len(TRITON_BYTES)))
def test_triton_forward_bytes_diagnoses(fn, status, fragment):
    v = performance_checks.triton_forward_bytes(fn)
    assert v.status == status and fragment in v.message, v


def _blocked(x, out, eps, rows, stop=None):
    for start in range(0, len(x) if stop is None else stop, rows):
        xb = x[start : start + rows]
        mu = xb.mean(axis=-1, keepdims=True)
        xc = xb - mu
        out[start : start + rows] = xc / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + eps)


def _whole(x, out, eps, rows):
    mu = x.mean(axis=-1, keepdims=True)
    out[...] = (x - mu) / np.sqrt(x.var(axis=-1, keepdims=True) + eps)


BLOCKED = [
    (_blocked, checking.CORRECT, "KiB of temporaries"),
    (_whole, checking.WRONG, "full-size temporary"),
    (lambda x, out, eps, rows: _ln(x, eps), checking.WRONG, "out is untouched"),
    (lambda x, out, eps, rows: _blocked(x, out, eps, rows, stop=len(x) - rows), checking.WRONG,
     "still unwritten"),
    (lambda x, out, eps, rows: out.__setitem__(..., _ln(x, eps, ddof=1)), checking.WRONG,
     "unbiased"),
    (lambda x, out, eps, rows: x.__isub__(x.mean(-1, keepdims=True)), checking.WRONG,
     "changed x"),
    (lambda x, out, eps, rows: out.__setitem__(..., _ln(x, eps, outside=True)), checking.WRONG,
     "eps to the standard deviation"),
    (lambda x, out, eps, rows: [out.__setitem__(slice(b, b + rows), _ln(x[b:b + rows], eps, axis=0))
                                for b in range(0, len(x), rows)], checking.WRONG, "axis 0"),
]  # fmt: skip


@pytest.mark.parametrize("fn, status, fragment", BLOCKED, ids=range(len(BLOCKED)))
def test_layer_norm_blocked_diagnoses(fn, status, fragment):
    v = performance_checks.layer_norm_blocked(fn)
    assert v.status == status and fragment in v.message, v


def _timer(warm_up=True, reduce=None):
    import statistics
    import time

    def median_time(f, rounds):
        if warm_up:
            f()
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            f()
            times.append(time.perf_counter() - start)
        return (reduce or statistics.median)(times)

    return median_time


TIMERS = [
    (_timer(), checking.CORRECT, "warm-up"),
    (_timer(warm_up=False), checking.WRONG, "warm-up"),
    (_timer(reduce=lambda t: sum(t) / len(t)), checking.WRONG, "median"),
    (_timer(reduce=sum), checking.WRONG, "median"),
    (lambda f, rounds: [f() for _ in range(rounds + 1)] and 0.0, checking.WRONG, "perf_counter"),
    (lambda f, rounds: 1e3 * _timer()(f, rounds), checking.WRONG, "milliseconds"),
    (lambda f, rounds: 1e9 * _timer()(f, rounds), checking.WRONG, "nanoseconds"),
]  # fmt: skip


@pytest.mark.parametrize("fn, status, fragment", TIMERS, ids=range(len(TIMERS)))
def test_median_time_diagnoses(fn, status, fragment):
    v = performance_checks.median_time(fn)
    assert v.status == status and fragment in v.message, v


FOLD_AFFINE = [
    (lambda W, b, g, be: (W * g, b + W @ be), checking.CORRECT, "no parameters"),
    (lambda W, b, g, be: (W @ np.diag(g), b + W @ be), checking.CORRECT, "no parameters"),
    (lambda W, b, g, be: (g[:, None] * W, b + W @ be), checking.WRONG, "scaled W's rows"),
    (lambda W, b, g, be: (W, b + W @ be), checking.WRONG, "gamma is missing"),
    (lambda W, b, g, be: (W * g, b + be), checking.WRONG, "added beta itself"),
    (lambda W, b, g, be: (W * g, b), checking.WRONG, "beta is missing"),
    (lambda W, b, g, be: (W * g, b + W.T @ be), checking.WRONG, "transposed"),
    (lambda W, b, g, be: (W * g, b + (W * g) @ be), checking.WRONG, "folded weight"),
    (lambda W, b, g, be: (W * g, W @ be), checking.WRONG, "old bias b is missing"),
    (lambda W, b, g, be: W * g, checking.WRONG, "Return two arrays"),
    (lambda W, b, g, be: (W * g, (b + W @ be)[:2]), checking.WRONG, "b2 should have shape"),
]  # fmt: skip


def _bn_fold(scale=lambda g, v, e: g / np.sqrt(v + e), bias=None, axis=0):
    def fold(W, b, m, v, g, be, e):
        s = scale(g, v, e)
        shape = [1] * W.ndim
        shape[axis] = -1
        out_b = (b - m) * s + be if bias is None else bias(W, b, m, v, g, be, e, s)
        return W * s.reshape(shape), out_b

    return fold


FOLD_BN = [
    (_bn_fold(), checking.CORRECT, "costs nothing"),
    (_bn_fold(axis=1), checking.WRONG, "input channels"),
    (_bn_fold(scale=lambda g, v, e: g / np.sqrt(v)), checking.WRONG, "eps is missing"),
    (_bn_fold(scale=lambda g, v, e: g / (v + e)), checking.WRONG, "square root is missing"),
    (_bn_fold(scale=lambda g, v, e: 1 / np.sqrt(v + e)), checking.WRONG, "gamma is missing"),
    (_bn_fold(scale=lambda g, v, e: g * np.sqrt(v + e)), checking.WRONG, "divides by it"),
    (_bn_fold(bias=lambda W, b, m, v, g, be, e, s: b * s - m + be), checking.WRONG,
     "mean must be scaled"),
    (_bn_fold(bias=lambda W, b, m, v, g, be, e, s: b - m * s + be), checking.WRONG,
     "old bias must be scaled"),
    (_bn_fold(bias=lambda W, b, m, v, g, be, e, s: (b - m) * s), checking.WRONG, "beta is missing"),
    (_bn_fold(bias=lambda W, b, m, v, g, be, e, s: be - m * s), checking.WRONG, "old bias b"),
    (_bn_fold(bias=lambda W, b, m, v, g, be, e, s: (b + m) * s + be), checking.WRONG,
     "mean is subtracted"),
]  # fmt: skip


@pytest.mark.parametrize("fn, status, fragment", FOLD_AFFINE, ids=range(len(FOLD_AFFINE)))
def test_fold_affine_diagnoses(fn, status, fragment):
    v = folding_checks.fold_affine(fn)
    assert v.status == status and fragment in v.message, v


@pytest.mark.parametrize("fn, status, fragment", FOLD_BN, ids=range(len(FOLD_BN)))
def test_fold_conv_batch_norm_diagnoses(fn, status, fragment):
    v = folding_checks.fold_conv_batch_norm(fn)
    assert v.status == status and fragment in v.message, v


def test_fold_affine_says_when_an_argument_is_changed_in_place():
    def in_place(W, b, g, be):
        W *= g
        return W, b + W @ be

    v = folding_checks.fold_affine(in_place)
    assert v.status == checking.WRONG and "changed `W` in place" in v.message


# ------------------------------------------------------------------- hints first -----

# The expected by-hand values (mu = 5, var = 4, x_hat), in the forms a verdict would quote
# them; "var = 4.57143" (the learner's unbiased variance) is not one of them.
BY_HAND_NUMBERS = re.compile(r"mu = 5(?![\d.]*\d)|var = 4(?![\d.]*\d)|-1\.5, -0\.5")

BY_HAND_HINTS = [
    # (answer, how to compute it (first try), the numbers (from the second try))
    ((4.0, 4.0, (X - 5) / 2), "add them up and divide by 8", "mu = 5."),
    ((5.0, 32 / 7, (X - 5) / 2), "var = mean((x - mu)**2)", "var = 4."),
    ((5.0, 2.0, (X - 5) / 2), "its square, mean((x - mu)**2)", "var = 4."),
    ((5.0, 3.0, (X - 5) / 2), "then average the 8 squares", "var = 4."),
    ((5.0, 4.0, X - 5), "(x - mu) / sqrt(var)",
     "x_hat = [-1.5, -0.5, -0.5, -0.5, 0.0, 0.0, 1.0, 2.0]"),
]  # fmt: skip


@pytest.mark.parametrize("answer, how, numbers", BY_HAND_HINTS, ids=range(len(BY_HAND_HINTS)))
def test_layer_norm_by_hand_hints_first_and_shows_the_numbers_on_the_second_wrong_try(
    answer, how, numbers
):
    first = statistics_checks.layer_norm_by_hand(lambda: answer)
    assert first.status == checking.WRONG and how in first.message, first
    assert not BY_HAND_NUMBERS.search(first.message), first
    assert first.message.endswith(checking.WITHHELD), first
    second = statistics_checks.layer_norm_by_hand(lambda: answer)
    assert numbers in second.message and checking.WITHHELD not in second.message, second
    # The same diagnosis, now followed by the numbers.
    assert second.message.startswith(first.message.removesuffix(checking.WITHHELD).rstrip())


def test_only_wrong_tries_of_the_same_checker_count():
    def wrong():
        return 4.0, 4.0, (X - 5) / 2

    def right():
        return 5.0, 4.0, (X - 5) / 2

    assert (
        statistics_checks.layer_norm_rows(lambda x, eps: x).status == checking.WRONG
    )  # another checker
    assert statistics_checks.layer_norm_by_hand(stub).status == checking.NOT_ATTEMPTED
    assert statistics_checks.layer_norm_by_hand(right).passed
    assert (
        "mu = 5" not in statistics_checks.layer_norm_by_hand(wrong).message
    )  # the first wrong try
    assert statistics_checks.layer_norm_by_hand(stub).status == checking.NOT_ATTEMPTED
    assert statistics_checks.layer_norm_by_hand(right).passed
    assert "mu = 5." in statistics_checks.layer_norm_by_hand(wrong).message  # the second
    assert "mu = 5." in statistics_checks.layer_norm_by_hand(wrong).message  # and every one after


# Every checker whose wrong verdicts carry expected values: (checker, a wrong answer, what
# only the second wrong try shows).
REVEALS = [
    (affine_checks.layer_norm_affine, lambda x, g, b, e: g * _ln(x, e) + b + 0.1,
     r"Expected -?\d\.\d{4} there\."),
    (affine_checks.count_norm_parameters, lambda d, L: 2 * d * L + 1, r"The model has 600\."),
    (from_scratch_checks.variance_rows, lambda x: x.var(axis=1) + 1,
     r"Row \d's variance is \d\.\d{4}\."),
    (from_scratch_checks.layer_norm_backward, _bw(lambda dy, xh, r, g: 2 * r * g),
     r"Autograd's dx\[\d, \d\] is"),
    (batch_norm_checks.norm_axes, lambda m: dict(AXES_RIGHT, **{"batch norm": (0,)})[m],
     r"Expected: batch norm \(0, 2, 3\)\."),
    (covariate_shift_checks.percentile_bands, lambda h: _bands(h) + 0.5,
     r"Expected -?\d+\.\d{3} there\."),
    (covariate_shift_checks.gradient_predictiveness, lambda grad, w, etas: 0.123,
     r"It is \d+\.\d{4}\."),
    (variants_checks.output_std, lambda s, e: s / np.sqrt(s**2 + 2 * e), r"Expected \d"),
    (performance_checks.roofline_seconds, lambda s, p, g: 7.0, r"Expected \d.* s\."),
    (performance_checks.triton_forward_bytes, lambda d, s: 3, r"Expected 16392, 8008, 1544"),
    # 14 ms asked of time.sleep, which overshoots (by 2 ms in a CI run on a busy machine).
    (performance_checks.median_time, _timer(reduce=sum), r"The median call takes 1[4-9] ms\."),
    (statistics_checks.invariance_predictions,
     lambda: dict(RIGHT, **{"add 5 to every feature": False}),
     r"'add 5 to every feature': the output is unchanged \(adding a constant"),
]  # fmt: skip


@pytest.mark.parametrize("checker, fn, revealed", REVEALS, ids=[c.__name__ for c, _, _ in REVEALS])
def test_expected_values_only_from_the_second_wrong_try(checker, fn, revealed):
    first = checker(fn)
    assert first.status == checking.WRONG and first.message.endswith(checking.WITHHELD), first
    assert not re.search(revealed, first.message), first
    second = checker(fn)
    assert re.search(revealed, second.message) and checking.WITHHELD not in second.message, second


# ------------------------------------------------------------------- sentences -------

# Every answer the catalogue above knows, by checker.
CATALOGUE = {
    folding_checks.fold_affine: [fn for fn, _, _ in FOLD_AFFINE],
    folding_checks.fold_conv_batch_norm: [fn for fn, _, _ in FOLD_BN],
    statistics_checks.layer_norm_by_hand: [lambda a=a: a for a, _, _ in BY_HAND],
    statistics_checks.layer_norm_rows: [fn for fn, _, _ in ROWS],
    affine_checks.undo_layer_norm: [fn for fn, _, _ in UNDO],
    affine_checks.count_norm_parameters: [fn for fn, _, _ in COUNT],
    affine_checks.weight_decay_groups: [fn for fn, _, _ in DECAY],
    batch_norm_checks.norm_axes: [fn for fn, _, _ in AXES],
    batch_norm_checks.batch_norm_training: [fn for fn, _, _ in BN_TRAIN],
    batch_norm_checks.batch_norm_inference: [fn for fn, _, _ in BN_INFER],
    transformers_checks.residual_placement: [fn for fn, _, _ in PLACEMENT],
    transformers_checks.masked_mean: [fn for fn, _, _ in MASKED],
    covariate_shift_checks.percentile_bands: [fn for fn, _, _ in PERCENTILES],
    covariate_shift_checks.gradient_predictiveness: [fn for fn, _, _ in PREDICTIVE],
    from_scratch_checks.variance_rows: [fn for fn, _, _ in VARIANCE],
    from_scratch_checks.layer_norm_backward: [fn for fn, _, _ in BACKWARD],
    affine_checks.layer_norm_affine: [fn for fn, _, _ in AFFINE],
    variants_checks.rms_norm: [fn for fn, _, _ in RMS],
    variants_checks.output_std: [fn for fn, _, _ in OUTPUT_STD],
    performance_checks.roofline_seconds: [fn for fn, _, _ in ROOFLINE],
    performance_checks.layer_norm_blocked: [fn for fn, _, _ in BLOCKED],
    performance_checks.median_time: [fn for fn, _, _ in TIMERS],
    performance_checks.triton_forward_bytes: [fn for fn, _, _ in TRITON_BYTES],
    placements_checks.sandwich_block: [
        lambda x, f, a, b: x + b(f(a(x))),
        lambda x, f, a, b: b(x + f(a(x))),
        lambda x, f, a, b: x + f(a(x)),
        lambda x, f, a, b: x + b(f(x)),
        lambda x, f, a, b: x + a(f(b(x))),
        lambda x, f, a, b: b(f(a(x))),
        lambda x, f, a, b: 2 * x,
    ],
    placements_checks.deepnorm_constants: [
        lambda n: ((2 * n) ** 0.25, (8 * n) ** -0.25),
        lambda n: ((8 * n) ** -0.25, (2 * n) ** 0.25),
        lambda n: ((2 * n) ** 0.25, (8 * n) ** 0.25),
        lambda n: ((4 * n) ** 0.25, (16 * n) ** -0.25),
        lambda n: ((3 * n) ** 0.25, (12 * n) ** -0.25),
        lambda n: ((2 * n) ** 0.5, (8 * n) ** -0.5),
        lambda n: (1.0, 1.0),
        lambda n: 3.0,
    ],
    statistics_checks.invariance_predictions: [
        lambda q=q: dict(RIGHT, **{q: not RIGHT[q]}) for q in RIGHT
    ]
    + [lambda: {q: not v for q, v in RIGHT.items()}],
}

# Lower-case words a message may start with: code, not prose (names with "_" or "." are
# code too).
CODE_WORDS = {"mu", "var", "gamma", "beta", "eps", "dx", "dgamma", "dbeta", "out", "f", "s"}
# Capitalized words a sentence may hold mid-way.
PROPER = {"True", "False", "None", "Linear", "Tensor", "Jacobian"}


def _sentence_problems(message: str) -> list[str]:
    """What keeps ``message`` from reading as proper sentences (empty if nothing)."""
    problems = []
    # Code spans and ellipses may hold anything; the prose around them is what is checked.
    prose = re.sub(r"`[^`]*`", "`code`", message).replace("...", "…")
    first = re.match(r"[\w.]+", prose)
    if not (prose[:1].isupper() or prose[:1].isdigit() or prose[:1] in "`'\""):
        word = first.group().rstrip(".") if first else ""
        if word not in CODE_WORDS and not re.search(r"[_.]", word):
            problems.append(f"starts with {prose[:20]!r}")
    if not prose.endswith((".", "?", "!")):
        problems.append(f"ends with {prose[-20:]!r}")
    for bad in ("  ", " .", "..", ".;", ";."):
        if bad in prose:
            problems.append(f"has {bad!r}")
    # A capitalized word right after a word or a bracket, with no stop in between: two
    # sentences run together ("... (5,) A reduction ...").
    for run_on in re.finditer(r"[\w)\]'\"`]\s+([A-Z][a-z]+|A)\b", prose):
        if run_on.group(1) not in PROPER:
            problems.append(f"runs on at {prose[max(0, run_on.start() - 20) : run_on.end()]!r}")
    # A reduction suggested in code must keep its axis, or the learner's subtraction or
    # division fails to broadcast.
    for code in re.findall(r"`([^`]*)`", message):
        if "axis=" in code and "keepdims=True" not in code:
            problems.append(f"suggests {code!r} without keepdims=True")
    return problems


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda c: c.__name__)
def test_messages_read_as_sentences_on_first_and_second_try(checker):
    problems = {}
    for answer in [stub, 42, *GARBAGE, *CATALOGUE.get(checker, [])]:
        checking._wrong_tries.clear()
        messages = [checker(answer).message]
        if checking.WITHHELD in messages[0]:  # the second try shows the expected values
            messages.append(checker(answer).message)
            assert checking.WITHHELD not in messages[1], messages
        for message in messages:
            if found := _sentence_problems(message):
                problems[message] = found
    assert not problems, problems


def test_exception_text_ends_its_sentence_before_the_hint():
    v = statistics_checks.layer_norm_rows(lambda x, eps: x - x.mean(axis=-1))  # (5, 6) - (5,)
    assert re.search(
        r"shapes \(5,6\) \(5,\)\. An array of shape \(5,\) lost the last", v.message
    ), v
    assert "keepdims=True" in v.message
    v = statistics_checks.layer_norm_rows(lambda x, eps: 1 / 0)
    assert v.message == "Your function raised ZeroDivisionError: division by zero."
    v = statistics_checks.layer_norm_rows(lambda x, eps: (_ for _ in ()).throw(ValueError()))
    assert v.message == "Your function raised ValueError."
    v = statistics_checks.layer_norm_rows(lambda x, eps: (_ for _ in ()).throw(ValueError("Bad.")))
    assert v.message == "Your function raised ValueError: Bad."


def test_unbiased_variance_hint_keeps_the_axis():
    v = statistics_checks.layer_norm_rows(
        lambda x, eps: (
            (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, ddof=1, keepdims=True) + eps)
        )
    )
    assert "`x.var(axis=-1, keepdims=True)`" in v.message, v
    assert "`np.mean((x - mu)**2, axis=-1, keepdims=True)`" in v.message, v
    # And the suggestion works: it broadcasts and passes.
    assert statistics_checks.layer_norm_rows(
        lambda x, eps: (
            (x - x.mean(axis=-1, keepdims=True)) / np.sqrt(x.var(axis=-1, keepdims=True) + eps)
        )
    ).passed


# ------------------------------------------------------------------- tracebacks ------


def test_assert_correct_raises_from_the_callers_frame_only():
    with pytest.raises(AssertionError, match="^wrong: You subtracted the mean") as info:
        statistics_checks.layer_norm_rows(
            lambda x, eps: x - x.mean(-1, keepdims=True)
        ).assert_correct()
    frames = traceback.extract_tb(info.value.__traceback__)
    assert [f.filename for f in frames] == [__file__]
    # Each call raises afresh: the traceback does not grow from one call to the next.
    failing = checking.Verdict(checking.WRONG, "no")
    for _ in range(2):
        with pytest.raises(AssertionError) as info:
            failing.assert_correct()
        assert len(traceback.extract_tb(info.value.__traceback__)) == 1


def test_failing_check_in_a_notebook_shows_the_verdict_and_no_path(tmp_path):
    # The nbgrader test cell (lnbook.book.editions) after a wrong answer, in IPython's default
    # traceback mode (Context), then in Plain and Verbose.
    check = (
        "from lnbook.topics.statistics import checks\n\n"
        "def f(x, eps):\n"
        "    return x - x.mean(axis=-1, keepdims=True)\n\n"
        "print(checks.layer_norm_rows(f).assert_correct())"
    )
    cells = [check, "%xmode Plain", check, "%xmode Verbose", check, "print(checks.__file__)"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    # The kernel ran this checkout's lnbook, so the paths below are the ones to hide.
    assert nb.cells[-1].outputs[0].text.strip() == statistics_checks.__file__
    repository = str(Path(statistics_checks.__file__).resolve().parents[3])
    for cell in (nb.cells[0], nb.cells[2], nb.cells[4]):
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert len(errors) == 1, cell.outputs  # so nbgrader scores the cell 0
        assert errors[0].ename == "AssertionError"
        shown = re.sub(r"\x1b\[[\d;]*m", "", "\n".join(errors[0].traceback))  # no colours
        assert "AssertionError: wrong: You subtracted the mean but did not divide" in shown
        assert "checks.py" not in shown and repository not in shown, shown
        assert "lnbook/" not in shown and "site-packages" not in shown, shown


# ------------------------------------------------------------------- issue 14, section 3
# Checkers that never misjudge a learner: each test is a realistic answer that a checker
# once rejected although right, or accepted although wrong, or that escaped the harness.


def _ln32_rows(x, eps):  # a learner who works in float32, as on a GPU
    x = x.astype(np.float32)
    mu = x.mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(x.var(axis=-1, keepdims=True) + eps)


def _bn32(x, eps):
    x = torch.tensor(x, dtype=torch.float32)
    return (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + eps)


@pytest.mark.parametrize(
    "checker, fn",
    [
        (statistics_checks.layer_norm_rows, _ln32_rows),
        (batch_norm_checks.batch_norm_training, _bn32),
        (affine_checks.layer_norm_affine, lambda x, g, b, eps: g * _ln32_rows(x, eps) + b),
        (statistics_checks.layer_norm_rows, lambda x, eps: torch.nn.functional.layer_norm(
            torch.tensor(x, dtype=torch.float32), x.shape[-1:], eps=eps)),
    ],
)  # fmt: skip
def test_float32_answers_are_judged_by_float32_tolerance(checker, fn):
    assert checker(fn).passed


def test_float32_answers_with_a_mistake_are_still_diagnosed():
    v = statistics_checks.layer_norm_rows(lambda x, eps: _ln32_rows(x, 0.0))
    assert "eps is missing" in v.message, v
    v = batch_norm_checks.batch_norm_training(lambda x, eps: _ln32_rows(x, eps))
    assert "that is layer norm" in v.message, v


def test_one_tolerance_policy_depends_on_the_precision():
    f64, f32 = np.ones(3), np.ones(3, dtype=np.float32)
    assert checking.tolerance(f64, f64) == (1e-6, 1e-8)
    rtol, atol = checking.tolerance(f32, f64)
    assert 1e-5 < rtol <= 1e-3 and 1e-5 < atol <= 1e-3


def test_layer_norm_blocked_accepts_float64_temporaries_per_block():
    def blocked64(x, out, eps, rows):
        for start in range(0, len(x), rows):
            xb = x[start : start + rows].astype(np.float64)
            xc = xb - xb.mean(axis=-1, keepdims=True)
            out[start : start + rows] = xc / np.sqrt((xc * xc).mean(-1, keepdims=True) + eps)

    assert performance_checks.layer_norm_blocked(blocked64).passed


@pytest.mark.parametrize(
    "method", ["closest_observation", "inverted_cdf", "nearest", "lower", "higher", "hazen"]
)
def test_percentile_bands_accepts_every_numpy_method(method):
    v = covariate_shift_checks.percentile_bands(
        lambda h: np.percentile(h, (15, 50, 85), axis=1, method=method).T
    )
    assert v.passed, v


def test_percentile_bands_rejects_neighbouring_percentiles():
    assert not covariate_shift_checks.percentile_bands(
        lambda h: np.percentile(h, (13, 50, 87), axis=1).T
    ).passed


def _named_groups(model, wd):
    decay = [(n, p) for n, p in model.named_parameters() if p.ndim == 2]
    rest = [(n, p) for n, p in model.named_parameters() if p.ndim < 2]
    return [{"params": decay, "weight_decay": wd}, {"params": rest, "weight_decay": 0.0}]


def _set_groups(model, wd):
    decay = {p for p in model.parameters() if p.ndim == 2}
    rest = {p for p in model.parameters() if p.ndim < 2}
    return [{"params": decay, "weight_decay": wd}, {"params": rest, "weight_decay": 0.0}]


def test_weight_decay_groups_follows_adamw():
    assert affine_checks.weight_decay_groups(_named_groups).passed  # AdamW takes (name, p) pairs
    v = affine_checks.weight_decay_groups(_set_groups)  # and refuses sets
    assert v.status == checking.WRONG and "ordered collections" in v.message, v


def test_undo_layer_norm_accepts_an_array_of_two():
    v = affine_checks.undo_layer_norm(lambda x, eps: np.array([np.sqrt(x.var() + eps), x.mean()]))
    assert v.passed, v


def test_masked_mean_rejects_a_sum_over_the_padding():
    v = transformers_checks.masked_mean(lambda x, valid: x.sum(axis=(0, 1)) / valid.sum())
    assert v.status == checking.WRONG and "sum includes the padding" in v.message, v
    v = transformers_checks.masked_mean(
        lambda x, valid: (x * valid[..., None]).sum(axis=(0, 1)) / valid.sum()
    )
    assert v.passed, v


def test_gradient_predictiveness_rejects_the_value_at_the_last_eta():
    def at_last_eta(grad, w, etas):
        g = grad(w)
        return np.linalg.norm(grad(w - etas[-1] * g) - g)

    v = covariate_shift_checks.gradient_predictiveness(at_last_eta)
    assert v.status == checking.WRONG and "last eta" in v.message, v


def test_median_time_rejects_the_minimum():
    v = performance_checks.median_time(_timer(reduce=min))
    assert v.status == checking.WRONG and "minimum" in v.message, v


def test_sys_exit_in_an_answer_is_a_verdict_not_the_end_of_the_kernel():
    v = statistics_checks.layer_norm_rows(lambda x, eps: sys.exit())
    assert v.status == checking.WRONG and "sys.exit()" in v.message, v
    v = statistics_checks.layer_norm_rows(lambda x, eps: exit(1))
    assert v.status == checking.WRONG and "sys.exit()" in v.message, v


def _retries_forever(x, eps):
    while True:
        try:
            return sum(range(10**5)) and undefined_name  # noqa: F821
        except:  # noqa: E722 (a bare except swallows even BaseException)
            pass


@pytest.mark.parametrize("signals", [True, False], ids=["alarm", "trace"])
def test_a_retry_loop_with_a_bare_except_is_stopped(monkeypatch, signals):
    if not signals and sys.gettrace() is not None:
        pytest.skip("a debugger or coverage tracer is active: the fallback leaves it alone")
    if not signals:
        monkeypatch.setattr(_deadline, "alarm_usable", lambda: False)
    monkeypatch.setattr(checking, "TIME_LIMIT_S", 0.2)
    alarm = signal.getsignal(signal.SIGALRM)
    start = time.monotonic()
    v = statistics_checks.layer_norm_rows(_retries_forever)
    assert v.status == checking.WRONG and "endless loop" in v.message, v
    assert time.monotonic() - start < 10
    assert sys.gettrace() is None and signal.getsignal(signal.SIGALRM) is alarm
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # no alarm left to strike


def test_a_huge_value_makes_a_short_message():
    for answer in (lambda m: range(10**6), lambda m: list(range(10**6))):
        v = batch_norm_checks.norm_axes(answer)
        assert v.status == checking.WRONG and len(v.message) < 300, v
    v = statistics_checks.layer_norm_rows(
        lambda x, eps: (_ for _ in ()).throw(ValueError("x" * 10**6))
    )
    assert len(v.message) < 400, v
    assert len(checking.quote(np.arange(10**6))) <= 60


@pytest.mark.parametrize(
    "fn",
    [
        lambda x, g, b, eps: g[:, None] * _ln(x, eps) + b,  # a column-shaped gamma
        lambda x, g, b, eps: _ln(x, eps) + np.ones((3, 1)),
    ],
)
def test_no_keepdims_hint_for_other_broadcast_errors(fn):
    v = affine_checks.layer_norm_affine(fn)
    assert "could not be broadcast" in v.message and "keepdims" not in v.message, v


def test_a_mask_without_a_feature_axis_is_hinted_at():
    v = transformers_checks.masked_mean(lambda x, valid: (x * valid).sum(axis=(0, 1)) / valid.sum())
    assert "[..., None]" in v.message, v


def test_layer_norm_by_hand_shows_the_digits_that_differ():
    # With 6 significant digits, 2.000003 prints as "2", like the expected x_hat[7].
    x_hat = (X - 5) / 2
    x_hat[7] += 3e-6
    v = statistics_checks.layer_norm_by_hand(lambda: (5.0, 4.0, x_hat))
    assert "x_hat[7] = 2.000003 " in v.message, v
    v = statistics_checks.layer_norm_by_hand(lambda: (5.000001, 4.0, x_hat))
    assert "mu = 5.000001," in v.message, v
    v = statistics_checks.layer_norm_by_hand(lambda: (5.000001, 4.0, x_hat))  # the second try
    assert "Expected mu = 5." in v.message, v


def test_layer_norm_backward_says_when_dy_is_changed_in_place():
    def scales_dy(dy, x_hat, rstd, gamma):
        dbeta = dy.sum(0)
        dgamma = (dy * x_hat).sum(0)
        dy *= gamma  # g, computed in place: the caller's dy is gone
        dx = rstd * (dy - dy.mean(1, keepdims=True) - x_hat * (x_hat * dy).mean(1, keepdims=True))
        return dx, dgamma, dbeta

    v = from_scratch_checks.layer_norm_backward(scales_dy)
    assert v.status == checking.WRONG and "changed `dy` in place" in v.message, v
