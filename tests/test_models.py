"""Tiny models: structure, norms, and the weight-decay parameter groups."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lnbook import models, torch_ln


@pytest.mark.parametrize(
    "norm, kind",
    [
        ("layer", torch_ln.LayerNorm),
        ("batch", nn.BatchNorm1d),
        ("rms", torch_ln.RMSNorm),
        (None, nn.Identity),
    ],
)
@pytest.mark.parametrize("placement", ["pre", "post"])
def test_mlp_places_its_norms(norm, kind, placement):
    m = models.MLP(5, 7, 3, depth=2, norm=norm, placement=placement)
    layers = list(m.net)
    norms = [i for i, layer in enumerate(layers) if isinstance(layer, kind)]
    linears = [i for i, layer in enumerate(layers) if isinstance(layer, nn.Linear)]
    assert len(norms) == 2
    offset = -1 if placement == "pre" else 1  # norm right before / after each hidden Linear
    assert [i - offset for i in norms] == linears[:2]
    assert m(torch.randn(4, 5)).shape == (4, 3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"norm": "group"}, "norm must be one of"),
        ({"placement": "middle"}, "placement"),
        ({"depth": 0}, "depth"),
    ],
)
def test_mlp_rejects_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.MLP(4, 4, 2, **kwargs)


def test_param_groups_decay_only_weight_matrices():
    m = models.MLP(6, 5, 2, depth=2, norm="layer")
    decay, rest = models.param_groups(m, 0.3)
    assert decay["weight_decay"] == 0.3 and rest["weight_decay"] == 0.0
    linear_weights = {id(x.weight) for x in m.modules() if isinstance(x, nn.Linear)}
    assert {id(p) for p in decay["params"]} == linear_weights
    assert len(decay["params"]) + len(rest["params"]) == len(list(m.parameters()))
    assert {id(p) for p in models.norm_parameters(m)} <= {id(p) for p in rest["params"]}


def test_norm_parameters_counts_gamma_and_beta():
    m = models.MLP(6, 5, 2, depth=3, norm="layer")
    assert sum(p.numel() for p in models.norm_parameters(m)) == 3 * 2 * 5
    assert models.norm_parameters(models.MLP(6, 5, 2, norm=None)) == []
