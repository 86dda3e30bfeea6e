"""Tests of ``lnbook.attention`` against independent oracles.

* without QK-norm: the weights copied into ``torch.nn.MultiheadAttention`` and into
  ``torch.nn.functional.scaled_dot_product_attention`` give the same outputs (float64);
* with QK-norm: a reference written below from the definitions with
  ``torch.nn.functional.layer_norm`` / ``rms_norm``, per head and over the full width;
* the logits' bound under RMSNorm QK-norm, and the entropy against a direct computation.

No expected value is computed with the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lnbook.attention import (
    CausalSelfAttention,
    QKTransformer,
    StackedQKTransformer,
    attention_entropy,
)

F64 = torch.float64
TOL = {"rtol": 1e-10, "atol": 1e-12}


def randomized(module: nn.Module, seed: int) -> nn.Module:
    """Every parameter random (norm gains away from 1, biases away from 0), in float64."""
    module = module.to(F64)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=F64) * 0.5 + 0.3)
    return module


def x_of(b=3, t=7, d=16, seed=1):
    return torch.randn(b, t, d, generator=torch.Generator().manual_seed(seed), dtype=F64)


def test_equals_multihead_attention():
    d, h = 16, 4
    attn = randomized(CausalSelfAttention(d, h), 0)
    mha = nn.MultiheadAttention(d, h, batch_first=True).to(F64)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([attn.q.weight, attn.k.weight, attn.v.weight]))
        mha.in_proj_bias.copy_(torch.cat([attn.q.bias, attn.k.bias, attn.v.bias]))
        mha.out_proj.weight.copy_(attn.out.weight)
        mha.out_proj.bias.copy_(attn.out.bias)
    x = x_of(d=d)
    mask = torch.triu(torch.ones(7, 7, dtype=torch.bool), diagonal=1)
    torch.testing.assert_close(attn(x), mha(x, x, x, attn_mask=mask, need_weights=False)[0], **TOL)


def _reference(attn: CausalSelfAttention, x: torch.Tensor, norm) -> tuple:
    """Attention from the definitions: ``norm(z, weight, bias)`` applied to q and k over the
    axis ``attn.qk_axis`` names, torch's scaled_dot_product_attention with is_causal."""
    b, t, d = x.shape
    hh, dh = attn.n_heads, attn.d_head
    q, k, v = (F.linear(x, lin.weight, lin.bias) for lin in (attn.q, attn.k, attn.v))
    if norm is not None and attn.qk_axis == "full":
        q, k = norm(q, attn.q_norm), norm(k, attn.k_norm)
    q, k, v = (z.reshape(b, t, hh, dh).permute(0, 2, 1, 3) for z in (q, k, v))
    if norm is not None and attn.qk_axis == "head":
        q, k = norm(q, attn.q_norm), norm(k, attn.k_norm)
    logits = torch.einsum("bhid,bhjd->bhij", q, k) / math.sqrt(dh)
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    y = y.permute(0, 2, 1, 3).reshape(b, t, d)
    return F.linear(y, attn.out.weight, attn.out.bias), logits


def _ln(z, layer):
    return F.layer_norm(z, (z.shape[-1],), layer.weight, layer.bias, layer.eps)


def _rms(z, layer):
    return F.rms_norm(z, (z.shape[-1],), layer.weight, layer.eps)


@pytest.mark.parametrize("qk_axis", ["head", "full"])
@pytest.mark.parametrize("qk_norm", [None, "layer", "rms"])
def test_equals_reference(qk_norm, qk_axis):
    attn = randomized(CausalSelfAttention(16, 4, qk_norm=qk_norm, qk_axis=qk_axis), 2)
    x = x_of(d=16, seed=3)
    norm = {None: None, "layer": _ln, "rms": _rms}[qk_norm]
    y, logits = attn(x, return_logits=True)
    y_ref, logits_ref = _reference(attn, x, norm)
    torch.testing.assert_close(y, y_ref, **TOL)
    torch.testing.assert_close(logits, logits_ref, **TOL)
    torch.testing.assert_close(attn.last_logits, logits_ref, **TOL)


def test_gain_shapes_follow_the_axis():
    assert CausalSelfAttention(32, 4, "rms", "head").q_norm.weight.shape == (8,)
    assert CausalSelfAttention(32, 4, "rms", "full").k_norm.weight.shape == (32,)


