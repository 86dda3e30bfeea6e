"""Tests of ``lnbook.recurrent``, the layer-normalized LSTM, against independent oracles.

* ``layer_norm=False``: the weights are copied into ``torch.nn.LSTMCell`` / ``torch.nn.LSTM``,
  which must give the same outputs and gradients (float64);
* ``layer_norm=True``: a reference written below from the equations of Ba et al. (2016,
  section 3.1) with ``torch.nn.functional.layer_norm``, and ``torch.autograd.gradcheck``;
* properties that hold by construction of the maths: each example is normalized alone, any
  sequence length works, the normalized summed inputs ignore the weights' scale (eps = 0),
  and ``|h| <= 1``.

No expected value is computed with the code under test.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lnbook.recurrent import BatchNormLSTM, LayerNormLSTM, LayerNormLSTMCell

F64 = torch.float64
TOL = {"rtol": 1e-10, "atol": 1e-12}


def close(a: torch.Tensor, b: torch.Tensor, **tol) -> None:
    torch.testing.assert_close(a, b, **(tol or TOL))


def randomize(model: nn.Module, seed: int) -> nn.Module:
    """Every parameter random (LN gains away from 1 and biases away from 0), so a test sees
    a swapped or missing gain or bias."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g, dtype=p.dtype)
            p.copy_(1 + 0.3 * r if name.endswith("weight") and "ln_" in name else 0.5 * r)
    return model


