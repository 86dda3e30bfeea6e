"""Checkers of chapter 14's exercises (outliers, vision, conditioning)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...checking import (
    CORRECT,
    Verdict,
    checker,
    compare,
    ln_rows,
    returned_array,
    wrong,
)


@checker
def outlier_limit(fn: Callable[[int], np.ndarray]) -> Verdict:
    """Chapter 14: ``fn(d)`` returns the (d,) layer-norm outputs (no gamma, beta, eps) of a
    token whose channel 0 is M, in the limit M -> infinity, the other channels finite."""
    for d in (4, 16):  # two widths, so that an answer written for one D does not pass
        y, verdict = returned_array(fn, (d,), (d,), name=f"outlier_limit({d})")
        if verdict:
            return verdict
        expected = np.full(d, -1 / np.sqrt(d - 1))
        expected[0] = np.sqrt(d - 1)

        def with_(outlier, others, d=d):
            v = np.full(d, float(others))
            v[0] = outlier
            return v

        known = [
            (
                with_(np.sqrt(d), 0),
                "that is RMSNorm's limit (the outlier at sqrt(D), the "
                "others at 0); layer norm also subtracts the mean, about M / D, from every "
                "channel",
            ),
            (
                with_(np.sqrt(d - 1), 0),
                "the outlier is right, but the others are not 0: the "
                "mean M / D is subtracted from them too, and the standard deviation is about "
                "M sqrt(D - 1) / D",
            ),
            (
                with_((d - 1) / np.sqrt(d), -1 / np.sqrt(d)),
                "you used the unbiased standard deviation (its variance divides by D - 1); "
                "layer norm's divides by D, which makes the token's standard deviation "
                "M sqrt(D - 1) / D",
            ),
            (
                with_(0, 0),
                "the outputs cannot all vanish: layer norm's outputs always have "
                "mean 0 and variance 1, so their squares sum to D",
            ),
            (-expected, "the sign is flipped: the outlier lies above the mean"),
            (with_(d - 1, -1), "divide by the standard deviation M sqrt(D - 1) / D, not by M / D"),
        ]
        verdict = compare(
            y,
            expected,
            known,
            wrong(
                f"outlier_limit({d}) is not the limit. Write the token's mean and standard "
                "deviation for a large M (the other channels are negligible next to M) and "
                "put them into (x - mu) / sigma for channel 0 and for another channel.",
                answer=f"Expected sqrt(D - 1) = {np.sqrt(d - 1):.4g} for channel 0 and "
                f"-1 / sqrt(D - 1) = {-1 / np.sqrt(d - 1):.4g} for the others.",
            ),
            prefix=f"With D = {d}: ",
        )
        if not verdict.passed:
            return verdict
    return Verdict(
        CORRECT,
        "The outlier takes sqrt(D - 1) and every other channel -1 / sqrt(D - 1), whatever its "
        "own value: the outputs' squares still sum to D, but nearly all of it sits in one "
        "channel, and the others carry no information about their inputs.",
    )


@checker
def channels_last_layer_norm(fn: Callable[[np.ndarray], np.ndarray]) -> Verdict:
    """Chapter 14: ``fn(x)`` normalizes an (N, C, H, W) batch as ConvNeXt's channels-last
    layer norm does: each pixel of each image over its C channels, eps 1e-6, no affine."""
    rng = np.random.default_rng(14)
    # Channels, height and width all different, and offsets per channel and per pixel, so
    # that statistics over any other axes give other values.
    x = rng.normal(size=(2, 3, 4, 5)) * np.array([1.0, 3.0, 0.5])[:, None, None] + np.arange(5)
    eps = 1e-6
    y, verdict = returned_array(fn, (x.copy(),), x.shape, read_only={0: "x"})
    if verdict:
        return verdict
    known = [
        (
            ln_rows(x.reshape(2, -1), eps).reshape(x.shape),
            "That is layer norm over (C, H, W), "
            "which equals group norm with one group: one mean per image. Channels-last takes "
            "one mean per pixel, over the channel axis (axis=1) alone",
        ),
        (
            ln_rows(x, eps, axis=(2, 3)),
            "That is instance norm: one mean per channel over "
            "the pixels (axes 2, 3). Channels-last averages over the channels (axis=1)",
        ),
        (
            ln_rows(x, eps, axis=-1),
            "You normalized over the last axis, the width W. In "
            "(N, C, H, W) the channels are axis 1 (or move them last, as ConvNeXt does)",
        ),
        (
            ln_rows(x, eps, axis=0),
            "You normalized across the batch (axis 0): that is a batch "
            "statistic. Channels-last averages over the channels (axis=1)",
        ),
        (
            ln_rows(x, eps, ddof=1, axis=1),
            "You used the unbiased variance (divide by C - 1); layer norm divides by C",
        ),
        (
            ln_rows(x, eps, eps_outside=True, axis=1),
            "You added eps to the standard "
            "deviation; layer norm adds it to the variance, inside the square root",
        ),
    ]
    return compare(
        y,
        ln_rows(x, eps, axis=1),
        known,
        "The values differ from (x - mu) / sqrt(var + eps) with mu and var taken over axis 1 "
        "(keepdims=True).",
        success="Each pixel is normalized over its channels: the same numbers as ViT's "
        "per-token layer norm on the patch grid, and not group norm with one group.",
    )


def _silu(z: np.ndarray) -> np.ndarray:
    return z / (1 + np.exp(-z))


@checker
def ada_ln(fn: Callable[..., np.ndarray]) -> Verdict:
    """Chapter 14: ``fn(x, c, w, b)``: DiT's adaptive layer norm. ``(shift, scale) =
    silu(c) @ w + b`` split in two halves (shift first), then ``x_hat * (1 + scale) +
    shift``, with ``x_hat`` the layer norm of each row of x (eps 1e-6, no affine).

    x : (B, D); c : (B, K); w : (K, 2 D); b : (2 D,)
    """
    rng = np.random.default_rng(4)
    n, d, k = 3, 5, 4
    x = rng.normal(1.0, 2.0, size=(n, d))
    c = rng.normal(size=(n, k))
    w = rng.normal(size=(k, 2 * d))
    b = rng.normal(size=2 * d)
    args = (x.copy(), c.copy(), w.copy(), b.copy())
    y, verdict = returned_array(fn, args, (n, d), read_only={0: "x", 1: "c", 2: "w", 3: "b"})
    if verdict:
        return verdict
    x_hat = ln_rows(x, 1e-6)

    def adaptive(pre, first_shift=True, one_plus=True, norm=x_hat):
        out = pre @ w + b
        shift, scale = (out[:, :d], out[:, d:]) if first_shift else (out[:, d:], out[:, :d])
        return norm * ((1 + scale) if one_plus else scale) + shift

    known = [
        (
            adaptive(_silu(c), one_plus=False),
            "The scale multiplies as 1 + scale: a "
            "predicted scale of 0 must leave x_hat as it is (that is what lets a zero-initialized "
            "predictor start from plain layer norm)",
        ),
        (
            adaptive(_silu(c), first_shift=False),
            "The two halves are swapped: the first D outputs are the shift, the next D the scale",
        ),
        (adaptive(c), "Apply the SiLU, c * sigmoid(c), to the condition before the linear map"),
        (
            adaptive(_silu(c), norm=x),
            "Normalize x first: x_hat = (x - mu) / sqrt(var + eps) over each row",
        ),
        (
            adaptive(_silu(c), norm=ln_rows(x, 1e-6, axis=0)),
            "Normalize each row of x (an example), not each column",
        ),
    ]
    return compare(
        y,
        adaptive(_silu(c)),
        known,
        "The values differ from x_hat * (1 + scale) + shift with (shift, scale) the two "
        "halves of silu(c) @ w + b.",
        success="The condition now sets gamma = 1 + scale and beta = shift for each example: "
        "one layer norm, a different affine per class (or time step).",
    )
