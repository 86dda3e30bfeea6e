"""Chapter 7's experiments: RMSNorm, other normalizations, eps, and pitfalls.

What RMSNorm gives up (:func:`recentering`, :func:`shifted_norms`,
:func:`gradient_properties`), the norms compared in training (:func:`norm_comparison`, on
chapter 2's :func:`lnbook.training.train_digits_mlp`), the S-shaped map of a trained layer norm
(:func:`norm_map`, on chapter 5's transformer trained in :func:`copy_comparison` or
:func:`norm_input_output`; :func:`s_curve`, :func:`fit_tanh`),
eps (:func:`eps_defaults`, :func:`eps_gain`) and the pitfalls card (:func:`pitfalls`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ... import numpy_ln
from ..._optional import require_torch
from ..._results import remembered
from ..._validate import check_batch, check_choices, check_int, check_ints, float_array
from ...training import copy_batch, one_torch_thread, train_copy_transformer, train_digits_mlp
from ..batch_norm.experiments import normalize_over
from ..from_scratch.experiments import layer_norm_one_pass


def recentering(
    x: np.ndarray, shift: float = 3.0, scale: float = 2.0, eps: float = 1e-5
) -> dict[str, float]:
    """What RMSNorm gives up: invariance to a shift of an example's features.

    Each example of ``x`` gets ``shift`` added to all its features, or is multiplied by
    ``scale``; returned is the largest change of the output of layer norm and of RMSNorm
    (both with ``eps``). Both ignore the scale, up to eps; only layer norm, which subtracts
    the mean, ignores the shift.

    Returns
    -------
    dict with ``ln_shift``, ``rms_shift``, ``ln_scale``, ``rms_scale`` (floats)
    """
    x = check_batch(x)
    d = x.shape[1]

    def change(norm, moved) -> float:
        return float(np.abs(norm(moved, d, eps=eps) - norm(x, d, eps=eps)).max())

    return {
        "ln_shift": change(numpy_ln.layer_norm, x + shift),
        "rms_shift": change(numpy_ln.rms_norm, x + shift),
        "ln_scale": change(numpy_ln.layer_norm, x * scale),
        "rms_scale": change(numpy_ln.rms_norm, x * scale),
    }


@remembered
def norm_comparison(
    norms: Sequence[str] = ("layer", "rms", "dyt", "layer_detached"),
    *,
    seeds: Sequence[int] = (0, 1, 2),
    steps: int = 400,
    lr: float = 3e-3,
) -> dict[str, dict[str, np.ndarray]]:
    """Train the digits MLP (AdamW, as in chapter 2) with each normalization, over seeds.

    Returns
    -------
    norm -> dict with ``loss`` (S, steps) the training loss and ``accuracy`` (S,) the
    held-out accuracy of each seed
    """
    seeds = check_ints("seeds", seeds, 0)
    require_torch()
    from ...models import NORMS  # the MLP's norms

    norms = check_choices("norms", norms, NORMS, kind="norm names", example='("layer",)')
    out = {}
    for norm in norms:
        runs = [train_digits_mlp(norm=norm, steps=steps, lr=lr, seed=s) for s in seeds]
        out[norm] = {
            "loss": np.array([r["loss"] for r in runs]),
            "accuracy": np.array([r["test_accuracy"] for r in runs]),
        }
    return out


@remembered
def norm_input_output(
    norm_index: int = -1,
    *,
    steps: int = 300,
    n_layers: int = 4,
    d: int = 32,
    lr: float = 3e-3,
    n_points: int = 2000,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """What one layer norm of a trained transformer does to each value: input against output.

    Zhu et al. (2025) noticed that, in trained transformers, many layer norms map input to
    output along an S-shaped, tanh-like curve: per token the map is linear, but tokens with
    large activations are divided by a large standard deviation, which squashes the
    extremes. We train the chapter-5 pre-norm transformer on the copy task, run one batch,
    and record the input of one layer norm (``norm_index`` in the model's order) and its
    output before the learned affine step (as Zhu et al. plot it).

    Returns
    -------
    dict with ``x`` and ``y`` (n_points,) sampled input/output pairs, ``token_scale``
    (n_points,) the standard deviation of each value's token, ``loss`` (steps,), and the
    fits of :func:`fit_tanh`
    """
    m, losses, rng = train_copy_transformer("pre", n_layers, d, steps=steps, lr=lr, seed=seed)
    return {**norm_map(m, rng, norm_index, n_points=n_points), "loss": losses}


def norm_map(model, rng: np.random.Generator, norm_index: int = -1, *, n_points: int = 2000):
    """Input against output of one layer norm of a trained copy-task transformer.

    Runs one batch of 64 sequences drawn from ``rng`` (the generator the training batches
    came from) and records the input of the ``norm_index``-th norm layer and its output
    before the learned affine step (as Zhu et al. plot it), at ``n_points`` sampled values.

    Returns
    -------
    dict with ``x`` and ``y`` (n_points,) sampled input/output pairs, ``token_scale``
    (n_points,) the standard deviation of each value's token, and the fits of
    :func:`fit_tanh`
    """
    torch = require_torch()

    from ... import models

    with one_torch_thread():
        norm = models.norm_layers(model)[norm_index]
        seen = {}
        hook = norm.register_forward_hook(lambda _m, inp, out: seen.update(x=inp[0].detach()))
        with torch.no_grad():
            model(copy_batch(rng, 64)[:, :-1])
        hook.remove()
    x = seen["x"].numpy().astype(np.float64)  # (B, T, d)
    d = x.shape[-1]
    y = numpy_ln.layer_norm(x, d, eps=norm.eps)  # the norm's output before gamma and beta
    # The per-token standard deviation, repeated for each of the token's d values.
    token_std = np.broadcast_to(x.std(axis=-1, keepdims=True), x.shape).ravel()
    xs, ys = x.ravel(), y.ravel()
    pick = rng.choice(len(xs), size=min(n_points, len(xs)), replace=False)
    return {
        "x": xs[pick],
        "y": ys[pick],
        "token_scale": token_std[pick],
        **fit_tanh(xs[pick], ys[pick]),
    }


@remembered
def copy_comparison(
    norms: Sequence[str] = ("layer", "rms", "dyt", "layer_detached"),
    *,
    seeds: Sequence[int] = (0, 1, 2),
    steps: int = 100,
    n_layers: int = 4,
    d: int = 32,
    lr: float = 1e-2,
) -> dict:
    """Train chapter 5's pre-norm transformer on the copy task with each normalization,
    over seeds; and, for layer norm, record its final norm's map (:func:`norm_map`).

    One training run serves both of chapter 7's questions (does the norm train? how bent
    is a trained layer norm's map?), so the transformers are trained once.

    Returns
    -------
    dict with ``loss``: norm -> (S, steps) training losses, and ``maps``: one
    :func:`norm_map` of the last layer norm per seed, if "layer" is among ``norms``
    """
    seeds = check_ints("seeds", seeds, 0)
    require_torch()
    from ...models import NORMS

    # The transformer's norms: all of the MLP's but batch norm (TinyTransformer refuses it)
    allowed = tuple(n for n in NORMS if n != "batch")
    norms = check_choices("norms", norms, allowed, kind="norm names", example='("layer",)')
    loss, maps = {}, []
    for norm in norms:
        rows = []
        for s in seeds:
            m, losses, rng = train_copy_transformer(
                "pre", n_layers, d, steps=steps, lr=lr, norm=norm, seed=s
            )
            rows.append(losses)
            if norm == "layer":
                maps.append(norm_map(m, rng, -1))
        loss[norm] = np.array(rows)
    return {"loss": loss, "maps": maps}


def fit_tanh(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Least-squares fits of ``y ~ gamma * tanh(alpha * x)`` and of ``y ~ slope * x``.

    For each alpha on a grid, the best gamma is ``<y, t> / <t, t>`` with
    ``t = tanh(alpha x)``; the best line through 0 likewise. A tanh whose error is well
    below the line's means the point cloud bends: an S-shape.

    Parameters
    ----------
    x, y : (P,) paired values

    Returns
    -------
    dict with ``alpha``, ``gamma``, ``tanh_err`` (mean squared error of the tanh),
    ``slope`` and ``linear_err`` (of the line)
    """
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    if x.shape != y.shape or x.size < 2:
        raise ValueError(
            f"x and y must hold the same number (>= 2) of values, got {x.shape}, {y.shape}"
        )
    best = (np.inf, 0.0, 0.0)
    for alpha in np.geomspace(0.01, 100, 300):
        t = np.tanh(alpha * x)
        gamma = float((y * t).sum() / (t * t).sum())
        err = float(((y - gamma * t) ** 2).mean())
        best = min(best, (err, float(alpha), gamma))
    slope = float((x * y).sum() / (x * x).sum())
    return {
        "alpha": best[1],
        "gamma": best[2],
        "tanh_err": best[0],
        "slope": slope,
        "linear_err": float(((y - slope * x) ** 2).mean()),
    }


S_CURVE_SPREADS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)


