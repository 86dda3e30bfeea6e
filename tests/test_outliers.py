"""Chapter 14's code against independent oracles: torch's layer_norm, rms_norm and
group_norm, torch's unfold and conv2d for the patches, limits worked by hand, and DiT's
block written out; and the clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lnbook import conditioning, training
from lnbook.data import digits
from lnbook.topics.outliers import experiments


@pytest.mark.parametrize("m", [0.5, 3.0, 40.0, 1e4])
@pytest.mark.parametrize("d", [3, 16, 64])
def test_closed_form_matches_torch_token_by_token(m, d):
    x = torch.randn(50, d, dtype=torch.float64, generator=torch.Generator().manual_seed(d))
    x[:, 0] = m
    others = x[:, 1:].numpy()
    p = experiments.squash_closed_form(m, d, others.mean(axis=1), others.var(axis=1))
    ln = F.layer_norm(x, (d,), eps=1e-5).numpy()
    rms = F.rms_norm(x, (d,), eps=1e-5).numpy()
    np.testing.assert_allclose(p["mu"], x.mean(dim=1).numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(p["ln_outlier"], ln[:, 0], rtol=1e-10)
    np.testing.assert_allclose(p["ln_others_std"], ln[:, 1:].std(axis=1), rtol=1e-10)
    np.testing.assert_allclose(p["rms_outlier"], rms[:, 0], rtol=1e-10)
    np.testing.assert_allclose(p["rms_others_std"], rms[:, 1:].std(axis=1), rtol=1e-10)


def test_closed_form_reaches_the_limits_worked_by_hand():
    d = 16
    p = experiments.squash_closed_form(1e8, d, eps=0.0)
    assert p["ln_outlier"] == pytest.approx(np.sqrt(d - 1), rel=1e-9)
    assert p["rms_outlier"] == pytest.approx(np.sqrt(d), rel=1e-9)
    # The others' spread falls as s / sigma, sigma -> M sqrt(D - 1) / D.
    assert p["ln_others_std"] == pytest.approx(d / (1e8 * np.sqrt(d - 1)), rel=1e-6)
    # M = 0 with the others' mean 0: mu = 0 and var = (D - 1) / D, worked by hand.
    zero = experiments.squash_closed_form(0.0, d, eps=0.0)
    assert zero["sigma"] == pytest.approx(np.sqrt((d - 1) / d), rel=1e-12)
    assert zero["ln_outlier"] == 0.0


def test_outlier_norms_measures_what_numpy_and_torch_compute():
    r = experiments.outlier_norms(32.0, 8, n_tokens=20, seed=4)
    x = torch.as_tensor(experiments.outlier_tokens(32.0, 8, n_tokens=20, seed=4))
    np.testing.assert_allclose(r["layer"], F.layer_norm(x, (8,)).numpy()[0], atol=1e-12)
    np.testing.assert_allclose(r["dyt"], torch.tanh(0.5 * x).numpy()[0], atol=1e-15)
    np.testing.assert_allclose(r["predicted"]["ln_outlier"], r["ln_outlier"], rtol=1e-12)
    # DyT leaves the ordinary channels as they were, whatever M.
    small = experiments.outlier_norms(1.0, 8, n_tokens=20, seed=4)
    np.testing.assert_array_equal(small["dyt_others_std"], r["dyt_others_std"])


def test_gamma_migration_is_the_same_function_in_torch():
    g = experiments.gamma_amplification(30.0, d=8, seed=2)
    assert g["migration_error"] < 1e-12
    assert g["ratio_before"] > 20 and abs(g["ratio_after"] - 1) < 0.3
    # The identity itself, in torch: LN with gamma, beta then a Linear == LN without them
    # then the Linear with gamma folded into its weight and beta into its bias.
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(10, 8, dtype=torch.float64, generator=gen)
    gamma, beta = (
        torch.rand(8, dtype=torch.float64, generator=gen) * 5,
        torch.randn(8, dtype=torch.float64, generator=gen),
    )
    w = torch.randn(3, 8, dtype=torch.float64, generator=gen)
    direct = F.linear(F.layer_norm(x, (8,), gamma, beta), w)
    migrated = F.linear(F.layer_norm(x, (8,)), w * gamma, w @ beta)
    torch.testing.assert_close(direct, migrated)


def test_s_curve_of_outliers_keeps_chapter_7s_format():
    c = experiments.outlier_s_curve(0.25, m=10.0, n_tokens=8, d=4, seed=1)
    assert c["x"].shape == c["y"].shape == c["token_scale"].shape == (32,)
    x = c["x"].reshape(8, 4)
    assert (x[:2, 0] == 10.0).all() and (x[2:, 0] != 10.0).all()  # 2 of 8 tokens
    np.testing.assert_allclose(c["y"], F.layer_norm(torch.as_tensor(x), (4,)).numpy().ravel())


def test_channel_stats_see_one_planted_outlier():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4000, 16))
    plain = experiments._channel_stats(x)
    x[:, 3] *= 10
    planted = experiments._channel_stats(x)
    assert plain["channel_ratio"] < 1.1 and planted["channel_ratio"] == pytest.approx(10, rel=0.1)
    assert abs(plain["kurtosis"] - 3) < 0.2 and planted["kurtosis"] > 10


def test_norm_inputs_sees_every_norm_of_the_transformer():
    from lnbook.training import copy_batch, copy_task_model

    torch.manual_seed(0)
    m = copy_task_model("pre", 2, 16)
    seen = experiments.norm_inputs(m, np.random.default_rng(0), batch=4)
    assert len(seen) == 5 and all(s.shape == (4, 16, 16) for s in seen)
    # The first norm's input is the embedding of the batch drawn: token plus position.
    ids = copy_batch(np.random.default_rng(0), 4)[:, :-1]
    with torch.no_grad():
        embedded = (m.embed(ids) + m.pos(torch.arange(16))).double().numpy()
    np.testing.assert_allclose(seen[0], embedded, rtol=1e-6)


@pytest.mark.parametrize("patch", [1, 2, 4, 8])
def test_patch_tokens_match_torch_unfold(patch):
    images = np.random.default_rng(patch).random((3, 64))
    t = torch.as_tensor(images).view(3, 1, 8, 8)
    want = F.unfold(t, kernel_size=patch, stride=patch).transpose(1, 2).numpy()  # (N, T, p^2)
    np.testing.assert_array_equal(experiments.patch_tokens(images, patch), want)


def test_vision_equivalences_hold_in_torch():
    r = experiments.vision_equivalences(n=6, channels=5, patch=2, seed=1)
    assert r["ln_chw_vs_gn1"] < 1e-12 and r["tokens_vs_channels_last"] < 1e-12
    assert r["gn1_affine_vs_ln_affine"] < 1e-12 and r["channels_last_vs_gn1"] > 0.1
    x = torch.as_tensor(r["grid"])  # (N, C, H, W)
    torch.testing.assert_close(F.layer_norm(x, x.shape[1:]), F.group_norm(x, 1))
    gamma, beta = torch.randn(5, dtype=x.dtype), torch.randn(5, dtype=x.dtype)
    spread = (5, 4, 4)  # GN's per-channel affine is LN's per-element one, repeated
    torch.testing.assert_close(
        F.group_norm(x, 1, gamma, beta),
        F.layer_norm(
            x, spread, gamma[:, None, None].expand(spread), beta[:, None, None].expand(spread)
        ),
    )
    last = F.layer_norm(x.permute(0, 2, 3, 1), (5,)).permute(0, 3, 1, 2)  # ConvNeXt's way
    assert (last - F.group_norm(x, 1)).abs().max() > 0.1
    # ViT's patch embedding is a convolution with kernel = stride = patch.
    images, _ = digits(6, seed=1)
    conv = torch.nn.Conv2d(1, 5, 2, stride=2, dtype=torch.float64)
    grid = conv(torch.as_tensor(images / 16.0).view(6, 1, 8, 8))  # (N, C, 4, 4)
    tokens = (
        torch.as_tensor(experiments.patch_tokens(images / 16.0, 2)) @ conv.weight.view(5, 4).T
        + conv.bias
    )
    torch.testing.assert_close(grid.permute(0, 2, 3, 1).reshape(6, 16, 5), tokens)
    per_token = F.layer_norm(tokens, (5,))
    per_pixel = F.layer_norm(grid.permute(0, 2, 3, 1), (5,)).reshape(6, 16, 5)
    torch.testing.assert_close(per_token, per_pixel)


def test_adaln_zero_block_is_the_identity_at_initialization():
    torch.manual_seed(3)
    block = conditioning.CondBlock(12, 7, 24, "adaLN-Zero")
    x, c = torch.randn(9, 12), torch.randn(9, 7)
    assert torch.equal(block(x, c), x)
    gaps = experiments.identity_at_init(d=8, seed=1)
    assert gaps["adaLN-Zero"] == 0.0 and min(gaps["adaLN"], gaps["concat"], gaps["none"]) > 0


def test_adaln_block_is_dits_modulation_written_out():
    torch.manual_seed(0)
    block = conditioning.CondBlock(6, 4, 10, "adaLN-Zero")
    for p in block.modulation.parameters():  # leave the zero start: any values
        torch.nn.init.normal_(p)
    x, c = torch.randn(5, 6), torch.randn(5, 4)
    lin = block.modulation[-1]
    shift, scale, gate = (F.silu(c) @ lin.weight.T + lin.bias).chunk(3, dim=-1)
    x_hat = (x - x.mean(-1, keepdim=True)) / torch.sqrt(
        x.var(-1, unbiased=False, keepdim=True) + 1e-6
    )
    want = x + gate * block.mlp(x_hat * (1 + scale) + shift)
    torch.testing.assert_close(block(x, c), want)
    assert block.norm.eps == 1e-6 and not block.norm.elementwise_affine


def test_denoiser_shapes_and_class_dependence():
    torch.manual_seed(0)
    m = conditioning.Denoiser("adaLN", d=16)
    noisy = torch.randn(4, 64)
    out = m(noisy, torch.tensor([0, 1, 2, 3]))
    assert out.shape == (4, 64)
    assert not torch.allclose(out, m(noisy, torch.tensor([3, 2, 1, 0])))
    plain = conditioning.Denoiser("none", d=16)
    torch.testing.assert_close(
        plain(noisy, torch.zeros(4, dtype=torch.long)),
        plain(noisy, torch.ones(4, dtype=torch.long)),
    )


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: experiments.outlier_tokens("big"), TypeError, "m must be a number"),
        (lambda: experiments.outlier_tokens(float("nan")), ValueError, "m must be finite"),
        (lambda: experiments.outlier_tokens(2.0, d=2), ValueError, "d"),
        (lambda: experiments.outlier_norms(2.0, alpha=True), TypeError, "alpha"),
        (lambda: experiments.outlier_sweep(()), ValueError, "ms must be a non-empty sequence"),
        (
            lambda: experiments.outlier_sweep(8.0),
            TypeError,
            r"ms must be a non-empty sequence of finite numbers, e\.g\. \(8\.0,\), got float 8",
        ),
        (
            lambda: experiments.trained_channel_sizes(0),
            TypeError,
            r"seeds must be a non-empty sequence of ints >= 0, e\.g\. \(0,\), got int 0",
        ),
        (
            lambda: experiments.conditioning_runs(seeds=0),
            TypeError,
            "seeds must be a non-empty sequence of ints",
        ),
        (
            lambda: experiments.conditioning_runs(modes="adaLN"),
            TypeError,
            "modes must be a non-empty sequence of conditioning modes",
        ),
        (lambda: experiments.outlier_s_curve(1.5), ValueError, "fraction must be between"),
        (
            lambda: experiments.patch_tokens(np.ones((2, 63)), 2),
            ValueError,
            r"\(N, 64\).*\(2, 63\)",
        ),
        (lambda: experiments.patch_tokens(np.ones((2, 64)), 3), ValueError, "patch must divide 8"),
        (lambda: experiments.vision_equivalences(channels=1), ValueError, "channels"),
        (
            lambda: experiments.trained_channel_sizes(()),
            ValueError,
            "seeds must be a non-empty sequence",
        ),
        (lambda: conditioning.CondBlock(4, 4, 8, "film"), ValueError, "mode must be one of"),
        (lambda: conditioning.Denoiser("zero"), ValueError, "mode must be one of"),
        (lambda: conditioning.CondBlock(4, 0, 8), ValueError, "d_cond must be >= 1"),
        (lambda: conditioning.CondBlock(4.0, 4, 8), TypeError, "d must be an int"),
        (
            lambda: conditioning.CondBlock(4, 3, 8, "adaLN")(torch.ones(2, 5), torch.ones(2, 3)),
            ValueError,
            r"x must be a \(B, 4\) tensor, got \(2, 5\)",
        ),
        (
            lambda: conditioning.CondBlock(4, 3, 8, "adaLN-Zero")(
                torch.ones(2, 4), torch.ones(2, 4)
            ),
            ValueError,
            r"c must be a \(2, 3\) tensor \(B, d_cond\), got \(2, 4\)",
        ),
        (
            lambda: conditioning.Denoiser("adaLN")(torch.ones(2, 64), torch.zeros(2)),
            TypeError,
            "labels must be an integer tensor of classes, got torch.float32",
        ),
        (lambda: experiments.gamma_amplification(20.0, d=1), ValueError, "d must be an int >= 2"),
        (
            lambda: experiments.gamma_amplification(20.0, n_tokens=0),
            ValueError,
            "n_tokens must be an int >= 1",
        ),
        (
            lambda: training.fit_denoiser("adaLN", seed=0, steps=0, noise=1.0),
            ValueError,
            "steps must be an int >= 1",
        ),
        (
            lambda: training.fit_denoiser("adaLN", seed=0, steps=2, noise=-1.0),
            ValueError,
            "noise must be a finite number >= 0",
        ),
        (
            lambda: training.fit_denoiser("adaLN", seed=0, steps=2, noise=1.0, batch=0),
            ValueError,
            "batch must be an int >= 1",
        ),
        (
            lambda: training.fit_denoiser("adaLN", seed=0, steps=2, noise=1.0, lr=0.0),
            ValueError,
            "lr must be a positive finite number",
        ),
        (
            lambda: conditioning.CondBlock(4, 4, 8, "adaLN")(torch.ones(2, 4)),
            ValueError,
            "needs the condition c",
        ),
        (
            lambda: conditioning.Denoiser("concat")(
                torch.ones(2, 64), torch.zeros(3, dtype=torch.long)
            ),
            ValueError,
            r"labels \(B,\), got \(2, 64\) and \(3,\)",
        ),
    ],
)
def test_bad_input_is_refused_clearly(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_conditioning_runs_checks_every_mode_before_training(monkeypatch):
    def trained(*args, **kwargs):
        raise AssertionError("trained")

    monkeypatch.setattr(experiments, "fit_denoiser", trained)
    # The typo is the second mode: refused before the first one trains.
    with pytest.raises(
        ValueError,
        match=r"modes must be a non-empty sequence of conditioning modes, each one of "
        r"\('adaLN-Zero', 'adaLN', 'concat', 'none'\), got \['adaLN-Zero', 'adaln'\]: "
        r"'adaln' is not one of them",
    ):
        experiments.conditioning_runs(("adaLN-Zero", "adaln"), (0,))
    with pytest.raises(AssertionError, match="trained"):  # every mode the denoiser takes
        experiments.conditioning_runs(conditioning.MODES, (0,))


# ---------------------------------------------------------------- figures and widget ----


def test_outlier_figure_one_frame_per_m_moving_bars_and_marker():
    from lnbook.topics.outliers import figures

    sweep = experiments.outlier_sweep((1.0, 8.0, 64.0), d=6, n_tokens=20, seed=0)
    fig = figures.outlier_figure(sweep, active=1)
    assert [f.name for f in fig.frames] == ["1", "8", "64"]
    assert fig.layout.sliders[0].active == 1
    for k, frame in enumerate(fig.frames):
        np.testing.assert_allclose(frame.data[0].y, np.round(sweep["runs"][k]["layer"], 4))
        np.testing.assert_allclose(frame.data[2].y, np.round(sweep["runs"][k]["dyt"], 4))
        assert frame.data[3].x[0] == sweep["ms"][k]  # the marker on the right panel
    assert not np.allclose(fig.frames[0].data[0].y, fig.frames[2].data[0].y)
    # The right panel's dashed lines are the closed form.
    lines = [t for t in fig.data if t.type == "scatter" and t.mode == "lines"]
    np.testing.assert_allclose(lines[0].y, sweep["typical"]["ln_others_std"])


def test_live_outlier_update_matches_the_static_traces():
    from lnbook.topics.outliers import figures

    fig = figures.live_outlier_figure(experiments.outlier_norms(2.0, 6, n_tokens=1))
    r = experiments.outlier_norms(50.0, 6, n_tokens=1)
    figures.update_outlier(fig, r)
    for trace, want in zip(fig.data, figures.outlier_traces(r), strict=True):
        np.testing.assert_allclose(trace.y, want.y)
    assert "50" in fig.layout.title.text


def test_outlier_explorer_follows_its_controls():
    from lnbook.topics.outliers import widgets

    e = widgets.outlier_explorer()
    e.controls["m"].value = 100.0
    e.controls["d"].value = 9
    fig = e.figure
    assert len(fig.data[0].y) == 9
    assert fig.data[0].y[0] == pytest.approx(np.sqrt(8), rel=0.01)  # near the limit
    e.controls["alpha"].value = 2.0
    assert fig.data[2].y[0] == pytest.approx(1.0, abs=1e-4)  # tanh saturates the outlier


def test_conditioning_figure_one_band_and_line_per_mode():
    from lnbook.topics.outliers import figures

    runs = {"modes": ("adaLN-Zero", "none"), "seeds": (0, 1),
            "loss": {"adaLN-Zero": np.ones((2, 30)), "none": np.full((2, 30), 2.0)},
            "held_out": {"adaLN-Zero": np.ones(2), "none": np.ones(2)}}  # fmt: skip
    fig = figures.conditioning_figure(runs, window=10)
    assert len(fig.data) == 6  # lower edge, upper edge, median line, per mode
    assert [t.name for t in fig.data if t.mode == "lines" and t.showlegend is not False][-2:] == [
        "adaLN-Zero",
        "no class (unconditional)",
    ]
    assert len(fig.data[2].x) == 21
