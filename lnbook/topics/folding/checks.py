"""Checkers of chapter 15's folding exercises: a layer norm's gamma and beta folded into
the next linear layer (:func:`fold_affine`), and batch norm in eval mode folded into the
convolution before it (:func:`fold_conv_batch_norm`). Both take NumPy arrays and return
``(W', b')``.

The inputs are chosen so that each classic mistake gives other numbers: the weight is
square where scaling rows instead of columns (or output instead of input channels) would
otherwise fail on the shape alone, and gamma, beta, the running mean and variance are all
far from 1 and 0. The checker harness: :mod:`lnbook.checking`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...checking import CORRECT, Verdict, as_array, call, checker, compare, parts_of, wrong


def _two_arrays(fn, args: tuple, shapes: tuple, read_only: dict) -> tuple:
    """Call ``fn`` and take its result as two arrays ``(W', b')`` of ``shapes``: (the two
    arrays, None), or (None, the verdict saying why not)."""
    result, verdict = call(fn, *args, read_only=read_only)
    if verdict:
        return None, verdict
    parts = parts_of(result, 2) if isinstance(result, tuple | list) else None
    if parts is None:
        return None, wrong("Return two arrays, the folded weight and bias: `return W2, b2`.")
    arrays = []
    names = ("The folded weight W2", "The folded bias b2")
    for value, name, shape in zip(parts, names, shapes, strict=True):
        a, verdict = as_array(value, name, shape)
        if verdict:
            return None, verdict
        arrays.append(a)
    return arrays, None


def _both(w_verdict: Verdict, b_verdict: Verdict, success: str) -> Verdict:
    """One verdict on the two parts: the first wrong one's message, or correct."""
    for v in (w_verdict, b_verdict):
        if not v.passed:
            return v
    return Verdict(CORRECT, success)


@checker
def fold_affine(fn: Callable) -> Verdict:
    """Chapter 15: ``fn(W, b, gamma, beta)`` returns ``(W2, b2)`` such that
    ``W2 @ x_hat + b2 == W @ (gamma * x_hat + beta) + b`` for every ``x_hat``: a layer norm's
    gamma and beta folded into the linear layer ``(W, b)`` that reads its output."""
    rng = np.random.default_rng(151)
    d = 4
    W = rng.standard_normal((d, d))  # square: scaling rows instead of columns has the shape
    b = rng.standard_normal(d)
    gamma = rng.uniform(0.3, 2.5, d)
    beta = rng.uniform(-2.0, 2.0, d)

    # The oracle: the folded layer is defined by what it computes. Its weight is the
    # Jacobian of the layer's output with respect to x_hat (the columns of W, each times
    # gamma_j), its bias the output at x_hat = 0.
    def layer(x_hat):  # (N, D) -> (N, D)
        return (gamma * x_hat + beta) @ W.T + b

    eye = np.eye(d)
    b_ref = layer(np.zeros((1, d)))[0]
    w_ref = (layer(eye) - b_ref).T  # column j: the response to x_hat = e_j
    parts, verdict = _two_arrays(
        fn, (W.copy(), b.copy(), gamma.copy(), beta.copy()), ((d, d), (d,)),
        {0: "W", 1: "b", 2: "gamma", 3: "beta"},
    )  # fmt: skip
    if verdict:
        return verdict
    W2, b2 = parts
    w_verdict = compare(
        W2, w_ref,
        [
            (gamma[:, None] * W, "you scaled W's rows (its outputs); gamma scales the "
             "inputs of the linear layer, so it scales W's columns: `W * gamma`"),
            (W, "W2 is W itself: gamma is missing (`W * gamma`, column j times gamma_j)"),
            (W / gamma, "you divided by gamma; the folded weight multiplies: `W * gamma`"),
        ],
        "W2 is not W with column j multiplied by gamma_j (`W * gamma`, or `W @ np.diag(gamma)`).",
        prefix="In W2, ",
    )  # fmt: skip
    b_verdict = compare(
        b2, b_ref,
        [
            (b + beta, "you added beta itself; it passes through the layer first: `b + W @ beta`"),
            (b, "beta is missing: it adds W @ beta to the bias"),
            (b + W.T @ beta, "you multiplied beta by W transposed; the layer computes W @ x: "
             "`b + W @ beta`"),
            (b + (W * gamma) @ beta, "you multiplied beta by the folded weight; beta is added "
             "after gamma scales x_hat, so it meets W unscaled: `b + W @ beta`"),
            (W @ beta, "the old bias b is missing: `b + W @ beta`"),
        ],
        "The folded bias b2 is not the layer's output at x_hat = 0, `b + W @ beta`.",
        prefix="In b2, ",
    )  # fmt: skip
    return _both(
        w_verdict, b_verdict,
        "The folded layer computes what norm -> linear computed: the norm needs no "
        "parameters of its own any more.",
    )  # fmt: skip


