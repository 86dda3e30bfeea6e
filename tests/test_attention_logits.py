"""Chapter 13's experiments, figure and widget (attention logits), against independent oracles.

* the softmax entropy against scipy's entropy and against closed forms (uniform, one winner);
* the QK-norm bound against a brute-force search over unit directions, and reached;
* the stacked runs against separate runs of the book's loop (the first steps, to rounding);
* the nGPT stream's turn against the angle measured between consecutive states, by arccos;
* bad inputs name the argument.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import entropy as scipy_entropy

from lnbook.attention import CausalSelfAttention
from lnbook.topics.attention_logits import experiments, figures, widgets


def test_softmax_entropy_matches_scipy_and_closed_forms():
    z = np.random.default_rng(0).normal(0, 3, (5, 7))
    p = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(experiments.softmax_entropy(z), scipy_entropy(p, axis=-1),
                               rtol=1e-12)  # fmt: skip
    np.testing.assert_allclose(experiments.softmax_entropy(np.full((2, 4), 1e4)), np.log(4))
    assert experiments.softmax_entropy(np.array([5000.0, 0.0, -10.0])) == 0.0
    with pytest.raises(ValueError, match="at least one entry"):
        experiments.softmax_entropy(np.zeros((3, 0)))


def test_entropy_falls_with_the_scale():
    r = experiments.entropy_at_scale(scales=(0.0, 1.0, 10.0), n_keys=8, n=200, seed=3)
    assert r["entropy"][0] == pytest.approx(np.log(8)) and r["uniform"] == pytest.approx(np.log(8))
    assert r["entropy"][0] > r["entropy"][1] > r["entropy"][2] > 0
    with pytest.raises(ValueError, match="n_keys must be an int >= 1"):
        experiments.entropy_at_scale(n_keys=0)


def test_qk_bound_is_the_largest_logit_and_is_reached():
    """RMSNorm (eps 0) attention over random directions never exceeds the bound, and q, k
    along the best coordinate reach it; computed with torch's rms_norm, not the formula."""
    rng = np.random.default_rng(1)
    gq, gk = rng.normal(0, 1.5, 6), rng.normal(0, 1.5, 6)
    bound = experiments.qk_bound(gq, gk)
    wq, wk = torch.tensor(gq), torch.tensor(gk)

    def logits(q, k):
        qn = torch.nn.functional.rms_norm(q, (6,), wq, eps=0.0)
        kn = torch.nn.functional.rms_norm(k, (6,), wk, eps=0.0)
        return (qn @ kn.T) / np.sqrt(6)

    q, k = torch.tensor(rng.normal(size=(500, 6))), torch.tensor(rng.normal(size=(500, 6)))
    assert logits(q, k).abs().max().item() <= bound * (1 + 1e-12)
    best = np.argmax(np.abs(gq * gk))
    e = torch.zeros(1, 6, dtype=torch.float64)
    e[0, best] = 1.0
    assert abs(logits(e * 3.0, -e * 0.5).item()) == pytest.approx(bound, rel=1e-12)
    with pytest.raises(ValueError, match=r"gamma_q and gamma_k must be vectors of one length"):
        experiments.qk_bound(np.ones(3), np.ones(4))


def test_top_weight_bound_against_a_brute_force_search():
    # Every logit vector on a grid of [-b, b]^3 (3 keys): the largest weight any key gets.
    b, grid = 1.5, np.linspace(-1.5, 1.5, 31)
    z = np.stack(np.meshgrid(grid, grid, grid), axis=-1).reshape(-1, 3)
    p = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    assert experiments.top_weight_bound(b, 3) == pytest.approx(p.max(), rel=1e-12)
    assert experiments.top_weight_bound(0.0, 4) == pytest.approx(0.25)
    assert experiments.top_weight_bound(2.0, 1) == 1.0
    with pytest.raises(ValueError, match="bound must be a number >= 0"):
        experiments.top_weight_bound(-1.0, 3)
    with pytest.raises(ValueError, match="n_keys must be an int >= 1"):
        experiments.top_weight_bound(1.0, 0)