def s_curve(spread: float, *, n_tokens: int = 32, d: int = 16, seed: int = 0) -> dict:
    """Layer norm's input/output map over tokens whose scales differ, which bends it.

    Token ``t`` is ``s_t * z_t`` with ``z_t`` standard normal features and a scale
    ``s_t = exp(spread * u_t)``, ``u_t`` standard normal. Each token's map is a straight
    line of slope ``1 / std(x_t)``; pooled over tokens, the large-scale tokens reach far
    out along shallow lines, the small ones stay near 0 on steep lines: together an S.
    The same ``z`` and ``u`` are drawn for every ``spread`` (given ``seed``), so only the
    spread changes between calls.

    Returns
    -------
    dict with ``x``, ``y`` (n_tokens * d,) input and output values, ``token_scale`` (same
    length) each value's token standard deviation, and the fits of :func:`fit_tanh`
    """
    if not (isinstance(spread, int | float) and np.isfinite(spread) and spread >= 0):
        raise ValueError(f"spread must be a finite number >= 0, got {spread!r}")
    check_int("n_tokens", n_tokens, 1)
    check_int("d", d, 2)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_tokens, d))  # (T, d)
    u = rng.standard_normal((n_tokens, 1))  # (T, 1)
    x = z * np.exp(spread * u)
    y = numpy_ln.layer_norm(x, d)
    token_std = np.broadcast_to(x.std(axis=-1, keepdims=True), x.shape)
    return {
        "x": x.ravel(),
        "y": y.ravel(),
        "token_scale": token_std.ravel(),
        **fit_tanh(x, y),
    }


