"""Chapter 10 (scale invariance and the effective learning rate): the experiments,
figure and live explorer, checked against torch, a loop written here, and closed forms."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from lnbook import models, training
from lnbook.data import digits
from lnbook.stacked import StackedMLP
from lnbook.topics.effective_rate import experiments, figures, widgets

# ---------------------------------------------------------------- the identities -----------


def _torch_network(seed: int, eps: float, norm: bool = True) -> torch.nn.Sequential:
    """The chapter's network with torch's own layer norm, the weights the chapter's seed
    draws (copied from lnbook's MLP, which draws them), in float64."""
    torch.manual_seed(seed)
    mlp = models.MLP(64, 64, 10, depth=1, norm="layer")
    net = torch.nn.Sequential(
        torch.nn.Linear(64, 64),
        torch.nn.LayerNorm(64, eps=eps) if norm else torch.nn.Identity(),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 10),
    ).double()
    with torch.no_grad():
        for i in (0, 3):
            net[i].weight.copy_(mlp.net[i].weight)
            net[i].bias.copy_(mlp.net[i].bias)
    return net


def _loss_and_grad(net, c: float):
    images, labels = digits()
    x, y = torch.tensor(images[:64] / 16.0), torch.tensor(labels[:64])
    net = _scaled(net, c)
    loss = torch.nn.functional.cross_entropy(net(x), y)
    loss.backward()
    first = net[0]
    return loss.item(), torch.cat([first.weight.grad.reshape(-1), first.bias.grad])


def _scaled(net, c):
    net = copy.deepcopy(net)
    with torch.no_grad():
        net[0].weight.mul_(c)
        net[0].bias.mul_(c)
    return net


@pytest.mark.parametrize("seed", [0, 4])
def test_scale_invariance_identities_match_torch_layer_norm(seed):
    scales = (0.1, 3.0)
    r = experiments.scale_invariance_identities(scales, eps=0.0, seed=seed)
    net = _torch_network(seed, eps=0.0)
    loss, grad = _loss_and_grad(net, 1.0)
    assert r["loss"] == pytest.approx(loss, rel=1e-12)
    theta = torch.cat([net[0].weight.reshape(-1), net[0].bias]).detach()
    assert r["cosine"] == pytest.approx(
        float(theta @ grad / (theta.norm() * grad.norm())), abs=1e-14
    )
    for c, change, grad_change in zip(scales, r["loss_change"], r["grad_change"], strict=True):
        loss_c, grad_c = _loss_and_grad(net, c)
        assert change == pytest.approx(abs(loss_c - loss) / loss, abs=1e-14)
        assert grad_change == pytest.approx(
            float((c * grad_c - grad).norm() / grad.norm()), abs=1e-13
        )
    assert r["loss_change"].max() < 1e-14 and r["grad_change"].max() < 1e-13


def test_without_a_norm_the_same_measures_see_the_scale():
    # The control: the same network without layer norm is not scale-invariant, so the
    # measures above can fail.
    net = _torch_network(0, eps=0.0, norm=False)
    loss, grad = _loss_and_grad(net, 1.0)
    loss_c, grad_c = _loss_and_grad(net, 3.0)
    assert abs(loss_c - loss) / loss > 1e-2 and float((3 * grad_c - grad).norm()) > 0.1 * float(
        grad.norm()
    )


def test_eps_breaks_the_identities_most_for_small_weights():
    r = experiments.scale_invariance_identities((0.1, 10.0), eps=1e-5)
    # eps over the variance of z: 100 times the variance at c = 10 than at 0.1... and eps
    # adds to c^2 var, so the small scale deviates most.
    assert r["grad_change"][0] > 10 * r["grad_change"][1] > 0
    assert 0 < abs(r["cosine"]) < 1e-4


def test_scale_invariance_identities_reject_bad_scales():
    for bad in ((), (1.0, -2.0), (0.0,), (np.inf,)):
        with pytest.raises(ValueError, match="scales"):
            experiments.scale_invariance_identities(bad)
    with pytest.raises(
        TypeError, match=r"scales must be .* positive finite numbers, e\.g\. \(2\.0,\)"
    ):
        experiments.scale_invariance_identities(2.0)
    with pytest.raises(TypeError, match=r"scales must be .*: '2' is a str"):
        experiments.scale_invariance_identities(["2"])