@checker
def fold_conv_batch_norm(fn: Callable) -> Verdict:
    """Chapter 15: ``fn(W, b, mean, var, gamma, beta, eps)`` returns ``(W2, b2)``: the
    convolution ``(W, b)`` (W of shape (C_out, C_in, k, k)) followed by batch norm in eval
    mode (running ``mean`` and ``var``, ``gamma``, ``beta``, ``eps``: all (C_out,)), as one
    convolution. Checked against ``torch.nn.utils.fusion.fuse_conv_bn_weights``."""
    from ..._optional import require_torch

    torch = require_torch()
    from torch.nn.utils.fusion import fuse_conv_bn_weights

    rng = np.random.default_rng(152)
    c = 3  # C_out = C_in: scaling the input channels instead has the right shape
    W = rng.standard_normal((c, c, 2, 2))
    b = rng.standard_normal(c)
    mean = rng.uniform(-2.0, 2.0, c)
    var = rng.uniform(0.05, 3.0, c)  # small variances, so that a missing eps shows
    gamma = rng.uniform(0.3, 2.5, c)
    beta = rng.uniform(-2.0, 2.0, c)
    eps = 0.01
    w_t, b_t = fuse_conv_bn_weights(
        *(torch.tensor(a) for a in (W, b, mean, var)), eps, torch.tensor(gamma), torch.tensor(beta)
    )
    w_ref, b_ref = w_t.detach().numpy(), b_t.detach().numpy()
    parts, verdict = _two_arrays(
        fn, (W.copy(), b.copy(), mean.copy(), var.copy(), gamma.copy(), beta.copy(), eps),
        (W.shape, (c,)), {0: "W", 1: "b", 2: "mean", 3: "var", 4: "gamma", 5: "beta"},
    )  # fmt: skip
    if verdict:
        return verdict
    W2, b2 = parts
    s = gamma / np.sqrt(var + eps)

    def per_out(v):  # (C,) -> (C, 1, 1, 1): one number per output channel
        return v[:, None, None, None]

    w_verdict = compare(
        W2, w_ref,
        [
            (W * s[None, :, None, None], "you scaled the input channels; batch norm acts on "
             "the convolution's outputs: scale W[o] by s[o] (`W * s[:, None, None, None]`)"),
            (W * per_out(gamma / np.sqrt(var)), "eps is missing: s = gamma / sqrt(var + eps)"),
            (W * per_out(gamma / (var + eps)), "the square root is missing: "
             "s = gamma / sqrt(var + eps)"),
            (W * per_out(1 / np.sqrt(var + eps)), "gamma is missing: s = gamma / sqrt(var + eps)"),
            (W * per_out(gamma * np.sqrt(var + eps)), "you multiplied by the standard "
             "deviation; batch norm divides by it: s = gamma / sqrt(var + eps)"),
        ],
        "W2 is not W with output channel o scaled by s[o] = gamma[o] / sqrt(var[o] + eps).",
        prefix="In W2, ",
    )  # fmt: skip
    b_verdict = compare(
        b2, b_ref,
        [
            (b * s - mean + beta, "the mean must be scaled too: b2 = (b - mean) * s + beta"),
            (b - mean * s + beta, "the old bias must be scaled too: b2 = (b - mean) * s + beta"),
            ((b - mean) * s, "beta is missing: b2 = (b - mean) * s + beta"),
            (beta - mean * s, "the old bias b is missing: b2 = (b - mean) * s + beta"),
            ((b + mean) * s + beta, "the mean is subtracted: b2 = (b - mean) * s + beta"),
        ],
        "The folded bias b2 is not (b - mean) * s + beta, with s = gamma / sqrt(var + eps).",
        prefix="In b2, ",
    )  # fmt: skip
    return _both(
        w_verdict, b_verdict,
        "Batch norm with its running statistics is a fixed affine map per channel, and the "
        "convolution before it absorbs it: at inference the norm costs nothing.",
    )  # fmt: skip