def layer_norm_tutorial_style(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Layer norm as some well-known tutorial code writes it: ``(x - mean) / (std + eps)``
    with the *unbiased* standard deviation (``torch.std``'s default). Shown as a pitfall;
    it is another function than ``torch.nn.LayerNorm``'s."""
    x = float_array(x)  # an array as it is; a list, ints as float64; ragged rows refused
    mu = x.mean(axis=-1, keepdims=True)  # (..., 1)
    std = x.std(axis=-1, keepdims=True, ddof=1)  # (..., 1), unbiased: divides by D - 1
    return (x - mu) / (std + eps)


def pitfalls(d: int = 16, *, seed: int = 0) -> dict[str, float]:
    """The pitfalls card of chapter 7, each measured on small random inputs.

    Returns
    -------
    dict of floats:

    - ``tutorial_gap``: largest |difference| between the tutorial-style layer norm
      (unbiased std + eps) and the real one, on ordinary examples (about 1/(2D) relative);
    - ``tutorial_gap_flat``: the same on a nearly constant example (std ~ 1e-4), where eps
      inside or outside the square root decides the result;
    - ``one_pass_min_var``: the smallest variance the one-pass formula computes in float32
      for unit-variance rows on an offset of 1e4 (negative: NaN outputs);
    - ``one_pass_nan_share``: the share of those rows whose output is NaN;
    - ``sign_flip``: largest |LN(-x) + LN(x)| (0: a negative scale flips the output);
    - ``wrong_axis_gap``: largest |difference| between normalizing a (N, D) batch over the
      features (layer norm) and over the examples (axis 0, batch-norm-like statistics)
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, size=(64, d))
    flat = 5.0 + 1e-4 * rng.standard_normal((1, d))
    offset = (1e4 + rng.standard_normal((256, d))).astype(np.float32)
    mu = offset.mean(axis=-1, keepdims=True)
    one_pass_var = (offset * offset).mean(axis=-1) - (mu * mu)[:, 0]
    ln = numpy_ln.layer_norm
    return {
        "tutorial_gap": float(np.abs(layer_norm_tutorial_style(x) - ln(x, d)).max()),
        "tutorial_gap_flat": float(np.abs(layer_norm_tutorial_style(flat) - ln(flat, d)).max()),
        "one_pass_min_var": float(one_pass_var.min()),
        "one_pass_nan_share": float(np.isnan(layer_norm_one_pass(offset)).any(axis=-1).mean()),
        "sign_flip": float(np.abs(ln(-x, d) + ln(x, d)).max()),
        "wrong_axis_gap": float(np.abs(ln(x, d) - normalize_over(x, (0,))).max()),
    }


def shifted_norms(x: np.ndarray, shift: float = 0.0, scale: float = 1.0, eps: float = 1e-5):
    """One example moved by ``x * scale + shift``, then layer norm and RMSNorm of it.

    The live and static faces of chapter 7's re-centering interactive draw this.

    Parameters
    ----------
    x : (D,) one example

    Returns
    -------
    dict with ``x`` (D,) the moved example, ``ln`` and ``rms`` (D,) its two normalizations,
    ``mean`` and ``rms_value`` (floats) the statistic each of them divides or subtracts
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"x must be one example of shape (D,) with D >= 2, got {x.shape}")
    for name, value in (("shift", shift), ("scale", scale), ("eps", eps)):
        if not (isinstance(value, int | float) and np.isfinite(value)):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    moved = x * scale + shift
    d = moved.size
    return {
        "x": moved,
        "ln": numpy_ln.layer_norm(moved, d, eps=eps),
        "rms": numpy_ln.rms_norm(moved, d, eps=eps),
        "mean": float(moved.mean()),
        "rms_value": float(np.sqrt((moved * moved).mean())),
    }


def gradient_properties(n: int = 256, d: int = 16, *, seed: int = 0) -> dict[str, float]:
    """Xu et al. (2019): layer norm's input gradient has zero mean and is orthogonal to the
    normalized input; RMSNorm's gradient is orthogonal to its input only.

    Random examples (offset, not centred), random upstream gradients ``dy`` and a random
    ``gamma``; layer norm's ``dx`` from the package's hand-derived backward, RMSNorm's from
    torch's autograd. Each measure is the worst over the examples, relative to the sizes
    involved, so 1e-16 means "zero up to rounding". Orthogonality to ``x_hat`` is exact
    only for ``eps = 0``: with eps the cosine is about ``eps / var``.

    Returns
    -------
    dict of floats: ``ln_mean`` (|mean(dx)| / mean(|dx|)), ``ln_cos_xhat`` (|cos(dx, x_hat)|),
    ``ln_cos_x`` (|cos(dx, x)|), ``rms_mean`` and ``rms_cos_x`` for RMSNorm
    """
    torch = require_torch()
    check_int("n", n, 1)
    check_int("d", d, 2)
    rng = np.random.default_rng(seed)
    x = rng.normal(2.0, 3.0, size=(n, d))
    dy = rng.standard_normal((n, d))
    gamma = rng.normal(1.0, 0.5, size=d)
    _, cache = numpy_ln.layer_norm_forward(x, d, gamma, np.zeros(d))
    dx = numpy_ln.layer_norm_backward(dy, cache)[0]  # (N, D)

    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.rms_norm(xt, (d,), torch.tensor(gamma), 1e-6).backward(torch.tensor(dy))
    dx_rms = xt.grad.numpy()

    def mean_ratio(g) -> float:
        return float((np.abs(g.mean(-1)) / np.abs(g).mean(-1)).max())

    def cos(a, b) -> float:
        dot = np.abs((a * b).sum(-1))
        return float((dot / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))).max())

    return {
        "ln_mean": mean_ratio(dx),
        "ln_cos_xhat": cos(dx, cache.x_hat),
        "ln_cos_x": cos(dx, x),
        "rms_mean": mean_ratio(dx_rms),
        "rms_cos_x": cos(dx_rms, x),
    }


