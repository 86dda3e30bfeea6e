"""Folding a norm into its neighbours, and what a norm leaves for the backward (chapter 15).

At inference a norm's affine part is a fixed linear map, and so is batch norm with its
running statistics: both fold into the adjacent linear layer, exactly::

    LN -> Linear:   W (gamma * x_hat + beta) + b = (W diag(gamma)) x_hat + (b + W beta)
    Linear -> BN:   s = gamma / sqrt(var + eps);  W' = diag(s) W,  b' = (b - mean) s + beta

and in a pre-norm transformer layer norm's centring folds into every layer that writes to
the residual stream (SliceGPT, Ashkboos et al. 2024, section 3), which leaves RMSNorm.
Every function here returns new modules and leaves its arguments as they were; the
folds into one layer compute in float64 and cast back, as SliceGPT's code does
(:func:`fold_centring` works in the model's own dtype).

For training, :func:`saved_bytes` counts what autograd keeps between the forward and the
backward pass, and :func:`layer_norm_keeping` is a layer norm that keeps either its input
(and recomputes ``x_hat``) or ``x_hat`` (and drops the input).
"""

from __future__ import annotations

import copy

from ._optional import torch_missing

try:
    import torch
    from torch import Tensor, nn
except ImportError as e:  # the browser edition
    raise torch_missing("lnbook.folding") from e

from . import torch_ln
from ._validate import check_eps, check_nd_shape

__all__ = [
    "KEEPS",
    "fold_batch_norm",
    "fold_centring",
    "fold_norm_into_linear",
    "fold_sequential",
    "layer_norm_keeping",
    "recompute_runs",
    "saved_bytes",
]

_LAYER_NORMS = (nn.LayerNorm, torch_ln.LayerNorm)
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def fold_norm_into_linear(norm: nn.Module, linear: nn.Linear) -> tuple[nn.Module, nn.Linear]:
    """A layer norm's gamma and beta moved into the linear layer that reads its output.

    Parameters
    ----------
    norm : LayerNorm over the last axis (``torch.nn`` or ``lnbook.torch_ln``), with weight
    linear : nn.Linear with ``in_features`` equal to the norm's size

    Returns
    -------
    (norm without affine parameters, the linear layer with ``W diag(gamma)`` and
    ``b + W beta``): ``linear(norm(x))`` is unchanged up to rounding.
    """
    if not isinstance(norm, _LAYER_NORMS) or norm.weight is None:
        raise TypeError(f"norm must be a LayerNorm with a weight, got {norm!r}")
    if not isinstance(linear, nn.Linear):
        raise TypeError(f"linear must be an nn.Linear, got {type(linear).__name__}")
    if norm.normalized_shape != (linear.in_features,):
        raise ValueError(
            f"the norm's shape {tuple(norm.normalized_shape)} must be the linear layer's "
            f"input ({linear.in_features},)"
        )
    w = linear.weight.detach().double()  # (out, in)
    gamma = norm.weight.detach().double()
    beta = torch.zeros_like(gamma) if norm.bias is None else norm.bias.detach().double()
    b = (
        torch.zeros(w.shape[0], dtype=w.dtype, device=w.device)
        if linear.bias is None
        else linear.bias.detach().double()
    )
    folded = nn.Linear(
        linear.in_features,
        linear.out_features,
        dtype=linear.weight.dtype,
        device=linear.weight.device,
    )
    with torch.no_grad():
        folded.weight.copy_(w * gamma)  # W diag(gamma): column j scaled by gamma_j
        folded.bias.copy_(b + w @ beta)
    plain = torch_ln.LayerNorm(
        norm.normalized_shape, eps=norm.eps, elementwise_affine=False, dtype=norm.weight.dtype
    )
    return plain, folded


def fold_batch_norm(layer: nn.Module, bn: nn.Module) -> nn.Module:
    """A linear or convolution layer followed by batch norm in eval mode, as one layer.

    With ``s = gamma / sqrt(running_var + eps)`` per output channel: ``W' = s W`` (each
    output channel's weights scaled) and ``b' = (b - running_mean) s + beta``.

    Parameters
    ----------
    layer : nn.Linear or nn.Conv1d/2d/3d
    bn : nn.BatchNorm1d/2d/3d over the layer's output channels, with running statistics

    Returns
    -------
    a new layer of ``layer``'s kind computing ``bn(layer(x))`` as batch norm computes it in
    eval mode (in training mode batch norm uses the batch's statistics: nothing folds)
    """
    if not isinstance(layer, (nn.Linear, *_CONVS)):
        raise TypeError(f"layer must be nn.Linear or a convolution, got {type(layer).__name__}")
    if not isinstance(bn, _BATCH_NORMS) or bn.running_mean is None:
        raise TypeError(f"bn must be a BatchNorm with running statistics, got {bn!r}")
    channels = layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels
    if bn.num_features != channels:
        raise ValueError(f"bn has {bn.num_features} features but the layer {channels} outputs")
    mean, var = bn.running_mean.double(), bn.running_var.double()
    gamma = torch.ones_like(mean) if bn.weight is None else bn.weight.detach().double()
    beta = torch.zeros_like(mean) if bn.bias is None else bn.bias.detach().double()
    s = gamma / torch.sqrt(var + bn.eps)  # (C,)
    w = layer.weight.detach().double()  # (C, ...)
    b = torch.zeros_like(mean) if layer.bias is None else layer.bias.detach().double()
    folded = copy.deepcopy(layer)
    if folded.bias is None:
        folded.bias = nn.Parameter(
            torch.zeros(channels, dtype=layer.weight.dtype, device=layer.weight.device)
        )
    with torch.no_grad():
        folded.weight.copy_(w * s.reshape(-1, *(1,) * (w.ndim - 1)))
        folded.bias.copy_((b - mean) * s + beta)
    return folded


