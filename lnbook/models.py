"""Tiny models for the chapters' experiments, with the normalization as a parameter.

``norm`` picks the normalization layer ("layer", "batch", "rms", "dyt" for Dynamic Tanh,
"layer_detached" for layer norm without its statistics' gradient, or None) and
``placement`` where it goes relative to each linear layer ("pre": before it, "post": after
it), or, in a transformer, around each sublayer (:data:`BLOCK_PLACEMENTS`, chapters 5 and
12). The layer norm used is lnbook's own (``torch_ln.LayerNorm``), a drop-in for torch's.
"""

from __future__ import annotations

import math

from ._optional import torch_missing
from ._validate import check_number, check_size

try:
    import torch
    from torch import nn
except ImportError as e:  # the browser edition: say where this module runs instead
    raise torch_missing("lnbook.models") from e

from . import torch_ln

NORMS = ("layer", "batch", "rms", "dyt", "layer_detached", None)
PLACEMENTS = ("pre", "post")
# Where a transformer block puts its norms (see :func:`residual`); "mix" is a whole
# model's placement: post-norm blocks first, then pre-norm ones (Li et al., 2024).
BLOCK_PLACEMENTS = ("pre", "post", "sandwich", "post_sublayer", "deepnorm", "admin")
MODEL_PLACEMENTS = BLOCK_PLACEMENTS + ("mix",)
# Placements whose last block already ends in a norm: no final norm by default.
ENDS_NORMALIZED = ("post", "deepnorm", "admin")
ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def _check_features(x, d: int) -> None:
    """A ValueError (TypeError for a non-tensor) unless ``x`` is a tensor of ``d`` features
    on its last axis: checked here, since torch would broadcast a (D,) weight or misread
    the axes, or fail deep inside a matrix product."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim == 0 or x.shape[-1] != d:
        raise ValueError(f"x must have {d} features on its last axis, got shape {tuple(x.shape)}")


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
        for name, value in (("d_in", d_in), ("d_hidden", d_hidden), ("d_out", d_out)):
            check_size(name, value)
        depth = check_size("depth", depth)
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
        check_number("noise", noise, 0)
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
        self.d_in = int(d_in)
        self.net = nn.Sequential(*layers)
        for layer in layers if init != "default" else []:
            if isinstance(layer, nn.Linear):
                if init == "xavier":
                    nn.init.xavier_normal_(layer.weight)
                else:
                    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x : (B, d_in) -> (B, d_out)."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a (B, {self.d_in}) torch.Tensor, got {type(x).__name__}")
        if x.ndim != 2 or x.shape[1] != self.d_in:  # else a matmul error, or BN's wrong axis
            raise ValueError(f"x must have shape (B, {self.d_in}), got {tuple(x.shape)}")
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
        check_size("d", d)
        self.alpha = nn.Parameter(torch.tensor(float(alpha0)))
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_features(x, self.weight.shape[0])  # a (D,) gamma would broadcast over others
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
        check_number("noise", noise, 0)
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
    if not isinstance(model, nn.Module):  # norm_parameters and param_groups come here first
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
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
    no_decay = {id(p) for p in norm_parameters(model)}  # model is checked here first
    check_number("weight_decay", weight_decay, 0)
    no_decay |= {
        id(m.bias) for m in model.modules() if isinstance(m, nn.Linear) and m.bias is not None
    }
    decay = [p for p in model.parameters() if id(p) not in no_decay]
    rest = [p for p in model.parameters() if id(p) in no_decay]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def causal_mask(t: int) -> torch.Tensor:
    """(t, t) boolean mask, True above the diagonal: position i may not attend to j > i."""
    t = check_size("t", t)
    return torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)


def embed_ids(embed: nn.Embedding, pos: nn.Embedding, ids, name: str = "ids") -> torch.Tensor:
    """Token plus position embeddings of ``ids``, (B, T) -> (B, T, d), or an error naming
    ``name``: not integer ids, not (B, T), longer than ``pos`` has positions, or an id
    outside [0, vocab) (torch's bare "index out of range in self"). Shared by the
    transformers here and in :mod:`lnbook.attention`."""
    want = f"{name} must be (B, T) integer ids in [0, {embed.num_embeddings}), got"
    if not isinstance(ids, torch.Tensor) or ids.dtype not in (torch.int64, torch.int32):
        got = ids.dtype if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise TypeError(f"{want} {got}")
    if ids.ndim != 2 or ids.shape[1] < 1:
        raise ValueError(f"{want} shape {tuple(ids.shape)}")
    t, max_len = ids.shape[1], pos.num_embeddings
    if t > max_len:
        raise ValueError(f"sequences of length {t} exceed max_len = {max_len}")
    try:  # the range is checked by the lookup itself: free when the ids are right
        tokens = embed(ids)
    except IndexError:
        raise ValueError(f"{want} values in [{ids.min().item()}, {ids.max().item()}]") from None
    return tokens + pos(torch.arange(t, device=ids.device))


def residual(placement: str, x, f, norm, out_norm=None, alpha=1.0):
    """One sublayer ``f`` with its residual connection and norm(s), placed as ``placement``.

    ``x`` is the residual stream (..., d). "pre" and "post" are chapter 5's; the others
    are the placements of chapter 12:

    - "sandwich": ``x + out_norm(f(norm(x)))``, CogView's Sandwich-LN (Ding et al., 2021),
      Gemma 2's pre- and post-norms and Peri-LN's block (Kim et al., 2025);
    - "post_sublayer": ``x + norm(f(x))``, OLMo 2's block: the norm on the sublayer's
      output only, none on its input;
    - "deepnorm" and "admin": ``norm(alpha * x + f(x))``, post-norm with the residual
      scaled up: by a number for DeepNorm (Wang et al., 2022), by a learned per-feature
      ``omega`` for Admin (Liu et al., 2020).
    """
    if placement not in BLOCK_PLACEMENTS:
        raise ValueError(f"placement must be one of {BLOCK_PLACEMENTS}, got {placement!r}")
    if placement == "pre":
        return x + f(norm(x))
    if placement == "post":
        return norm(x + f(x))
    if placement == "sandwich":
        if out_norm is None:
            raise ValueError("placement 'sandwich' needs out_norm, the norm of f's output")
        return x + out_norm(f(norm(x)))
    if placement == "post_sublayer":
        return x + norm(f(x))
    return norm(alpha * x + f(x))  # deepnorm, admin


def deepnorm_constants(n_layers: int) -> tuple[float, float]:
    """DeepNorm's ``(alpha, beta)`` for a decoder-only (or encoder-only) stack of
    ``n_layers`` blocks (Wang et al., 2022): the residual is multiplied by
    ``alpha = (2 N)^(1/4)`` and the value, output and feed-forward weights start
    ``beta = (8 N)^(-1/4)`` times their usual size."""
    check_size("n_layers", n_layers)
    return (2 * n_layers) ** 0.25, (8 * n_layers) ** -0.25


def _check_widths(d, n_heads, d_ff) -> None:
    """A transformer block's sizes, checked before torch's attention asserts on them."""
    for name, value in (("d", d), ("n_heads", n_heads), ("d_ff", d_ff)):
        check_size(name, value)
    if d % n_heads:  # each head attends over d / n_heads of the features
        raise ValueError(f"d ({d}) must be a multiple of n_heads ({n_heads})")


class Block(nn.Module):
    """A transformer block: self-attention, optional cross-attention, feed-forward.

    Each sublayer ``f`` is wrapped with a residual connection and a normalization, as
    :func:`residual` writes them: ``placement="post"`` (the original Transformer):
    ``x = norm(x + f(x))``; ``placement="pre"`` (GPT-2 and most models since):
    ``x = x + f(norm(x))``; the other :data:`BLOCK_PLACEMENTS` the same way.

    Parameters
    ----------
    d : model width; n_heads : attention heads; d_ff : feed-forward width
    norm : "layer", "rms" (or "batch"/None, for experiments)
    placement : one of :data:`BLOCK_PLACEMENTS`
    cross : add a cross-attention sublayer (a decoder block of an encoder-decoder)
    alpha : DeepNorm's residual scale (used by "deepnorm" only)
    """

    def __init__(
        self,
        d: int,
        n_heads: int,
        d_ff: int,
        norm: str | None = "layer",
        placement: str = "pre",
        cross: bool = False,
        alpha: float = 1.0,
    ) -> None:
        super().__init__()
        if placement not in BLOCK_PLACEMENTS:
            raise ValueError(f"placement must be one of {BLOCK_PLACEMENTS}, got {placement!r}")
        _check_widths(d, n_heads, d_ff)
        self.placement = placement
        self.self_attn = nn.MultiheadAttention(d, n_heads, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(d, n_heads, batch_first=True) if cross else None
        self.ff = nn.Sequential(nn.Linear(d, d_ff), nn.ReLU(), nn.Linear(d_ff, d))
        n = 3 if cross else 2
        self.norms = nn.ModuleList(make_norm(norm, d) for _ in range(n))
        # The sandwich's second norm, on each sublayer's output
        self.out_norms = (
            nn.ModuleList(make_norm(norm, d) for _ in range(n)) if placement == "sandwich" else None
        )
        self.alpha = float(alpha) if placement == "deepnorm" else 1.0
        # Admin's omega: one learned scale per feature and sublayer, set by a profiling pass
        self.omega = (
            nn.ParameterList(nn.Parameter(torch.ones(d)) for _ in range(n))
            if placement == "admin"
            else None
        )

    def sublayers(self, mask=None, memory=None) -> list:
        """The block's sublayers, each a function of the residual stream (B, T, d)."""
        fs = [lambda h: self.self_attn(h, h, h, attn_mask=mask, need_weights=False)[0]]
        if self.cross_attn is not None:
            fs.append(lambda h: self.cross_attn(h, memory, memory, need_weights=False)[0])
        return fs + [self.ff]

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, memory: torch.Tensor | None = None
    ) -> torch.Tensor:
        for i, (norm, f) in enumerate(zip(self.norms, self.sublayers(mask, memory), strict=True)):
            out_norm = self.out_norms[i] if self.out_norms is not None else None
            alpha = self.omega[i] if self.omega is not None else self.alpha
            x = residual(self.placement, x, f, norm, out_norm, alpha)
        return x

    @torch.no_grad()
    def profile_admin(self, x: torch.Tensor, ratio: float, mask=None) -> tuple[torch.Tensor, float]:
        """Admin's profiling pass through this block (Liu et al., 2020, their code's
        ``adaptive-profiling``): each sublayer's omega is set to ``ratio``, the size the
        residual stream has reached, and the next ratio is
        ``sqrt(Var[omega * x] + Var[f(x)])``. Returns the block's output and that ratio."""
        for norm, omega, f in zip(self.norms, self.omega, self.sublayers(mask), strict=True):
            omega.fill_(ratio)
            fx = f(x)
            ratio = math.sqrt(
                (x * omega).var(unbiased=False).item() + fx.var(unbiased=False).item()
            )
            x = norm(omega * x + fx)
        return x, ratio


