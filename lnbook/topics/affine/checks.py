"""Checkers of chapter 2's exercises (gamma and beta): layer norm with its affine step
(:func:`layer_norm_affine`), what gamma and beta can restore (:func:`affine_predictions`,
:func:`undo_layer_norm`), how many of them a model has (:func:`count_norm_parameters`), and
optimizer groups that exempt them from weight decay (:func:`weight_decay_groups`).

Inputs are chosen so that each mistake gives other values: examples of very different
mean and spread, gamma and beta far from 1 and 0, and a spread small enough for eps to
matter when undoing layer norm. The parameter counts and the weight-decay groups are judged
by lnbook's own model and by ``torch.optim.AdamW`` itself; the harness is :mod:`lnbook.checking`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np

from ... import numpy_ln
from ..._optional import require_torch
from ...checking import (
    CORRECT,
    Verdict,
    as_number,
    call,
    checker,
    close,
    compare,
    distinct_digits,
    ln_rows,
    parts_of,
    predictions,
    quote,
    returned_array,
    sentence,
    worst,
    wrong,
)


@checker
def layer_norm_affine(fn: Callable[..., np.ndarray]) -> Verdict:
    """Chapter 2: ``fn(x, gamma, beta, eps)`` is layer norm over the last axis of an (N, D)
    batch followed by the per-feature scale ``gamma`` and shift ``beta`` (D,); result (N, D)."""
    rng = np.random.default_rng(18)
    n, d, eps = 4, 6, 1e-5
    x = rng.normal(rng.uniform(-2, 2, (n, 1)), rng.uniform(0.05, 2, (n, 1)), size=(n, d))
    gamma = rng.uniform(0.5, 2.0, d)
    beta = rng.normal(0.0, 1.0, d)
    y, verdict = returned_array(fn, (x.copy(), gamma.copy(), beta.copy(), eps), (n, d))
    if verdict:
        return verdict
    x_hat = ln_rows(x, eps)
    expected = gamma * x_hat + beta
    known = [
        (x_hat, "gamma and beta are missing: the result is the plain normalized x"),
        (gamma * x_hat, "beta is missing: add it after scaling"),
        (x_hat + beta, "gamma is missing: multiply by it before adding beta"),
        (beta * x_hat + gamma, "gamma and beta are swapped: gamma scales, beta shifts"),
        (
            ln_rows(gamma * x + beta, eps),
            "gamma and beta were applied before normalizing, which divides them out again; "
            "apply them to the normalized values",
        ),
        (
            gamma * ln_rows(x, eps, axis=0) + beta,
            "The statistics were taken over the batch axis (that is batch norm); take "
            "them over each example's features (`axis=-1, keepdims=True`)",
        ),
        (
            gamma * ln_rows(x, eps, ddof=1) + beta,
            "The variance is the unbiased one (ddof=1); layer norm uses ddof=0",
        ),
        (
            gamma * ln_rows(x, eps, eps_outside=True) + beta,
            "eps is outside the square root: divide by sqrt(var + eps), not std + eps",
        ),
    ]
    i, j = worst(y, expected)
    given, wanted = distinct_digits(float(y[i, j]), float(expected[i, j]), ".4f")
    unknown = wrong(
        f"At [{i}, {j}] you have {given}, not the expected value. Hint: "
        "gamma * (x - mean) / sqrt(var + eps) + beta, with the mean and the variance of "
        "each example (`axis=-1, keepdims=True`).",
        answer=f"Expected {wanted} there.",
    )
    return compare(
        y,
        expected,
        known,
        unknown,
        success="Normalize each example, then scale and shift each feature.",
    )


AFFINE_QUESTIONS = {
    "gamma and beta chosen for one example restore that example exactly": "own",
    "the same gamma and beta restore the other examples of the batch too": "others",
    "with gamma = 1 and beta = 0, every example's output has mean 0": "mean0",
    "halving gamma halves the spread of every example's output": "half",
}


@predictions(
    AFFINE_QUESTIONS,
    "Hint: compute each one with numpy_ln.layer_norm on a small batch.",
    "gamma and beta are shared by the batch: they can give back one example's mean and "
    "spread, never every example's, because each example's own were divided out.",
)
def affine_predictions() -> dict[str, bool]:
    """Chapter 2: ``affine_predictions(fn)``, where ``fn()`` returns ``{question: True or
    False}`` for AFFINE_QUESTIONS. The truth, computed here with lnbook's layer norm."""
    rng = np.random.default_rng(16)
    x = rng.normal(rng.uniform(-3, 3, (5, 1)), rng.uniform(0.5, 3, (5, 1)), size=(5, 12))
    d, eps = 12, 1e-5
    gamma, beta = np.full(d, np.sqrt(x[0].var() + eps)), np.full(d, x[0].mean())
    y = numpy_ln.layer_norm(x, d, gamma, beta, eps=eps)
    plain = numpy_ln.layer_norm(x, d, eps=eps)
    half = numpy_ln.layer_norm(x, d, np.full(d, 0.5), None, eps=eps)
    return {
        "own": close(y[0], x[0]),
        "others": close(y[1:], x[1:]),
        "mean0": bool(np.abs(plain.mean(axis=1)).max() < 1e-12),
        "half": close(half.std(axis=1), 0.5 * plain.std(axis=1)),
    }


