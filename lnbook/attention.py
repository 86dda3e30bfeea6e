"""Causal self-attention written out, with QK-norm as an option, and a small transformer.

The attention logit of query ``i`` and key ``j`` in one head is
``s_ij = q_i . k_j / sqrt(d_head)``. Nothing bounds it: ``q`` and ``k`` are linear in the
block's (normalized) input, so the logits grow as the square of the projections' scale.
QK-norm normalizes ``q`` and ``k`` before the product (Henry et al., 2020; Dehghani et al.,
2023; Wortsman et al., 2023), so that ``|s_ij| <= |q_i| |k_j| / sqrt(d_head)`` is fixed by
the norms' gains alone. :class:`CausalSelfAttention` computes each step in the open
(q, k, v projections, per-head scaled dot product, causal mask, softmax) so that it can
return the logits, and :class:`QKTransformer` stacks it into a pre-norm decoder sized like
the book's other tiny transformers. Without QK-norm the attention is that of
``torch.nn.MultiheadAttention`` with the same weights (tests/test_attention.py).

Two axes are in use for QK-norm: ``qk_axis="head"`` normalizes each head's ``d_head``
features on their own (one gain of ``d_head`` shared by the heads, as Gemma 3's and Qwen 3's
``q_norm``), ``qk_axis="full"`` normalizes the full-width ``q`` and ``k`` (``d`` features,
before the split into heads, as OLMo 2).
"""

from __future__ import annotations

import copy
import math
import warnings

from ._optional import torch_missing

try:
    import torch
    from torch import Tensor, nn
except ImportError as e:  # the browser edition: say where this module runs instead
    raise torch_missing("lnbook.attention") from e

from ._validate import QK_NORMS, check_qk_norm, check_size
from .models import causal_mask, embed_ids, make_norm

__all__ = [
    "QK_AXES",
    "QK_NORMS",
    "CausalSelfAttention",
    "QKTransformer",
    "StackedQKTransformer",
    "attention_entropy",
]

QK_AXES = ("head", "full")

# torch.vmap has no batching rule for the in-place addcmul_ of torch_ln's layer-norm backward
# and runs it member by member (same result), with a warning at every step of a stacked run.
warnings.filterwarnings(
    "ignore",
    message="There is a performance drop because we have not yet implemented the batching "
    "rule for aten::addcmul_",
    category=UserWarning,
)


def _check_choices(qk_norm, qk_axis) -> None:
    check_qk_norm(qk_norm)
    if qk_axis not in QK_AXES:
        raise ValueError(f"qk_axis must be one of {QK_AXES}, got {qk_axis!r}")


class CausalSelfAttention(nn.Module):
    """Causal multi-head self-attention, optionally with QK-norm.

    Parameters
    ----------
    d : model width; n_heads : heads (``d`` must be a multiple of it; d_head = d / n_heads)
    qk_norm : None, "layer" or "rms": the normalization applied to the queries and keys
        (each has its own layer, with its own gain gamma; "layer" also has its beta)
    qk_axis : "head" (each head's d_head features) or "full" (all d features, before the
        split into heads)

    ``forward(x)`` takes ``(B, T, d)`` and returns ``(B, T, d)``; with
    ``return_logits=True`` also the attention logits ``(B, n_heads, T, T)`` before the mask
    (so every entry is finite; the causal mask sets those with ``j > i`` to -inf).
    The last call's logits are also kept, detached, as ``last_logits``: a training loop's
    ``watch`` reads them without a second forward pass.
    """

    def __init__(self, d: int, n_heads: int, qk_norm: str | None = None, qk_axis: str = "head"):
        super().__init__()
        check_size("d", d)
        check_size("n_heads", n_heads)
        if d % n_heads:
            raise ValueError(f"d ({d}) must be a multiple of n_heads ({n_heads})")
        _check_choices(qk_norm, qk_axis)
        self.d, self.n_heads, self.d_head = d, n_heads, d // n_heads
        self.qk_norm, self.qk_axis = qk_norm, qk_axis
        self.q, self.k, self.v, self.out = (nn.Linear(d, d) for _ in range(4))
        width = self.d_head if qk_axis == "head" else d
        self.q_norm = make_norm(qk_norm, width)  # identity for None
        self.k_norm = make_norm(qk_norm, width)
        self.last_logits: Tensor | None = None

    def forward(self, x: Tensor, return_logits: bool = False):
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim != 3 or x.shape[-1] != self.d:
            raise ValueError(f"x must have shape (B, T, {self.d}), got {tuple(x.shape)}")
        b, t, _ = x.shape
        q, k, v = self.q(x), self.k(x), self.v(x)  # (B, T, d) each
        if self.qk_axis == "full":  # OLMo 2: the whole width's statistics
            q, k = self.q_norm(q), self.k_norm(k)

        def heads(z: Tensor) -> Tensor:  # (B, T, d) -> (B, H, T, d_head)
            return z.view(b, t, self.n_heads, self.d_head).transpose(1, 2)

        q, k, v = heads(q), heads(k), heads(v)
        if self.qk_axis == "head":  # each head's d_head features on their own
            q, k = self.q_norm(q), self.k_norm(k)
        logits = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)  # (B, H, T, T)
        self.last_logits = logits.detach()
        masked = logits.masked_fill(causal_mask(t).to(x.device), float("-inf"))
        weights = torch.softmax(masked, dim=-1)
        y = (weights @ v).transpose(1, 2).reshape(b, t, self.d)
        y = self.out(y)
        return (y, logits) if return_logits else y