def test_logit_crossing_finds_the_first_step_above_the_threshold():
    max_logit = np.array([[[[1.0, 50.0, 150.0, 90.0, 300.0], [1.0, 2.0, 3.0, 4.0, 5.0]]]])
    loss = np.arange(10.0).reshape(1, 1, 2, 5)
    c = experiments.logit_crossing({"max_logit": max_logit, "loss": loss}, threshold=100.0)
    assert c["step"].tolist() == [[[2, -1]]]
    assert c["loss"][0, 0, 0] == 2.0 and np.isnan(c["loss"][0, 0, 1])
    with pytest.raises(TypeError, match="threshold must be a number"):
        experiments.logit_crossing({"max_logit": max_logit, "loss": loss}, threshold="100")


def test_stacked_runs_follow_separate_runs():
    """The stacked grid gives each run what the book's loop gives it alone, at the chapter's
    high rate too (the stack runs the model's own forward, vectorized: only the order of
    the loss's mean differs, by rounding)."""
    grid = experiments.logit_runs(lrs=(0.1,), qk_norms=(None, "layer"), seeds=(0, 1), steps=30)
    for q, qk in enumerate((None, "layer")):
        for s, seed in enumerate((0, 1)):
            alone = experiments.logit_run(0.1, qk, seed, steps=30)
            for key in ("loss", "max_logit", "entropy"):
                np.testing.assert_allclose(grid[key][0, q, s], alone[key], rtol=1e-5)
    assert grid["loss"].shape == (1, 2, 2, 30) and list(grid["qk_norms"]) == [None, "layer"]