# Default eps of other libraries, from their source (chapter 7 cites each); torch's own
# defaults are read from torch itself by eps_defaults().
OTHER_EPS_DEFAULTS = (
    ("Keras LayerNormalization", 1e-3, "keras_layernorm"),
    ("Haiku LayerNorm and RMSNorm", 1e-5, "haiku_layernorm"),
    ("Flax LayerNorm and RMSNorm", 1e-6, "flax_layernorm"),
    ("T5 (Mesh TensorFlow, Hugging Face)", 1e-6, "t5_config"),
    ("GPT-2 (Hugging Face GPT2Config)", 1e-5, "hf_gpt2_config"),
    ("Llama 2 (Meta's code)", 1e-5, "meta_llama_code"),
    ("Hugging Face LlamaConfig default", 1e-6, "hf_llama_config"),
    ("BERT (TensorFlow 1 layer_norm, BertConfig)", 1e-12, "tf_contrib_layernorm"),
)


def eps_defaults() -> list[tuple[str, float, str]]:
    """Default eps of common layer norm and RMSNorm implementations, largest first.

    Returns
    -------
    list of (implementation, eps, source): torch's entries are read from the installed
    torch (``torch.nn.RMSNorm``'s ``eps=None`` means the machine epsilon of the type it
    computes in: float64's for float64 input, float32's for float32, float16 and bfloat16
    input, not the half type's own; ``tests/test_experiments.py`` checks that on bfloat16),
    the others are :data:`OTHER_EPS_DEFAULTS` (source: a bibliography key)
    """
    torch = require_torch()
    ln, rms = torch.nn.LayerNorm(4), torch.nn.RMSNorm(4)
    assert rms.eps is None  # the claim made in the table: None, resolved per dtype
    rows = [
        ("PyTorch nn.LayerNorm", float(ln.eps), ""),
        (
            "PyTorch nn.RMSNorm (float32, float16, bfloat16 input)",
            float(torch.finfo(torch.float32).eps),
            "",
        ),
        ("PyTorch nn.RMSNorm (float64 input)", float(torch.finfo(torch.float64).eps), ""),
        *OTHER_EPS_DEFAULTS,
    ]
    return sorted(rows, key=lambda row: -row[1])