# ---------------------------------------------------------------- the runs ----------------


def _manual_run(lr, wd, steps, seed, batch_size=64):
    """rate_run written out: the book's mini-batches, torch's SGD, the records by hand."""
    torch.manual_seed(seed)
    X, Y, _, _, rng = training.digits_split(seed)
    model = models.MLP(64, 64, 10, depth=1, norm="layer")
    opt = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=wd)
    first = model.net[0]
    norms, cosines, angles, losses = [], [], [], []
    torch.set_num_threads(1)
    for _ in range(steps):
        idx = torch.from_numpy(rng.integers(0, len(X), size=batch_size))
        loss = torch.nn.functional.cross_entropy(model(X[idx]), Y[idx])
        opt.zero_grad()
        loss.backward()
        w = torch.cat([first.weight.detach().reshape(-1), first.bias.detach()]).double()
        g = torch.cat([first.weight.grad.reshape(-1), first.bias.grad]).double()
        opt.step()
        w_next = torch.cat([first.weight.detach().reshape(-1), first.bias.detach()]).double()
        norms.append(float(w.norm()))
        cosines.append(float(w @ g / (w.norm() * g.norm())))
        cos_turn = float(w @ w_next / (w.norm() * w_next.norm()))
        angles.append(np.arccos(min(cos_turn, 1.0)))
        losses.append(loss.item())
    norms.append(float(w_next.norm()))
    return np.array(norms), np.array(cosines), np.array(angles), np.array(losses)


def test_rate_run_records_what_a_loop_written_here_records():
    r = experiments.rate_run(0.5, 0.01, steps=25, seed=3)
    norms, cosines, angles, losses = _manual_run(0.5, 0.01, 25, seed=3)
    np.testing.assert_allclose(r["norm"], norms, rtol=1e-6)
    np.testing.assert_allclose(r["cosine"], cosines, atol=1e-9)
    # arccos of the cosine, the oracle here, is only good to about 1e-4 rad near zero.
    np.testing.assert_allclose(r["angle"], angles, atol=3e-4)
    np.testing.assert_allclose(r["loss"], losses, rtol=1e-6)
    assert r["grad_norm"].shape == (25,) and (r["grad_norm"] > 0).all()


def test_rate_runs_are_the_separate_runs_stacked(float64_digits):
    float64_digits(experiments)  # both runs in float64: see the fixture (conftest.py)
    stacked = experiments.rate_runs((0.2, 0.7), (0.0, 0.02), (1, 5), steps=30)
    assert stacked["norm"].shape == (2, 2, 2, 31) and stacked["angle"].shape == (2, 2, 2, 30)
    for i, lr in enumerate((0.2, 0.7)):
        for j, wd in enumerate((0.0, 0.02)):
            for k, seed in enumerate((1, 5)):
                one = experiments.rate_run(lr, wd, steps=30, seed=seed)
                # float64 rounding, amplified by 30 steps (float32 runs differ by 1e-7 at once)
                for key in ("norm", "grad_norm", "loss"):
                    np.testing.assert_allclose(stacked[key][i, j, k], one[key], rtol=1e-9)
                for key in ("angle", "cosine"):
                    np.testing.assert_allclose(stacked[key][i, j, k], one[key], atol=1e-9)


def test_stacked_sgd_step_with_decay_is_torch_sgds():
    torch.manual_seed(0)
    members = [models.MLP(8, 6, 3, depth=1, norm="layer") for _ in range(2)]
    stacked = StackedMLP(members)
    x = torch.randn(2, 5, 8)
    stacked(x).square().sum().backward()
    lr, wd = torch.tensor([0.1, 0.3]), torch.tensor([0.0, 0.05])
    for e, member in enumerate(members):  # torch's SGD on each member, the same gradient
        member(x[e]).square().sum().backward()
        torch.optim.SGD(member.parameters(), lr=float(lr[e]), weight_decay=float(wd[e])).step()
    stacked.sgd_step(lr, wd)
    for e, member in enumerate(members):
        np.testing.assert_allclose(
            stacked.layers[0].weight[e].detach().T, member.net[0].weight.detach(), atol=1e-6
        )
        np.testing.assert_allclose(
            stacked.layers[1].weight[e, 0].detach(), member.net[1].weight.detach(), atol=1e-6
        )
    with pytest.raises(ValueError, match="weight_decay"):
        stacked.sgd_step(lr, torch.tensor([0.1]))
    with pytest.raises(ValueError, match="weight_decay"):
        stacked.sgd_step(lr, torch.tensor([0.1, -0.1]))


