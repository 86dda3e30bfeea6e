"""Chapter 11's experiments (lnbook.topics.recurrent.experiments) against independent
oracles: the ReLU RNN written with torch's layer norm, BN in training mode for the
'own statistics', and argument checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lnbook.recurrent import BatchNormLSTM
from lnbook.topics.recurrent import experiments


def torch_rnn_norms(scale, steps, hidden, seed, layer):
    """The chapter's ReLU RNN written again with torch (its weights drawn as documented)."""
    rng = np.random.default_rng(seed)
    W_hh = torch.tensor(scale * np.sqrt(2 / hidden) * rng.standard_normal((hidden, hidden)))
    W_xh = torch.tensor(rng.standard_normal((hidden, 8)) / np.sqrt(8))
    x = torch.tensor(rng.standard_normal((steps, 8)))
    h = torch.zeros(hidden, dtype=torch.float64)
    norms = []
    for t in range(steps):
        a = W_hh @ h + W_xh @ x[t]
        h = torch.relu(F.layer_norm(a, (hidden,), eps=1e-5) if layer else a)
        norms.append(float(h.norm()))
    return np.array(norms)


@pytest.mark.parametrize("scale", [0.5, 1.7])
def test_rnn_norms_match_a_torch_rnn(scale):
    r = experiments.rnn_norms(scale, steps=40, hidden=12, seeds=(3, 8))
    for j, seed in enumerate((3, 8)):
        for kind in ("plain", "layer"):
            ref = torch_rnn_norms(scale, 40, 12, seed, kind == "layer")
            np.testing.assert_allclose(r[kind][j], ref, rtol=1e-10)
    assert r["layer"].max() <= np.sqrt(11) == r["bound"]


def test_padded_puts_blank_rows_before_the_digit():
    x = torch.rand(2, 8, 8)
    xs = experiments.padded(x, 3)
    assert xs.shape == (2, 11, 8) and (xs[:, :3] == 0).all() and torch.equal(xs[:, 3:], x)


def test_own_statistics_are_training_modes_batch_statistics():
    torch.manual_seed(0)
    rnn, head = BatchNormLSTM(8, 6, max_steps=8), torch.nn.Linear(6, 10)
    rnn(torch.rand(16, 8, 8))  # running statistics away from their start
    x = torch.rand(20, 8, 8)
    with torch.no_grad():
        ours = experiments._own_stats_logits(rnn.eval(), head, x)
        ref = head(rnn.train()(x)[0][:, -1])  # training mode: the batch's statistics
    torch.testing.assert_close(ours, ref, rtol=0, atol=0)


def test_batch_dependence_leaves_the_model_as_it_was():
    torch.manual_seed(1)
    rnn, head = BatchNormLSTM(8, 6, max_steps=8), torch.nn.Linear(6, 10)
    before = [b.clone() for b in rnn.buffers()]
    with torch.no_grad():
        change, flips = experiments._batch_dependence(rnn, head, torch.rand(200, 8, 8), seed=0)
    assert change > 0 and 0 <= flips <= 1
    assert all(torch.equal(a, b) for a, b in zip(before, rnn.buffers(), strict=True))


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: experiments.digit_runs(seeds=()),
            "seeds must be a non-empty sequence of ints >= 0",
        ),
        (
            lambda: experiments.digit_runs(seeds=(-1,)),
            r"seeds must be a non-empty sequence of ints >= 0, got \[-1\]",
        ),
        (lambda: experiments.digit_runs(steps=0), "steps must be an int >= 1"),
        (
            lambda: experiments.digit_runs(pads=(0, -2)),
            r"pads must be a non-empty sequence of ints >= 0, got \[0, -2\]",
        ),
        (lambda: experiments.digit_runs(lr=0.0), "lr must be a positive finite number"),
        (lambda: experiments.digit_runs(batch_size=1), "batch_size must be an int >= 2"),
        (lambda: experiments.rnn_norms(-1.0), "scale must be a finite number >= 0"),
        (lambda: experiments.rnn_norms(1.0, hidden=1), "hidden must be an int >= 2"),
        (lambda: experiments.rnn_norms(1.0, steps=0), "steps must be an int >= 1"),
        (lambda: experiments.rnn_norms(1.0, seeds=()), "seeds must be a non-empty sequence"),
        (lambda: experiments.rnn_norm_grid(()), "scales must be a non-empty sequence"),
        (lambda: experiments.rnn_norm_grid((1.0, -0.5)), r"scales .* >= 0, got \[1\.0, -0\.5\]"),
    ],
)
def test_experiments_reject_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: experiments.digit_runs(seeds=0), r"seeds .* ints >= 0, e\.g\. \(0,\), got int 0"),
        (lambda: experiments.digit_runs(pads=8), r"pads .* ints >= 0, e\.g\. \(8,\), got int 8"),
        (lambda: experiments.rnn_norms(seeds=1), r"seeds .* e\.g\. \(1,\), got int 1"),
        (lambda: experiments.rnn_norm_grid(1.5), r"scales .* e\.g\. \(1\.5,\), got float 1\.5"),
    ],
)
def test_a_number_where_a_sequence_goes_is_named(call, match):
    with pytest.raises(TypeError, match=match):
        call()