def fold_sequential(seq: nn.Sequential) -> nn.Sequential:
    """Every foldable pair of ``seq`` folded: LayerNorm -> Linear (gamma and beta into the
    Linear) and Linear/Conv -> BatchNorm (the batch norm, in eval mode, into the layer;
    it disappears). The new Sequential computes what ``seq`` computes in eval mode."""
    if not isinstance(seq, nn.Sequential):
        raise TypeError(f"seq must be an nn.Sequential, got {type(seq).__name__}")
    layers = [copy.deepcopy(m) for m in seq]
    out: list[nn.Module] = []
    i = 0
    while i < len(layers):
        m, nxt = layers[i], layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(m, _LAYER_NORMS) and m.weight is not None and isinstance(nxt, nn.Linear):
            out += list(fold_norm_into_linear(m, nxt))
            i += 2
        elif isinstance(m, (nn.Linear, *_CONVS)) and isinstance(nxt, _BATCH_NORMS):
            out.append(fold_batch_norm(m, nxt))
            i += 2
        else:
            out.append(m)
            i += 1
    return nn.Sequential(*out)


def fold_centring(model, fold_gamma: bool = False):
    """A pre-norm :class:`lnbook.models.TinyTransformer` (decoder-only, layer norm) made into
    one with RMSNorm that computes the same function: SliceGPT's conversion.

    In a pre-norm network the residual stream ``x`` is only ever *read* through a norm, and
    layer norm ignores its mean: ``LN(x) = LN(C x)`` with the centring matrix
    ``C = I - 1 1^T / d``. The stream is only ever *written* by linear maps (the token and
    position embeddings, each attention's output projection, each feed-forward's second
    layer), so multiplying their outputs by ``C`` (centring each output vector) gives a
    stream ``C x`` whose mean is zero, and on a zero-mean vector layer norm *is* RMSNorm:
    ``LN(C x) = gamma * RMSNorm(C x) + beta``. Each beta moves into the bias of the linear
    map that reads the norm's output. Nothing is approximated: the two networks agree to
    rounding.

    Parameters
    ----------
    model : TinyTransformer with ``norm="layer"``, ``placement="pre"``, no encoder
    fold_gamma : also move each gamma into the reading layer's weights (``W diag(gamma)``),
        leaving RMSNorms without parameters, as SliceGPT does

    Returns
    -------
    a new TinyTransformer with ``norm="rms"`` (same eps) and the folded weights
    """
    placement = getattr(model, "placement", None)
    if (
        model.encoder is not None
        or placement != "pre"
        or not isinstance(model.final, torch_ln.LayerNorm)
    ):
        # Only pre-norm: with any other placement a norm sits on the residual stream itself,
        # and the centred writers would change what it sees (the logits change).
        raise ValueError(
            "fold_centring needs a decoder-only, pre-norm layer-norm TinyTransformer, got "
            f"placement={placement!r}, encoder={model.encoder is not None}, "
            f"final={type(model.final).__name__}"
        )
    folded = copy.deepcopy(model)

    def centre_rows(w):  # each output vector of an embedding: a row
        w -= w.mean(dim=1, keepdim=True)

    def centre_outputs(linear):  # y = W h + b: centre W's columns and b
        linear.weight -= linear.weight.mean(dim=0, keepdim=True)
        linear.bias -= linear.bias.mean()

    def to_rms(norm, readers):
        """An RMSNorm with ``norm``'s gamma; its beta folded into the ``readers``' biases."""
        rms = torch_ln.RMSNorm(
            norm.normalized_shape, eps=norm.eps, elementwise_affine=not fold_gamma
        )
        rms = rms.to(norm.weight.dtype)
        for weight, bias in readers:  # W (gamma r + beta) + b = W (gamma r) + (W beta + b)
            bias += weight @ norm.bias
            if fold_gamma:
                weight *= norm.weight  # W diag(gamma)
        if not fold_gamma:
            rms.weight.copy_(norm.weight)
        return rms

    with torch.no_grad():
        centre_rows(folded.embed.weight)
        centre_rows(folded.pos.weight)
        for block in folded.decoder:
            attn, ff = block.self_attn, block.ff
            centre_outputs(attn.out_proj)
            centre_outputs(ff[2])
            block.norms[0] = to_rms(block.norms[0], [(attn.in_proj_weight, attn.in_proj_bias)])
            block.norms[1] = to_rms(block.norms[1], [(ff[0].weight, ff[0].bias)])
        folded.final = to_rms(folded.final, [(folded.head.weight, folded.head.bias)])
    return folded