def test_runs_reject_bad_arguments():
    with pytest.raises(ValueError, match="lr"):
        experiments.rate_run(0.0)
    with pytest.raises(ValueError, match="weight_decay"):
        experiments.rate_run(0.1, -0.01)
    with pytest.raises(ValueError, match="steps"):
        experiments.rate_run(0.1, steps=0)
    with pytest.raises(ValueError, match="lrs must be a non-empty sequence"):
        experiments.rate_runs((), steps=5)
    with pytest.raises(TypeError, match=r"lrs must be .* e\.g\. \(0\.1,\), got float 0\.1"):
        experiments.rate_runs(0.1, steps=5)
    with pytest.raises(TypeError, match=r"decays must be .* numbers >= 0, e\.g\. \(0\.0,\)"):
        experiments.rate_runs((0.1,), 0.0, steps=5)
    with pytest.raises(TypeError, match=r"seeds must be .* ints >= 0, e\.g\. \(0,\), got int"):
        experiments.rate_runs((0.1,), (0.0,), 0, steps=5)
    with pytest.raises(ValueError, match="decays"):
        experiments.rate_runs((0.1,), (np.nan,), steps=5)
    with pytest.raises(ValueError, match="seeds"):
        experiments.rate_runs((0.1,), (0.0,), (-1,), steps=5)


def test_pick_runs_is_the_rate_runs_call_of_those_runs():
    grid = experiments.rate_runs((0.1, 0.4), (0.0, 0.01, 0.02), (2,), steps=12)
    picked = experiments.pick_runs(grid, 0.4, (0.0, 0.02))
    direct = experiments.rate_runs((0.4,), (0.0, 0.02), (2,), steps=12)
    for key in ("lrs", "decays", "seeds", "norm", "angle", "loss"):
        np.testing.assert_allclose(picked[key], direct[key], rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="not"):
        experiments.pick_runs(grid, 0.3, (0.0,))


# ---------------------------------------------------------------- the closed forms --------


@pytest.mark.parametrize("lr, wd, g2", [(0.1, 0.01, 2.0), (1.0, 0.003, 40.0), (0.5, 0.05, 0.3)])
def test_equilibrium_is_the_fixed_point_of_the_step(lr, wd, g2):
    eq = experiments.equilibrium(lr, wd, g2)
    norm_sq = 1.0  # iterate the step's bookkeeping until it stops moving
    for _ in range(int(20 / (lr * wd))):
        norm_sq = (1 - lr * wd) ** 2 * norm_sq + lr**2 * g2 / norm_sq
    assert eq["norm"] ** 2 == pytest.approx(norm_sq, rel=1e-9)
    assert eq["rate"] == pytest.approx(lr / norm_sq, rel=1e-9)
    # The angle of a step there: a right triangle with legs (1 - lr wd)|W| and lr |g|.
    g = np.sqrt(g2 / norm_sq)
    assert eq["angle"] == pytest.approx(np.arctan2(lr * g, (1 - lr * wd) * np.sqrt(norm_sq)))
    # To first order in lr wd: sqrt(2 lr wd) and |W|^4 = lr g2 / (2 wd).
    assert eq["angle"] == pytest.approx(np.sqrt(2 * lr * wd), rel=lr * wd)
    assert eq["norm"] ** 4 == pytest.approx(lr * g2 / (2 * wd), rel=lr * wd)


def test_equilibrium_needs_decay_and_a_gradient():
    for args in ((0.1, 0.0, 1.0), (0.1, 0.01, 0.0), (0.0, 0.01, 1.0)):
        with pytest.raises(ValueError, match="positive"):
            experiments.equilibrium(*args)
    with pytest.raises(ValueError, match="below 1"):
        experiments.equilibrium(10.0, 0.2, 1.0)


def test_angle_between_keeps_tiny_angles():
    for theta in (1e-9, 1e-4, 0.3, 3.0):
        u = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
        v = 2.5 * torch.tensor([[np.cos(theta), np.sin(theta), 0.0]], dtype=torch.float64)
        assert float(experiments.angle_between(u, v)[0]) == pytest.approx(theta, rel=1e-9)