def test_logit_run_reads_the_models_own_logits():
    """The watched largest logit at step 0 is that of the untrained model's first batch,
    computed here by calling its attention directly."""
    from lnbook.training import COPY_K, copy_batch

    run = experiments.logit_run(1e-12, None, seed=4, steps=1)  # a step too small to matter
    model = experiments._logit_model(None, 4)
    x = copy_batch(np.random.default_rng(4), 32)[:, :-1]
    h = model.embed(x) + model.pos(torch.arange(2 * COPY_K))
    block = model.blocks[0]
    assert isinstance(block.attn, CausalSelfAttention)
    _, logits = block.attn(block.norm1(h), return_logits=True)
    allowed = torch.tril(torch.ones(2 * COPY_K, 2 * COPY_K, dtype=torch.bool))
    assert run["max_logit"][0] == pytest.approx(logits.masked_select(allowed).abs().max().item(),
                                                rel=1e-6)  # fmt: skip


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: experiments.logit_run(0.0, None), "lr must be a positive finite number"),
        (lambda: experiments.logit_run(0.1, "batch"), "qk_norm must be one of"),
        (lambda: experiments.logit_runs(lrs=()), "lrs must be a non-empty sequence"),
        (lambda: experiments.logit_runs(qk_norms=("l2",), steps=2), "qk_norm must be one of"),
        (lambda: experiments.ngpt_stream(alpha=1.5), r"alpha must be in \(0, 1\]"),
        (lambda: experiments.ngpt_stream(d=1), "d must be an int >= 2"),
    ],
)
def test_bad_inputs_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: experiments.entropy_at_scale(3.0), TypeError,
         r"scales must be a non-empty sequence of finite numbers, e\.g\. \(3\.0,\), got float 3"),
        (lambda: experiments.entropy_at_scale(()), ValueError,
         "scales must be a non-empty sequence"),  # was an empty result
        (lambda: experiments.entropy_at_scale((1.0, float("inf"))), ValueError,
         r"scales .* got \[1\.0, inf\]"),
        (lambda: experiments.logit_runs(seeds=0), TypeError,
         r"seeds must be a non-empty sequence of ints >= 0, e\.g\. \(0,\), got int 0"),
        (lambda: experiments.logit_runs(lrs=0.1), TypeError,
         "lrs must be a non-empty sequence of positive finite numbers"),
        (lambda: experiments.logit_runs(qk_norms="layer"), TypeError,
         "qk_norms must be a non-empty sequence of QK-norm choices"),
        # every choice is checked before the first one trains
        (lambda: experiments.logit_runs(qk_norms=(None, "l2")), ValueError,
         "qk_norm must be one of"),
    ],
)  # fmt: skip
def test_sequence_arguments_are_named_before_training(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_ngpt_stream_stays_on_the_sphere_and_turns_as_predicted():
    r = experiments.ngpt_stream(n_layers=6, d=16, alpha=0.3, n=5, seed=2)
    np.testing.assert_allclose(r["ngpt_norm"], 1.0, atol=1e-13)
    assert np.all(r["pre_norm"][-1] > r["pre_norm"][0])
    np.testing.assert_allclose(r["turn"], r["predicted"], atol=1e-12)
    assert np.all((r["turn"] > 0) & (r["turn"] < np.pi / 2))
    # alpha = 1 jumps to the block's normalized output: the turn is the whole angle theta.
    full = experiments.ngpt_stream(n_layers=3, d=16, alpha=1.0, n=4, seed=2)
    np.testing.assert_allclose(full["turn"], full["predicted"], atol=1e-12)


def _runs():
    rng = np.random.default_rng(0)
    shape = (2, 2, 3, 10)
    return {"lrs": np.array([0.01, 0.1]), "qk_norms": [None, "layer"], "seeds": np.arange(3),
            "loss": rng.uniform(0.1, 2, shape), "max_logit": rng.uniform(1, 1e3, shape),
            "entropy": rng.uniform(0, 2, shape)}  # fmt: skip


def test_logit_figure_moves_every_curve_between_rates():
    r = _runs()
    fig = figures.logit_figure(r, active=1)
    assert len(fig.frames) == 2 and len(fig.data) == 3 * 2 * 3  # panels, choices, traces
    for k in range(2):
        geometric = np.exp(np.log(r["max_logit"][k, 0]).mean(axis=0))  # the log panel's mean
        np.testing.assert_allclose(fig.frames[k].data[2].y, geometric, rtol=1e-6)
    np.testing.assert_allclose(fig.data[0].y, r["max_logit"][1, 0].min(axis=0))
    np.testing.assert_allclose(fig.data[7].y, r["entropy"][1, 0].max(axis=0))
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type != "log"
    menu = fig.layout.updatemenus[0]
    assert [b.label for b in menu.buttons] == ["both", "only no QK-norm", "only QK-norm (layer)"]
    only_on = menu.buttons[2].args[0]["visible"]
    assert only_on == [(k // 3) % 2 == 1 for k in range(18)]  # each panel's second choice
    assert all(ax.title.text for ax in (fig.layout.yaxis, fig.layout.yaxis2, fig.layout.yaxis3))


def test_logit_explorer_reuses_known_runs_and_checks_them():
    r = _runs()
    e = widgets.logit_explorer(steps=10, seeds=(0, 1, 2), known=r)
    e.controls["lr"].value = 0.01
    np.testing.assert_allclose(e.figure.data[0].y, r["max_logit"][0, 0].min(axis=0))
    with pytest.raises(ValueError, match="known has 10 steps"):
        widgets.logit_explorer(steps=5, known=r)


def test_logit_explorer_trains_a_new_rate_and_keeps_it():
    e = widgets.logit_explorer(steps=4, seeds=(0,))  # no known runs: every rate trains
    first = list(e.figure.data[2].y)
    e.controls["lr"].value = 0.02
    assert list(e.figure.data[2].y) != first and len(e.figure.data[2].y) == 4
    assert "0.02" in e.figure.layout.title.text