def attention_entropy(logits: Tensor) -> Tensor:
    """The entropy (nats) of each query's causal attention distribution; ``(..., T)``.

    ``logits`` are ``(..., T, T)`` before the causal mask. Query ``i`` attends to
    ``i + 1`` keys, so its entropy lies between 0 (all weight on one key) and ln(i + 1).
    """
    if not isinstance(logits, Tensor):
        raise TypeError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    if logits.ndim < 2 or logits.shape[-1] != logits.shape[-2]:
        raise ValueError(
            f"logits must have shape (..., T, T), square in its last two axes, got "
            f"{tuple(logits.shape)}"
        )
    t = logits.shape[-1]
    masked = logits.masked_fill(causal_mask(t).to(logits.device), float("-inf"))
    logp = torch.log_softmax(masked, dim=-1)
    p = logp.exp()
    return -(p * logp.masked_fill(p == 0, 0.0)).sum(dim=-1)


class Block(nn.Module):
    """A pre-norm transformer block: ``x + attn(norm(x))``, then ``x + ff(norm(x))``."""

    def __init__(self, d, n_heads, d_ff, norm, qk_norm, qk_axis):
        super().__init__()
        self.norm1, self.norm2 = make_norm(norm, d), make_norm(norm, d)
        self.attn = CausalSelfAttention(d, n_heads, qk_norm, qk_axis)
        self.ff = nn.Sequential(nn.Linear(d, d_ff), nn.ReLU(), nn.Linear(d_ff, d))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        a, logits = self.attn(self.norm1(x), return_logits=True)
        x = x + a
        return x + self.ff(self.norm2(x)), logits


class QKTransformer(nn.Module):
    """A small pre-norm causal language model built on :class:`CausalSelfAttention`.

    ``(B, T)`` token ids in, ``(B, T, vocab)`` logits out (with ``return_logits=True``
    also the list of each layer's attention logits, ``(B, n_heads, T, T)`` each). A final
    norm follows the last block, as in GPT-2.

    Parameters
    ----------
    vocab, d, n_layers, n_heads, d_ff, max_len : sizes
    norm : the blocks' normalization, "layer" or "rms" (see ``models.make_norm``)
    qk_norm, qk_axis : as for :class:`CausalSelfAttention`
    """

    def __init__(
        self,
        vocab: int = 16,
        d: int = 32,
        n_layers: int = 2,
        n_heads: int = 4,
        d_ff: int = 64,
        max_len: int = 64,
        norm: str = "layer",
        qk_norm: str | None = None,
        qk_axis: str = "head",
    ) -> None:
        super().__init__()
        self.config = {"norm": norm, "qk_norm": qk_norm, "qk_axis": qk_axis, "n_heads": n_heads}
        for name, value in (("vocab", vocab), ("n_layers", n_layers), ("d_ff", d_ff)):
            check_size(name, value)
        check_size("max_len", max_len)
        if norm not in ("layer", "rms"):
            raise ValueError(f"norm must be 'layer' or 'rms', got {norm!r}")
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList(
            Block(d, n_heads, d_ff, norm, qk_norm, qk_axis) for _ in range(n_layers)
        )
        self.final = make_norm(norm, d)
        self.head = nn.Linear(d, vocab)
        self.max_len = max_len

    def forward(self, ids: Tensor, return_logits: bool = False):
        x = embed_ids(self.embed, self.pos, ids)  # ids checked there: (B, T), in range
        all_logits = []
        for block in self.blocks:
            x, logits = block(x)
            all_logits.append(logits)
        out = self.head(self.final(x))
        return (out, all_logits) if return_logits else out


