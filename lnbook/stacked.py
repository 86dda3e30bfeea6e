"""Several tiny models of one shape trained side by side, as one model.

A grid of learning rates and seeds trains each member on its own batches with its own
rate; batched products do all the members' work in one call, which on models this small
costs a few times one member's step instead of E times (chapters 5, 6 and 10).
:class:`StackedMLP` stacks :class:`lnbook.models.MLP` s, :class:`StackedTransformer`
decoder-only :class:`lnbook.models.TinyTransformer` s; each gives its members' outputs and
gradients to float rounding (tests/test_models.py compares them member by member).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np

from ._optional import torch_missing

try:
    import torch
    from torch import nn
except ImportError as e:  # the browser edition: say where this module runs instead
    raise torch_missing("lnbook.stacked") from e

from . import torch_ln
from .models import MLP, NoisyNorm, TinyTransformer, causal_mask, residual


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


class StackedTransformer(nn.Module):
    """Several decoder-only :class:`TinyTransformer` s of one shape, trained side by side.

    As :class:`StackedMLP`: built from the members (each keeps its own seed's weights), it
    computes each member's logits on its own batch with batched products, the members'
    attention heads side by side in one attention call. It gives the members' logits and
    gradients to float rounding (tests/test_models.py compares them). Layer norm or
    RMSNorm only, no encoder; every placement of :data:`lnbook.models.MODEL_PLACEMENTS`.

    ``forward`` takes ``(E, B, T)`` token ids, member ``e`` reading ``ids[e]``, and
    returns ``(E, B, T, vocab)`` logits.
    """

    def __init__(self, members: Sequence[TinyTransformer]) -> None:
        super().__init__()
        if len(members) == 0 or not all(isinstance(m, TinyTransformer) for m in members):
            raise TypeError("members must be a non-empty sequence of lnbook.models.TinyTransformer")
        if len({tuple((n, p.shape) for n, p in m.named_parameters()) for m in members}) != 1:
            raise ValueError("every member must have the same layers and sizes")
        first = members[0]
        if first.encoder is not None:
            raise ValueError("StackedTransformer stacks decoder-only models, not an encoder")
        self.n_members = len(members)
        self.placements = [b.placement for b in first.decoder]  # one per block ("mix")
        if any([b.placement for b in m.decoder] != self.placements for m in members):
            raise ValueError("every member must have the same placement")
        self.n_heads, self.max_len = first.decoder[0].self_attn.num_heads, first.max_len
        self.embed = _stacked(m.embed.weight for m in members)  # (E, vocab, d)
        self.pos = _stacked(m.pos.weight for m in members)  # (E, max_len, d)
        self.blocks, self.alphas = nn.ModuleList(), []
        for i in range(len(first.decoder)):
            blocks = [m.decoder[i] for m in members]
            attn = [b.self_attn for b in blocks]
            in_proj = [SimpleNamespace(weight=a.in_proj_weight, bias=a.in_proj_bias) for a in attn]
            layers = {
                "qkv": _StackedLinear(in_proj),
                "out": _StackedLinear([a.out_proj for a in attn]),
                "ff1": _StackedLinear([b.ff[0] for b in blocks]),
                "ff2": _StackedLinear([b.ff[2] for b in blocks]),
            }
            for j in range(2):
                layers[f"norm{j}"] = _stack_layer([b.norms[j] for b in blocks])
                if blocks[0].out_norms is not None:  # the sandwich's second norm
                    layers[f"out_norm{j}"] = _stack_layer([b.out_norms[j] for b in blocks])
                if blocks[0].omega is not None:  # Admin's omega, (E, 1, d)
                    layers[f"omega{j}"] = _Scale([b.omega[j] for b in blocks])
            self.alphas.append(first.decoder[i].alpha)  # DeepNorm's (1 for the others)
            self.blocks.append(nn.ModuleDict(layers))
        self.final = _stack_layer([m.final for m in members])  # Identity for post-norm
        self.head = _StackedLinear([m.head for m in members])

    def _attention(self, x: torch.Tensor, layers: nn.ModuleDict, b: int, t: int) -> torch.Tensor:
        e, _, d = x.shape
        h = self.n_heads
        qkv = layers["qkv"](x).view(e, b, t, 3, h, d // h)
        q, k, v = qkv.permute(3, 0, 1, 4, 2, 5).reshape(3, e * b, h, t, d // h)
        allowed = ~causal_mask(t).to(x.device)
        o = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        return layers["out"](o.view(e, b, h, t, d // h).transpose(2, 3).reshape(e, b * t, d))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if not isinstance(ids, torch.Tensor) or ids.is_floating_point():
            raise TypeError(f"ids must be an integer tensor, got {type(ids).__name__}")
        if ids.ndim != 3 or ids.shape[0] != self.n_members or ids.shape[2] > self.max_len:
            raise ValueError(
                f"ids must have shape (E={self.n_members}, B, T <= {self.max_len}), "
                f"got {tuple(ids.shape)}"
            )
        e, b, t = ids.shape
        member = torch.arange(e, device=ids.device)[:, None, None]
        x = self.embed[member, ids] + self.pos[:, None, :t]  # (E, B, T, d)
        x = x.reshape(e, b * t, -1)
        for layers, placement, alpha in zip(self.blocks, self.placements, self.alphas, strict=True):

            def ff(h, layers=layers):
                return layers["ff2"](torch.relu(layers["ff1"](h)))

            def attn(h, layers=layers):
                return self._attention(h, layers, b, t)

            for j, f in enumerate((attn, ff)):
                norm = layers[f"norm{j}"]
                out_norm = layers[f"out_norm{j}"] if f"out_norm{j}" in layers else None
                scale = layers[f"omega{j}"].weight if f"omega{j}" in layers else alpha
                x = residual(placement, x, f, norm, out_norm, scale)
        return self.head(self.final(x)).view(e, b, t, -1)


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


class _Scale(nn.Module):
    """The members' per-feature scales (Admin's omega), stacked as (E, 1, D)."""

    def __init__(self, members: Sequence[nn.Parameter]) -> None:
        super().__init__()
        self.weight = _stacked(w[None] for w in members)


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
    raise ValueError(f"a stacked model cannot stack a {type(first).__name__} layer{hint}")