def data(*shape: int, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(shape, generator=g, dtype=F64)


# --------------------------------------------------------------------------------------------
# layer_norm=False is torch's LSTM
# --------------------------------------------------------------------------------------------


def test_plain_cell_matches_torch_lstm_cell():
    D, H, B = 3, 5, 4
    cell = randomize(LayerNormLSTMCell(D, H, layer_norm=False, dtype=F64), 1)
    ref = nn.LSTMCell(D, H, dtype=F64)
    ref.load_state_dict(cell.state_dict())  # same names: weight_ih, weight_hh, bias_ih, bias_hh
    x = data(B, D, seed=2).requires_grad_()
    h0, c0 = data(B, H, seed=3).requires_grad_(), data(B, H, seed=4).requires_grad_()
    h, c = cell(x, (h0, c0))
    h_ref, c_ref = ref(x, (h0, c0))
    close(h, h_ref)
    close(c, c_ref)
    w = data(B, H, seed=5)  # a loss that weighs h and c differently
    ours = torch.autograd.grad((h * w + c).sum(), [x, h0, c0, *cell.parameters()])
    theirs = torch.autograd.grad((h_ref * w + c_ref).sum(), [x, h0, c0, *ref.parameters()])
    for a, b in zip(ours, theirs, strict=True):
        close(a, b)
    # no state: zeros, as torch
    close(cell(x)[0], ref(x)[0])


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("batch_first", [True, False])
def test_plain_lstm_matches_torch_lstm(num_layers, batch_first):
    D, H, B, T = 3, 4, 2, 6
    model = randomize(
        LayerNormLSTM(D, H, num_layers, batch_first=batch_first, layer_norm=False, dtype=F64), 6
    )
    ref = nn.LSTM(D, H, num_layers, batch_first=batch_first, dtype=F64)
    with torch.no_grad():
        for k, cell in enumerate(model.cells):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(ref, f"{name}_l{k}").copy_(getattr(cell, name))
    x = data(*((B, T, D) if batch_first else (T, B, D)), seed=7).requires_grad_()
    h0 = data(num_layers, B, H, seed=8).requires_grad_()
    c0 = data(num_layers, B, H, seed=9).requires_grad_()
    out, (h_n, c_n) = model(x, (h0, c0))
    out_ref, (h_ref, c_ref) = ref(x, (h0, c0))
    close(out, out_ref)
    close(h_n, h_ref)
    close(c_n, c_ref)
    w = data(*out.shape, seed=10)
    ours = torch.autograd.grad((out * w).sum() + c_n.sum(), [x, h0, c0, *model.parameters()])
    names, params = zip(*ref.named_parameters(), strict=True)
    theirs = torch.autograd.grad((out_ref * w).sum() + c_ref.sum(), [x, h0, c0, *params])
    for a, b in zip(ours[:3], theirs[:3], strict=True):
        close(a, b)
    by_name = dict(zip(names, theirs[3:], strict=True))
    for (name, _), grad in zip(model.named_parameters(), ours[3:], strict=True):
        k, param = re.fullmatch(r"cells\.(\d+)\.(\w+)", name).groups()
        close(grad, by_name[f"{param}_l{k}"])


# --------------------------------------------------------------------------------------------
# layer_norm=True against the paper's equations
# --------------------------------------------------------------------------------------------


def paper_step(x, h, c, p, eps):
    """Ba et al. (2016), eqs. 20-22, written out with torch.nn.functional.layer_norm.

    (f i o g) in the paper is (i f g o) here, torch's order; the order of the gates does not
    change the model, only where each gate's rows sit in the weights.
    """
    H = h.shape[1]
    a = (
        F.layer_norm(h @ p["weight_hh"].T, (4 * H,), p["ln_hh.weight"], p["ln_hh.bias"], eps)
        + F.layer_norm(x @ p["weight_ih"].T, (4 * H,), p["ln_ih.weight"], p["ln_ih.bias"], eps)
        + p["b"]
    )
    i, f, g, o = (a[:, k * H : (k + 1) * H] for k in range(4))
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(F.layer_norm(c, (H,), p["ln_c.weight"], p["ln_c.bias"], eps))
    return h, c


def paper_lstm(x, h0, c0, layers, eps):
    """The paper's cell over time and layers; x (B, T, D), h0 and c0 (L, B, H)."""
    seq = list(x.unbind(1))
    h_n, c_n = [], []
    for k, p in enumerate(layers):
        h, c = h0[k], c0[k]
        for t in range(len(seq)):
            h, c = paper_step(seq[t], h, c, p, eps)
            seq[t] = h
        h_n.append(h)
        c_n.append(c)
    return torch.stack(seq, 1), torch.stack(h_n), torch.stack(c_n)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("eps", [1e-5, 0.1])
def test_layer_norm_lstm_matches_the_papers_equations(num_layers, eps):
    D, H, B, T = 3, 4, 3, 5
    model = randomize(LayerNormLSTM(D, H, num_layers, eps=eps, dtype=F64), 11)
    layers = [
        {n: p.detach().clone().requires_grad_() for n, p in cell.named_parameters()}
        for cell in model.cells
    ]
    x = data(B, T, D, seed=12).requires_grad_()
    h0 = data(num_layers, B, H, seed=13).requires_grad_()
    c0 = data(num_layers, B, H, seed=14).requires_grad_()
    out, (h_n, c_n) = model(x, (h0, c0))
    out_ref, h_ref, c_ref = paper_lstm(x, h0, c0, layers, eps)
    close(out, out_ref)
    close(h_n, h_ref)
    close(c_n, c_ref)
    w = data(B, T, H, seed=15)
    ours = torch.autograd.grad((out * w).sum() + c_n.sum(), [x, h0, c0, *model.parameters()])
    ref_params = [p for layer in layers for p in layer.values()]
    theirs = torch.autograd.grad((out_ref * w).sum() + c_ref.sum(), [x, h0, c0, *ref_params])
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        close(a, b)


def test_cell_without_state_starts_from_zeros():
    D, H, B = 3, 4, 2
    cell = randomize(LayerNormLSTMCell(D, H, dtype=F64), 16)
    p = {n: t.detach() for n, t in cell.named_parameters()}
    x = data(B, D, seed=17)
    zeros = torch.zeros(B, H, dtype=F64)
    h_ref, c_ref = paper_step(x, zeros, zeros, p, cell.eps)
    h, c = cell(x)
    close(h, h_ref)
    close(c, c_ref)


def test_gradcheck_tiny_layer_norm_lstm():
    D, H, B, T, L = 2, 2, 2, 3, 2
    model = randomize(LayerNormLSTM(D, H, L, eps=1e-3, dtype=F64), 18)
    names = [n for n, _ in model.named_parameters()]

    def f(x, h0, c0, *params):
        out, (h_n, c_n) = torch.func.functional_call(
            model, dict(zip(names, params, strict=True)), (x, (h0, c0))
        )
        return out, h_n, c_n

    inputs = (
        data(B, T, D, seed=19),
        data(L, B, H, seed=20),
        data(L, B, H, seed=21),
        *(p.detach().clone() for p in model.parameters()),
    )
    assert torch.autograd.gradcheck(f, tuple(t.requires_grad_() for t in inputs))


# --------------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layer_norm", [True, False])
def test_each_example_is_on_its_own(layer_norm):
    D, H, B, T = 3, 4, 5, 7
    model = randomize(LayerNormLSTM(D, H, 2, layer_norm=layer_norm, dtype=F64), 22)
    x = data(B, T, D, seed=23)
    out, (h_n, c_n) = model(x)
    # change every other example, by a lot: example 0 must not notice
    y = x.clone()
    y[1:] = data(B - 1, T, D, seed=24, scale=100.0)
    out_y, (h_y, c_y) = model(y)
    close(out_y[0], out[0])
    close(h_y[:, 0], h_n[:, 0])
    close(c_y[:, 0], c_n[:, 0])
    # each example alone (a batch of one) gives its row of the batch
    for b in range(B):
        out_b, (h_b, c_b) = model(x[b : b + 1])
        close(out_b[0], out[b])
        close(c_b[:, 0], c_n[:, b])


def test_batch_norm_would_not_be_on_its_own():
    """The test above can fail: normalizing over the batch (batch norm's statistics, here
    in the reference step in place of layer norm) makes example 0 depend on the others."""
    H, B = 4, 5
    x = data(B, 4 * H, seed=25)
    y = x.clone()
    y[1:] = data(B - 1, 4 * H, seed=26)
    over_batch = F.batch_norm(x, None, None, training=True)[0]
    assert not torch.allclose(F.batch_norm(y, None, None, training=True)[0], over_batch)
    close(F.layer_norm(y, (4 * H,))[0], F.layer_norm(x, (4 * H,))[0])


def test_a_longer_sequence_than_ever_seen_runs_and_extends_the_short_one():
    D, H, B = 3, 4, 2
    model = randomize(LayerNormLSTM(D, H, 2, dtype=F64), 27)
    short, long = 5, 400
    x = data(B, long, D, seed=28)
    out_long, _ = model(x)
    out_short, (h_s, c_s) = model(x[:, :short])
    assert out_long.shape == (B, long, H)
    assert torch.isfinite(out_long).all()
    # causal: the first steps of the long run are the short run
    close(out_long[:, :short], out_short)
    # and carrying the state on continues it
    out_rest, _ = model(x[:, short:], (h_s, c_s))
    close(out_rest, out_long[:, short:])


@pytest.mark.parametrize("param", ["weight_ih", "weight_hh"])
@pytest.mark.parametrize("factor", [0.01, 7.0])
def test_layer_norm_ignores_the_scale_of_the_weights_with_eps_zero(param, factor):
    D, H, B, T = 3, 4, 3, 6
    model = randomize(LayerNormLSTM(D, H, 2, eps=0.0, dtype=F64), 29)
    x = data(B, T, D, seed=30)
    # a nonzero initial state: with eps = 0, W_hh h = 0 has no variance to divide by
    state = (data(2, B, H, seed=31), data(2, B, H, seed=32))
    out, _ = model(x, state)
    with torch.no_grad():
        for cell in model.cells:
            getattr(cell, param).mul_(factor)
    out_scaled, _ = model(x, state)
    close(out_scaled, out, rtol=1e-9, atol=1e-11)


def test_layer_norm_ignores_the_scale_of_the_input_with_eps_zero():
    D, H, B, T = 3, 4, 3, 6
    model = randomize(LayerNormLSTM(D, H, eps=0.0, dtype=F64), 33)
    x = data(B, T, D, seed=34)
    state = (data(1, B, H, seed=35), data(1, B, H, seed=36))
    close(model(1000.0 * x, state)[0], model(x, state)[0], rtol=1e-9, atol=1e-11)


def test_a_plain_lstm_does_notice_the_scale_of_its_weights():
    """The two tests above can fail: without layer norm the same change moves the output."""
    D, H, B, T = 3, 4, 3, 6
    model = randomize(LayerNormLSTM(D, H, layer_norm=False, dtype=F64), 29)
    x = data(B, T, D, seed=30)
    out, _ = model(x)
    with torch.no_grad():
        model.cells[0].weight_ih.mul_(7.0)
    assert (model(x)[0] - out).abs().max() > 1e-2


@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_hidden_state_is_bounded(scale):
    D, H, B, T = 3, 8, 4, 50
    model = randomize(LayerNormLSTM(D, H, 2, dtype=F64), 37)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(scale)
    x = data(B, T, D, seed=38, scale=scale)
    out, (h_n, c_n) = model(x)
    assert torch.isfinite(out).all() and torch.isfinite(c_n).all()
    assert out.abs().max() <= 1.0 and h_n.abs().max() <= 1.0


# --------------------------------------------------------------------------------------------
# structure and bad input
# --------------------------------------------------------------------------------------------


def test_parameters_and_their_shapes():
    cell = LayerNormLSTMCell(3, 4)
    shapes = {n: tuple(p.shape) for n, p in cell.named_parameters()}
    assert shapes == {
        "weight_ih": (16, 3),
        "weight_hh": (16, 4),
        "b": (16,),
        "ln_ih.weight": (16,),
        "ln_ih.bias": (16,),
        "ln_hh.weight": (16,),
        "ln_hh.bias": (16,),
        "ln_c.weight": (4,),
        "ln_c.bias": (4,),
    }
    plain = LayerNormLSTMCell(3, 4, layer_norm=False)
    assert {n: tuple(p.shape) for n, p in plain.named_parameters()} == {
        n: tuple(p.shape) for n, p in nn.LSTMCell(3, 4).named_parameters()
    }
    model = LayerNormLSTM(3, 4, num_layers=2)
    assert [c.input_size for c in model.cells] == [3, 4]
    bound = 1 / np.sqrt(4)
    assert cell.weight_ih.abs().max() <= bound and cell.weight_ih.std() > 0
    assert (cell.ln_c.weight == 1).all() and (cell.ln_c.bias == 0).all()


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        ((0, 4), {}, ValueError, "input_size must be >= 1, got 0"),
        ((3, 2.0), {}, TypeError, "hidden_size must be an int, got float"),
        ((3, True), {}, TypeError, "hidden_size must be an int, got bool"),
        ((3, 4), {"eps": -1.0}, ValueError, "eps must be finite and >= 0"),
    ],
)
def test_bad_constructor_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=re.escape(match)):
        LayerNormLSTMCell(*args, **kwargs)
    with pytest.raises(error, match=re.escape(match)):
        LayerNormLSTM(*args, **kwargs)