@checker
def undo_layer_norm(fn: Callable[[np.ndarray, float], tuple]) -> Verdict:
    """Chapter 2: ``fn(x_row, eps)`` returns ``(gamma, beta)`` (numbers) that make layer norm
    give back ``x_row`` exactly."""
    rng = np.random.default_rng(11)
    # A small spread, where eps is not negligible, so sqrt(var) and sqrt(var + eps) differ.
    x_row = 2.0 + 0.01 * rng.standard_normal(16)
    eps = 1e-5
    result, verdict = call(fn, x_row.copy(), eps)
    if verdict:
        return verdict
    parts = parts_of(result, 2)
    if parts is None:
        return wrong("Return two numbers: `return gamma, beta`.")
    gamma, verdict = as_number(parts[0], "gamma")
    if verdict:
        return wrong(verdict.message + " Use one number for all features.")
    beta, verdict = as_number(parts[1], "beta")
    if verdict:
        return wrong(verdict.message + " Use one number for all features.")
    mu, var = x_row.mean(), x_row.var()
    if math.isclose(gamma, mu, rel_tol=1e-6) and math.isclose(
        beta, math.sqrt(var + eps), rel_tol=1e-6
    ):
        return wrong(
            "gamma and beta are swapped: gamma scales (the spread), beta shifts (the mean)."
        )
    if math.isclose(gamma, math.sqrt(var), rel_tol=1e-6):
        return wrong(
            "gamma = sqrt(var) is close but not exact: normalization divided by "
            "sqrt(var + eps), so multiply by that."
        )
    if math.isclose(gamma, var + eps, rel_tol=1e-6) or math.isclose(gamma, var, rel_tol=1e-6):
        return wrong("gamma is the variance; it should be a standard deviation, sqrt(var + eps).")
    y = numpy_ln.layer_norm(x_row, 16, np.full(16, gamma), np.full(16, beta), eps=eps)
    if not close(y, x_row, rtol=1e-9, atol=1e-9):
        return wrong(
            f"Layer norm with gamma = {gamma:.6g}, beta = {beta:.6g} gives values "
            f"off by up to {np.abs(y - x_row).max():.3g}. Hint: the example's "
            "mean and its sqrt(var + eps)."
        )
    return Verdict(
        CORRECT,
        "gamma = sqrt(var + eps) and beta = mean recover this example; "
        "they would not recover another one.",
    )


