"""Chapter 14's experiments: one huge channel, layer norm on images, conditional layer norm.

Outliers: a token with one channel of size M among D - 1 ordinary ones, through layer
norm, RMSNorm and DyT (:func:`outlier_norms`, :func:`outlier_sweep`, the closed form
:func:`squash_closed_form`); a large gamma on one channel (:func:`gamma_amplification`);
tokens with and without the outlier pooled, which bends layer norm's map into chapter 7's S
(:func:`outlier_s_curve`); and the channel sizes of a small trained transformer's norm
inputs (:func:`trained_channel_sizes`). Vision: which layer norms of an image batch equal
group norm (:func:`patch_tokens`, :func:`vision_equivalences`). Conditioning: adaLN-Zero
starts as the identity (:func:`identity_at_init`), and a class-conditional denoiser of the
digits with each way of conditioning (:func:`conditioning_runs`). NumPy throughout, but for
the trained models (torch is loaded inside those functions).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ... import numpy_ln
from ..._optional import require_torch
from ..._results import remembered
from ..._validate import check_choices, check_floats, check_int, check_ints
from ...data import digits
from ...training import (
    copy_batch,
    copy_task_model,
    fit_denoiser,
    one_torch_thread,
    train_copy_transformer,
)
from ..batch_norm.experiments import normalize_over
from ..variants.experiments import fit_tanh

# The outlier sizes of the chapter's slider: from an ordinary value to 256 standard deviations.
OUTLIER_SIZES = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0)
DYT_ALPHA = 0.5  # lnbook.models.DyT's initial alpha, the default of Zhu et al. (2025)


def _check_size(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def outlier_tokens(m: float, d: int = 16, *, n_tokens: int = 256, seed: int = 0) -> np.ndarray:
    """``n_tokens`` tokens of ``d`` channels: channel 0 is ``m``, the others standard normal.

    The same ordinary channels are drawn for every ``m`` (given ``seed``), so only the
    outlier changes between calls. Returns (n_tokens, d).
    """
    m = _check_size("m", m)
    check_int("d", d, 3)
    check_int("n_tokens", n_tokens, 1)
    x = np.random.default_rng(seed).standard_normal((n_tokens, d))
    x[:, 0] = m
    return x


def squash_closed_form(m, d: int, others_mean=0.0, others_var=1.0, eps: float = 1e-5) -> dict:
    """What layer norm and RMSNorm do to a token whose channel 0 is ``m``, in closed form.

    The other D - 1 channels have mean ``others_mean`` and (population) variance
    ``others_var``. Then the token's mean is mu = ((D-1) m_o + M) / D and its variance
    var = (D-1)/D s^2 + (D-1)/D^2 (M - m_o)^2: the outlier enters the variance squared.
    Every argument broadcasts (one value per token, or per M).

    Returns
    -------
    dict of arrays: ``mu``, ``sigma`` (layer norm's statistics), ``ln_others_std`` (the
    standard deviation of the other channels' outputs, s / sigma), ``ln_outlier`` (the
    outlier's output), ``rms``, ``rms_others_std``, ``rms_outlier`` (the same for RMSNorm)
    """
    check_int("d", d, 3)
    m, m_o, s2 = (np.asarray(v, dtype=np.float64) for v in (m, others_mean, others_var))
    mu = ((d - 1) * m_o + m) / d
    var = (d - 1) / d * s2 + (d - 1) / d**2 * (m - m_o) ** 2
    sigma = np.sqrt(var + eps)
    ms = ((d - 1) * (s2 + m_o**2) + m**2) / d  # the mean square, RMSNorm's statistic
    rms = np.sqrt(ms + eps)
    return {
        "mu": mu,
        "sigma": sigma,
        "ln_others_std": np.sqrt(s2) / sigma,
        "ln_outlier": (m - mu) / sigma,
        "rms": rms,
        "rms_others_std": np.sqrt(s2) / rms,
        "rms_outlier": m / rms,
    }


def outlier_norms(
    m: float, d: int = 16, *, alpha: float = DYT_ALPHA, n_tokens: int = 256, seed: int = 0
) -> dict:
    """Layer norm, RMSNorm and DyT (gamma 1, beta 0) of tokens with an outlier channel.

    Measured on :func:`outlier_tokens` with ``numpy_ln``, both norms with eps 1e-5 (layer
    norm's default, and the closed form's), next to :func:`squash_closed_form` fed each
    token's own other channels.

    Returns
    -------
    dict with ``x`` (d,) the first token and its outputs ``layer``, ``rms``, ``dyt`` (d,);
    per token (n_tokens,): ``mu``, ``sigma``, ``ln_others_std``, ``rms_others_std``,
    ``dyt_others_std`` (the other channels' output spread), ``ln_outlier``, ``rms_outlier``,
    ``dyt_outlier``, and ``predicted``: the closed form's dict, per token
    """
    alpha = _check_size("alpha", alpha)
    x = outlier_tokens(m, d, n_tokens=n_tokens, seed=seed)  # (T, d)
    ln = numpy_ln.layer_norm(x, d)
    rms = numpy_ln.rms_norm(x, d, eps=1e-5)  # the closed form's eps, layer norm's default
    dyt = np.tanh(alpha * x)  # DyT: each value on its own, no statistic of the token
    others = x[:, 1:]
    return {
        "m": float(m),
        "d": d,
        "x": x[0],
        "layer": ln[0],
        "rms": rms[0],
        "dyt": dyt[0],
        "mu": x.mean(axis=1),
        "sigma": x.std(axis=1),
        "ln_others_std": ln[:, 1:].std(axis=1),
        "rms_others_std": rms[:, 1:].std(axis=1),
        "dyt_others_std": dyt[:, 1:].std(axis=1),
        "ln_outlier": ln[:, 0],
        "rms_outlier": rms[:, 0],
        "dyt_outlier": dyt[:, 0],
        "predicted": squash_closed_form(m, d, others.mean(axis=1), others.var(axis=1)),
    }


def outlier_sweep(
    ms: Sequence[float] = OUTLIER_SIZES, d: int = 16, *, n_tokens: int = 256, seed: int = 0
) -> dict:
    """:func:`outlier_norms` over outlier sizes: the other channels' output spread.

    Returns
    -------
    dict with ``ms`` (K,), ``d``; for "ln", "rms", "dyt": ``<norm>_others_std`` (K, n_tokens)
    measured; ``typical``: :func:`squash_closed_form` with the others' expected mean 0 and
    variance 1 (K,) per key; ``runs``: the K results of :func:`outlier_norms`
    """
    ms = check_floats("ms", ms)
    runs = [outlier_norms(m, d, n_tokens=n_tokens, seed=seed) for m in ms]
    out = {"ms": np.asarray(ms, dtype=np.float64), "d": d, "runs": runs}
    for norm in ("ln", "rms", "dyt"):
        out[f"{norm}_others_std"] = np.array([r[f"{norm}_others_std"] for r in runs])
    out["typical"] = squash_closed_form(out["ms"], d)
    return out


def gamma_amplification(
    gamma_out: float, d: int = 16, *, n_tokens: int = 256, d_next: int = 8, seed: int = 0
) -> dict:
    """A large gamma on one channel makes an outlier after the norm; migrating it removes it.

    Tokens are standard normal (no outlier in the input). Layer norm with gamma 1 but
    ``gamma_out`` on channel 0 and a beta, then a linear layer ``W`` (d, d_next). Wei et al.
    (2022) move gamma into the next layer (keeping ``beta / gamma`` in the norm); this
    variant moves beta too: ``(x_hat * gamma + beta) @ W = x_hat @ (gamma[:, None] * W) +
    beta @ W``, the same function with a norm output that has no outlier.

    Returns
    -------
    dict with ``ratio_before``: channel 0's rms over the median channel's, after the norm
    with gamma; ``ratio_after``: the same after the norm without gamma (migrated);
    ``migration_error``: the largest difference of the next layer's outputs (rounding)
    """
    gamma_out = _check_size("gamma_out", gamma_out)
    check_int("d", d, 2)  # channel 0 against the median of the others: at least one other
    check_int("n_tokens", n_tokens, 1)
    check_int("d_next", d_next, 1)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_tokens, d))
    gamma = np.ones(d)
    gamma[0] = gamma_out
    beta = 0.1 * rng.standard_normal(d)
    w = rng.standard_normal((d, d_next)) / np.sqrt(d)
    y = numpy_ln.layer_norm(x, d, gamma, beta)  # (T, d): the norm with its gamma
    x_hat = numpy_ln.layer_norm(x, d)  # the norm without gamma, beta: what is quantized now
    migrated = x_hat @ (gamma[:, None] * w) + beta @ w

    def ratio(h):
        ch = np.sqrt((h * h).mean(axis=0))  # (d,): each channel's rms over the tokens
        return float(ch[0] / np.median(ch[1:]))

    return {
        "ratio_before": ratio(y),
        "ratio_after": ratio(x_hat),
        "migration_error": float(np.abs(y @ w - migrated).max()),
    }


def outlier_s_curve(
    fraction: float, m: float = 20.0, *, n_tokens: int = 32, d: int = 16, seed: int = 0
) -> dict:
    """Layer norm's pooled input/output map when some tokens carry an outlier channel.

    A ``fraction`` of the standard-normal tokens get channel 0 = ``m``. Those tokens have a
    large spread, so their other values land on a shallow line: pooled with the ordinary
    tokens, chapter 7's S (:func:`lnbook.topics.variants.experiments.fit_tanh` measures the
    bend). In the format of chapter 7's ``s_curve``, so its figures draw it.

    Returns
    -------
    dict with ``x``, ``y`` (n_tokens * d,), ``token_scale``, ``dyt`` (DyT's output of ``x``
    at :data:`DYT_ALPHA`) and the fits of ``fit_tanh``
    """
    fraction = _check_size("fraction", fraction)
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    x = outlier_tokens(m, d, n_tokens=n_tokens, seed=seed)
    ordinary = np.random.default_rng(seed + 1).standard_normal(n_tokens)
    x[:, 0] = np.where(np.arange(n_tokens) < round(fraction * n_tokens), m, ordinary)
    y = numpy_ln.layer_norm(x, d)
    token_std = np.broadcast_to(x.std(axis=-1, keepdims=True), x.shape)
    return {
        "x": x.ravel(),
        "y": y.ravel(),
        "token_scale": token_std.ravel(),
        "dyt": np.tanh(DYT_ALPHA * x).ravel(),
        **fit_tanh(x, y),
    }


# ---------------------------------------------------------- a small trained transformer ----


def _channel_stats(x: np.ndarray) -> dict[str, float]:
    """Outlier measures of one norm's input (..., d): its largest channel's rms over the
    median channel's, the largest |value| over the median |value|, and the kurtosis (3
    for a Gaussian; outlier features raise it)."""
    x = x.reshape(-1, x.shape[-1])
    ch = np.sqrt((x * x).mean(axis=0))
    v = x.ravel()
    return {
        "channel_ratio": float(ch.max() / np.median(ch)),
        "value_ratio": float(np.abs(v).max() / np.median(np.abs(v))),
        "kurtosis": float(((v - v.mean()) ** 4).mean() / v.var() ** 2),
    }


def norm_inputs(model, rng: np.random.Generator, batch: int = 64) -> list[np.ndarray]:
    """The input of every norm layer of a copy-task transformer on one batch, in order.

    Returns a list of (batch, T, d) float64 arrays, one per norm (lnbook.models.norm_layers).
    """
    torch = require_torch()
    from ... import models

    seen = []
    with one_torch_thread():
        hooks = [
            n.register_forward_hook(lambda _m, inp, _out: seen.append(inp[0].detach()))
            for n in models.norm_layers(model)
        ]
        try:
            with torch.no_grad():
                model(copy_batch(rng, batch)[:, :-1])
        finally:
            for h in hooks:
                h.remove()
    return [s.numpy().astype(np.float64) for s in seen]


@remembered
def trained_channel_sizes(
    seeds: Sequence[int] = (0, 1, 2),
    *,
    steps: int = 150,
    n_layers: int = 2,
    d: int = 32,
    lr: float = 1e-2,
) -> dict:
    """Outlier measures of every norm input of chapter 5's pre-norm copy-task transformer,
    at initialization and after training, per seed.

    Returns
    -------
    dict with ``init`` and ``trained``: measure -> (S, n_norms) (see ``_channel_stats``),
    ``loss`` (S,) the mean training loss of the last 20 steps
    """
    seeds = check_ints("seeds", seeds, 0)
    torch = require_torch()
    out = {"init": [], "trained": [], "loss": []}
    for seed in seeds:
        torch.manual_seed(seed)  # the same initial weights as the run below
        fresh = copy_task_model("pre", n_layers, d)
        out["init"].append(
            [_channel_stats(h) for h in norm_inputs(fresh, np.random.default_rng(seed))]
        )
        m, loss, rng = train_copy_transformer("pre", n_layers, d, steps=steps, lr=lr, seed=seed)
        out["trained"].append([_channel_stats(h) for h in norm_inputs(m, rng)])
        out["loss"].append(float(loss[-20:].mean()))
    result = {"loss": np.array(out["loss"]), "seeds": np.asarray(seeds)}
    for when in ("init", "trained"):
        result[when] = {
            k: np.array([[s[k] for s in row] for row in out[when]]) for k in out[when][0][0]
        }
    return result


# ---------------------------------------------------------------------------- vision ----


def patch_tokens(images: np.ndarray, patch: int) -> np.ndarray:
    """Cut 8x8 images into non-overlapping ``patch`` x ``patch`` patches, row by row.

    Parameters
    ----------
    images : (N, 64) flattened 8x8 images

    Returns
    -------
    (N, (8 / patch)^2, patch^2): one token per patch, its pixels flattened
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 2 or images.shape[1] != 64:
        raise ValueError(f"images must be (N, 64) flattened 8x8 images, got shape {images.shape}")
    if patch not in (1, 2, 4, 8):
        raise ValueError(f"patch must divide 8 (1, 2, 4 or 8), got {patch!r}")
    g = 8 // patch
    x = images.reshape(-1, g, patch, g, patch)  # (N, rows of patches, py, cols, px)
    return x.transpose(0, 1, 3, 2, 4).reshape(len(images), g * g, patch * patch)