def test_bad_num_layers():
    with pytest.raises(ValueError, match="num_layers must be >= 1, got 0"):
        LayerNormLSTM(3, 4, num_layers=0)


def test_bad_input_to_the_cell():
    cell = LayerNormLSTMCell(3, 4)
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=re.escape("(B, 3), got (2, 5)")):
        cell(torch.zeros(2, 5))
    with pytest.raises(ValueError, match=re.escape("x must have shape (batch, input_size)")):
        cell(torch.zeros(2, 1, 3))
    with pytest.raises(TypeError, match="x must be a floating-point tensor, got dtype torch.int64"):
        cell(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got ndarray"):
        cell(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="x has dtype torch.float64 but the parameters"):
        cell(x.double())
    with pytest.raises(ValueError, match=re.escape("state's c must have shape (2, 4), got (2, 3)")):
        cell(x, (torch.zeros(2, 4), torch.zeros(2, 3)))
    with pytest.raises(TypeError, match=re.escape("state must be a pair (h, c)")):
        cell(x, torch.zeros(2, 4))


def test_bad_input_to_the_lstm():
    model = LayerNormLSTM(3, 4, num_layers=2)
    x = torch.zeros(2, 5, 3)
    with pytest.raises(
        ValueError, match=re.escape("(batch, time, input_size) with input_size = 3")
    ):
        model(torch.zeros(5, 3))
    with pytest.raises(ValueError, match=re.escape("got (2, 5, 4)")):
        model(torch.zeros(2, 5, 4))
    with pytest.raises(ValueError, match="at least one time step"):
        model(torch.zeros(2, 0, 3))
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        model(torch.zeros(2, 5, 3, dtype=torch.int32))
    with pytest.raises(ValueError, match=re.escape("state's h must have shape (2, 2, 4), got")):
        model(x, (torch.zeros(1, 2, 4), torch.zeros(2, 2, 4)))
    with pytest.raises(TypeError, match="state's c must be a floating-point tensor"):
        model(x, (torch.zeros(2, 2, 4), torch.zeros(2, 2, 4, dtype=torch.long)))
    time_first = LayerNormLSTM(3, 4, batch_first=False)
    with pytest.raises(ValueError, match=re.escape("(time, batch, input_size)")):
        time_first(torch.zeros(2, 5))


# --------------------------------------------------------------------------------------------
# BatchNormLSTM: batch norm per time step (Cooijmans et al., 2017)
# --------------------------------------------------------------------------------------------


def bn_reference(model, x, stats, training, momentum=0.1, eps=1e-5):
    """Cooijmans et al.'s BN-LSTM written out from the equations: x (B, T, I); ``stats`` a
    dict name -> [mean (T_max, d), var (T_max, d)] (updated in place in training, with the
    unbiased variance, as torch's batch norm does). Statistics by hand, no F.batch_norm."""
    p = dict(model.named_parameters())
    B, T, _ = x.shape
    H = model.hidden_size
    T_max = stats["hh"][0].shape[0]

    def bn(name, t, z, gamma, beta):
        row = min(t, T_max - 1)
        if training:
            mean, var = z.mean(0), ((z - z.mean(0)) ** 2).mean(0)
            stats[name][0][row] = (1 - momentum) * stats[name][0][row] + momentum * mean
            unbiased = var * B / (B - 1)
            stats[name][1][row] = (1 - momentum) * stats[name][1][row] + momentum * unbiased
        else:
            mean, var = stats[name][0][row], stats[name][1][row]
        y = gamma * (z - mean) / torch.sqrt(var + eps)
        return y if beta is None else y + beta

    h = c = torch.zeros(B, H, dtype=x.dtype)
    out = []
    for t in range(T):
        a = (bn("hh", t, h @ p["weight_hh"].T, p["gamma_hh"], None)
             + bn("ih", t, x[:, t] @ p["weight_ih"].T, p["gamma_ih"], None) + p["b"])  # fmt: skip
        i, f, g, o = a.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(bn("c", t, c, p["gamma_c"], p["beta_c"]))
        out.append(h)
    return torch.stack(out, 1)


def fresh_stats(T_max, H):
    return {n: [torch.zeros(T_max, d, dtype=F64), torch.ones(T_max, d, dtype=F64)]
            for n, d in (("ih", 4 * H), ("hh", 4 * H), ("c", H))}  # fmt: skip


def test_bn_lstm_training_matches_written_out_reference_and_its_statistics():
    D, H, T_max, B = 3, 4, 5, 6
    model = randomize(BatchNormLSTM(D, H, T_max, dtype=F64), 7)
    stats = fresh_stats(T_max, H)
    for seed in (8, 9):  # two batches: the running averages move twice
        x = data(B, T_max, D, seed=seed).requires_grad_()
        y = model(x)[0]
        y_ref = bn_reference(model, x, stats, training=True)
        close(y, y_ref)
        w = data(B, T_max, H, seed=seed + 10)
        ours = torch.autograd.grad((y * w).sum(), [x, *model.parameters()])
        theirs = torch.autograd.grad((y_ref * w).sum(), [x, *model.parameters()])
        for a, b in zip(ours, theirs, strict=True):
            close(a, b)
    for name in ("ih", "hh", "c"):
        close(getattr(model, f"running_mean_{name}"), stats[name][0].detach())
        close(getattr(model, f"running_var_{name}"), stats[name][1].detach())


def test_bn_lstm_evaluation_reuses_the_last_steps_statistics_beyond_max_steps():
    D, H, T_max = 3, 4, 3
    model = randomize(BatchNormLSTM(D, H, T_max, dtype=F64), 11)
    g = torch.Generator().manual_seed(12)
    stats = {n: [torch.randn(T_max, d, generator=g, dtype=F64),
                 torch.rand(T_max, d, generator=g, dtype=F64) + 0.5]
             for n, d in (("ih", 4 * H), ("hh", 4 * H), ("c", H))}  # fmt: skip
    with torch.no_grad():
        for n in stats:
            getattr(model, f"running_mean_{n}").copy_(stats[n][0])
            getattr(model, f"running_var_{n}").copy_(stats[n][1])
    x = data(2, 7, D, seed=13)  # 7 steps, statistics for 3
    model.eval()
    close(model(x)[0], bn_reference(model, x, stats, training=False))
    # Evaluation looks at no batch-mate: one example alone gives the same output.
    close(model(x[:1])[0], model(x)[0][:1])


def test_bn_lstm_training_output_depends_on_the_batch_and_h0_has_no_variance():
    model = BatchNormLSTM(3, 4, 4, dtype=F64)
    x = data(5, 4, 3, seed=14)
    y = model(x)[0]
    x2 = torch.cat([x[:1], data(4, 4, 3, seed=15)])
    assert (model(x2)[0][0] - y[0]).abs().max() > 1e-3
    assert model.summed_inputs(x)["hh"][:, 0].abs().max() == 0  # W_hh h_0 = 0


def test_bn_lstm_summed_inputs_are_what_it_normalizes():
    D, H = 3, 4
    model = randomize(BatchNormLSTM(D, H, 4, dtype=F64), 16).eval()
    x = data(2, 4, D, seed=17)
    seen = model.summed_inputs(x)
    out, (h_n, c_n) = model(x)
    close(seen["ih"], x @ model.weight_ih.detach().T)
    close(seen["hh"][:, 1:], out[:, :-1] @ model.weight_hh.detach().T)
    close(seen["c"][:, -1], c_n)


def test_bn_lstm_summed_inputs_updates_the_running_statistics_in_training_only():
    model = BatchNormLSTM(3, 4, 2, dtype=F64)
    x = data(5, 2, 3, seed=18)
    before = model.running_var_ih.clone()
    model.eval()
    model.summed_inputs(x)
    assert torch.equal(model.running_var_ih, before)  # evaluation: read-only
    model.train()
    model.summed_inputs(x)
    assert not torch.equal(model.running_var_ih, before)  # training: a forward pass


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: BatchNormLSTM(3, 4, 0), ValueError, "max_steps must be >= 1"),
        (lambda: BatchNormLSTM(3, 4, 2.5), TypeError, "max_steps must be an int"),
        (lambda: BatchNormLSTM(3, 4, 2, eps=0.0), ValueError, "eps must be > 0"),
        (lambda: BatchNormLSTM(3, 4, 2, momentum=0.0), ValueError, "momentum must be in"),
        (lambda: BatchNormLSTM(3, 4, 2, momentum=True), TypeError, "momentum must be a number"),
        (lambda: BatchNormLSTM(3, 4, 2, gain=0.0), ValueError, "gain must be > 0"),
        (lambda: BatchNormLSTM(3, 4, 2, gain=-0.1), ValueError, "gain must be > 0"),
        (lambda: BatchNormLSTM(3, 4, 2, gain="0.1"), TypeError, "gain must be a number"),
    ],
)
def test_bn_lstm_rejects_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bn_lstm_rejects_bad_input():
    model = BatchNormLSTM(3, 4, 2)
    with pytest.raises(ValueError, match=re.escape("(B, T, 3)")):
        model(torch.zeros(2, 2, 5))
    with pytest.raises(ValueError, match="3 time steps but training has statistics for"):
        model(torch.zeros(2, 3, 3))
    with pytest.raises(ValueError, match="batch of >= 2"):
        model(torch.zeros(1, 2, 3))
    with pytest.raises(TypeError, match="dtype"):
        model(torch.zeros(2, 2, 3, dtype=F64))
    model.eval()
    assert model(torch.zeros(1, 5, 3))[0].shape == (1, 5, 4)  # evaluation: any length, any B