def test_qk_norm_bounds_the_logits():
    """RMSNorm QK-norm without eps: |logit| <= sqrt(d_head) max_i |gq_i gk_i|, whatever the
    projections' scale; without QK-norm the logits scale as the square of that scale."""
    attn = randomized(CausalSelfAttention(16, 2, qk_norm="rms"), 4)
    attn.q_norm.eps = attn.k_norm.eps = 0.0
    bound = math.sqrt(8) * (attn.q_norm.weight * attn.k_norm.weight).abs().max().item()
    plain = randomized(CausalSelfAttention(16, 2), 4)
    x = x_of(d=16, seed=5)
    small = plain(x, return_logits=True)[1]
    for c in (1.0, 100.0):
        with torch.no_grad():
            attn.q.weight.mul_(c), attn.k.weight.mul_(c)
        assert attn(x, return_logits=True)[1].abs().max().item() <= bound * (1 + 1e-12)
    with torch.no_grad():
        plain.q.weight.mul_(10), plain.q.bias.mul_(10)
        plain.k.weight.mul_(10), plain.k.bias.mul_(10)
    torch.testing.assert_close(plain(x, return_logits=True)[1], 100 * small, **TOL)


def test_attention_entropy_against_direct_sum():
    logits = torch.randn(2, 3, 5, 5, generator=torch.Generator().manual_seed(0), dtype=F64) * 3
    h = attention_entropy(logits)
    for i in range(5):  # query i sees keys 0..i
        p = torch.softmax(logits[..., i, : i + 1], dim=-1)
        torch.testing.assert_close(h[..., i], -(p * p.log()).sum(-1), **TOL)
    assert torch.all(h[..., 0] == 0)
    huge = attention_entropy(torch.tensor([[0.0, 0.0], [1e4, 0.0]], dtype=F64))
    torch.testing.assert_close(huge, torch.zeros(2, dtype=F64), **TOL)  # one key wins


def test_transformer_returns_each_layers_logits_and_is_causal():
    torch.manual_seed(0)
    m = QKTransformer(vocab=10, d=16, n_layers=3, n_heads=2, d_ff=32, max_len=9, qk_norm="layer")
    ids = torch.randint(0, 10, (2, 9))
    out, logits = m(ids, return_logits=True)
    assert out.shape == (2, 9, 10) and len(logits) == 3 and logits[0].shape == (2, 2, 9, 9)
    changed = ids.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % 10  # later tokens cannot change earlier outputs
    torch.testing.assert_close(m(changed)[:, :5], out[:, :5])
    assert not torch.allclose(m(changed)[:, 5:], out[:, 5:])


