"""Chapter 12's placements of the norm: each against its formula written out here, the
classic placements unchanged, DeepNorm's and Admin's initialisations against the papers'
recipes, and the topic's experiments, figures and explorer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from lnbook import models, training
from lnbook.stacked import StackedTransformer
from lnbook.topics.placements import experiments, figures, widgets

D, HEADS, D_FF, T = 8, 2, 16, 5


def _block(placement, seed=0, **kwargs):
    torch.manual_seed(seed)
    b = models.Block(D, HEADS, D_FF, placement=placement, **kwargs).double()
    with torch.no_grad():  # gammas and betas away from 1 and 0, so a swapped norm shows
        for p in b.parameters():
            if p.dim() == 1 and p.shape[0] == D:
                p.add_(0.3 * torch.randn(D, dtype=torch.float64))
    return b


def _sublayers(b, mask):
    def attn(h):
        return b.self_attn(h, h, h, attn_mask=mask, need_weights=False)[0]

    return [attn, b.ff]


def _written_out(placement, b, x, mask):
    """The placement's formula, sublayer by sublayer, from the paper's equations."""
    for i, f in enumerate(_sublayers(b, mask)):
        n = b.norms[i]
        if placement == "pre":
            x = x + f(n(x))
        elif placement == "post":
            x = n(x + f(x))
        elif placement == "sandwich":
            x = x + b.out_norms[i](f(n(x)))
        elif placement == "post_sublayer":
            x = x + n(f(x))
        elif placement == "deepnorm":
            x = n(b.alpha * x + f(x))
        elif placement == "admin":
            x = n(b.omega[i] * x + f(x))
    return x


@pytest.mark.parametrize("placement", models.BLOCK_PLACEMENTS)
def test_each_block_placement_is_its_formula(placement):
    b = _block(placement, alpha=1.7)
    if placement == "admin":
        with torch.no_grad():
            for w in b.omega:
                w.copy_(torch.rand(D, dtype=torch.float64) + 1)
    x = torch.randn(2, T, D, dtype=torch.float64) * 3 + 1
    mask = models.causal_mask(T)
    torch.testing.assert_close(b(x, mask=mask), _written_out(placement, b, x, mask),
                               rtol=1e-12, atol=1e-12)  # fmt: skip


def test_the_placements_differ_from_each_other():
    x = torch.randn(2, T, D, dtype=torch.float64)
    outs = {p: _block(p, alpha=1.7)(x, mask=models.causal_mask(T)) for p in models.BLOCK_PLACEMENTS}
    names = list(outs)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert (outs[a] - outs[b]).abs().max() > 1e-3, (a, b)


@pytest.mark.parametrize("placement", ["pre", "post"])
def test_classic_placements_build_the_weights_they_always_built(placement):
    # Oracle: the construction order of chapter 5's model, written out with torch's modules
    # (embedding, positions, per block: attention, two linear layers; then the head).
    vocab, d, n, d_ff, max_len = 16, 16, 3, 32, 9
    torch.manual_seed(4)
    ours = models.TinyTransformer(vocab, d, n, 4, d_ff, max_len, placement=placement)
    torch.manual_seed(4)
    ref = [nn.Embedding(vocab, d), nn.Embedding(max_len, d)]
    for _ in range(n):
        ref += [
            nn.MultiheadAttention(d, 4, batch_first=True),
            nn.Linear(d, d_ff),
            nn.Linear(d_ff, d),
        ]
    ref.append(nn.Linear(d, vocab))
    theirs = [p for m in ref for p in m.parameters()]
    mine = [p for name, p in ours.named_parameters() if "norm" not in name and "final" not in name]
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert isinstance(ours.final, nn.Identity) == (placement == "post")


def test_deepnorm_scales_the_residual_and_the_value_output_and_ffn_weights():
    n = 5
    alpha, beta = (2 * n) ** 0.25, (8 * n) ** -0.25  # DeepNet, decoder-only
    torch.manual_seed(3)
    deep = models.TinyTransformer(d=16, n_layers=n, placement="deepnorm")
    torch.manual_seed(3)
    post = models.TinyTransformer(d=16, n_layers=n, placement="post")  # the same draws
    assert models.deepnorm_constants(n) == pytest.approx((alpha, beta))
    for bd, bp in zip(deep.decoder, post.decoder, strict=True):
        assert bd.alpha == pytest.approx(alpha)
        a, b = bd.self_attn, bp.self_attn
        torch.testing.assert_close(a.in_proj_weight[:32], b.in_proj_weight[:32])  # q, k kept
        torch.testing.assert_close(a.in_proj_weight[32:], beta * b.in_proj_weight[32:])
        torch.testing.assert_close(a.out_proj.weight, beta * b.out_proj.weight)
        for i in (0, 2):
            torch.testing.assert_close(bd.ff[i].weight, beta * bp.ff[i].weight)
            torch.testing.assert_close(bd.ff[i].bias, beta * bp.ff[i].bias)
    assert isinstance(deep.final, nn.Identity)


@torch.no_grad()
def test_admin_profiling_sets_each_omega_to_the_stream_size_reached():
    # Liu et al.'s profiling, written out: omega_1 = 1, then each omega is
    # sqrt(Var[omega x] + Var[f(x)]) of the sublayer before it (variances over all entries).
    torch.manual_seed(2)
    m = models.TinyTransformer(d=16, n_layers=3, max_len=9, placement="admin")
    ids = torch.randint(16, (16, 9), generator=torch.Generator().manual_seed(0))
    x = (m.embed(ids) + m.pos(torch.arange(9))).double()
    mask, ratio = models.causal_mask(9), 1.0
    for block in m.decoder:
        for i, f in enumerate(_sublayers(block, mask)):
            omega = block.omega[i].double()
            np.testing.assert_allclose(omega.numpy(), ratio, rtol=1e-5)
            fx = f(x.float()).double()
            ratio = math.sqrt(np.var((x * omega).numpy()) + np.var(fx.numpy()))
            x = block.norms[i](x.float() * omega.float() + fx.float()).double()
    assert isinstance(m.final, nn.Identity)


def test_mix_is_post_norm_in_the_first_quarter_then_pre_norm():
    for n, n_post in ((2, 1), (6, 1), (8, 2), (12, 3)):
        m = models.TinyTransformer(d=16, n_layers=n, placement="mix")
        assert [b.placement for b in m.decoder] == ["post"] * n_post + ["pre"] * (n - n_post)
        assert not isinstance(m.final, nn.Identity)


def test_final_norm_follows_the_placement_unless_asked():
    for p in models.MODEL_PLACEMENTS:
        m = models.TinyTransformer(d=16, placement=p)
        assert isinstance(m.final, nn.Identity) == (p in ("post", "deepnorm", "admin"))
    m = models.TinyTransformer(d=16, placement="pre", final_norm=False)
    ids = torch.randint(16, (2, 7))
    logits, res = m(ids, return_residuals=True)
    torch.testing.assert_close(logits, m.head(res[-1]))  # the stream straight to the head


@pytest.mark.parametrize("placement", ["sandwich", "post_sublayer", "deepnorm", "admin", "mix"])
def test_stacked_transformer_computes_each_placements_members(placement):
    members = []
    for seed in range(3):
        torch.manual_seed(seed)
        members.append(models.TinyTransformer(d=16, n_layers=4, d_ff=32, max_len=9,
                                              placement=placement))  # fmt: skip
    stacked = StackedTransformer(members)
    ids = torch.randint(0, 16, (3, 5, 9))
    out = stacked(ids)
    torch.testing.assert_close(out, torch.stack([m(ids[e]) for e, m in enumerate(members)]),
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    (out**2).mean(dim=(1, 2, 3)).sum().backward()
    for e, m in enumerate(members):
        (m(ids[e]) ** 2).mean().backward()
        block = stacked.blocks[-1]
        torch.testing.assert_close(block["ff1"].weight.grad[e], m.decoder[-1].ff[0].weight.grad.T)
        if placement == "admin":
            torch.testing.assert_close(block["omega1"].weight.grad[e, 0],
                                       m.decoder[-1].omega[1].grad)  # fmt: skip
        if placement == "sandwich":
            torch.testing.assert_close(block["out_norm0"].weight.grad[e, 0],
                                       m.decoder[-1].out_norms[0].weight.grad)  # fmt: skip


def test_placements_reject_bad_input():
    with pytest.raises(ValueError, match="placement must be one of"):
        models.TinyTransformer(placement="middle")
    with pytest.raises(ValueError, match="placement must be one of"):
        models.Block(8, 2, 16, placement="mix")  # a model's placement, not a block's
    with pytest.raises(ValueError, match="encoder-decoder takes placement 'pre' or 'post'"):
        models.TinyTransformer(placement="sandwich", encoder_decoder=True)
    with pytest.raises(TypeError, match="final_norm must be True, False or None"):
        models.TinyTransformer(final_norm="yes")
    for bad in (0, -3):
        with pytest.raises(ValueError, match="n_layers must be >= 1"):
            models.deepnorm_constants(bad)
        with pytest.raises(ValueError, match="n_layers must be >= 1"):
            models.TinyTransformer(n_layers=bad)
    for bad in (2.5, 6.0, True, "6", None):
        with pytest.raises(TypeError, match="n_layers must be an int"):
            models.deepnorm_constants(bad)
        with pytest.raises(TypeError, match="n_layers must be an int"):
            models.TinyTransformer(n_layers=bad)
    assert models.deepnorm_constants(np.int64(6)) == models.deepnorm_constants(6)
    x = torch.ones(2, 8)
    with pytest.raises(ValueError, match="placement must be one of"):
        models.residual("middle", x, torch.nn.Identity(), torch.nn.Identity())
    with pytest.raises(ValueError, match="'sandwich' needs out_norm"):
        models.residual("sandwich", x, torch.nn.Identity(), torch.nn.Identity())
    with pytest.raises(ValueError, match="placement must be one of"):
        training.train_copy_transformers("middle", 1, 16, seeds=[0], steps=1, lr=1e-3)
    with pytest.raises(ValueError, match="placements must be a non-empty list"):
        experiments.init_profile(("nope",))
    with pytest.raises(ValueError, match="depths must be a non-empty sequence of ints >= 1"):
        experiments.init_profile(("pre",), depths=())
    with pytest.raises(ValueError, match="placements must be a non-empty list"):
        experiments.rate_grid([("middle", 1e-2)])
    with pytest.raises(ValueError, match="seeds must be a non-empty sequence of ints"):
        experiments.rate_grid(seeds=())
    with pytest.raises(TypeError, match=r"seeds must be .* ints >= 0, e\.g\. \(0,\), got int 0"):
        experiments.init_profile(("pre",), seeds=0)
    with pytest.raises(TypeError, match=r"depths must be .* ints >= 1, e\.g\. \(6,\), got int 6"):
        experiments.init_profile(("pre",), depths=6)
    with pytest.raises(TypeError, match="placements must be a non-empty sequence of names"):
        experiments.init_profile("pre")
    with pytest.raises(TypeError, match=r"seeds must be .* e\.g\. \(0,\), got int 0"):
        experiments.rate_grid(seeds=0)
    with pytest.raises(TypeError, match=r"configs must be .* \(placement, rate\) pairs"):
        experiments.rate_grid(("pre", 3e-2))
    with pytest.raises(TypeError, match="the configs' rates must be .* positive finite numbers"):
        experiments.rate_grid([("pre", "fast")])
    with pytest.raises(ValueError, match="max_depth must be an int >= 2"):
        widgets.profile_explorer(max_depth=1)
    with pytest.raises(ValueError, match="seeds must not be empty"):
        widgets.profile_explorer(seeds=())


def test_growth_names_a_depth_given_for_its_index_and_unknown_keys():
    # A profile as init_profile returns it, with values whose growth is known.
    per_depth = [np.array([[1.0, 2.0], [1.0, 3.0]])] * 3  # (S, blocks): growth 2 and 3
    prof = {"placements": ["pre"], "depths": np.array([2, 6, 12]),
            "layer_grad": {"pre": per_depth}, "residual": {"pre": per_depth}}  # fmt: skip
    assert experiments.growth(prof, "layer_grad", "pre", 2).tolist() == [2.0, 3.0]
    with pytest.raises(
        ValueError,
        match=r"k must index profile\['depths'\] = \(2, 6, 12\), got 12: "
        r"use list\(profile\['depths'\]\)\.index\(12\)",
    ):
        experiments.growth(prof, "layer_grad", "pre", 12)
    with pytest.raises(ValueError, match=r"k must index .* got 3$"):
        experiments.growth(prof, "layer_grad", "pre", 3)
    with pytest.raises(
        ValueError, match=r"key must be one of \('layer_grad', 'residual'\), got 'x'"
    ):
        experiments.growth(prof, "x", "pre", 0)
    with pytest.raises(ValueError, match=r"placement must be one of \('pre',\), got 'post'"):
        experiments.growth(prof, "residual", "post", 0)


@pytest.mark.parametrize(
    "read", [experiments.learned, experiments.stuck, experiments.still_falling]
)
def test_grid_readers_name_a_config_the_grid_lacks(read):
    c = ("pre", 0.03)
    grid = {"loss": {c: np.ones((2, 60))}, "final": {c: np.ones(2)}}
    read(grid, c)
    read(grid, list(c))  # a list names the same config
    for bad in (("post", 0.03), ("pre", 0.3), ["pre", 0.3]):
        with pytest.raises(
            ValueError, match=r"config must be one of the grid's .* pairs \[\('pre'"
        ):
            read(grid, bad)


def test_init_profile_measures_the_gradient_and_stream_of_each_block():
    prof = experiments.init_profile(("post", "pre"), depths=(1, 3), seeds=(0, 1), d=16, batch=4)
    assert [g.shape for g in prof["layer_grad"]["pre"]] == [(2, 1), (2, 3)]
    assert prof["head_input"]["post"].shape == (2, 2)
    # The oracle: seed 1's 3-block pre-norm model, its loss and gradient recomputed here.
    torch.manual_seed(1)
    m = experiments.placement_model("pre", 3, 16)
    x = training.copy_batch(np.random.default_rng(1), 4)
    k = training.COPY_K
    logits, res = m(x[:, :-1], return_residuals=True)
    nn.functional.cross_entropy(logits[:, k:].reshape(-1, 16), x[:, k + 1 :].reshape(-1)).backward()
    np.testing.assert_allclose(
        prof["layer_grad"]["pre"][1][1],
        [b.ff[2].weight.grad.norm().item() for b in m.decoder],
        rtol=1e-5,
    )
    np.testing.assert_allclose(prof["residual"]["pre"][1][1],
                               [r.norm(dim=-1).mean().item() for r in res], rtol=1e-5)  # fmt: skip
    # Post-norm's stream is the norm's output: sqrt(d) per token (gamma 1, beta 0 at start)
    np.testing.assert_allclose(prof["residual"]["post"][1], 4.0, rtol=1e-3)


def test_rate_grid_is_train_copy_transformers_per_placement():
    grid = experiments.rate_grid([("deepnorm", 1e-2), ("pre", 3e-2)], seeds=(0, 1), n_layers=1,
                                 d=16, steps=3, batch=4)  # fmt: skip
    assert grid["lrs"] == [1e-2, 3e-2] and grid["loss"][("pre", 3e-2)].shape == (2, 3)
    alone = training.train_copy_transformers("deepnorm", 1, 16, seeds=[0, 1], lr=1e-2, steps=3,
                                             batch=4)  # fmt: skip
    np.testing.assert_allclose(grid["loss"][("deepnorm", 1e-2)], alone, rtol=1e-6)
    np.testing.assert_allclose(grid["final"][("deepnorm", 1e-2)], alone[:, -20:].mean(1))
    assert experiments.learned(grid, ("pre", 3e-2)).dtype == bool


def test_learned_stuck_and_still_falling_read_each_seeds_curve():
    steps = np.arange(120.0)
    curves = np.stack([
        np.full(120, 0.05),                    # learned, flat
        np.full(120, 2.7),                     # at chance, flat: stuck
        2.7 * np.exp(-np.maximum(steps - 80, 0) / 40),  # left chance late, falling
        np.where(steps < 100, 2.0, 1.7),       # last 20 at 0.85 of the 20 before: not falling
    ])  # fmt: skip
    c = ("admin", 0.01)
    grid = {"loss": {c: curves}, "final": {c: curves[:, -20:].mean(axis=1)}}
    assert experiments.learned(grid, c).tolist() == [True, False, False, False]
    assert experiments.stuck(grid, c).tolist() == [False, True, False, False]
    assert experiments.still_falling(grid, c).tolist() == [False, False, True, False]
    # the exponential's last 20 steps are its 20 before shifted by 20: ratio e^{-20/40} = 0.607
    assert experiments.still_falling(grid, c, ratio=0.61)[2]
    assert not experiments.still_falling(grid, c, ratio=0.60)[2]
    for bad in ({"ratio": 1.5}, {"ratio": 0}, {"window": 61}, {"window": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            experiments.still_falling(grid, c, **bad)


def test_figures_carry_every_placement_depth_and_rate():
    prof = experiments.init_profile(("post", "pre", "sandwich", "deepnorm"), depths=(1, 3),
                                    seeds=(0, 1), d=16, batch=4)  # fmt: skip
    fig = figures.init_profile_figure(prof)
    assert len(fig.data) == 8 and len(fig.frames) == 2  # 4 placements x 2 panels; 2 depths
    assert [len(t.x) for t in fig.frames[0].data] == [1] * 8
    assert [len(t.x) for t in fig.frames[1].data] == [3] * 8
    menu = fig.layout.updatemenus[0]
    assert [b.label for b in menu.buttons] == ["sandwich / Peri-LN", "DeepNorm"]
    # The chosen placement's two traces, then post-norm's and pre-norm's always
    assert menu.buttons[1].args[0]["visible"] == [False, False, True, True, True, True, True, True]
    mean = prof["layer_grad"]["sandwich"][1].mean(axis=0)
    np.testing.assert_allclose(fig.frames[1].data[0].y, mean)
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.title.text
    grid = experiments.rate_grid([("deepnorm", 1e-2), ("pre", 3e-2), ("admin", 3e-2)],
                                 seeds=(0, 1), n_layers=1, d=16, steps=3, batch=4)  # fmt: skip
    fig = figures.stability_figure(grid)
    assert len(fig.frames) == 2 and len(fig.data) == 2  # two rates; one trace per seed
    assert list(fig.frames[1].data[0].x) == ["pre-norm (GPT-2)", "Admin"]
    assert fig.frames[0].data[1].y[0] == pytest.approx(grid["final"][("deepnorm", 1e-2)][1])


def test_profile_explorer_redraws_for_a_new_placement_and_depth():
    e = widgets.profile_explorer(seeds=(0,), max_depth=4)
    before = [list(t.y) for t in e.figure.data]
    e.controls["placement"].value = "deepnorm"
    e.controls["depth"].value = 3
    after = [list(t.y) for t in e.figure.data]
    assert after != before and len(e.figure.data[0].x) == 3


def test_the_depth_slider_measures_on_release_only():
    e = widgets.profile_explorer(seeds=(0,), max_depth=4)
    assert e.controls["depth"].continuous_update is False


@pytest.mark.parametrize("placement", ["pre", "post", "sandwich", "mix"])
def test_whole_model_is_embeddings_blocks_final_norm_and_head(placement):
    # The decoder-only model written out: token + position embeddings, each block by its
    # placement's formula (Mix-LN: post-norm first), the final norm where it has one, the head.
    torch.manual_seed(5)
    m = models.TinyTransformer(d=8, n_layers=4, n_heads=2, d_ff=16, max_len=9, placement=placement)
    m = m.double()
    ids = torch.randint(16, (3, 7))
    mask = models.causal_mask(7)
    x = m.embed(ids) + m.pos(torch.arange(7))
    for i, b in enumerate(m.decoder):
        p = placement if placement != "mix" else ("post" if i == 0 else "pre")
        x = _written_out(p, b, x, mask)
    final = x if placement == "post" else m.final(x)
    torch.testing.assert_close(m(ids), m.head(final), rtol=1e-12, atol=1e-12)