def vision_equivalences(n: int = 16, channels: int = 8, patch: int = 2, *, seed: int = 0) -> dict:
    """Which layer norms of a batch of feature maps are one another, on the digits.

    ViT's patch embedding: each ``patch`` x ``patch`` patch of a digit, times a random
    (patch^2, channels) matrix plus a bias, is a token of ``channels`` features; laid on the
    patch grid the tokens are an (N, C, H, W) feature map (the same numbers). Compared, as
    largest absolute differences:

    ``ln_chw_vs_gn1``: layer norm over (C, H, W) vs group norm with 1 group (equal);
    ``tokens_vs_channels_last``: ViT's per-token layer norm vs ConvNeXt's channels-last
    layer norm (each pixel over its C channels) on the grid (equal);
    ``channels_last_vs_gn1``: channels-last vs group norm with 1 group (not equal);
    ``gn1_affine_vs_ln_affine``: group norm's per-channel gamma, beta vs layer norm over
    (C, H, W) with them repeated over the positions (equal: GN's affine is a special case).
    """
    check_int("channels", channels, 2)
    images, _ = digits(n, seed=seed)
    rng = np.random.default_rng(seed)
    tokens = patch_tokens(images / 16.0, patch)  # (N, T, p^2), pixels in [0, 1]
    w = rng.standard_normal((patch * patch, channels))
    b = rng.standard_normal(channels)
    tokens = tokens @ w + b  # (N, T, C)
    g = 8 // patch
    grid = tokens.reshape(n, g, g, channels).transpose(0, 3, 1, 2)  # (N, C, H, W)
    per_token = numpy_ln.layer_norm(tokens, channels)  # (N, T, C)
    channels_last = normalize_over(grid, (1,))  # each pixel over its channels
    gn1 = numpy_ln.group_norm(grid, 1)
    ln_chw = numpy_ln.layer_norm(grid, grid.shape[1:])
    gamma, beta = rng.standard_normal(channels), rng.standard_normal(channels)
    gn1_affine = numpy_ln.group_norm(grid, 1, gamma, beta)
    spread = (channels, g, g)
    ln_affine = numpy_ln.layer_norm(
        grid,
        spread,
        np.broadcast_to(gamma[:, None, None], spread).copy(),
        np.broadcast_to(beta[:, None, None], spread).copy(),
    )
    return {
        "grid": grid,
        "ln_chw_vs_gn1": float(np.abs(ln_chw - gn1).max()),
        "tokens_vs_channels_last": float(
            np.abs(per_token - channels_last.transpose(0, 2, 3, 1).reshape(tokens.shape)).max()
        ),
        "channels_last_vs_gn1": float(np.abs(channels_last - gn1).max()),
        "gn1_affine_vs_ln_affine": float(np.abs(gn1_affine - ln_affine).max()),
        "params_gn": 2 * channels,
        "params_ln": 2 * channels * g * g,
    }