def test_transformer_gradients_reach_every_parameter():
    torch.manual_seed(1)
    m = QKTransformer(vocab=8, d=8, n_layers=1, n_heads=2, d_ff=16, max_len=5, qk_norm="rms")
    m(torch.randint(0, 8, (2, 5))).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"d": 10, "n_heads": 4}, ValueError, "multiple of n_heads"),
        ({"d": 8, "n_heads": 0}, ValueError, "n_heads must be >= 1"),
        ({"d": 8.0, "n_heads": 2}, TypeError, "d must be an int"),
        ({"d": 8, "n_heads": 2, "qk_norm": "batch"}, ValueError, "qk_norm must be one of"),
        ({"d": 8, "n_heads": 2, "qk_axis": "token"}, ValueError, "qk_axis must be one of"),
    ],
)
def test_bad_construction(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        CausalSelfAttention(**kwargs)


def test_bad_inputs_name_the_argument_and_shape():
    attn = CausalSelfAttention(8, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(B, T, 8\), got \(2, 3, 6\)"):
        attn(torch.zeros(2, 3, 6))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        attn(np.zeros((2, 3, 8)))
    m = QKTransformer(vocab=8, d=8, n_layers=1, n_heads=2, d_ff=16, max_len=4)
    with pytest.raises(ValueError, match="exceed max_len = 4"):
        m(torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"ids must be \(B, T\) integer ids .* got shape \(5,\)"):
        m(torch.zeros(5, dtype=torch.long))
    with pytest.raises(TypeError, match=r"ids must be \(B, T\) integer ids .* got torch.float32"):
        m(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="norm must be 'layer' or 'rms'"):
        QKTransformer(norm="batch")


@pytest.mark.parametrize(
    ("ids", "error", "match"),
    [
        # Used to be torch's bare "IndexError: index out of range in self".
        (torch.tensor([[1, 8]]), ValueError,
         r"ids must be \(B, T\) integer ids in \[0, 8\), got values in \[1, 8\]"),
        (torch.tensor([[-1, 2]]), ValueError, r"in \[0, 8\), got values in \[-1, 2\]"),
        (np.zeros((1, 3), dtype=np.int64), TypeError,
         r"ids must be \(B, T\) integer ids in \[0, 8\), got ndarray"),
        (torch.zeros(1, 0, dtype=torch.long), ValueError, r"got shape \(1, 0\)"),
    ],
)  # fmt: skip
def test_qk_transformer_ids_are_checked_as_the_tiny_transformers_are(ids, error, match):
    m = QKTransformer(vocab=8, d=8, n_layers=1, n_heads=2, d_ff=16, max_len=4)
    with pytest.raises(error, match=match):
        m(ids)


def test_stacked_ids_out_of_range_are_named_not_an_index_error():
    members = [QKTransformer(vocab=7, d=8, n_layers=1, n_heads=2, d_ff=12, max_len=6)] * 2
    stacked = StackedQKTransformer(members)
    with pytest.raises(ValueError, match=r"ids must be in \[0, 7\), got values in \[0, 7\]"):
        stacked(torch.tensor([[[0, 1]], [[2, 7]]]))
    # Under vmap these were no error: each read another member's embedding.
    with pytest.raises(ValueError, match=r"got values in \[-3, 0\]"):
        stacked(torch.tensor([[[0, 0]], [[-3, 0]]]))
    with pytest.raises(ValueError, match=r"got values in \[0, 7\]"):
        stacked(torch.tensor([[[0, 7]], [[0, 0]]]))
    with pytest.raises(ValueError, match=r"ids must not be empty, got shape \(2, 1, 0\)"):
        stacked(torch.zeros(2, 1, 0, dtype=torch.long))


def test_bad_logits_and_stacked_ids_are_refused_clearly():
    with pytest.raises(ValueError, match=r"\(\.\.\., T, T\).*got \(2, 3, 4\)"):
        attention_entropy(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"got \(5,\)"):
        attention_entropy(torch.zeros(5))
    with pytest.raises(TypeError, match="logits must be a torch.Tensor"):
        attention_entropy(np.zeros((3, 3)))
    members = [QKTransformer(vocab=7, d=8, n_layers=1, n_heads=2, d_ff=12, max_len=6)] * 2
    stacked = StackedQKTransformer(members)
    with pytest.raises(TypeError, match="ids must be integer token ids, got dtype torch.float32"):
        stacked(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"ids must have shape \(2, B, T\), got \(3, 3, 4\)"):
        stacked(torch.zeros(3, 3, 4, dtype=torch.long))


@pytest.mark.parametrize(("qk_norm", "qk_axis", "norm"), [(None, "head", "layer"),
                                                         ("layer", "head", "layer"),
                                                         ("rms", "full", "rms")])  # fmt: skip
def test_stacked_equals_each_member(qk_norm, qk_axis, norm):
    """Each member of the stack computes what it computes alone: outputs, logits, gradients."""
    members = [
        randomized(QKTransformer(vocab=7, d=8, n_layers=2, n_heads=2, d_ff=12, max_len=6,
                                 norm=norm, qk_norm=qk_norm, qk_axis=qk_axis), seed)
        for seed in (0, 1, 2)
    ]  # fmt: skip
    stacked = StackedQKTransformer(members)
    ids = torch.randint(0, 7, (3, 4, 6), generator=torch.Generator().manual_seed(9))
    out = stacked(ids)
    out.square().sum().backward()
    for e, m in enumerate(members):
        alone, logits = m(ids[e], return_logits=True)
        alone.square().sum().backward()
        torch.testing.assert_close(out[e], alone, **TOL)
        for i in range(2):
            torch.testing.assert_close(stacked.last_logits[i][e], logits[i], **TOL)
        for name, p in m.named_parameters():
            torch.testing.assert_close(stacked._p(name).grad[e], p.grad, **TOL)


def test_stacked_refuses_mixed_members_and_bad_ids():
    a = QKTransformer(vocab=7, d=8, n_layers=1, n_heads=2, d_ff=12, max_len=6)
    b = QKTransformer(vocab=7, d=8, n_layers=1, n_heads=2, d_ff=12, max_len=6, qk_norm="rms")
    with pytest.raises(ValueError, match="same sizes, norm and QK-norm"):
        StackedQKTransformer([a, b])
    with pytest.raises(TypeError, match="non-empty sequence of QKTransformer"):
        StackedQKTransformer([])
    with pytest.raises(ValueError, match=r"ids must have shape \(2, B, T\), got \(3, 1, 4\)"):
        StackedQKTransformer([a, a])(torch.zeros(3, 1, 4, dtype=torch.long))