@checker
def count_norm_parameters(fn: Callable[[int, int], int]) -> Verdict:
    """Chapter 2: ``fn(d_hidden, depth)`` is the number of gamma and beta parameters in
    ``lnbook.models.MLP(64, d_hidden, 10, depth, norm="layer")``."""
    from ... import models

    cases = [(100, 3), (64, 2), (7, 1)]  # depth 3 first: "half" and "one layer" differ
    for d_hidden, depth in cases:
        result, verdict = call(fn, d_hidden, depth)
        if verdict:
            return verdict
        if isinstance(result, bool) or not isinstance(result, int | np.integer):
            return wrong(f"Return a whole number, got {quote(result)}.")
        model = models.MLP(64, d_hidden, 10, depth=depth, norm="layer")
        truth = sum(p.numel() for p in models.norm_parameters(model))
        if result == truth:
            continue
        if result == truth // 2:
            hint = "You counted only gamma (or only beta): each layer norm has both."
        elif result == truth // depth:
            hint = "That is one layer norm's worth: the MLP has one after each hidden layer."
        elif result == 2 * depth:
            hint = "gamma and beta are vectors, one value per feature, not single numbers."
        else:
            hint = "Each layer norm over d features has d values of gamma and d of beta."
        return wrong(
            f"For d_hidden={d_hidden}, depth={depth} you return {result}, not the model's "
            f"count. {hint}",
            answer=f"The model has {truth}.",
        )
    return Verdict(CORRECT, "2 x d_hidden per layer norm, one layer norm per hidden layer.")


@checker
def weight_decay_groups(fn: Callable[[object, float], list]) -> Verdict:
    """Chapter 2: ``fn(model, weight_decay)`` returns optimizer parameter groups that decay
    the weight matrices and exempt gamma, beta and biases."""
    torch = require_torch()

    from ... import models

    model = models.MLP(8, 6, 3, depth=2, norm="layer")
    weight_decay = 0.1
    result, verdict = call(fn, model, weight_decay)
    if verdict:
        return verdict
    if not isinstance(result, list | tuple) or not all(isinstance(g, dict) for g in result):
        return wrong("Return a list of dicts, each with 'params' and 'weight_decay'.")
    for g in result:
        if "params" not in g:
            return wrong("Each group needs a 'params' list of the model's parameters.")
        if not isinstance(g.get("weight_decay", 0.0), int | float | np.number) or isinstance(
            g.get("weight_decay"), bool
        ):
            given = quote(g.get("weight_decay"))
            return wrong(f"'weight_decay' should be a number, got {given}.")
    # The judge of what the groups may hold is the optimizer itself: AdamW takes lists,
    # tuples, generators and (name, parameter) pairs, and refuses sets (their order
    # changes between runs), tensors that are not leaves, and a parameter in two groups.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            groups = torch.optim.AdamW(list(result), lr=1e-3).param_groups
    except Exception as e:
        text = " ".join(str(e).split())[:300]
        if "more than one parameter group" in text:
            return wrong("A parameter appears in two groups; the optimizer refuses that.")
        return wrong(
            f"torch.optim.AdamW refuses these groups: {sentence(text)} Give each group's "
            "'params' as a list of the model's parameters."
        )
    decay_of: dict[int, float] = {}
    for g in groups:
        for p in g["params"]:
            if not isinstance(p, torch.nn.Parameter):
                return wrong("'params' should hold the model's parameters (model.parameters()).")
            decay_of[id(p)] = float(g["weight_decay"])
    names = dict(model.named_parameters())
    missing = [n for n, p in names.items() if id(p) not in decay_of]
    if missing:
        return wrong(f"Some parameters are in no group and would not be trained: {missing}.")
    exempt = {id(p) for p in models.norm_parameters(model)}
    exempt |= {id(m.bias) for m in model.modules() if isinstance(m, torch.nn.Linear)}
    errors = []
    for n, p in names.items():
        if id(p) not in exempt and decay_of[id(p)] != weight_decay:
            errors.append(
                f"{n} (a weight matrix) has weight_decay={decay_of[id(p)]:g}, "
                f"not the {weight_decay:g} asked for"
            )
        if id(p) in exempt and decay_of[id(p)] != 0:
            errors.append(f"{n} is decayed but should not be")
    if errors:
        return wrong(
            "; ".join(errors) + ". Decay the Linear weights only; give gamma, beta "
            "and biases weight_decay=0."
        )
    return Verdict(CORRECT, "Weight matrices decay; gamma, beta and biases do not.")