def test_windowed_rms_by_hand():
    values = np.array([[3.0, 4.0, 0.0, 0.0, 1.0], [1.0, 1.0, 2.0, 2.0, 9.0]])
    np.testing.assert_allclose(
        experiments.windowed_rms(values, 2), [[np.sqrt(12.5), 0.0], [1.0, 2.0]]
    )
    with pytest.raises(ValueError, match="window"):
        experiments.windowed_rms(values, 6)


def _synthetic(lr=0.2, decays=(0.0, 0.05), steps=400, g2=3.0):
    """A result whose norms follow the step's bookkeeping exactly, the gradient's size
    g2 / |W|^2, and whose angles are those of that step."""
    decays = np.array(decays)
    norm = np.empty((1, len(decays), 1, steps + 1))
    grad = np.empty((1, len(decays), 1, steps))
    norm[..., 0] = 2.0
    for t in range(steps):
        grad[..., t] = np.sqrt(g2) / norm[..., t]
        norm[..., t + 1] = np.sqrt(
            (1 - lr * decays[None, :, None]) ** 2 * norm[..., t] ** 2 + lr**2 * grad[..., t] ** 2
        )
    angle = np.arctan2(lr * grad, (1 - lr * decays[None, :, None, None]) * norm[..., :-1])
    return {
        "lrs": np.array([lr]),
        "decays": decays,
        "seeds": np.array([0]),
        "norm": norm,
        "grad_norm": grad,
        "angle": angle,
        "cosine": np.zeros_like(grad),
        "loss": np.zeros_like(grad),
    }


def test_rate_summary_on_runs_that_follow_the_theory():
    r = _synthetic()
    s = experiments.rate_summary(r, window=100, curve_window=50)
    assert s["recurrence"].max() < 1e-12 and s["max_cosine"].max() == 0
    np.testing.assert_allclose(s["g_unit_sq"], 3.0)
    # With decay (lr wd = 0.01: 3 relaxation times are 75 steps), at the equilibrium.
    assert s["settled"].tolist() == [[False, True]]
    eq = experiments.equilibrium(0.2, 0.05, 3.0)
    assert s["window_norm"][0, 1, 0] == pytest.approx(eq["norm"], rel=1e-5)
    assert s["angle"][0, 1, 0] == pytest.approx(eq["angle"], rel=1e-5)
    assert np.isnan(s["predicted_norm"][0, 0, 0]) and np.isnan(s["predicted_angle"][0, 0, 0])
    # Without decay: |W|^4 grows by 2 lr^2 g2 per step, to first order.
    assert s["final_norm"][0, 0, 0] ** 4 == pytest.approx(16 + 2 * 400 * 0.04 * 3.0, rel=0.01)
    assert s["final_rate"][0, 0, 0] < s["start_rate"][0, 0, 0]
    assert s["angle_windows"].shape == (1, 2, 1, 8) and s["window_steps"] == 50


def test_rate_summary_leaves_a_network_without_gradient_unpredicted():
    r = _synthetic()
    r["grad_norm"][..., -100:] = 0.0  # every weight decayed away: no gradient left
    s = experiments.rate_summary(r, window=100)
    assert np.isnan(s["predicted_norm"]).all() and np.isnan(s["predicted_angle"]).all()


# ---------------------------------------------------------------- figure and widget -------


@pytest.fixture(scope="module")
def small_grid():
    r = experiments.rate_runs((0.1, 0.5), (0.0, 0.01, 0.03), (0, 1), steps=60)
    return r, experiments.rate_summary(r, window=20, curve_window=10)


