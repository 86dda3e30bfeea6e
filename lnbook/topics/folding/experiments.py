"""Chapter 15's experiments on fusion and folding: a norm folded into its neighbours on
trained models (:func:`folding_errors`), and the bytes autograd keeps for the backward
pass of one layer norm, alone and before a linear layer (:func:`saved_per_token`).

The timings (fused against unfused, recomputing ``x_hat`` against keeping it) take turns
(:func:`lnbook.fusion.alternate`) with :func:`lnbook.bench.median_seconds` as the timer.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from ..._optional import require_torch
from ..._results import remembered
from ..._validate import check_int, check_ints

# The layer norms whose saved tensors are counted: name -> (kind, keep), see _norm_call.
SAVERS = {
    "PyTorch's F.layer_norm": "native",
    "lnbook's torch_ln": "lnbook",
    "keeps x, mean, rstd": "x",
    "keeps x_hat, rstd": "x_hat",
}
DTYPES = ("float32", "bfloat16", "float64")


def _norm_call(kind: str, x, weight, bias):
    """Layer norm over the last axis of ``x`` by one of the implementations of SAVERS."""
    import torch.nn.functional as F

    from ... import folding, torch_ln

    d = x.shape[-1]
    if kind == "native":
        return F.layer_norm(x, (d,), weight, bias)
    if kind == "lnbook":
        return torch_ln.layer_norm(x, (d,), weight, bias)
    return folding.layer_norm_keeping(x, weight, bias, keep=kind)


def saved_per_token(
    ds: Sequence[int] = (128, 256, 512, 1024, 2048), *, dtype: str = "float32", n: int = 8
) -> dict:
    """Bytes per token that autograd keeps for the backward pass of a layer norm over ``d``
    features, counted by :func:`lnbook.folding.saved_bytes`, for each d of ``ds``.

    Per token means the growth from ``n`` to ``2 n`` tokens, divided by ``n``: the
    parameters (gamma, beta, W), which do not grow with the tokens, drop out. Three
    settings: the norm alone (with gamma and beta), the norm followed by a linear layer
    (``D -> D``, which keeps its own input), and that block with gamma and beta folded into
    the linear layer (the norm without parameters: its output is ``x_hat``).

    Returns
    -------
    dict: ``ds`` (array), ``dtype``, and ``alone``, ``block``, ``folded``: each a dict
    mapping the names of :data:`SAVERS` to an array over ``ds`` of distinct bytes per token
    """
    torch = require_torch()
    from ... import folding

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    check_int("n", n, 1)
    for d in ds:
        check_int("d", d, 2)
    dt = getattr(torch, dtype)
    gen = torch.Generator().manual_seed(0)
    out = {"ds": np.asarray(ds), "dtype": dtype, "alone": {}, "block": {}, "folded": {}}
    for name, kind in SAVERS.items():
        for setting in ("alone", "block", "folded"):
            per_token = []
            for d in ds:
                affine = setting != "folded"
                w = torch.rand(d, generator=gen).to(dt).requires_grad_(affine)
                b = torch.rand(d, generator=gen).to(dt).requires_grad_(affine)
                lin = None if setting == "alone" else torch.full((d, d), 1.0 / d, dtype=dt)
                lin = None if lin is None else lin.requires_grad_()  # the values do not matter

                def step(x, w=w, b=b, lin=lin, affine=affine, setting=setting, kind=kind):
                    y = _norm_call(kind, x, w if affine else None, b if affine else None)
                    return y if setting == "alone" else y @ lin.T

                sizes = []
                for tokens in (n, 2 * n):
                    x = torch.randn(tokens, d, generator=gen).to(dt).requires_grad_()
                    sizes.append(folding.saved_bytes(step, x)["unique"])
                per_token.append((sizes[1] - sizes[0]) / n)
            out[setting][name] = np.asarray(per_token)
    return out


def _digits_models():
    """The three small digit classifiers whose norms fold: a pre-norm MLP with layer norm
    (LN -> Linear pairs), a post-norm MLP with batch norm (Linear -> BN) and a small
    convolutional net with batch norm (Conv -> BN). Each maps (B, 64) images to logits."""
    torch = require_torch()
    from torch import nn

    from ...models import MLP

    conv = nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8),
        nn.ReLU(), nn.Flatten(), nn.Linear(8 * 64, 10),
    )  # fmt: skip
    return {
        "ln_mlp": MLP(64, 64, 10, depth=2, norm="layer", placement="pre"),
        "bn_mlp": MLP(64, 64, 10, depth=2, norm="batch", placement="post"),
        "bn_conv": torch.nn.Sequential(*conv),
    }


@remembered
def trained_models(seed: int, *, steps: int = 40, copy_steps: int = 20) -> dict:
    """The models of :func:`folding_errors`, trained from ``seed``: the three of
    ``_digits_models`` for ``steps`` Adam steps on the digits, and chapter 5's pre-norm
    copy-task transformer (2 blocks, d = 32) for ``copy_steps``. Training gives every
    gamma, beta and running statistic a value of its own.

    Returns
    -------
    dict: name -> trained module (eval mode), and ``X_test`` (the held-out digits)
    """
    torch = require_torch()
    from ...training import digits_split, fit_digits, train_copy_transformer

    check_int("steps", steps, 1)
    out = {}
    torch.manual_seed(seed)
    models = _digits_models()
    X_train, Y_train, X_test, _, rng = digits_split(seed)
    for name, model in models.items():
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        fit_digits(model, opt, X_train, Y_train, rng, steps=steps, batch_size=64)
        out[name] = model.eval()
    tf, _, _ = train_copy_transformer("pre", 2, 32, steps=copy_steps, lr=3e-3, seed=seed)
    out["transformer"] = tf.eval()
    out["X_test"] = X_test
    return out


def folding_errors(
    seeds: Sequence[int] = (0, 1, 2), *, steps: int = 40, copy_steps: int = 20
) -> dict:
    """Each fold of :mod:`lnbook.folding` checked on trained models, one per seed.

    The error is the largest difference of the folded and the original network's logits
    (on the held-out digits, or on a batch of the copy task), relative to the largest
    logit; in float32 and, for the layer-norm folds, in float64 (both networks cast).
    ``steps``, ``copy_steps``: the training of :func:`trained_models`.

    Returns
    -------
    dict of arrays over ``seeds``: ``ln_linear32``, ``ln_linear64`` (gamma and beta into the
    next linear layer, the pre-norm MLP), ``bn_linear32``, ``bn_conv32`` (batch norm into
    the linear or convolution before it), ``bn_linear_torch``, ``bn_conv_torch`` (the same
    against torch's ``fuse_linear_bn_eval`` / ``fuse_conv_bn_eval``), ``centring32``,
    ``centring64`` (the transformer's layer norms made RMSNorms, gamma and beta folded)
    """
    seeds = check_ints("seeds", seeds, 0)
    torch = require_torch()
    from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

    from ... import folding
    from ...training import copy_batch, one_torch_thread

    def rel(a, b):
        return float((a - b).abs().max() / b.abs().max())

    def torch_fused(seq):  # torch's own fusion, pair by pair: the independent oracle
        layers, i = [], 0
        while i < len(seq):
            m = seq[i]
            nxt = seq[i + 1] if i + 1 < len(seq) else None
            if isinstance(nxt, torch.nn.modules.batchnorm._BatchNorm):
                fuse = fuse_linear_bn_eval if isinstance(m, torch.nn.Linear) else fuse_conv_bn_eval
                layers.append(fuse(m, nxt))
                i += 2
            else:
                layers.append(m)
                i += 1
        return torch.nn.Sequential(*layers)

    keys = ("ln_linear32", "ln_linear64", "bn_linear32", "bn_conv32", "bn_linear_torch",
            "bn_conv_torch", "centring32", "centring64")  # fmt: skip
    out = {k: [] for k in keys}
    for seed in seeds:
        # trains (with gradients), unless an earlier call of this run kept the models
        m = trained_models(seed, steps=steps, copy_steps=copy_steps)
        with one_torch_thread(), torch.no_grad():
            X = m["X_test"]
            for bits, dt in ((32, torch.float32), (64, torch.float64)):
                net = copy.deepcopy(m["ln_mlp"].net).to(dt)  # the kept model stays float32
                out[f"ln_linear{bits}"].append(
                    rel(folding.fold_sequential(net)(X.to(dt)), net(X.to(dt)))
                )
            for key, name in (("bn_linear", "bn_mlp"), ("bn_conv", "bn_conv")):
                net = m[name] if name == "bn_conv" else m[name].net
                folded = folding.fold_sequential(net)
                out[f"{key}32"].append(rel(folded(X), net(X)))
                out[f"{key}_torch"].append(rel(folded(X), torch_fused(net)(X)))
            ids = copy_batch(np.random.default_rng(seed + 1000), 16)
            for bits, dt in ((32, torch.float32), (64, torch.float64)):
                tf = copy.deepcopy(m["transformer"]).to(dt)
                folded = folding.fold_centring(tf, fold_gamma=True)
                out[f"centring{bits}"].append(rel(folded(ids), tf(ids)))
    return {k: np.asarray(v) for k, v in out.items()}
