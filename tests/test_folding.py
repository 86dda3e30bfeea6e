"""lnbook.folding: folds checked against the unfolded torch modules and torch's own
``fuse_*_bn_eval`` (in float64), and the saved-tensor counts against what autograd's
formulas say each layer norm keeps."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

from lnbook import folding, models, torch_ln


@pytest.fixture(autouse=True)
def _float64():  # the oracles are float64: modules and tensors made in a test are float64
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _randomize(module, seed=0):
    """Give every norm parameter and running statistic a value far from its default."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.LayerNorm, torch_ln.LayerNorm, nn.modules.batchnorm._BatchNorm)):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 2 + 0.2)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g))
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) * 3 + 0.05)
    return module.eval()


@pytest.mark.parametrize("norm_cls", [nn.LayerNorm, torch_ln.LayerNorm])
def test_fold_norm_into_linear_computes_the_same(norm_cls):
    torch.manual_seed(0)
    norm, lin = _randomize(norm_cls(12)), nn.Linear(12, 5)
    before = copy.deepcopy((norm.state_dict(), lin.state_dict()))
    plain, folded = folding.fold_norm_into_linear(norm, lin)
    x = torch.randn(7, 12) * 4 + 2
    torch.testing.assert_close(folded(plain(x)), lin(norm(x)), rtol=1e-13, atol=1e-13)
    assert plain.weight is None and plain.bias is None
    # the inputs are left as they were
    for old, new in zip(before, (norm.state_dict(), lin.state_dict()), strict=True):
        assert all(torch.equal(old[k], new[k]) for k in old)


def test_fold_norm_into_linear_without_biases():
    norm = _randomize(nn.LayerNorm(6))
    norm.bias = None
    lin = nn.Linear(6, 3, bias=False)
    plain, folded = folding.fold_norm_into_linear(norm, lin)
    x = torch.randn(4, 6)
    torch.testing.assert_close(folded(plain(x)), lin(norm(x)))