def test_rate_figure_has_a_frame_per_rate_and_draws_each(small_grid):
    r, s = small_grid
    fig = figures.rate_figure(r, s, active=1)
    assert len(fig.data) == 3 * 3 * 4  # panels x decays x (band edges, mean, prediction)
    assert [f.name for f in fig.frames] == ["0.1", "0.5"]
    assert fig.layout.sliders[0].name == "learning rate η" and fig.layout.sliders[0].active == 1
    # The first panel's mean lines are each decay's mean norm at rate 0.5, every 10 steps.
    for d in range(3):
        np.testing.assert_allclose(fig.data[4 * d + 2].y, r["norm"][1, d].mean(0)[::10])
        np.testing.assert_allclose(
            fig.frames[0].data[4 * d + 2].y, r["norm"][0, d].mean(0)[::10], rtol=1e-6
        )
    # Predictions: none without decay; the mean of the seeds' equilibria with it.
    assert len(fig.data[3].y) == 0
    np.testing.assert_allclose(fig.data[7].y, [s["predicted_norm"][1, 1].mean()] * 2)
    angle_pred = fig.data[2 * 12 + 4 * 2 + 3]  # third panel, decay 0.03
    np.testing.assert_allclose(angle_pred.y, [s["predicted_angle"][1, 2, 0]] * 2)
    # Every frame's values lie inside the fixed ranges (frames do not autorange).
    lo, hi = fig.layout.yaxis.range
    assert lo <= r["norm"].min() and r["norm"].mean(2).max() <= hi
    lo, hi = fig.layout.yaxis2.range  # log axis: decades
    assert 10**lo <= (0.1 / r["norm"][0] ** 2).min() and (0.5 / r["norm"][1] ** 2).max() <= 10**hi
    # The frames move the data: rate 0.1's curves differ from rate 0.5's.
    assert not np.allclose(fig.frames[0].data[2].y, fig.frames[1].data[2].y)


def test_live_rate_figure_redraws_in_place(small_grid):
    r, s = small_grid
    a = experiments.pick_runs(r, 0.1, (0.0, 0.01))
    b = experiments.pick_runs(r, 0.5, (0.0, 0.03))
    sa = experiments.rate_summary(a, window=20, curve_window=10)
    sb = experiments.rate_summary(b, window=20, curve_window=10)
    fig = figures.live_rate_figure(a, sa)
    assert len(fig.data) == 3 * 2 * 4 and "η = 0.1" in fig.layout.title.text
    figures.update_rate(fig, b, sb)
    np.testing.assert_allclose(fig.data[2].y, b["norm"][0, 0].mean(0)[::10])
    assert "λ = 0.03" in fig.layout.title.text


def test_rate_explorer_reuses_known_runs_and_trains_the_rest():
    known = experiments.rate_runs((0.3,), (0.0, 0.01), (0,), steps=16)
    e = widgets.rate_explorer(steps=16, seeds=(0,), known=known)
    fig = e.figure
    np.testing.assert_allclose(fig.data[2].y, known["norm"][0, 0, 0][::10])
    e.controls["decay"].value = 0.001  # not known: trains, 16 steps
    trained = experiments.rate_runs((0.3,), (0.0, 0.001), (0,), steps=16)
    np.testing.assert_allclose(fig.data[6].y, trained["norm"][0, 1, 0][::10], rtol=1e-6)
    assert "λ = 0.001" in fig.layout.title.text
    assert not e.controls["lr"].continuous_update and not e.controls["decay"].continuous_update
    with pytest.raises(ValueError, match="steps"):
        widgets.rate_explorer(steps=10, seeds=(0,), known=known)


def test_fit_digits_stacked_is_fit_digits_for_each_member():
    seeds, lrs = (0, 6), (0.4, 0.05)
    members, rngs, X, Y = [], [], [], []
    for seed in seeds:
        X_train, Y_train, _, _, rng = training.digits_split(seed)
        torch.manual_seed(seed)
        members.append(models.MLP(64, 16, 10, depth=2, norm="layer"))
        rngs.append(rng)
        X.append(X_train), Y.append(Y_train)
    stacked = StackedMLP(members)
    watched = []
    losses = training.fit_digits_stacked(
        stacked,
        torch.tensor(lrs),
        torch.stack(X),
        torch.stack(Y),
        [copy.deepcopy(r) for r in rngs],
        steps=12,
        batch_size=8,
        watch=lambda step, x, y: watched.append((step, None if x is None else tuple(x.shape))),
    )
    assert watched == [(s, (2, 8, 64)) for s in range(12)] + [(12, None)]
    for e, (member, lr) in enumerate(zip(members, lrs, strict=True)):
        opt = torch.optim.SGD(member.parameters(), lr=lr)
        alone = training.fit_digits(member, opt, X[e], Y[e], rngs[e], steps=12, batch_size=8)
        np.testing.assert_allclose(losses[e], alone, rtol=1e-5)
    with pytest.raises(ValueError, match="generators"):
        training.fit_digits_stacked(
            stacked, torch.tensor(lrs), torch.stack(X), torch.stack(Y), rngs[:1], steps=1,
            batch_size=8,
        )  # fmt: skip
