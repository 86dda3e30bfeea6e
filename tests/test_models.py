"""Tiny models: structure, norms, and the weight-decay parameter groups."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lnbook import models, torch_ln
from lnbook.stacked import StackedMLP, StackedTransformer


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


@pytest.mark.parametrize("activation, kind", [("sigmoid", nn.Sigmoid), ("tanh", nn.Tanh)])
def test_mlp_activation_follows_each_norm(activation, kind):
    m = models.MLP(5, 7, 3, depth=3, norm="layer", activation=activation)
    layers = list(m.net)
    acts = [i for i, layer in enumerate(layers) if isinstance(layer, kind)]
    assert len(acts) == 3 and all(isinstance(layers[i - 1], torch_ln.LayerNorm) for i in acts)


@pytest.mark.parametrize("init, gain", [("xavier", 1.0), ("he", 2.0**0.5)])
def test_mlp_init_scales_weights_and_zeros_biases(init, gain):
    torch.manual_seed(0)
    m = models.MLP(400, 300, 10, depth=1, norm=None, init=init)
    w = m.net[0].weight
    # Xavier normal: std = sqrt(2 / (fan_in + fan_out)); He normal: std = sqrt(2 / fan_in).
    expected = (2 / (400 + 300)) ** 0.5 if init == "xavier" else gain / 400**0.5
    assert abs(w.std().item() / expected - 1) < 0.02
    assert all((lin.bias == 0).all() for lin in m.modules() if isinstance(lin, nn.Linear))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"activation": "gelu"}, "activation"),
        ({"init": "orthogonal"}, "init"),
        ({"noise": -1.0}, "noise"),
    ],  # fmt: skip
)
def test_mlp_rejects_bad_activation_init_noise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.MLP(4, 4, 2, **kwargs)


def test_noisy_norm_shifts_and_scales_each_unit_anew_every_step():
    torch.manual_seed(0)
    noisy = models.NoisyNorm(nn.Identity(), noise=1.0)
    x = torch.zeros(20000, 8)
    y1, y2 = noisy(x), noisy(x)
    # On zeros the output is m_j + n_j z: per unit, a mean in [-1, 1] and a std in [0, 1].
    mean, std = y1.mean(0), y1.std(0)
    assert (mean.abs() <= 1.05).all() and (std <= 1.05).all() and std.max() > 0.05
    assert (y1.mean(0) - y2.mean(0)).abs().max() > 0.05  # redrawn at the next call
    # The documented formula, y = s * x + m + n * z, with the same random draws.
    x = torch.randn(5, 8)
    torch.manual_seed(3)
    y = noisy(x)
    torch.manual_seed(3)
    s, m, n = 1 + torch.rand(8), 2 * torch.rand(8) - 1, torch.rand(8)
    torch.testing.assert_close(y, s * x + m + n * torch.randn(5, 8))
    noisy.eval()
    assert torch.equal(noisy(x), x)  # no noise at inference
    assert "noise=1.0" in repr(noisy)
    m = models.MLP(4, 6, 2, depth=2, norm="layer", noise=0.5)
    assert len(models.norm_layers(m)) == 2  # the wrapped norms are still found
    with pytest.raises(ValueError, match="noise"):
        models.NoisyNorm(nn.Identity(), float("nan"))


def test_dyt_is_a_scaled_tanh_with_a_learned_steepness():
    m = models.DyT(4, alpha0=0.7)
    with torch.no_grad():
        m.weight.copy_(torch.tensor([1.0, 2.0, 0.5, -1.0]))
        m.bias.copy_(torch.tensor([0.0, 1.0, -1.0, 0.5]))
    x = torch.randn(3, 4)
    torch.testing.assert_close(m(x), m.weight * torch.tanh(0.7 * x) + m.bias)
    assert {n for n, _ in m.named_parameters()} == {"alpha", "weight", "bias"}
    assert isinstance(models.make_norm("dyt", 4), models.DyT)
    assert len(models.norm_layers(models.MLP(4, 6, 2, depth=2, norm="dyt"))) == 2


def test_detached_layer_norm_forward_is_layer_norm_backward_drops_the_corrections():
    torch.manual_seed(0)
    m = models.make_norm("layer_detached", 6).double()
    with torch.no_grad():
        m.weight.uniform_(0.5, 1.5)
    x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    dy = torch.randn(4, 6, dtype=torch.float64)
    expected = torch.nn.functional.layer_norm(x, (6,), m.weight, m.bias)
    torch.testing.assert_close(m(x), expected)
    (m(x) * dy).sum().backward()
    # With the statistics held constant: dx = rstd * gamma * dy, nothing else.
    rstd = torch.rsqrt(x.var(-1, unbiased=False, keepdim=True) + m.eps)
    torch.testing.assert_close(x.grad, rstd * m.weight * dy)
    # The true gradient differs: it sums to zero over the features; this one does not.
    assert x.grad.sum(-1).abs().max() > 1e-3


def _members(norm, placement="post", activation="sigmoid", n=3):
    out = []
    for seed in range(n):
        torch.manual_seed(seed)
        out.append(
            models.MLP(
                6, 5, 4, depth=2, norm=norm, placement=placement, activation=activation,
                init="xavier",
            )
        )  # fmt: skip
    return out


@pytest.mark.parametrize("norm", ["layer", "batch", "rms", None])
@pytest.mark.parametrize("placement", ["pre", "post"])
def test_stacked_mlp_computes_each_members_output_and_gradient(norm, placement):
    members = _members(norm, placement)
    stacked = StackedMLP(members)
    x = torch.randn(3, 8, 6)
    out = stacked(x)
    ref = torch.stack([m(x[e]) for e, m in enumerate(members)])  # each member alone
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    # Gradients: each member's own loss, through the stack and through the member.
    (out**2).mean(dim=(1, 2)).sum().backward()
    for e, m in enumerate(members):
        (m(x[e]) ** 2).mean().backward()
    first = stacked.layers[0 if placement == "post" else 1]  # the first Linear
    for e, m in enumerate(members):
        linear = next(layer for layer in m.net if isinstance(layer, nn.Linear))
        torch.testing.assert_close(first.weight.grad[e], linear.weight.grad.T)
        torch.testing.assert_close(first.bias.grad[e, 0], linear.bias.grad)


@pytest.mark.parametrize("norm", ["layer", "batch", None])
def test_stacked_sgd_steps_match_torch_sgd_on_each_member(norm):
    members = _members(norm)
    stacked = StackedMLP(members)
    lr = torch.tensor([0.05, 0.5, 2.0])
    opts = [torch.optim.SGD(m.parameters(), lr=float(r)) for m, r in zip(members, lr, strict=True)]
    for _ in range(5):
        x, y = torch.randn(3, 8, 6), torch.randint(0, 4, (3, 8))
        loss = torch.stack(
            [nn.functional.cross_entropy(o, t) for o, t in zip(stacked(x), y, strict=True)]
        ).sum()
        stacked.zero_grad()
        loss.backward()
        stacked.sgd_step(lr)
        for e, (m, opt) in enumerate(zip(members, opts, strict=True)):
            opt.zero_grad()
            nn.functional.cross_entropy(m(x[e]), y[e]).backward()
            opt.step()
    stacked.eval()
    for m in members:
        m.eval()  # batch norm: the running statistics each member gathered
    x = torch.randn(3, 8, 6)
    ref = torch.stack([m(x[e]) for e, m in enumerate(members)])
    torch.testing.assert_close(stacked(x), ref, rtol=1e-4, atol=1e-5)


def test_stacked_mlp_refuses_what_it_cannot_stack():
    with pytest.raises(TypeError, match="MLP"):
        StackedMLP([])
    with pytest.raises(ValueError, match="same layers"):
        StackedMLP([models.MLP(6, 5, 4), models.MLP(6, 7, 4)])
    with pytest.raises(ValueError, match="cannot stack a NoisyNorm"):
        StackedMLP([models.MLP(6, 5, 4, noise=0.5)])
    with pytest.raises(ValueError, match="cannot stack a DyT"):
        StackedMLP([models.MLP(6, 5, 4, norm="dyt")])
    stacked = StackedMLP(_members("layer"))
    with pytest.raises(ValueError, match=r"shape \(E=3, B, d_in=6\), got \(2, 8, 6\)"):
        stacked(torch.randn(2, 8, 6))
    with pytest.raises(ValueError, match=r"lr must have shape \(3,\)"):
        stacked.sgd_step(torch.ones(2))
    with pytest.raises(ValueError, match=r"d_in=6\), got \(3, 8, 5\)"):
        stacked(torch.randn(3, 8, 5))
    with pytest.raises(TypeError, match="floating-point tensor"):
        stacked(torch.ones(3, 8, 6, dtype=torch.long))
    with pytest.raises(TypeError, match="lr must be a tensor"):
        stacked.sgd_step([0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="positive and finite"):
        stacked.sgd_step(torch.tensor([0.1, float("nan"), 0.1]))


def _transformers(placement, norm="layer", n=3, **kwargs):
    out = []
    for seed in range(n):
        torch.manual_seed(seed)
        out.append(
            models.TinyTransformer(
                d=16, n_layers=2, n_heads=4, d_ff=32, max_len=9, norm=norm,
                placement=placement, **kwargs,
            )
        )  # fmt: skip
    return out


@pytest.mark.parametrize("norm", ["layer", "rms"])
@pytest.mark.parametrize("placement", ["pre", "post"])
def test_stacked_transformer_computes_each_members_logits_and_gradient(norm, placement):
    members = _transformers(placement, norm)
    stacked = StackedTransformer(members)
    ids = torch.randint(0, 16, (3, 5, 9))
    out = stacked(ids)
    ref = torch.stack([m(ids[e]) for e, m in enumerate(members)])  # each member alone
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    (out**2).mean(dim=(1, 2, 3)).sum().backward()
    for e, m in enumerate(members):
        (m(ids[e]) ** 2).mean().backward()
    for e, m in enumerate(members):
        block, ref_block = stacked.blocks[1], m.decoder[1]
        torch.testing.assert_close(
            block["qkv"].weight.grad[e], ref_block.self_attn.in_proj_weight.grad.T
        )
        torch.testing.assert_close(block["ff2"].bias.grad[e, 0], ref_block.ff[2].bias.grad)
        torch.testing.assert_close(block["norm1"].weight.grad[e, 0], ref_block.norms[1].weight.grad)
        torch.testing.assert_close(stacked.embed.grad[e], m.embed.weight.grad)
        torch.testing.assert_close(stacked.pos.grad[e], m.pos.weight.grad)


def test_stacked_transformer_refuses_what_it_cannot_stack():
    with pytest.raises(TypeError, match="TinyTransformer"):
        StackedTransformer([])
    with pytest.raises(ValueError, match="same layers"):
        StackedTransformer(_transformers("pre", n=1) + [models.TinyTransformer(d=16)])
    with pytest.raises(ValueError, match="encoder"):
        StackedTransformer(_transformers("pre", encoder_decoder=True))
    with pytest.raises(ValueError, match="cannot stack a DyT"):
        StackedTransformer(_transformers("pre", norm="dyt"))
    stacked = StackedTransformer(_transformers("post"))
    with pytest.raises(ValueError, match=r"shape \(E=3, B, T <= 9\), got \(2, 4, 9\)"):
        stacked(torch.zeros(2, 4, 9, dtype=torch.long))
    with pytest.raises(ValueError, match=r"got \(3, 4, 10\)"):
        stacked(torch.zeros(3, 4, 10, dtype=torch.long))
    with pytest.raises(TypeError, match="integer tensor"):
        stacked(torch.zeros(3, 4, 9))


# ------------------------------------------------------------ bad input, said clearly ----

_TT = {"vocab": 16, "d": 8, "n_layers": 1, "n_heads": 2, "d_ff": 16, "max_len": 8}


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: models.MLP(64, 16, 10)(torch.randn(3, 8, 8)), ValueError,
         r"x must have shape \(B, 64\), got \(3, 8, 8\)"),
        (lambda: models.MLP(64, 16, 10)(torch.randn(3, 64).numpy()), TypeError,
         r"x must be a \(B, 64\) torch.Tensor, got ndarray"),
        (lambda: models.MLP(64, 16, 10, depth=2.5), TypeError, "depth must be an int, got float"),
        (lambda: models.MLP(64, 16, 10, depth="2"), TypeError, "depth must be an int, got str"),
        (lambda: models.MLP(64, 0, 10), ValueError, "d_hidden must be >= 1, got 0"),
        (lambda: models.MLP(0, 16, 10), ValueError, "d_in must be >= 1, got 0"),
        (lambda: models.MLP(64, 16, 0), ValueError, "d_out must be >= 1, got 0"),
        (lambda: models.MLP(64, -3, 10, norm=None), ValueError, "d_hidden must be >= 1, got -3"),
        (lambda: models.MLP(64, 16, 10, noise="0.1"), TypeError,
         "noise must be a number, got str '0.1'"),
        (lambda: models.norm_parameters([nn.LayerNorm(3)]), TypeError,
         "model must be a torch.nn.Module, got list"),
        (lambda: models.norm_layers(None), TypeError, "model must be a torch.nn.Module, got None"),
        (lambda: models.param_groups(torch.ones(3).numpy(), 0.1), TypeError,
         "model must be a torch.nn.Module, got ndarray"),
        (lambda: models.param_groups(models.MLP(4, 4, 2), "0.1"), TypeError,
         "weight_decay must be a number, got str '0.1'"),
        (lambda: models.param_groups(models.MLP(4, 4, 2), -0.1), ValueError,
         "weight_decay must be finite and >= 0, got -0.1"),
        (lambda: models.param_groups(models.MLP(4, 4, 2), float("nan")), ValueError,
         "weight_decay must be finite and >= 0, got nan"),
        (lambda: models.param_groups(models.MLP(4, 4, 2), None), TypeError,
         "weight_decay must be a number, got NoneType None"),
        (lambda: models.TinyTransformer(**{**_TT, "d": 30, "n_heads": 4}), ValueError,
         r"d \(30\) must be a multiple of n_heads \(4\)"),
        (lambda: models.TinyTransformer(**{**_TT, "d": 0}), ValueError, "d must be >= 1, got 0"),
        (lambda: models.TinyTransformer(**{**_TT, "vocab": 0}), ValueError,
         "vocab must be >= 1, got 0"),
        (lambda: models.Block(30, 4, 8), ValueError, r"d \(30\) must be a multiple of n_heads"),
        (lambda: models.TinyTransformer(**_TT)(torch.tensor([[1, 16]])), ValueError,
         r"ids must be \(B, T\) integer ids in \[0, 16\), got values in \[1, 16\]"),
        (lambda: models.TinyTransformer(**_TT)(torch.tensor([[-1, 2]])), ValueError,
         r"in \[0, 16\), got values in \[-1, 2\]"),
        (lambda: models.TinyTransformer(**_TT)(torch.tensor([1, 2])), ValueError,
         r"ids must be \(B, T\) .* got shape \(2,\)"),
        (lambda: models.TinyTransformer(**_TT)(torch.ones(2, 3)), TypeError,
         r"ids must be \(B, T\) integer ids .* got torch.float32"),
        (lambda: models.TinyTransformer(**_TT)(torch.ones(2, 3, dtype=torch.long).numpy()),
         TypeError, r"ids must be \(B, T\) integer ids .* got ndarray"),
        (lambda: models.TinyTransformer(**_TT, encoder_decoder=True)(
            torch.ones(2, 3, dtype=torch.long), torch.full((2, 3), 16)), ValueError,
         r"tgt must be \(B, T\) integer ids in \[0, 16\), got values in \[16, 16\]"),
        (lambda: models.DyT(8)(torch.randn(4, 6)), ValueError,
         r"x must have 8 features on its last axis, got shape \(4, 6\)"),
        (lambda: models.DyT(0), ValueError, "d must be >= 1, got 0"),
        (lambda: models.DyT(-1), ValueError, "d must be >= 1, got -1"),
        (lambda: models.NoisyNorm(nn.Identity(), "0.1"), TypeError,
         "noise must be a number, got str '0.1'"),
        (lambda: models.causal_mask(-1), ValueError, "t must be >= 1, got -1"),
        (lambda: models.causal_mask(2.5), TypeError, "t must be an int, got float 2.5"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_clearly(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_checked_inputs_the_models_take_as_before():
    # Hand-written: position i may not attend to j > i.
    expected = torch.tensor([[False, True, True], [False, False, True], [False, False, False]])
    assert torch.equal(models.causal_mask(3), expected)
    # int32 ids, which the ids check lets through, read the same rows as int64 ones.
    torch.manual_seed(0)
    t = models.TinyTransformer(**_TT)
    ids = torch.randint(0, 16, (2, 5))
    assert torch.equal(t(ids.to(torch.int32)), t(ids))