class TinyTransformer(nn.Module):
    """A small causal (decoder-only) language model, or an encoder-decoder.

    ``(B, T)`` token ids in, ``(B, T, vocab)`` logits out. With ``placement="pre"`` a final
    normalization follows the last block (as in GPT-2); post-norm needs none.

    Parameters
    ----------
    vocab, d, n_layers, n_heads, d_ff, max_len : sizes
    norm : as for :class:`Block`
    placement : one of :data:`MODEL_PLACEMENTS`: a block's placement for every block, or
        "mix" (Mix-LN, Li et al., 2024): post-norm in the first quarter of the blocks (at
        least one), pre-norm in the rest. "deepnorm" also scales the initial value, output
        and feed-forward weights by DeepNorm's beta (:func:`deepnorm_constants`); "admin"
        sets each omega by a profiling pass (:meth:`Block.profile_admin`) on a batch of
        random tokens drawn from a generator of its own (the global one is untouched).
        The placements other than "pre" and "post" are for decoder-only models.
    encoder_decoder : if True, ``forward(src, tgt)``: an encoder (non-causal blocks) reads
        ``src`` and a decoder (causal self-attention + cross-attention) predicts ``tgt``
    init : "default" (PyTorch's initialisation) or "xavier": Xavier-uniform weight matrices
        and zero biases, as in the original Transformer and in Xiong et al. (2020). The
        initialisation decides how large each sublayer's output is at the start, and so how
        much each post-norm layer rescales the gradient.
    final_norm : whether a norm follows the last block; None (the default) gives one to
        every placement except those whose blocks end in a norm (:data:`ENDS_NORMALIZED`)
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
        final_norm: bool | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("vocab", vocab), ("n_layers", n_layers), ("max_len", max_len)):
            check_size(name, value)
        _check_widths(d, n_heads, d_ff)
        if norm == "batch":
            # BatchNorm1d would read (B, T, d) as T channels: the wrong axis.
            raise ValueError("norm='batch' is not supported in a transformer (see chapter 5)")
        if init not in ("default", "xavier"):
            raise ValueError(f"init must be 'default' or 'xavier', got {init!r}")
        if placement not in MODEL_PLACEMENTS:
            raise ValueError(f"placement must be one of {MODEL_PLACEMENTS}, got {placement!r}")
        if encoder_decoder and placement not in PLACEMENTS:
            raise ValueError(
                f"an encoder-decoder takes placement 'pre' or 'post', got {placement!r}"
            )
        if final_norm is not None and not isinstance(final_norm, bool):
            raise TypeError(f"final_norm must be True, False or None, got {final_norm!r}")
        self.placement = placement
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_len, d)
        self.encoder = (
            nn.ModuleList(Block(d, n_heads, d_ff, norm, placement) for _ in range(n_layers))
            if encoder_decoder
            else None
        )
        self.enc_final = make_norm(norm, d) if encoder_decoder and placement == "pre" else None
        n_post = max(1, n_layers // 4)  # Mix-LN: the first quarter of the blocks post-norm
        alpha = deepnorm_constants(n_layers)[0] if placement == "deepnorm" else 1.0
        self.decoder = nn.ModuleList(
            Block(
                d,
                n_heads,
                d_ff,
                norm,
                placement if placement != "mix" else ("post" if i < n_post else "pre"),
                cross=encoder_decoder,
                alpha=alpha,
            )
            for i in range(n_layers)
        )
        if final_norm is None:
            final_norm = placement not in ENDS_NORMALIZED
        self.final = make_norm(norm, d) if final_norm else nn.Identity()
        self.head = nn.Linear(d, vocab)
        self.max_len = max_len
        if init == "xavier":
            for name, p in self.named_parameters():
                if p.dim() == 2 and "embed" not in name and "pos" not in name:
                    nn.init.xavier_uniform_(p)
                elif name.endswith("bias") and "norm" not in name:
                    nn.init.zeros_(p)
        if placement == "deepnorm":
            self._deepnorm_init(deepnorm_constants(n_layers)[1])
        if placement == "admin":
            ids = torch.randint(vocab, (16, max_len), generator=torch.Generator().manual_seed(0))
            x, ratio, mask = self._embed(ids), 1.0, causal_mask(max_len)
            for block in self.decoder:
                x, ratio = block.profile_admin(x, ratio, mask)

    @torch.no_grad()
    def _deepnorm_init(self, beta: float) -> None:
        """DeepNorm's initialisation: the feed-forward, value and output projections (weights
        and biases) scaled by ``beta``, as the authors' code (torchscale) does after the usual
        initialisation; the query and key projections keep theirs."""
        for block in self.decoder:
            d = block.self_attn.embed_dim
            for p in (block.ff[0].weight, block.ff[0].bias, block.ff[2].weight, block.ff[2].bias):
                p.mul_(beta)
            block.self_attn.in_proj_weight[2 * d :].mul_(beta)  # the value rows of (q; k; v)
            block.self_attn.in_proj_bias[2 * d :].mul_(beta)
            block.self_attn.out_proj.weight.mul_(beta)
            block.self_attn.out_proj.bias.mul_(beta)

    def _embed(self, ids: torch.Tensor, name: str = "ids") -> torch.Tensor:
        return embed_ids(self.embed, self.pos, ids, name)

    def forward(
        self, ids: torch.Tensor, tgt: torch.Tensor | None = None, return_residuals: bool = False
    ):
        memory = None
        if self.encoder is not None:
            if tgt is None:
                raise ValueError("an encoder-decoder needs forward(src, tgt)")
            memory = self._embed(ids, "src")
            for block in self.encoder:
                memory = block(memory)
            if self.enc_final is not None:
                memory = self.enc_final(memory)
            ids = tgt
        x = self._embed(ids, "tgt" if self.encoder is not None else "ids")
        mask = causal_mask(ids.shape[1]).to(ids.device)
        residuals = []
        for block in self.decoder:
            x = block(x, mask=mask, memory=memory)
            residuals.append(x)
        logits = self.head(self.final(x))
        return (logits, residuals) if return_residuals else logits
