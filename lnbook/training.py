"""DOCSTRING training"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from ._optional import require_torch


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread, then restore the setting.

    The chapters' models are tiny: splitting their matrix products over threads costs more
    in synchronisation than it saves, and on a busy 2-core machine it was 30x slower.
    """
    torch = require_torch()
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def digits_split(seed: int):
    """The digits as float32 tensors in [0, 1]: 70% for training, 30% held out.

    Returns ``X_train, Y_train, X_test, Y_test`` and the NumPy generator that drew the
    split, which the caller goes on using for its mini-batches.
    """
    torch = require_torch()

    from .data import digits

    images, labels = digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    n_train = int(0.7 * len(images))
    X = torch.tensor(images[order] / 16.0, dtype=torch.float32)
    Y = torch.tensor(labels[order])
    return X[:n_train], Y[:n_train], X[n_train:], Y[n_train:], rng


def train_digits_mlp(
    *,
    norm: str | None = "layer",
    weight_decay: float = 0.0,
    decay_norm_params: bool = True,
    d_hidden: int = 64,
    depth: int = 2,
    steps: int = 400,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    eval_every: int = 0,
) -> dict:
    """Train a small MLP on the handwritten digits with AdamW; return what the chapter plots.

    Parameters
    ----------
    norm : normalization after each hidden linear layer ("layer", "batch", "rms", None)
    weight_decay : AdamW's decoupled weight decay
    decay_norm_params : apply the decay to gamma, beta and biases too (True), or only to the
        weight matrices (False, the common practice; see ``models.param_groups``)
    steps, batch_size, lr, seed : the training run
    eval_every : also measure the test accuracy every this many steps (0: only at the end)

    Returns
    -------
    dict with ``loss`` (steps,) training loss per step, ``test_accuracy`` (float, on 30% of
    the images held out, in inference mode), ``curve_steps`` and ``curve_accuracy`` (the
    test accuracy during training, if ``eval_every``), ``gammas`` and ``betas`` (lists of
    (d_hidden,) arrays, one per norm layer), ``n_params`` and ``n_norm_params`` (ints)
    """
    torch = require_torch()

    from . import models

    if batch_size < 1 or steps < 1 or eval_every < 0:
        raise ValueError(
            f"need batch_size >= 1, steps >= 1 and eval_every >= 0, got "
            f"{batch_size}, {steps}, {eval_every}"
        )
    torch.manual_seed(seed)
    X_train, Y_train, X_test, Y_test, rng = digits_split(seed)
    n_train = len(X_train)

    model = models.MLP(64, d_hidden, 10, depth=depth, norm=norm, placement="post")
    groups = (
        [{"params": list(model.parameters()), "weight_decay": weight_decay}]
        if decay_norm_params
        else models.param_groups(model, weight_decay)
    )
    opt = torch.optim.AdamW(groups, lr=lr)
    losses, curve_steps, curve_acc = [], [], []

    def test_accuracy() -> float:
        model.eval()  # inference mode: batch norm uses its running statistics
        with torch.no_grad():
            acc = (model(X_test).argmax(-1) == Y_test).float().mean().item()
        model.train()
        return acc

    with one_torch_thread():
        for step in range(1, steps + 1):
            idx = torch.from_numpy(rng.integers(0, n_train, size=batch_size))
            loss = torch.nn.functional.cross_entropy(model(X_train[idx]), Y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if eval_every and step % eval_every == 0:
                curve_steps.append(step)
                curve_acc.append(test_accuracy())
        acc = test_accuracy()
    norms = models.norm_layers(model)
    return {
        "loss": np.array(losses),
        "test_accuracy": acc,
        "curve_steps": np.array(curve_steps),
        "curve_accuracy": np.array(curve_acc),
        "gammas": [m.weight.detach().numpy().copy() for m in norms if m.weight is not None],
        "betas": [
            m.bias.detach().numpy().copy() for m in norms if getattr(m, "bias", None) is not None
        ],
        "n_params": sum(p.numel() for p in model.parameters()),
        "n_norm_params": sum(p.numel() for p in models.norm_parameters(model)),
    }


COPY_VOCAB, COPY_K = 16, 8  # the copy task: 8 tokens from 15, after a separator 0


def copy_task_model(placement: str, n_layers: int, d: int, **kwargs):
    """A TinyTransformer sized for the copy task (4 heads, feed-forward width 4 d)."""
    from . import models

    return models.TinyTransformer(
        vocab=COPY_VOCAB,
        d=d,
        n_layers=n_layers,
        n_heads=4,
        d_ff=4 * d,
        max_len=2 * COPY_K + 1,
        placement=placement,
        **kwargs,
    )


def copy_batch(rng: np.random.Generator, batch: int, k: int, vocab: int):
    """Toy task: ``a SEP a``: the model must copy the k tokens after the separator 0."""
    torch = require_torch()
    a = rng.integers(1, vocab, size=(batch, k))
    return torch.tensor(np.concatenate([a, np.zeros((batch, 1), int), a], axis=1))


def train_copy(m, rng, *, steps: int, lr: float, warmup: int = 0, batch: int = 32):
    """Adam on the copy task, with a linear warm-up over ``warmup`` steps; (steps,) losses."""
    torch = require_torch()
    vocab, k = COPY_VOCAB, COPY_K
    opt = torch.optim.Adam(m.parameters(), lr=lr, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) if warmup else 1.0
    )
    losses = np.empty(steps)
    with one_torch_thread():
        for s in range(steps):
            x = copy_batch(rng, batch, k, vocab)
            logits = m(x[:, :-1])[:, k:]  # predictions for the copied half
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, vocab), x[:, k + 1 :].reshape(-1)
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses[s] = loss.item()
    return losses
