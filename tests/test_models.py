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


def test_causal_mask_hides_the_future():
    torch.manual_seed(0)
    m = models.TinyTransformer(vocab=10, d=16, n_layers=2, n_heads=2, d_ff=32, max_len=8)
    ids = torch.randint(0, 10, (1, 6))
    changed = ids.clone()
    changed[0, 4] = (ids[0, 4] + 1) % 10
    a, b = m(ids), m(changed)
    torch.testing.assert_close(a[0, :4], b[0, :4])  # positions before 4 cannot see it
    assert (a[0, 4:] - b[0, 4:]).abs().max() > 1e-4


def test_tiny_transformer_shapes_and_bad_input():
    m = models.TinyTransformer(
        vocab=10,
        d=16,
        n_layers=2,
        n_heads=2,
        d_ff=32,
        max_len=8,
        encoder_decoder=True,
        placement="post",
    )
    src, tgt = torch.randint(0, 10, (3, 7)), torch.randint(0, 10, (3, 5))
    logits, res = m(src, tgt, return_residuals=True)
    assert logits.shape == (3, 5, 10) and len(res) == 2
    with pytest.raises(ValueError, match="needs forward\\(src, tgt\\)"):
        m(src)
    with pytest.raises(ValueError, match="exceed max_len = 8"):
        m(torch.zeros(1, 9, dtype=torch.long), torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="placement"):
        models.Block(8, 2, 16, placement="middle")


def test_tiny_transformer_xavier_init_and_refused_batch_norm():
    torch.manual_seed(0)
    m = models.TinyTransformer(vocab=10, d=16, n_layers=1, n_heads=2, d_ff=32, init="xavier")
    w = m.decoder[0].ff[0].weight  # (32, 16): Xavier bound sqrt(6 / (16 + 32))
    bound = (6 / 48) ** 0.5
    assert bound + 1e-6 >= w.abs().max() > 0.8 * bound
    assert (m.decoder[0].ff[0].bias == 0).all()
    assert (m.final.weight == 1).all()  # the norm's gamma keeps its own initialisation
    with pytest.raises(ValueError, match="norm='batch' is not supported"):
        models.TinyTransformer(norm="batch")
    with pytest.raises(ValueError, match="init must be"):
        models.TinyTransformer(init="he")


@pytest.mark.parametrize("placement", ["pre", "post"])
def test_block_matches_torchs_transformer_decoder_layer(placement):
    # Oracle: torch.nn.TransformerDecoderLayer (norm_first=True is pre-norm), same weights.
    torch.manual_seed(1)
    d, heads, d_ff = 8, 2, 16
    ours = models.Block(d, heads, d_ff, norm="layer", placement=placement, cross=True).double()
    theirs = nn.TransformerDecoderLayer(
        d, heads, d_ff, dropout=0.0, batch_first=True, norm_first=placement == "pre"
    ).double()
    theirs.self_attn.load_state_dict(ours.self_attn.state_dict())
    theirs.multihead_attn.load_state_dict(ours.cross_attn.state_dict())
    theirs.linear1.load_state_dict(ours.ff[0].state_dict())
    theirs.linear2.load_state_dict(ours.ff[2].state_dict())
    for mine, torchs in zip(ours.norms, (theirs.norm1, theirs.norm2, theirs.norm3), strict=True):
        torchs.load_state_dict(mine.state_dict())
    x, memory = torch.randn(2, 5, d, dtype=torch.float64), torch.randn(2, 7, d, dtype=torch.float64)
    mask = models.causal_mask(5)
    torch.testing.assert_close(
        ours(x, mask=mask, memory=memory), theirs(x, memory, tgt_mask=mask), rtol=1e-12, atol=1e-12
    )
