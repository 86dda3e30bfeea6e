"""The shared training loops: what they promise the chapters that call them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lnbook import models, training


def _small_run(watch=None, steps=6):
    """A batch-norm MLP trained a few steps; ``watch(model, step, x, y)`` if given."""
    torch.manual_seed(0)
    X, Y, _, _, rng = training.digits_split(0)
    m = models.MLP(64, 16, 10, depth=1, norm="batch")
    opt = torch.optim.SGD(m.parameters(), lr=0.5)
    seen = None if watch is None else lambda *batch: watch(m, *batch)
    return training.fit_digits(m, opt, X, Y, rng, steps=steps, batch_size=8, watch=seen)


def test_fit_digits_shows_watch_every_batch_before_its_step_and_the_end():
    seen = []
    loss = _small_run(lambda _m, step, x, y: seen.append((step, None if x is None else x.shape)))
    assert seen == [(s, (8, 64)) for s in range(6)] + [(6, None)]
    assert loss.shape == (6,) and np.isfinite(loss).all()


def test_fit_digits_is_the_same_run_watched_or_not():
    # Evaluating the model being trained (inference mode and back) must not change the run:
    # not its weights, not batch norm's running statistics, not the mini-batches.
    _, _, X_test, Y_test, _ = training.digits_split(1)
    loss = _small_run(lambda m, step, x, y: training.digits_accuracy(m, X_test, Y_test))
    np.testing.assert_array_equal(loss, _small_run())


def test_fit_digits_loss_is_cross_entropy_on_the_drawn_batch():
    # The first loss, recomputed by hand: the first mini-batch the split's generator draws.
    torch.manual_seed(0)
    X, Y, _, _, rng = training.digits_split(0)
    m = models.MLP(64, 16, 10, depth=1, norm="batch")
    idx = rng.integers(0, len(X), size=8)
    logits = m(X[idx]).detach()
    expected = -torch.log_softmax(logits, -1)[torch.arange(8), Y[idx]].mean().item()
    assert _small_run(steps=1)[0] == pytest.approx(expected, rel=1e-6)


def test_digits_accuracy_runs_in_inference_mode_and_restores_training_mode():
    m = models.MLP(64, 16, 10, depth=1, norm="batch")
    X, Y = training.digits_split(0)[2:4]
    acc = training.digits_accuracy(m, X, Y)
    assert 0 <= acc <= 1 and m.training
    assert m.net[1].num_batches_tracked.item() == 0  # a training-mode pass would count one


def test_train_copy_transformer_is_the_seeded_model_and_loop(three_torch_threads):
    m, loss, rng = training.train_copy_transformer("pre", 1, 16, steps=3, lr=1e-3, seed=2)
    torch.manual_seed(2)
    ref_rng = np.random.default_rng(2)
    ref = training.copy_task_model("pre", 1, 16, norm="layer")
    np.testing.assert_array_equal(loss, training.fit_copy(ref, ref_rng, steps=3, lr=1e-3))
    assert rng.integers(1 << 30) == ref_rng.integers(1 << 30)  # the stream, where it was left
    assert torch.get_num_threads() == three_torch_threads
    with pytest.raises(ValueError, match="placement must be one of"):
        training.train_copy_transformer("middle", 1, 16, steps=1, lr=1e-3)


def test_train_copy_transformers_are_the_separate_runs_to_rounding(three_torch_threads):
    # The oracle: each seed trained alone by train_copy_transformer (its own model, batches
    # and Adam). Side by side, the same runs up to float rounding of the backward.
    # Each run at its own rate and warm-up (Adam's arithmetic per member, checked here).
    runs = [(4, 3e-3, 3), (1, 1e-2, 0), (4, 1e-3, 0), (7, 3e-2, 5)]
    seeds, lrs, warmups = (list(v) for v in zip(*runs, strict=True))
    losses = training.train_copy_transformers(
        "post", 2, 16, seeds=seeds, lr=lrs, warmup=warmups, steps=8, batch=4
    )
    assert losses.shape == (4, 8)
    for row, (seed, lr, warmup) in zip(losses, runs, strict=True):
        alone = training.train_copy_transformer(
            "post", 2, 16, seed=seed, lr=lr, warmup=warmup, steps=8, batch=4
        )[1]
        np.testing.assert_allclose(row, alone, rtol=1e-5)
    same = training.train_copy_transformers("pre", 1, 16, seeds=[0, 1], lr=1e-2, steps=3)
    for row, seed in zip(same, [0, 1], strict=True):  # one rate for every run
        alone = training.train_copy_transformer("pre", 1, 16, seed=seed, lr=1e-2, steps=3)[1]
        np.testing.assert_allclose(row, alone, rtol=1e-5)
    with pytest.raises(ValueError, match="lr must be a number or one per seed"):
        training.train_copy_transformers("pre", 1, 16, seeds=[0, 1], lr=[1e-3], steps=1)
    assert torch.get_num_threads() == three_torch_threads
    with pytest.raises(ValueError, match="seeds must not be empty"):
        training.train_copy_transformers("pre", 1, 16, seeds=[], steps=1, lr=1e-3)
    with pytest.raises(ValueError, match="placement must be one of"):
        training.train_copy_transformers("middle", 1, 16, seeds=[0], steps=1, lr=1e-3)


@pytest.mark.parametrize(
    "placement, kwargs",
    [
        ("sandwich", {}),
        ("post_sublayer", {"init": "xavier"}),
        ("deepnorm", {}),
        ("admin", {}),
        ("mix", {}),
        ("pre", {"final_norm": False}),
    ],
)
def test_stacked_runs_of_chapter_12s_placements_are_the_separate_runs(placement, kwargs):
    # Oracle as above: each seed trained alone, with its own model, batches and Adam.
    losses = training.train_copy_transformers(
        placement, 4, 16, seeds=[0, 3], lr=[1e-2, 3e-3], steps=5, batch=4, **kwargs
    )
    for row, seed, lr in zip(losses, [0, 3], [1e-2, 3e-3], strict=True):
        alone = training.train_copy_transformer(
            placement, 4, 16, seed=seed, lr=lr, steps=5, batch=4, **kwargs
        )[1]
        np.testing.assert_allclose(row, alone, rtol=1e-5)


def test_copy_batch_is_tokens_a_separator_and_the_tokens_again():
    x = training.copy_batch(np.random.default_rng(0), 5).numpy()
    k = training.COPY_K
    assert x.shape == (5, 2 * k + 1) and (x[:, k] == 0).all()
    np.testing.assert_array_equal(x[:, :k], x[:, k + 1 :])
    assert x[:, :k].min() >= 1 and x.max() < training.COPY_VOCAB


def _digits_and_model():
    torch.manual_seed(0)
    X, Y = torch.rand(20, 64), torch.randint(0, 10, (20,))
    m = models.MLP(64, 8, 10, depth=1, norm="layer")
    return m, torch.optim.SGD(m.parameters(), lr=0.1), X, Y


def _fit_stacked(steps=2, batch_size=4):
    """fit_digits_stacked on two small members: the call the checks below try."""
    from lnbook.stacked import StackedMLP

    model = StackedMLP([models.MLP(64, 8, 10, depth=1, norm="layer") for _ in range(2)])
    X, Y = torch.zeros(2, 5, 64), torch.zeros(2, 5, dtype=torch.long)
    rngs = [np.random.default_rng(0), np.random.default_rng(1)]
    return training.fit_digits_stacked(
        model, torch.ones(2), X, Y, rngs, steps=steps, batch_size=batch_size
    )


@pytest.mark.parametrize(
    "call, error, match",
    [
        # A (N, 1) Y used to broadcast against the (N,) predictions: a (20,) array, no error.
        (lambda m, o, X, Y: training.digits_accuracy(m, X, Y[:, None]), ValueError,
         r"Y_test must have shape \(20,\) = X_test.shape\[:-1\] .* got \(20, 1\)"),
        (lambda m, o, X, Y: training.digits_accuracy(m, X, Y[:10]), ValueError,
         r"Y_test must have shape \(20,\).* got \(10,\)"),
        (lambda m, o, X, Y: training.digits_accuracy(m, X.numpy(), Y), TypeError,
         "X_test must be a torch.Tensor, got ndarray"),
        (lambda m, o, X, Y: training.digits_accuracy(m, X[0], Y), ValueError,
         r"X_test must have shape \(N, features\) or \(E, N, features\), got \(64,\)"),
        (lambda m, o, X, Y: training.digits_accuracy_in_batches(m, X, Y[:, None], 4),
         ValueError, r"Y_test must have shape \(20,\).* got \(20, 1\)"),
        (lambda m, o, X, Y: training.digits_accuracy_in_batches(m, X, Y, 1), ValueError,
         r"batch_size must be an int in \[2, 20\], got 1"),
        (lambda m, o, X, Y: training.fit_digits(m, o, X, Y, np.random.default_rng(0), steps=2,
         batch_size=0), ValueError, "batch_size must be an int >= 1, got 0"),
        (lambda m, o, X, Y: training.fit_digits(m, o, X, Y, np.random.default_rng(0), steps=-1,
         batch_size=4), ValueError, "steps must be an int >= 1, got -1"),
        (lambda m, o, X, Y: training.fit_digits(m, o, X, Y[:5], np.random.default_rng(0),
         steps=2, batch_size=4), ValueError, r"Y_train must have shape \(20,\).* got \(5,\)"),
        (lambda m, o, X, Y: training.fit_digits(m, o, X, Y, 0, steps=2, batch_size=4),
         TypeError, "rng must be a numpy.random.Generator, got int"),
        (lambda m, o, X, Y: training.train_digits_mlp(steps=2, eval_every=-1), ValueError,
         "eval_every must be an int >= 0, got -1"),
        (lambda m, o, X, Y: _fit_stacked(steps=0), ValueError, "steps must be an int >= 1, got 0"),
        (lambda m, o, X, Y: _fit_stacked(steps=2.0), ValueError,
         "steps must be an int >= 1, got 2.0"),
        (lambda m, o, X, Y: _fit_stacked(batch_size=0), ValueError,
         "batch_size must be an int >= 1, got 0"),
    ],
)  # fmt: skip
def test_bad_digits_input_is_refused_clearly(call, error, match):
    with pytest.raises(error, match=match):
        call(*_digits_and_model())