def test_fold_batch_norm_matches_torch_fusion_linear_and_conv():
    torch.manual_seed(1)
    lin, bn = nn.Linear(6, 4).eval(), _randomize(nn.BatchNorm1d(4))
    x = torch.randn(9, 6)
    mine = folding.fold_batch_norm(lin, bn)
    torch.testing.assert_close(mine(x), bn(lin(x)), rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(mine.weight, fuse_linear_bn_eval(lin, bn).weight)
    conv, bn2 = nn.Conv2d(3, 5, 3, padding=1).eval(), _randomize(nn.BatchNorm2d(5), seed=2)
    xi = torch.randn(2, 3, 6, 6)
    mine = folding.fold_batch_norm(conv, bn2)
    torch.testing.assert_close(mine(xi), bn2(conv(xi)), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(mine(xi), fuse_conv_bn_eval(conv, bn2)(xi), rtol=1e-12, atol=1e-12)


def test_fold_batch_norm_into_a_conv_without_bias():
    conv, bn = nn.Conv1d(2, 3, 3, bias=False).eval(), _randomize(nn.BatchNorm1d(3))
    x = torch.randn(4, 2, 9)
    torch.testing.assert_close(folding.fold_batch_norm(conv, bn)(x), bn(conv(x)))
    assert conv.bias is None  # the original keeps its missing bias


def test_fold_sequential_folds_every_pair_of_an_mlp():
    torch.manual_seed(2)
    pre = _randomize(models.MLP(8, 16, 3, depth=2, norm="layer", placement="pre"))
    post = _randomize(models.MLP(8, 16, 3, depth=2, norm="batch", placement="post"), seed=4)
    x = torch.randn(5, 8)
    for mlp, kind in ((pre, torch_ln.LayerNorm), (post, nn.BatchNorm1d)):
        folded = folding.fold_sequential(mlp.net)
        torch.testing.assert_close(folded(x), mlp(x), rtol=1e-12, atol=1e-12)
        affine = [m for m in folded if isinstance(m, kind) and m.weight is not None]
        assert not affine  # nothing left to fold
    assert sum(isinstance(m, nn.BatchNorm1d) for m in post.net) == 2  # untouched


@pytest.mark.parametrize("fold_gamma", [False, True])
def test_fold_centring_gives_rmsnorm_with_the_same_logits(fold_gamma):
    torch.manual_seed(3)
    model = _randomize(models.TinyTransformer(vocab=11, d=16, n_layers=2, n_heads=2, d_ff=32))
    ids = torch.randint(11, (3, 9))
    folded = folding.fold_centring(model, fold_gamma=fold_gamma).eval()
    torch.testing.assert_close(folded(ids), model(ids), rtol=1e-10, atol=1e-10)
    norms = [m for m in folded.modules() if isinstance(m, torch_ln.RMSNorm)]
    assert len(norms) == 5 and all((m.weight is None) == fold_gamma for m in norms)
    assert not any(isinstance(m, torch_ln.LayerNorm) for m in folded.modules())


def test_folds_refuse_what_they_cannot_fold():
    with pytest.raises(TypeError, match="norm must be a LayerNorm"):
        folding.fold_norm_into_linear(nn.LayerNorm(4, elementwise_affine=False), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="input"):
        folding.fold_norm_into_linear(nn.LayerNorm(4), nn.Linear(5, 2))
    with pytest.raises(TypeError, match="layer must be"):
        folding.fold_batch_norm(nn.ReLU(), nn.BatchNorm1d(2))
    with pytest.raises(TypeError, match="bn must be"):
        folding.fold_batch_norm(nn.Linear(2, 2), nn.BatchNorm1d(2, track_running_stats=False))
    with pytest.raises(ValueError, match="features"):
        folding.fold_batch_norm(nn.Linear(2, 3), nn.BatchNorm1d(2))
    with pytest.raises(TypeError, match="Sequential"):
        folding.fold_sequential([nn.Linear(2, 2)])


@pytest.mark.parametrize("keep", folding.KEEPS)
def test_layer_norm_keeping_matches_torch_forward_and_backward(keep):
    torch.manual_seed(5)
    x = (torch.randn(4, 3, 10) * 3 + 1).requires_grad_()
    w, b = torch.rand(10).requires_grad_(), torch.randn(10).requires_grad_()
    dy = torch.randn(4, 3, 10)
    y = folding.layer_norm_keeping(x, w, b, keep=keep)
    grads = torch.autograd.grad(y, (x, w, b), dy)
    y_ref = F.layer_norm(x, (10,), w, b)
    refs = torch.autograd.grad(y_ref, (x, w, b), dy)
    torch.testing.assert_close(y, y_ref)
    for g, r in zip(grads, refs, strict=True):
        torch.testing.assert_close(g, r)


def test_layer_norm_keeping_refuses_bad_arguments():
    with pytest.raises(ValueError, match="keep"):
        folding.layer_norm_keeping(torch.randn(2, 3), keep="y")
    with pytest.raises(ValueError, match="weight must have shape"):
        folding.layer_norm_keeping(torch.randn(2, 3), torch.ones(4))
    with pytest.raises(TypeError, match="floating-point"):
        folding.layer_norm_keeping(torch.ones(2, 3, dtype=torch.long))


def test_saved_bytes_counts_what_autograd_keeps():
    n, d = 6, 32
    x = torch.randn(n, d, dtype=torch.float32, requires_grad=True)
    w = torch.rand(d, dtype=torch.float32, requires_grad=True)
    b = torch.rand(d, dtype=torch.float32, requires_grad=True)
    # PyTorch's layer norm keeps input, weight, bias, mean and rstd (its derivatives.yaml)
    native = folding.saved_bytes(lambda: F.layer_norm(x, (d,), w, b))
    assert native["unique"] == 4 * (n * d + 2 * d + 2 * n)
    assert sorted(s for s, _ in native["tensors"]) == sorted([(n, d), (d,), (d,), (n, 1), (n, 1)])
    # one tensor saved twice counts once in "unique", twice in "total"
    twice = folding.saved_bytes(lambda: x * x)
    assert twice["total"] == 2 * twice["unique"] == 2 * 4 * n * d
    keep = folding.saved_bytes(lambda: folding.layer_norm_keeping(x, keep="x_hat") @ w[:, None])
    assert keep["unique"] == 4 * (n * d + n + d)  # x_hat shared with the matmul, rstd, w


def test_layer_norm_keeping_and_recompute_runs_refuse_bad_arguments():
    x = torch.randn(3, 8)
    with pytest.raises(ValueError, match="eps"):
        folding.layer_norm_keeping(x, eps=-1.0)
    with pytest.raises(TypeError, match="weight"):
        folding.layer_norm_keeping(x, weight=[1.0] * 8)
    with pytest.raises(ValueError, match="shape"):
        folding.recompute_runs((0, 4))
