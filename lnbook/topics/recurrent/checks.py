"""Checkers of chapter 11's exercises (recurrent)."""

from __future__ import annotations

import math

import numpy as np

from ... import numpy_ln
from ...checking import (
    CORRECT,
    Verdict,
    as_number,
    call,
    checker,
    compare,
    ln_rows,
    predictions,
    returned_array,
    wrong,
)

# ------------------------------------------------ the LN of the summed gate inputs


def _gate_inputs(seed: int = 11, B: int = 3, H: int = 4):
    """Summed inputs of an LSTM's four gates, (B, 4H), with a different scale and offset
    per gate (so normalizing each gate alone, or each unit over the batch, differs), and
    a gain and bias (4H,) away from 1 and 0."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((B, 4, H)) * np.array([0.5, 2.0, 1.0, 4.0])[:, None]
    a = (a + np.array([1.0, -2.0, 0.0, 3.0])[:, None]).reshape(B, 4 * H)
    gain = 1 + 0.3 * rng.standard_normal(4 * H)
    bias = 0.2 * rng.standard_normal(4 * H)
    return a, gain, bias


@checker
def ln_gate_inputs(fn) -> Verdict:
    """Chapter 11: ``fn(a, gain, bias, eps)`` layer-normalizes the summed inputs ``a``
    (B, 4H) of an LSTM's four gates as Ba et al. do: each example's 4H values together,
    then ``gain * a_hat + bias``."""
    a, gain, bias = _gate_inputs()
    eps = 1e-5
    B, H4 = a.shape
    y, verdict = returned_array(
        fn, (a.copy(), gain.copy(), bias.copy(), eps), (B, H4), name="ln_gate_inputs(a, ...)"
    )
    if verdict:
        return verdict
    expected = gain * ln_rows(a, eps) + bias
    per_gate = ln_rows(a.reshape(B, 4, H4 // 4), eps).reshape(B, H4)
    known = [
        (
            gain * per_gate + bias,
            "You normalized each gate's H values separately; Ba et al. normalize the 4H "
            "summed inputs of an example together (one mean and one variance per example)",
        ),
        (
            gain * ln_rows(a, eps, axis=0) + bias,
            "You normalized each unit over the batch (axis 0): that is batch norm. Layer norm "
            "takes each example's own statistics, over its 4H values (axis=-1)",
        ),
        (
            gain * ln_rows(a, eps, ddof=1) + bias,
            "You used the unbiased variance (divide by 4H - 1); layer norm divides by 4H",
        ),
        (
            gain * ln_rows(a, eps, eps_outside=True) + bias,
            "Eps goes inside the square root, added to the variance",
        ),
        (ln_rows(a, eps), "the gain and the bias are missing: gain * a_hat + bias"),
        (
            bias * ln_rows(a, eps) + gain,
            "Gain and bias are swapped: the gain multiplies, the bias adds",
        ),
    ]
    return compare(
        y,
        expected,
        known,
        "The values differ from gain * (a - mu) / sqrt(var + eps) + bias with mu and var "
        "each example's mean and variance over its 4H summed inputs.",
        success="Each example's 4H summed inputs share one mean and one variance, its own, "
        "at this step: no batch, no stored statistics.",
    )


# ------------------------------------------------ per-step batch norm: True or False

RECURRENT_QUESTIONS = {
    "Trained on 4-step sequences, evaluation normalizes step 6 by step 4's statistics": "reuse",
    "In evaluation, an example's output depends on the others in its batch": "eval",
    "In training, an example's output depends on the others in its batch": "train",
    "From the zero state, W_hh h_0 has variance 0 over the batch at the first step": "zero",
    "With layer norm, an example's output does not depend on the others in its batch": "layer",
}


def _bn_rnn(x, W, stats, training, ln=False):
    """A tiny tanh RNN with per-step batch norm (or layer norm) of its summed inputs
    ``W [h, x_t]``: x (B, T, I), stats a list of T_max (mean, var) pairs, updated in
    training. Returns the hidden states (B, T, H) and the summed inputs from h (B, T, H)."""
    B, T, _ = x.shape
    H = W.shape[0]
    h = np.zeros((B, H))
    hs, from_h = [], []
    for t in range(T):
        a = np.concatenate([h, x[:, t]], axis=1) @ W.T
        from_h.append(h @ W[:, :H].T)
        if ln:
            a = numpy_ln.layer_norm(a, H, eps=1e-5)
        else:
            mean, var = stats[min(t, len(stats) - 1)]  # beyond T_max: the last step's
            a = numpy_ln.batch_norm(a, mean, var, training=training, eps=1e-5)
        h = np.tanh(a)
        hs.append(h)
    return np.stack(hs, 1), np.stack(from_h, 1)


@predictions(
    RECURRENT_QUESTIONS,
    "Hint: in training, per-step batch norm takes each step's statistics from the batch; "
    "in evaluation, from what training stored for that step, the last stored step for "
    "any later one. Layer norm takes each example's own.",
    "Per-step batch norm ties an example to its batch in training and to stored "
    "statistics in evaluation, the last step's beyond the training length; at the first "
    "step from h_0 = 0 its hidden-to-hidden statistics are degenerate (variance 0). Layer "
    "norm needs neither batch nor storage.",
)
def recurrent_predictions() -> dict[str, bool]:
    """Chapter 11: ``recurrent_predictions(fn)``, where ``fn()`` returns ``{question: True
    or False}`` for RECURRENT_QUESTIONS. The truth, computed here on a tiny tanh RNN with
    ``numpy_ln``'s batch norm and layer norm."""
    rng = np.random.default_rng(5)
    H, In, T_max = 4, 3, 4
    W = rng.standard_normal((H, H + In))
    stats = [(np.zeros(H), np.ones(H)) for _ in range(T_max)]
    x = rng.standard_normal((16, T_max, In))
    for _ in range(5):  # training stores each step's running statistics
        _bn_rnn(x + 0.1 * rng.standard_normal(x.shape), W, stats, training=True)
    long = rng.standard_normal((8, 6, In))
    others = np.concatenate([long[:1], rng.standard_normal((7, 6, In))])  # example 0 shared
    h, _ = _bn_rnn(long, W, stats, training=False)
    step4 = [stats[3]] * 6
    h4, _ = _bn_rnn(long, W, stats[:3] + step4[:3], training=False)  # step 4's for steps 4-6
    h_other, _ = _bn_rnn(others, W, stats, training=False)
    copies = [(m.copy(), v.copy()) for m, v in stats]
    h_train, from_h = _bn_rnn(long[:, :4], W, copies, training=True)
    h_train_other, _ = _bn_rnn(others[:, :4], W, [(m.copy(), v.copy()) for m, v in stats], True)
    h_ln, _ = _bn_rnn(long, W, stats, training=False, ln=True)
    h_ln_other, _ = _bn_rnn(others, W, stats, training=False, ln=True)
    return {
        "reuse": bool(np.allclose(h[:, 5], h4[:, 5], rtol=0, atol=1e-12)),
        "eval": not np.allclose(h[0], h_other[0], rtol=0, atol=1e-12),
        "train": not np.allclose(h_train[0], h_train_other[0], rtol=0, atol=1e-12),
        "zero": bool(np.all(from_h[:, 0].var(axis=0) == 0)),
        "layer": bool(np.allclose(h_ln[0], h_ln_other[0], rtol=0, atol=1e-12)),
    }


