"""Tiny models for the chapters' experiments, with the normalization as a parameter.

``norm`` picks the normalization layer ("layer", "batch", "rms" or None) and
``placement`` where it goes relative to each linear layer ("pre": before it, "post": after
it). The layer norm used is lnbook's own (``torch_ln.LayerNorm``), a drop-in for torch's.
"""

from __future__ import annotations

import torch
from torch import nn

from . import torch_ln

NORMS = ("layer", "batch", "rms", None)
PLACEMENTS = ("pre", "post")


def make_norm(norm: str | None, d: int) -> nn.Module:
    """The normalization layer called ``norm`` over ``d`` features (identity for None)."""
    if norm == "layer":
        return torch_ln.LayerNorm(d)
    if norm == "batch":
        return nn.BatchNorm1d(d)
    if norm == "rms":
        return torch_ln.RMSNorm(d)
    if norm is None:
        return nn.Identity()
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


class MLP(nn.Module):
    """A multilayer perceptron: ``depth`` hidden layers of ``d_hidden`` units with ReLU.

    With ``placement="post"`` each hidden layer is Linear -> norm -> ReLU (as in Ba et al.,
    2016); with ``"pre"`` it is norm -> Linear -> ReLU (the norm sees the layer's input).

    Parameters
    ----------
    d_in, d_hidden, d_out : int
    depth : int, number of hidden layers (>= 1)
    norm : "layer", "batch", "rms" or None
    placement : "pre" or "post"
    """

    def __init__(
        self,
        d_in: int,
        d_hidden: int,
        d_out: int,
        depth: int = 2,
        norm: str | None = "layer",
        placement: str = "post",
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        layers: list[nn.Module] = []
        d = d_in
        for _ in range(depth):
            if placement == "pre":
                layers += [make_norm(norm, d), nn.Linear(d, d_hidden), nn.ReLU()]
            else:
                layers += [nn.Linear(d, d_hidden), make_norm(norm, d_hidden), nn.ReLU()]
            d = d_hidden
        layers.append(nn.Linear(d, d_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


_NORM_KINDS = (torch_ln.LayerNorm, torch_ln.RMSNorm, nn.LayerNorm, nn.RMSNorm, nn.BatchNorm1d)


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