# ---------------------------------------------------------------------- conditioning ----


def identity_at_init(d: int = 32, *, n: int = 64, seed: int = 0) -> dict[str, float]:
    """Largest |block(x, c) - x| over a batch at initialization, per way of conditioning.

    adaLN-Zero's gate and modulation start at 0, so its block is exactly the identity; the
    other blocks start as some random function added to x.
    """
    torch = require_torch()
    from ...conditioning import MODES, CondBlock

    torch.manual_seed(seed)
    x, c = torch.randn(n, d), torch.randn(n, d)
    with torch.no_grad():
        return {m: float((CondBlock(d, d, 2 * d, m)(x, c) - x).abs().max()) for m in MODES}


@remembered
def conditioning_runs(
    modes: Sequence[str] = ("adaLN-Zero", "adaLN", "concat", "none"),
    seeds: Sequence[int] = (0, 1, 2),
    *,
    steps: int = 200,
    noise: float = 1.0,
    d: int = 32,
) -> dict:
    """Train the class-conditional denoiser of the digits with each way of conditioning.

    Returns
    -------
    dict with ``modes``, ``seeds``, ``loss`` mode -> (S, steps) training losses and
    ``held_out`` mode -> (S,) the held-out mean squared error
    """
    seeds = check_ints("seeds", seeds, 0)
    require_torch()
    from ...conditioning import MODES  # the denoiser's

    modes = check_choices(
        "modes", modes, MODES, kind="conditioning modes", example='("adaLN-Zero",)'
    )
    loss, held_out = {}, {}
    for mode in modes:
        runs = [fit_denoiser(mode, seed=s, steps=steps, noise=noise, d=d)[1:] for s in seeds]
        loss[mode] = np.array([r[0] for r in runs])
        held_out[mode] = np.array([r[1] for r in runs])
    return {"modes": tuple(modes), "seeds": tuple(seeds), "loss": loss, "held_out": held_out}