# ------------------------------------------------ the bound on a ReLU LN-RNN's state

_BOUND_CASES = ((5, 2.5), (64, 0.5), (16, 1.5))  # (H, gain): no gain of 1, small H first


@checker
def relu_ln_bound(fn) -> Verdict:
    """Chapter 11: ``fn(H, gain)``: the largest norm of ``h = relu(gain * LN(a))`` over
    every summed input ``a`` of H values (eps = 0, bias 0, gain > 0 the same for every
    unit): ``gain * sqrt(H - 1)``."""
    for H, gain in _BOUND_CASES:
        result, verdict = call(fn, H, gain)
        if verdict:
            return verdict
        value, verdict = as_number(result, f"relu_ln_bound({H}, {gain})")
        if verdict:
            return verdict
        known = [
            (
                gain * math.sqrt(H),
                "that is the norm of gain * a_hat itself, before the ReLU: the ReLU keeps only "
                "the positive part, and since a_hat has mean 0 some of it is negative",
            ),
            (
                math.sqrt(H - 1),
                "the gain multiplies every normalized value, so it multiplies the norm",
            ),
            (math.sqrt(H), "the gain is missing, and the ReLU removes the negative part"),
            (
                gain * math.sqrt(H / 2),
                "half positive and half negative is not the worst case: put one value far "
                "above the mean and the others a little below it",
            ),
            (
                gain**2 * (H - 1),
                "that is the squared norm; return the norm",
            ),
        ]
        verdict = compare(
            value,
            gain * math.sqrt(H - 1),
            known,
            wrong(
                f"For H={H}, gain={gain:g}: {value:.6g} is not the largest norm. a_hat has "
                "mean 0 and sum of squares H; which a_hat keeps the most of its length "
                "through the ReLU?"
            ),
            prefix=f"For H={H}, gain={gain:g}: ",
        )
        if not verdict.passed:
            return verdict
    return Verdict(
        CORRECT,
        "One unit at sqrt(H - 1) and the others at -1 / sqrt(H - 1): mean 0, sum of squares "
        "H, and the ReLU keeps H - 1 of it. Whatever W_hh does, |h_t| stays below gain * "
        "sqrt(H - 1).",
    )
