"""Tiny models for the chapters' experiments, with the normalization as a parameter.

``norm`` picks the normalization layer ("layer", "batch", "rms", "dyt" for Dynamic Tanh,
"layer_detached" for layer norm without its statistics' gradient, or None) and
``placement`` where it goes relative to each linear layer ("pre": before it, "post": after
it). The layer norm used is lnbook's own (``torch_ln.LayerNorm``), a drop-in for torch's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._optional import torch_missing

try:
    import torch
    from torch import nn
except ImportError as e:  # the browser edition: say where this module runs instead
    raise torch_missing("lnbook.models") from e

from . import torch_ln

NORMS = ("layer", "batch", "rms", "dyt", "layer_detached", None)
PLACEMENTS = ("pre", "post")
ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def make_norm(norm: str | None, d: int) -> nn.Module:
    """The normalization layer called ``norm`` over ``d`` features (identity for None)."""
    if norm == "layer":
        return torch_ln.LayerNorm(d)
    if norm == "batch":
        return nn.BatchNorm1d(d)
    if norm == "rms":
        return torch_ln.RMSNorm(d)
    if norm == "dyt":
        return DyT(d)
    if norm == "layer_detached":
        return DetachedLayerNorm(d)
    if norm is None:
        return nn.Identity()
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


class MLP(nn.Module):
    """A multilayer perceptron: ``depth`` hidden layers of ``d_hidden`` units.

    With ``placement="post"`` each hidden layer is Linear -> norm -> activation (as in Ba
    et al., 2016, and Ioffe and Szegedy, 2015); with ``"pre"`` it is norm -> Linear ->
    activation (the norm sees the layer's input).

    Parameters
    ----------
    d_in, d_hidden, d_out : int
    depth : int, number of hidden layers (>= 1)
    norm : one of :data:`NORMS` (see :func:`make_norm`)
    placement : "pre" or "post"
    activation : "relu", "sigmoid" or "tanh"
    noise : if > 0, each norm is wrapped in :class:`NoisyNorm` with this strength
    init : "default" (PyTorch's: uniform weights of scale 1/sqrt(fan_in), too small to keep
        the signal's size through many layers), "xavier" (Glorot and Bengio, 2010: keeps the
        scale for sigmoid and tanh) or "he" (He et al., 2015: keeps it for ReLU); the last two
        with zero biases
    """

    def __init__(
        self,
        d_in: int,
        d_hidden: int,
        d_out: int,
        depth: int = 2,
        norm: str | None = "layer",
        placement: str = "post",
        activation: str = "relu",
        noise: float = 0.0,
        init: str = "default",
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
        if not noise >= 0:
            raise ValueError(f"noise must be >= 0, got {noise!r}")
        if init not in ("default", "xavier", "he"):
            raise ValueError(f"init must be 'default', 'xavier' or 'he', got {init!r}")

        def norm_layer(d: int) -> nn.Module:
            return NoisyNorm(make_norm(norm, d), noise) if noise > 0 else make_norm(norm, d)

        layers: list[nn.Module] = []
        d = d_in
        for _ in range(depth):
            act = ACTIVATIONS[activation]()
            if placement == "pre":
                layers += [norm_layer(d), nn.Linear(d, d_hidden), act]
            else:
                layers += [nn.Linear(d, d_hidden), norm_layer(d_hidden), act]
            d = d_hidden
        layers.append(nn.Linear(d, d_out))
        self.net = nn.Sequential(*layers)
        for layer in layers if init != "default" else []:
            if isinstance(layer, nn.Linear):
                if init == "xavier":
                    nn.init.xavier_normal_(layer.weight)
                else:
                    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DyT(nn.Module):
    """Dynamic Tanh (Zhu et al., 2025): ``gamma * tanh(alpha * x) + beta``, no statistics.

    A drop-in for a normalization layer over the last axis: a learned scalar ``alpha``
    (initially ``alpha0``) sets how soon the tanh saturates, and the per-feature ``gamma``
    and ``beta`` play their layer-norm roles. It squashes large values as layer norm's
    per-token division does, without computing any mean or variance.
    """

    def __init__(self, d: int, alpha0: float = 0.5) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor(float(alpha0)))
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * torch.tanh(self.alpha * x) + self.bias

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, alpha0={self.alpha.item():g}"


class DetachedLayerNorm(torch_ln.LayerNorm):
    """Layer norm whose mean and variance are constants for the backward pass.

    The forward pass is layer norm's. The backward pass treats ``mu`` and ``rstd`` as if
    they did not depend on ``x``, so ``dx = rstd * gamma * dy``: the two correction terms
    of the true gradient (chapter 3's ``c2`` and ``x_hat * c1``) are gone. Xu et al. (2019)
    found that this hurts training: the gradient's re-centering and re-scaling matter.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(-len(self.normalized_shape), 0))
        mu = x.mean(dim=dims, keepdim=True).detach()
        var = x.var(dim=dims, keepdim=True, unbiased=False).detach()
        y = (x - mu) * torch.rsqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


class NoisyNorm(nn.Module):
    """A normalization followed by noise whose distribution changes at every step.

    The experiment of Santurkar et al. (2018), in miniature: if normalization helped by
    keeping each unit's input distribution fixed, undoing that on purpose should hurt.
    In training mode, at every call, each unit ``j`` draws a scale ``s_j ~ U(1, 1 + noise)``
    and a shift ``m_j ~ U(-noise, noise)``, and each value also gets its own Gaussian noise
    of that unit's standard deviation ``n_j ~ U(0, noise)``:
    ``y[i, j] = s_j * norm(x)[i, j] + m_j + n_j * z[i, j]``, with ``z ~ N(0, 1)``.
    So each unit's distribution has a non-zero mean and a non-unit variance that change
    from step to step. In eval mode the noise is off.

    Parameters
    ----------
    norm : the normalization module (applied first)
    noise : strength (>= 0); 0 is the plain norm

    The draws come from torch's global generator, or from the ``torch.Generator`` set as
    ``generator``: a network's own stream, which lets :class:`StackedMLP` train several
    noisy networks side by side, each drawing what it would alone.
    """

    def __init__(self, norm: nn.Module, noise: float) -> None:
        super().__init__()
        if not noise >= 0:
            raise ValueError(f"noise must be >= 0, got {noise!r}")
        self.norm, self.noise = norm, float(noise)
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(x)
        if not self.training or self.noise == 0:
            return y
        d, n, g = y.shape[-1], self.noise, self.generator
        s = 1 + n * torch.rand(d, dtype=y.dtype, generator=g)  # (D,): one per unit per step
        m = n * (2 * torch.rand(d, dtype=y.dtype, generator=g) - 1)  # (D,)
        sd = n * torch.rand(d, dtype=y.dtype, generator=g)  # (D,)
        return s * y + m + sd * torch.randn(y.shape, dtype=y.dtype, generator=g)

    def extra_repr(self) -> str:
        return f"noise={self.noise}"


_NORM_KINDS = (
    torch_ln.LayerNorm,
    torch_ln.RMSNorm,
    nn.LayerNorm,
    nn.RMSNorm,
    nn.BatchNorm1d,
    DyT,
)


def norm_layers(model: nn.Module) -> list[nn.Module]:
    """Every normalization layer in ``model`` (lnbook's and torch's), in order."""
    return [m for m in model.modules() if isinstance(m, _NORM_KINDS)]


def norm_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The gamma and beta parameters of every normalization layer in ``model``."""
    return [p for m in norm_layers(model) for p in m.parameters(False)]


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Optimizer parameter groups that exempt gamma, beta and biases from weight decay.

    Weight decay pulls parameters toward zero. For a weight matrix that is a useful prior;
    for gamma it pulls the layer's output scale toward 0 (not toward its natural 1), and for
    biases and beta it penalizes a shift that costs nothing in model capacity. So the common
    practice (BERT's reference code, and most training scripts since) decays only the
    weight matrices.
    """
    no_decay = {id(p) for p in norm_parameters(model)}
    no_decay |= {
        id(m.bias) for m in model.modules() if isinstance(m, nn.Linear) and m.bias is not None
    }
    decay = [p for p in model.parameters() if id(p) not in no_decay]
    rest = [p for p in model.parameters() if id(p) in no_decay]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def causal_mask(t: int) -> torch.Tensor:
    """(t, t) boolean mask, True above the diagonal: position i may not attend to j > i."""
    return torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)


class Block(nn.Module):
    """A transformer block: self-attention, optional cross-attention, feed-forward.

    Each sublayer ``f`` is wrapped with a residual connection and a normalization:
    ``placement="post"`` (the original Transformer): ``x = norm(x + f(x))``;
    ``placement="pre"`` (GPT-2 and most models since): ``x = x + f(norm(x))``.

    Parameters
    ----------
    d : model width; n_heads : attention heads; d_ff : feed-forward width
    norm : "layer", "rms" (or "batch"/None, for experiments)
    placement : "pre" or "post"
    cross : add a cross-attention sublayer (a decoder block of an encoder-decoder)
    """

    def __init__(
        self,
        d: int,
        n_heads: int,
        d_ff: int,
        norm: str | None = "layer",
        placement: str = "pre",
        cross: bool = False,
    ) -> None:
        super().__init__()
        if placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
        self.placement = placement
        self.self_attn = nn.MultiheadAttention(d, n_heads, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(d, n_heads, batch_first=True) if cross else None
        self.ff = nn.Sequential(nn.Linear(d, d_ff), nn.ReLU(), nn.Linear(d_ff, d))
        self.norms = nn.ModuleList(make_norm(norm, d) for _ in range(3 if cross else 2))

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, memory: torch.Tensor | None = None
    ) -> torch.Tensor:
        sublayers = [lambda h: self.self_attn(h, h, h, attn_mask=mask, need_weights=False)[0]]
        if self.cross_attn is not None:
            sublayers.append(lambda h: self.cross_attn(h, memory, memory, need_weights=False)[0])
        sublayers.append(self.ff)
        for norm, f in zip(self.norms, sublayers, strict=True):
            x = x + f(norm(x)) if self.placement == "pre" else norm(x + f(x))
        return x


class TinyTransformer(nn.Module):
    """A small causal (decoder-only) language model, or an encoder-decoder.

    ``(B, T)`` token ids in, ``(B, T, vocab)`` logits out. With ``placement="pre"`` a final
    normalization follows the last block (as in GPT-2); post-norm needs none.

    Parameters
    ----------
    vocab, d, n_layers, n_heads, d_ff, max_len : sizes
    norm, placement : as for :class:`Block`
    encoder_decoder : if True, ``forward(src, tgt)``: an encoder (non-causal blocks) reads
        ``src`` and a decoder (causal self-attention + cross-attention) predicts ``tgt``
    init : "default" (PyTorch's initialisation) or "xavier": Xavier-uniform weight matrices
        and zero biases, as in the original Transformer and in Xiong et al. (2020). The
        initialisation decides how large each sublayer's output is at the start, and so how
        much each post-norm layer rescales the gradient.
    """

    def __init__(
        self,
        vocab: int = 16,
        d: int = 32,
        n_layers: int = 2,
        n_heads: int = 4,
        d_ff: int = 64,
        max_len: int = 64,
        norm: str | None = "layer",
        placement: str = "pre",
        encoder_decoder: bool = False,
        init: str = "default",
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        if norm == "batch":
            # BatchNorm1d would read (B, T, d) as T channels: the wrong axis.
            raise ValueError("norm='batch' is not supported in a transformer (see chapter 5)")
        if init not in ("default", "xavier"):
            raise ValueError(f"init must be 'default' or 'xavier', got {init!r}")
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_len, d)
        self.encoder = (
            nn.ModuleList(Block(d, n_heads, d_ff, norm, placement) for _ in range(n_layers))
            if encoder_decoder
            else None
        )
        self.enc_final = make_norm(norm, d) if encoder_decoder and placement == "pre" else None
        self.decoder = nn.ModuleList(
            Block(d, n_heads, d_ff, norm, placement, cross=encoder_decoder) for _ in range(n_layers)
        )
        self.final = make_norm(norm, d) if placement == "pre" else nn.Identity()
        self.head = nn.Linear(d, vocab)
        self.max_len = max_len
        if init == "xavier":
            for name, p in self.named_parameters():
                if p.dim() == 2 and "embed" not in name and "pos" not in name:
                    nn.init.xavier_uniform_(p)
                elif name.endswith("bias") and "norm" not in name:
                    nn.init.zeros_(p)

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        t = ids.shape[1]
        if t > self.max_len:
            raise ValueError(f"sequences of length {t} exceed max_len = {self.max_len}")
        return self.embed(ids) + self.pos(torch.arange(t, device=ids.device))

    def forward(
        self, ids: torch.Tensor, tgt: torch.Tensor | None = None, return_residuals: bool = False
    ):
        memory = None
        if self.encoder is not None:
            if tgt is None:
                raise ValueError("an encoder-decoder needs forward(src, tgt)")
            memory = self._embed(ids)
            for block in self.encoder:
                memory = block(memory)
            if self.enc_final is not None:
                memory = self.enc_final(memory)
            ids = tgt
        x = self._embed(ids)
        mask = causal_mask(ids.shape[1]).to(ids.device)
        residuals = []
        for block in self.decoder:
            x = block(x, mask=mask, memory=memory)
            residuals.append(x)
        logits = self.head(self.final(x))
        return (logits, residuals) if return_residuals else logits


class StackedMLP(nn.Module):
    """Several :class:`MLP` s of one shape, trained side by side as one module.

    Built from the members themselves (so each keeps the initialisation its own seed gave
    it), it computes what each member would on its own batch, with one batched matrix
    product per layer instead of one per member: on these tiny networks, where every
    operation's fixed cost dominates, E members train several times faster than E runs.
    Batch norm keeps each member's statistics apart (its ``E * D`` features are the members'
    ``D`` each); layer norm and RMSNorm normalize each example's features as before, with
    each member's gamma and beta. Noise layers (:class:`NoisyNorm`) stack when each member
    draws from a generator of its own (drawn as the member alone would); Dynamic Tanh does
    not stack.

    Parameters
    ----------
    mlps : the members, all with the same layers and sizes

    ``forward`` takes ``(E, B, d_in)``, member ``e`` seeing ``x[e]``, and returns
    ``(E, B, d_out)``.
    """

    def __init__(self, mlps: Sequence[MLP]) -> None:
        super().__init__()
        if len(mlps) == 0 or not all(isinstance(m, MLP) for m in mlps):
            raise TypeError("mlps must be a non-empty sequence of lnbook.models.MLP")
        layouts = {tuple((type(m), _shape(m)) for m in mlp.net) for mlp in mlps}
        if len(layouts) != 1:
            raise ValueError("every member must have the same layers and sizes")
        self.n_members = len(mlps)
        self.d_in = next(m for m in mlps[0].net if isinstance(m, nn.Linear)).in_features
        self.layers = nn.ModuleList(
            _stack_layer([mlp.net[i] for mlp in mlps]) for i in range(len(mlps[0].net))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor, got {type(x).__name__}")
        if x.ndim != 3 or x.shape[0] != self.n_members or x.shape[2] != self.d_in:
            raise ValueError(
                f"x must have shape (E={self.n_members}, B, d_in={self.d_in}), got {tuple(x.shape)}"
            )
        for layer in self.layers:
            x = layer(x)
        return x

    @torch.no_grad()
    def hidden_weight_norms(self) -> np.ndarray:
        """Each member's norm of each hidden linear layer's weights and bias together.

        With a norm after each hidden linear layer, these are the weights to whose scale
        the loss is blind (the last linear layer feeds no norm and is left out).

        Returns
        -------
        (E, L) array for the E members and the L linear layers before the last
        """
        e = self.n_members
        linear = [m for m in self.layers if isinstance(m, _StackedLinear)][:-1]
        squares = [m.weight.view(e, -1).square().sum(1) + m.bias.view(e, -1).square().sum(1)
                   for m in linear]  # fmt: skip
        return torch.stack(squares, dim=1).sqrt().numpy()

    @torch.no_grad()
    def sgd_step(self, lr: torch.Tensor, weight_decay: torch.Tensor | None = None) -> None:
        """One step of plain SGD (``p -= lr * p.grad``), member ``e`` at rate ``lr[e]``.

        With ``weight_decay``, the step of ``torch.optim.SGD(weight_decay=...)``, member
        ``e`` with decay ``weight_decay[e]``: ``p -= lr * (p.grad + weight_decay * p)``.

        Parameters
        ----------
        lr : (E,) tensor of learning rates
        weight_decay : (E,) tensor of decays (>= 0), or None for none
        """
        if not isinstance(lr, torch.Tensor):
            raise TypeError(
                f"lr must be a tensor of shape ({self.n_members},), got {type(lr).__name__}"
            )
        if lr.shape != (self.n_members,):
            raise ValueError(f"lr must have shape ({self.n_members},), got {tuple(lr.shape)}")
        if not bool(torch.isfinite(lr).all() and (lr > 0).all()):
            raise ValueError(f"every rate in lr must be positive and finite, got {lr.tolist()}")
        if weight_decay is not None:
            if not isinstance(weight_decay, torch.Tensor) or weight_decay.shape != lr.shape:
                raise ValueError(
                    f"weight_decay must be None or a tensor of shape ({self.n_members},), got "
                    f"{getattr(weight_decay, 'shape', type(weight_decay).__name__)}"
                )
            if not bool(torch.isfinite(weight_decay).all() and (weight_decay >= 0).all()):
                raise ValueError(
                    f"every decay in weight_decay must be >= 0 and finite, got "
                    f"{weight_decay.tolist()}"
                )

        e = self.n_members
        rate = lr.view(e, 1)
        decay = None if weight_decay is None else weight_decay.view(e, 1)
        for p in self.parameters():
            if p.grad is None:
                continue
            step = p.grad.view(e, -1)  # member-major: (E, ...), or (E * D,) for batch norm
            if decay is not None:  # as torch.optim.SGD: the decay joins the gradient
                step = step + decay.to(p.dtype) * p.view(e, -1)
            p.view(e, -1).addcmul_(rate.to(p.dtype), step, value=-1)


def _shape(m: nn.Module) -> tuple:
    return tuple(tuple(p.shape) for p in m.parameters()) + (getattr(m, "eps", None),)


def _stacked(tensors) -> nn.Parameter:
    return nn.Parameter(torch.stack([t.detach().clone() for t in tensors]))


class _StackedLinear(nn.Module):
    def __init__(self, members: Sequence[nn.Linear]) -> None:
        super().__init__()
        self.weight = _stacked(m.weight.T for m in members)  # (E, d_in, d_out)
        self.bias = _stacked(m.bias[None] for m in members)  # (E, 1, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)  # bias + x @ W.T, per member


class _StackedNorm(nn.Module):
    """Layer norm or RMSNorm over the last axis, then each member's gamma (and beta)."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        self.rms = isinstance(members[0], torch_ln.RMSNorm)
        self.eps = members[0].eps
        self.d = members[0].weight.shape[-1]
        self.weight = _stacked(m.weight[None] for m in members)  # (E, 1, D)
        self.bias = None if self.rms else _stacked(m.bias[None] for m in members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.rms:
            return torch_ln.rms_norm(x, self.d, eps=self.eps) * self.weight
        return torch.addcmul(self.bias, torch_ln.layer_norm(x, self.d, eps=self.eps), self.weight)


class _StackedBatchNorm(nn.Module):
    """Batch norm with each member's statistics: (E, B, D) read as B examples of E * D."""

    def __init__(self, members: Sequence[nn.BatchNorm1d]) -> None:
        super().__init__()
        first = members[0]
        self.bn = nn.BatchNorm1d(
            len(members) * first.num_features, eps=first.eps, momentum=first.momentum
        )
        with torch.no_grad():
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(self.bn, name).copy_(torch.cat([getattr(m, name) for m in members]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e, b, d = x.shape
        y = self.bn(x.transpose(0, 1).reshape(b, e * d))
        return y.reshape(b, e, d).transpose(0, 1)


class _StackedNoisyNorm(nn.Module):
    """NoisyNorm for (E, B, D): the stacked norm, then each member's noise from its own
    generator, drawn in the order the member alone would draw it."""

    def __init__(self, members: Sequence[NoisyNorm]) -> None:
        super().__init__()
        self.norm = _stack_layer([m.norm for m in members])
        self.noise = members[0].noise
        self.generators = [m.generator for m in members]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(x)
        if not self.training or self.noise == 0:
            return y
        drawn = []
        for g in self.generators:  # each member's s, m, sd (D,) and z (B, D), as alone
            d, n = y.shape[-1], self.noise
            s = 1 + n * torch.rand(d, dtype=y.dtype, generator=g)
            m = n * (2 * torch.rand(d, dtype=y.dtype, generator=g) - 1)
            sd = n * torch.rand(d, dtype=y.dtype, generator=g)
            drawn.append((s, m, sd, torch.randn(y.shape[1:], dtype=y.dtype, generator=g)))
        s, m, sd, z = (torch.stack(t) for t in zip(*drawn, strict=True))
        return s[:, None] * y + m[:, None] + sd[:, None] * z


def _stack_layer(members: Sequence[nn.Module]) -> nn.Module:
    first = members[0]
    # Only with a generator per member: on torch's global one their draws would interleave.
    if isinstance(first, NoisyNorm) and all(m.generator is not None for m in members):
        if len({id(m.generator) for m in members}) == len(members):
            return _StackedNoisyNorm(members)
    if isinstance(first, nn.Linear):
        return _StackedLinear(members)
    # type(), not isinstance(): DetachedLayerNorm's backward is its own.
    if type(first) is torch_ln.LayerNorm and first.weight is not None and first.bias is not None:
        return _StackedNorm(members)
    if type(first) is torch_ln.RMSNorm and first.weight is not None:
        return _StackedNorm(members)
    if isinstance(first, nn.BatchNorm1d) and first.affine and first.track_running_stats:
        return _StackedBatchNorm(members)
    if isinstance(first, nn.Identity | nn.ReLU | nn.Sigmoid | nn.Tanh):
        return first  # no parameters: the same function for every member
    hint = (
        " whose members share a generator (give each its own)"
        if isinstance(first, NoisyNorm)
        else ""
    )
    raise ValueError(f"StackedMLP cannot stack a {type(first).__name__} layer{hint}")