class StackedQKTransformer(nn.Module):
    """Several :class:`QKTransformer` s of one shape, trained side by side as one module.

    Built from the members (each keeps the initialisation its own seed gave it), with every
    parameter stacked along a new first axis (``torch.func.stack_module_state``);
    ``forward`` takes ``(E, B, T)`` ids, member ``e`` reading ``ids[e]``, and returns
    ``(E, B, T, vocab)``. It runs :meth:`QKTransformer.forward` itself, vectorized over the
    members by ``torch.vmap`` with each member's parameters (``torch.func.functional_call``),
    so the model's arithmetic is written once, in :class:`QKTransformer`, and each member
    computes what it computes alone (tests/test_attention.py compares outputs, logits and
    gradients). ``last_logits`` holds each layer's attention logits of the last call,
    ``(E, B, n_heads, T, T)``, detached.
    """

    def __init__(self, members) -> None:
        super().__init__()
        members = list(members)
        if not members or not all(isinstance(m, QKTransformer) for m in members):
            raise TypeError("members must be a non-empty sequence of QKTransformer")
        shapes = {tuple((n, tuple(p.shape)) for n, p in m.named_parameters()) for m in members}
        configs = {tuple(m.config.items()) for m in members}
        if len(shapes) != 1 or len(configs) != 1:
            raise ValueError("every member must have the same sizes, norm and QK-norm")
        first = members[0]
        self.config, self.max_len, self.n_members = first.config, first.max_len, len(members)
        self.n_layers = len(first.blocks)
        params, _ = torch.func.stack_module_state(members)  # name -> (E, ...)
        self._names = list(params)
        self._index = {n: i for i, n in enumerate(self._names)}
        self.params = nn.ParameterList(nn.Parameter(params[n].detach()) for n in self._names)
        # The shared function: a copy of one member, called with each member's parameters.
        # Kept out of the module's children, so that only the stacked parameters train.
        template = copy.deepcopy(first).requires_grad_(False)
        self.__dict__["_template"] = template

        def member(p: dict, ids: Tensor) -> tuple[Tensor, Tensor]:
            out, logits = torch.func.functional_call(template, p, (ids,), {"return_logits": True})
            return out, torch.stack(logits)  # (B, T, vocab), (L, B, H, T, T)

        self._members = torch.vmap(member)
        self.last_logits: list[Tensor | None] = [None] * self.n_layers

    def _p(self, name: str) -> Tensor:
        """The stacked parameter ``name`` (a member's parameter name), (E, ...)."""
        return self.params[self._index[name]]

    def forward(self, ids: Tensor) -> Tensor:
        if not isinstance(ids, Tensor) or ids.ndim != 3 or ids.shape[0] != self.n_members:
            shape = tuple(ids.shape) if isinstance(ids, Tensor) else type(ids).__name__
            raise ValueError(f"ids must have shape ({self.n_members}, B, T), got {shape}")
        if ids.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"ids must be integer token ids, got dtype {ids.dtype}")
        if ids.shape[2] > self.max_len:
            raise ValueError(f"sequences of length {ids.shape[2]} exceed max_len = {self.max_len}")
        # Checked here: under vmap an id out of range reads another member's embedding.
        if ids.numel() == 0:
            raise ValueError(f"ids must not be empty, got shape {tuple(ids.shape)}")
        lo, hi = (t.item() for t in torch.aminmax(ids))
        vocab = self._template.embed.num_embeddings
        if lo < 0 or hi >= vocab:
            raise ValueError(f"ids must be in [0, {vocab}), got values in [{lo}, {hi}]")
        out, logits = self._members(dict(zip(self._names, self.params, strict=True)), ids)
        self.last_logits = list(logits.detach().transpose(0, 1))  # L of (E, B, H, T, T)
        for block in self._template.blocks:  # what the vectorized call left there
            block.attn.last_logits = None
        return out