def eps_gain(stds: np.ndarray, eps: float, d: int = 64, *, seed: int = 0) -> np.ndarray:
    """The standard deviation of layer norm's output for examples of given spreads.

    Layer norm divides by ``sqrt(var + eps)``, not by ``std``: an example whose standard
    deviation ``s`` is small next to ``sqrt(eps)`` comes out with spread about
    ``s / sqrt(eps)`` instead of 1. Measured on examples built with exactly that spread.

    Parameters
    ----------
    stds : (K,) positive standard deviations
    eps : layer norm's eps

    Returns
    -------
    (K,) the output's standard deviation (the closed form is ``s / sqrt(s**2 + eps)``)
    """
    stds = np.asarray(stds, dtype=np.float64)
    if stds.ndim != 1 or not (stds > 0).all():
        raise ValueError(f"stds must be a 1-d array of positive numbers, got shape {stds.shape}")
    z = np.random.default_rng(seed).standard_normal(d)
    z = (z - z.mean()) / z.std()  # exactly mean 0, std 1
    x = 1.0 + stds[:, None] * z  # (K, d): an offset of 1 that layer norm removes
    return numpy_ln.layer_norm(x, d, eps=eps).std(axis=-1)


def centring_folded(seeds: Sequence[int] = (0, 1, 2), *, n_layers: int = 4, d: int = 32) -> dict:
    """Layer norm becomes RMSNorm in a pre-norm transformer, exactly:
    :func:`lnbook.folding.fold_centring` on freshly initialized float64 copy-task models, one
    per seed.

    Returns
    -------
    dict with, per seed (arrays of len(seeds)): ``max_logit_diff`` (the largest difference of
    the two networks' logits on a batch of the copy task), ``logit_scale`` (the largest
    logit, for scale), ``stream_mean`` (the largest mean over the channels of the folded
    network's residual stream, which the folding makes zero) and ``ln_stream_mean`` (the
    same for the original network, which is not)
    """
    torch = require_torch()
    from ...folding import fold_centring
    from ...models import TinyTransformer
    from ...training import COPY_K, COPY_VOCAB

    seeds = check_ints("seeds", seeds, 0)
    check_int("n_layers", n_layers, 1)
    check_int("d", d, 4)
    out = {k: [] for k in ("max_logit_diff", "logit_scale", "stream_mean", "ln_stream_mean")}
    with one_torch_thread():
        for seed in seeds:
            torch.manual_seed(seed)
            model = TinyTransformer(COPY_VOCAB, d, n_layers, 4, 2 * d, 2 * COPY_K + 1,
                                    norm="layer", placement="pre", init="xavier")  # fmt: skip
            # Give every norm a gamma and beta of its own, as training would.
            with torch.no_grad():
                for m in model.modules():
                    if hasattr(m, "normalized_shape"):
                        m.weight.normal_(1.0, 0.3)
                        m.bias.normal_(0.0, 0.3)
            model = model.double().eval()
            folded = fold_centring(model).eval()
            ids = copy_batch(np.random.default_rng(seed), 16)[:, :-1]
            with torch.no_grad():
                logits, streams = model(ids, return_residuals=True)
                logits_f, streams_f = folded(ids, return_residuals=True)
            out["max_logit_diff"].append((logits - logits_f).abs().max().item())
            out["logit_scale"].append(logits.abs().max().item())
            out["stream_mean"].append(max(s.mean(-1).abs().max().item() for s in streams_f))
            out["ln_stream_mean"].append(max(s.mean(-1).abs().max().item() for s in streams))
    return {k: np.array(v) for k, v in out.items()}