# ------------------------------------------------------- what the backward pass keeps ----


def saved_bytes(fn, *args) -> dict:
    """What autograd keeps from ``fn(*args)`` for the backward pass, counted as it is
    saved (``torch.autograd.graph.saved_tensors_hooks``).

    Returns
    -------
    dict: ``total`` (bytes of every saved tensor, as often as it is saved), ``unique``
    (bytes of distinct storages: a tensor two operations save counts once), ``tensors``
    (a list of (shape, dtype) as saved)
    """
    seen: dict[int, int] = {}
    tensors = []
    total = 0

    def pack(t: Tensor) -> Tensor:
        nonlocal total
        nbytes = t.numel() * t.element_size()
        total += nbytes
        tensors.append((tuple(t.shape), t.dtype))
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(*args)
    return {"total": total, "unique": sum(seen.values()), "tensors": tensors}


KEEPS = ("x", "x_hat")


class _LayerNormKeeping(torch.autograd.Function):
    """Layer norm over the last axis that keeps ``x`` (with mean and rstd: ``x_hat`` is
    recomputed in the backward) or ``x_hat`` (with rstd: ``x`` is dropped)."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps, keep):
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        xc = x - mean
        rstd = torch.rsqrt((xc * xc).mean(dim=-1, keepdim=True) + eps)  # (..., 1)
        x_hat = xc * rstd
        y = x_hat if weight is None else x_hat * weight
        y = y if bias is None else y + bias
        if keep == "x":
            ctx.save_for_backward(x, mean, rstd, weight)
        else:
            ctx.save_for_backward(x_hat, rstd, weight)
        ctx.keep, ctx.has_bias = keep, bias is not None
        return y

    @staticmethod
    def backward(ctx, dy):
        if ctx.keep == "x":
            x, mean, rstd, weight = ctx.saved_tensors
            x_hat = (x - mean) * rstd  # the recomputation: one more pass over x
        else:
            x_hat, rstd, weight = ctx.saved_tensors
        g = dy if weight is None else dy * weight  # dL/dx_hat
        c1 = (x_hat * g).mean(dim=-1, keepdim=True)
        c2 = g.mean(dim=-1, keepdim=True)
        dx = rstd * (g - c2 - x_hat * c1)
        rows = tuple(range(dy.ndim - 1))
        dweight = None if weight is None else (dy * x_hat).sum(dim=rows)
        dbias = dy.sum(dim=rows) if ctx.has_bias else None
        return dx, dweight, dbias, None, None


def layer_norm_keeping(
    x: Tensor, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5,
    keep: str = "x",
) -> Tensor:  # fmt: skip
    """Layer norm over the last axis of ``x`` (..., D) that keeps, for the backward pass,
    ``x``, mean and rstd (``keep="x"``; ``x_hat`` recomputed from them, as PyTorch's
    native kernel does) or ``x_hat`` and rstd (``keep="x_hat"``). Without weight and bias
    the output *is* ``x_hat``: a next layer that saves its input then shares the tensor."""
    if keep not in KEEPS:
        raise ValueError(f"keep must be one of {KEEPS}, got {keep!r}")
    check_eps(eps)
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {type(x).__name__}")
    d = x.shape[-1]
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and not isinstance(p, Tensor):
            raise TypeError(f"{name} must be a tensor or None, got {type(p).__name__}")
        if p is not None and tuple(p.shape) != (d,):
            raise ValueError(f"{name} must have shape ({d},), got {tuple(p.shape)}")
    return _LayerNormKeeping.apply(x, weight, bias, eps, keep)


def recompute_runs(shape: tuple[int, int] = (4096, 1024), *, seed: int = 0) -> dict:
    """What :func:`lnbook.fusion.alternate` times for chapter 15: forward + backward
    of :func:`layer_norm_keeping` over float32 ``shape``, keeping ``x`` (``x_hat`` is
    recomputed in the backward) or keeping ``x_hat``.

    Returns
    -------
    dict: ``keep_x``, ``keep_x_hat``: callables without arguments
    """
    check_nd_shape("shape", shape, min_d=2)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen).requires_grad_()
    w = torch.rand(shape[1], generator=gen).requires_grad_()
    b = torch.randn(shape[1], generator=gen).requires_grad_()
    dy = torch.randn(shape, generator=gen)

    def run(keep: str):
        def forward_backward():
            y = layer_norm_keeping(x, w, b, keep=keep)
            torch.autograd.grad(y, (x, w, b), dy)

        return forward_backward

    return {"keep_x": run("x"), "keep_x_hat": run("x_hat")}
