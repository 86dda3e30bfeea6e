"""The training loops of the book: one for each kind of model the chapters train.

Two kinds of model are trained here, and each has exactly one loop (the MLP's also in a
stacked form, which trains many of them at once, each as the loop would alone):

- an MLP on the handwritten digits (:func:`fit_digits`): chapter 2's AdamW runs
  (:func:`train_digits_mlp`, also behind chapter 7), chapter 6's SGD runs of
  Ioffe and Szegedy's sigmoid network (``topics.covariate_shift``), and the same loop for
  many such networks side by side (:func:`fit_digits_stacked`, chapters 4, 6 and 10);
- a small transformer on the copy task (:func:`fit_copy`): chapter 5's warm-up runs, many
  at once as one stacked model (:func:`train_copy_transformers`), and chapter 7's trained
  layer norm (:func:`train_copy_transformer`).

A loop takes the model and optimizer its caller built, so that a chapter picks what it
studies (the network, the norm, the optimizer) and the rest (the mini-batches, the loss,
the step, the threads) is the same for every chapter. What a chapter measures during
training it does in a ``watch`` callback, which must not touch the model's weights or the
random streams: the run is then the one it would be without watching.

The chapters quote numbers from these runs and assert findings on them, some sensitive to
the last bit (chapter 5's warm-up), so the order of the random draws (NumPy for the data,
torch for the weights) and of the operations is part of the contract: change it, and the
chapters' numbers change.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from ._optional import require_torch
from ._results import remembered
from ._validate import check_int, check_rate


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread, then restore the setting. The chapters' models are tiny:
    splitting their matrix products over threads costs more in synchronisation than it
    saves, and on a busy 2-core machine it was 30x slower."""
    torch = require_torch()
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# ---------------------------------------------------------------- an MLP on the digits ----


def _check_labelled(X, Y, names=("X_test", "Y_test"), stacked: bool = True) -> None:
    """Images and labels as tensors, one label per image: a (N, 1) ``Y`` would otherwise
    broadcast against the (N,) predictions into nonsense."""
    torch = require_torch()
    for name, t in zip(names, (X, Y), strict=True):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if X.ndim not in ((2, 3) if stacked else (2,)):
        want = "(N, features)" + (" or (E, N, features)" if stacked else "")
        raise ValueError(f"{names[0]} must have shape {want}, got {tuple(X.shape)}")
    if Y.shape != X.shape[:-1]:
        want = f"{tuple(X.shape[:-1])} = {names[0]}.shape[:-1] (one label per image)"
        raise ValueError(f"{names[1]} must have shape {want}, got {tuple(Y.shape)}")


def digits_split(seed: int):
    """The digits as float32 tensors in [0, 1], 70% for training and 30% held out: returns
    ``X_train, Y_train, X_test, Y_test`` and the NumPy generator that drew the split, which
    the caller goes on using for its mini-batches."""
    torch = require_torch()

    from .data import digits

    images, labels = digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    n_train = int(0.7 * len(images))
    X = torch.tensor(images[order] / 16.0, dtype=torch.float32)
    Y = torch.tensor(labels[order])
    return X[:n_train], Y[:n_train], X[n_train:], Y[n_train:], rng


def fit_digits(
    model,
    opt,
    X_train,
    Y_train,
    rng: np.random.Generator,
    *,
    steps: int,
    batch_size: int,
    watch: Callable | None = None,
) -> np.ndarray:
    """The loop that trains an MLP on the digits: cross-entropy on mini-batches from ``rng``.

    Each step draws ``batch_size`` training images with replacement, then takes one step of
    ``opt``. ``watch(step, x, y)``, if given, is called with the number of steps taken so
    far and the mini-batch about to be used, before every step, and once more after the
    last with ``x = y = None``: a chapter records what it measures there (it must leave
    the weights and the random streams alone).

    Parameters
    ----------
    model : a torch module mapping (B, 64) images to (B, 10) logits
    opt : a torch optimizer over the model's parameters
    X_train, Y_train : (N, 64) float32 images and (N,) labels, from :func:`digits_split`
    rng : the NumPy generator the mini-batches are drawn from

    Returns
    -------
    (steps,) the training loss at every step
    """
    _check_labelled(X_train, Y_train, ("X_train", "Y_train"), stacked=False)
    check_int("steps", steps, 1)
    check_int("batch_size", batch_size, 1)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    torch = require_torch()
    losses = np.empty(steps)
    with one_torch_thread():
        for step in range(steps):
            idx = torch.from_numpy(rng.integers(0, len(X_train), size=batch_size))
            x, y = X_train[idx], Y_train[idx]
            if watch is not None:
                watch(step, x, y)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[step] = loss.item()
        if watch is not None:
            watch(steps, None, None)
    return losses


def fit_digits_stacked(
    model,
    lr,
    X_train,
    Y_train,
    rngs,
    *,
    steps: int,
    batch_size: int,
    weight_decay=None,
    watch: Callable | None = None,
    opt=None,
) -> np.ndarray:
    """:func:`fit_digits` for many MLPs at once: the members of a stacked model, each with
    its own data, mini-batches, rate and decay, trained side by side.

    Member ``e`` draws its mini-batches as ``fit_digits`` would from ``rngs[e]`` and takes
    the step of ``torch.optim.SGD(lr=lr[e], weight_decay=weight_decay[e])``, batched
    (:meth:`lnbook.stacked.StackedMLP.sgd_step`), or of ``opt``: one step of E members costs
    a few steps of one. ``watch(step, x, y)`` as for ``fit_digits``, with each member's
    mini-batch stacked (x: (E, B, 64), y: (E, B)); as there, the gradient of the step just
    taken is still in the parameters' ``.grad`` when it is called.

    Parameters
    ----------
    model : a :class:`lnbook.stacked.StackedMLP` of E members
    lr, weight_decay : (E,) tensors (``weight_decay`` None: no decay)
    X_train, Y_train : (E, N, 64) float32 images and (E, N) labels, a training set per member
    rngs : E NumPy generators, one per member
    opt : instead of ``lr`` and ``weight_decay`` (then None), a torch optimizer over the
        stacked parameters, one rate for all: an elementwise one (Adam, AdamW) takes each
        member's own step

    Returns
    -------
    (E, steps) each member's training loss at every step
    """
    check_int("steps", steps, 1)
    check_int("batch_size", batch_size, 1)
    torch = require_torch()
    e, n = Y_train.shape
    if opt is not None and (lr is not None or weight_decay is not None):
        raise ValueError("with opt, lr and weight_decay must be None (opt has its own)")
    rates_ok = opt is not None or getattr(lr, "shape", None) == (e,)
    if len(rngs) != e or X_train.shape[:2] != (e, n) or not rates_ok:
        raise ValueError(
            f"need E = {e} generators, images (E, N, 64) and rates (E,) or an optimizer, got "
            f"{len(rngs)}, {tuple(X_train.shape)} and {getattr(lr, 'shape', lr)}, opt={opt}"
        )
    losses = np.empty((e, steps))
    with one_torch_thread():
        for step in range(steps):
            idx = torch.from_numpy(np.stack([r.integers(0, n, size=batch_size) for r in rngs]))
            x = torch.gather(X_train, 1, idx[..., None].expand(-1, -1, X_train.shape[-1]))
            y = torch.gather(Y_train, 1, idx)  # (E, B)
            if watch is not None:
                watch(step, x, y)
            loss = stacked_loss(model, x, y)  # (E,): each member's own mean loss
            model.zero_grad(set_to_none=True)
            loss.sum().backward()  # the members share no weight: each gets its own gradient
            if opt is None:
                model.sgd_step(lr, weight_decay)
            else:
                opt.step()
            losses[:, step] = loss.detach().numpy()
        if watch is not None:
            watch(steps, None, None)
    return losses


def stacked_loss(model, x, y):
    """Each member's mean cross-entropy on its own batch: (E,) from (E, B, 64) and (E, B)."""
    torch = require_torch()
    e, b = y.shape
    logits = model(x)
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(e * b, -1), y.reshape(-1), reduction="none"
    )
    return loss.view(e, b).mean(dim=1)


def digits_accuracy(model, X_test, Y_test) -> float | np.ndarray:
    """The share of ``X_test`` that ``model`` classifies right, in inference mode: a float,
    or (E,) for a stacked model (``X_test`` (E, N, 64), ``Y_test`` (E, N)).

    Inference mode matters for batch norm, which then uses its running statistics; the
    model is put back in training mode afterwards."""
    torch = require_torch()
    _check_labelled(X_test, Y_test)
    model.eval()
    with one_torch_thread(), torch.no_grad():
        acc = (model(X_test).argmax(-1) == Y_test).float().mean(dim=-1)
    model.train()
    return acc.item() if acc.ndim == 0 else acc.numpy()


def digits_accuracy_in_batches(model, X_test, Y_test, batch_size: int) -> float | np.ndarray:
    """The share of ``X_test`` that ``model`` classifies right in *training* mode, fed in
    consecutive batches of ``batch_size`` (a last, shorter batch is left out); (E,) for a
    stacked model, as :func:`digits_accuracy`.

    This is the function the network computed while it trained: batch norm then normalizes
    each batch with its own statistics. The model is left untouched (a copy is run, since
    batch norm in training mode also updates its running statistics)."""
    torch = require_torch()
    _check_labelled(X_test, Y_test)
    n_test = X_test.shape[-2]
    check_int("batch_size", batch_size, 2, n_test)  # batch statistics need two; n_test at most
    twin = copy.deepcopy(model).train()
    n = n_test // batch_size * batch_size
    batches = [X_test[..., i : i + batch_size, :] for i in range(0, n, batch_size)]
    with one_torch_thread(), torch.no_grad():
        pred = torch.cat([twin(x).argmax(-1) for x in batches], dim=-1)
    acc = (pred == Y_test[..., :n]).float().mean(dim=-1)
    return acc.item() if acc.ndim == 0 else acc.numpy()


@remembered  # make test's student edition of chapter 2 reuses the chapter's runs
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
    train_mode_accuracy: bool = False,
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
    train_mode_accuracy : also measure the final test accuracy in training mode, in batches
        of ``batch_size`` (:func:`digits_accuracy_in_batches`)

    Returns
    -------
    dict with ``loss`` (steps,) training loss per step, ``test_accuracy`` (float, on 30% of
    the images held out, in inference mode), ``test_accuracy_train_mode`` (float, if
    ``train_mode_accuracy``), ``curve_steps`` and ``curve_accuracy`` (the test accuracy
    during training, if ``eval_every``), ``gammas`` and ``betas`` (lists of (d_hidden,)
    arrays, one per norm layer), ``n_params`` and ``n_norm_params`` (ints)
    """
    torch = require_torch()

    from . import models

    check_int("eval_every", eval_every, 0)  # steps and batch_size: fit_digits checks them
    torch.manual_seed(seed)
    X_train, Y_train, X_test, Y_test, rng = digits_split(seed)
    model = models.MLP(64, d_hidden, 10, depth=depth, norm=norm, placement="post")
    groups = (
        [{"params": list(model.parameters()), "weight_decay": weight_decay}]
        if decay_norm_params
        else models.param_groups(model, weight_decay)
    )
    opt = torch.optim.AdamW(groups, lr=lr)
    curve_steps, curve_acc = [], []

    def test_curve(step: int, _x, _y) -> None:
        if eval_every and step and step % eval_every == 0:
            curve_steps.append(step)
            curve_acc.append(digits_accuracy(model, X_test, Y_test))

    losses = fit_digits(
        model, opt, X_train, Y_train, rng, steps=steps, batch_size=batch_size, watch=test_curve
    )
    norms = models.norm_layers(model)
    extra = {}
    if train_mode_accuracy:
        acc = digits_accuracy_in_batches(model, X_test, Y_test, batch_size)
        extra["test_accuracy_train_mode"] = acc
    return {
        "loss": losses,
        "test_accuracy": digits_accuracy(model, X_test, Y_test),
        **extra,
        "curve_steps": np.array(curve_steps),
        "curve_accuracy": np.array(curve_acc),
        "gammas": [m.weight.detach().numpy().copy() for m in norms if m.weight is not None],
        "betas": [
            m.bias.detach().numpy().copy() for m in norms if getattr(m, "bias", None) is not None
        ],
        "n_params": sum(p.numel() for p in model.parameters()),
        "n_norm_params": sum(p.numel() for p in models.norm_parameters(model)),
    }


# ------------------------------------------------------ a transformer on the copy task ----

COPY_VOCAB, COPY_K = 16, 8  # the copy task: 8 tokens from 15, after a separator 0


def copy_task_model(placement: str, n_layers: int, d: int, **kwargs):
    """A TinyTransformer sized for the copy task (4 heads, feed-forward width 4 d)."""
    from . import models

    sizes = {"vocab": COPY_VOCAB, "n_heads": 4, "d_ff": 4 * d, "max_len": 2 * COPY_K + 1}
    return models.TinyTransformer(d=d, n_layers=n_layers, placement=placement, **sizes, **kwargs)


def copy_batch(rng: np.random.Generator, batch: int):
    """``batch`` sequences ``a SEP a``: ``COPY_K`` random tokens, the separator 0, the same
    tokens again; (batch, 2 COPY_K + 1) int tensor."""
    torch = require_torch()
    a = rng.integers(1, COPY_VOCAB, size=(batch, COPY_K))
    return torch.tensor(np.concatenate([a, np.zeros((batch, 1), int), a], axis=1))


class _MembersAdam:
    """Adam for a stacked model whose member ``e`` has its own rate: ``rate(step)`` is an
    (E,) array. The arithmetic of ``torch.optim.Adam`` (its single-tensor path, no weight
    decay), with the step size per member; tests/test_training.py compares the runs with
    torch's Adam on each member alone."""

    def __init__(self, params, rate: Callable, betas=(0.9, 0.98), eps: float = 1e-8) -> None:
        torch = require_torch()
        self.params, self.rate, self.betas, self.eps, self.t = list(params), rate, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in self.params]  # first moments
        self.v = [torch.zeros_like(p) for p in self.params]  # second moments

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        torch = require_torch()
        b1, b2 = self.betas
        self.t += 1
        step_size = self.rate(self.t - 1) / (1 - b1**self.t)  # (E,), in float64
        bc2_sqrt = (1 - b2**self.t) ** 0.5
        # Each operation on every parameter at once (torch's _foreach_ ops: on the CPU, the
        # same operation tensor by tensor, so the same numbers, without a Python loop: a
        # stacked transformer has about 80 small parameters).
        ps, ms, vs = self.params, self.m, self.v
        with torch.no_grad():
            grads = [p.grad for p in ps]
            torch._foreach_lerp_(ms, grads, 1 - b1)
            torch._foreach_mul_(vs, b2)
            torch._foreach_addcmul_(vs, grads, grads, value=1 - b2)
            denom = torch._foreach_div(torch._foreach_sqrt(vs), bc2_sqrt)
            torch._foreach_add_(denom, self.eps)
            sizes = {}  # the members' step sizes, shaped to broadcast over each parameter
            for p in ps:
                if (p.dtype, p.ndim) not in sizes:
                    size = torch.as_tensor(step_size, dtype=p.dtype)
                    sizes[p.dtype, p.ndim] = size.view(-1, *[1] * (p.ndim - 1))
            update = torch._foreach_mul(ms, [sizes[p.dtype, p.ndim] for p in ps])
            torch._foreach_div_(update, denom)
            torch._foreach_sub_(ps, update)


def fit_copy(m, rng, *, steps: int, lr, warmup=0, batch: int = 32, watch: Callable | None = None):
    """The loop that trains a transformer on the copy task; (steps,) losses.

    Adam (betas 0.9, 0.98, as the original Transformer), with a linear learning-rate
    warm-up over ``warmup`` steps (0: the full rate from the first step). The loss is the
    cross-entropy on the copied half of ``a SEP a``, so chance is ln(vocab - 1) = ln 15.

    ``m`` may also be a :class:`lnbook.stacked.StackedTransformer` or a
    :class:`lnbook.attention.StackedQKTransformer` of E members, with
    ``rng`` a list of E generators: member ``e`` draws its batches from ``rng[e]``,
    minimizes its own mean loss and takes its own Adam step, at its own rate if ``lr``
    and ``warmup`` list one per member; the losses are then (E, steps).

    ``watch(step, x, loss)``, if given, is called after each step's update with that
    step's batch and loss (to measure something of the forward pass it just made).
    """
    torch = require_torch()
    vocab, k = COPY_VOCAB, COPY_K
    stacked = isinstance(rng, list | tuple)
    if stacked:
        lrs = np.broadcast_to(np.asarray(lr, dtype=float), (len(rng),))
        warmups = np.broadcast_to(np.asarray(warmup, dtype=float), (len(rng),))

        def rate(s: int) -> np.ndarray:  # (E,): LambdaLR's factor below, per member
            return lrs * np.where(warmups > 0, np.minimum(1.0, (s + 1) / np.maximum(warmups, 1)), 1)

        opt, sched = _MembersAdam(m.parameters(), rate), None
    else:
        opt = torch.optim.Adam(m.parameters(), lr=lr, betas=(0.9, 0.98))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / warmup) if warmup else 1.0
        )
    losses = np.empty((steps, len(rng)) if stacked else steps)
    with one_torch_thread():
        for s in range(steps):
            if stacked:  # (E, batch, 2k + 1), each member's batch from its own generator
                x = torch.stack([copy_batch(r, batch) for r in rng])
                logits = m(x[..., :-1])[:, :, k:]
                loss = torch.nn.functional.cross_entropy(
                    logits.reshape(-1, vocab), x[..., k + 1 :].reshape(-1), reduction="none"
                )
                loss = loss.view(len(rng), -1).mean(dim=1)  # (E,): each member's own loss
            else:
                x = copy_batch(rng, batch)
                logits = m(x[:, :-1])[:, k:]  # predictions for the copied half
                loss = torch.nn.functional.cross_entropy(
                    logits.reshape(-1, vocab), x[:, k + 1 :].reshape(-1)
                )
            opt.zero_grad()
            loss.sum().backward()  # the members share no weight: each gets its own gradient
            opt.step()
            if sched is not None:
                sched.step()
            losses[s] = loss.detach().numpy()
            if watch is not None:
                watch(s, x, loss.detach())
    return losses.T


def train_copy_transformer(
    placement: str,
    n_layers: int,
    d: int,
    *,
    steps: int,
    lr: float,
    warmup: int = 0,
    batch: int = 32,
    norm: str = "layer",
    seed: int = 0,
    init: str = "default",
    final_norm: bool | None = None,
):
    """Build the copy-task transformer from ``seed`` and train it with :func:`fit_copy`.

    ``init`` and ``final_norm`` are :class:`lnbook.models.TinyTransformer`'s.

    Returns
    -------
    model : the trained :class:`lnbook.models.TinyTransformer`
    loss : (steps,) the training loss at every step
    rng : the NumPy generator the batches came from, to draw more batches after them
    """
    torch = require_torch()

    from . import models

    if placement not in models.MODEL_PLACEMENTS:
        raise ValueError(f"placement must be one of {models.MODEL_PLACEMENTS}, got {placement!r}")
    torch.manual_seed(seed)  # the weights
    rng = np.random.default_rng(seed)  # the batches
    m = copy_task_model(placement, n_layers, d, norm=norm, init=init, final_norm=final_norm)
    return m, fit_copy(m, rng, steps=steps, lr=lr, warmup=warmup, batch=batch), rng


def train_copy_transformers(
    placement: str,
    n_layers: int,
    d: int,
    *,
    seeds,
    steps: int,
    lr,
    warmup=0,
    batch: int = 32,
    norm: str = "layer",
    init: str = "default",
    final_norm: bool | None = None,
) -> np.ndarray:
    """:func:`train_copy_transformer` for several runs at once; (E, steps) losses.

    Run ``e`` is seed ``seeds[e]`` at rate ``lr`` and warm-up ``warmup`` (each one number
    for every run, or one per run); its model and batches are the ones
    :func:`train_copy_transformer` draws for that seed. The runs train side by side as
    one :class:`lnbook.stacked.StackedTransformer`, which on these tiny models costs a
    fraction of separate runs. Its sums run in another order, so the losses differ from
    the separate runs' by float rounding (tests/test_training.py compares them), which a
    run on the edge of divergence amplifies over many steps, as any rounding change
    would: the same experiment, another draw of its last bits.
    """
    torch = require_torch()

    from . import models
    from .stacked import StackedTransformer

    if placement not in models.MODEL_PLACEMENTS:
        raise ValueError(f"placement must be one of {models.MODEL_PLACEMENTS}, got {placement!r}")
    if len(seeds) == 0:
        raise ValueError("seeds must not be empty")
    for name, v in (("lr", lr), ("warmup", warmup)):
        if np.ndim(v) not in (0, 1) or np.ndim(v) == 1 and len(v) != len(seeds):
            raise ValueError(f"{name} must be a number or one per seed ({len(seeds)}), got {v}")
    members = []
    for seed in seeds:
        torch.manual_seed(seed)  # the weights, as train_copy_transformer
        members.append(
            copy_task_model(placement, n_layers, d, norm=norm, init=init, final_norm=final_norm)
        )
    rngs = [np.random.default_rng(seed) for seed in seeds]  # the batches
    stacked = StackedTransformer(members)
    return fit_copy(stacked, rngs, steps=steps, lr=lr, warmup=warmup, batch=batch)


# ------------------------------------------- a class-conditional denoiser of the digits ----


def fit_denoiser(
    mode: str,
    *,
    seed: int,
    steps: int,
    noise: float,
    lr: float = 3e-3,
    batch: int = 64,
    d: int = 64,
    n_blocks: int = 2,
):
    """Train :class:`lnbook.conditioning.Denoiser` (built from ``seed``) to recover digits.

    Each step draws ``batch`` training digits (pixels in [0, 1], :func:`digits_split`),
    adds Gaussian noise of standard deviation ``noise`` and minimizes the mean squared
    error of the predicted clean pixels, with Adam at rate ``lr``.

    Returns
    -------
    model : the trained denoiser
    loss : (steps,) the training loss at every step
    held_out : the mean squared error on the held-out digits, their noise drawn from ``seed``
    """
    check_int("steps", steps, 1)
    check_int("batch", batch, 1)
    check_rate("lr", lr)
    if isinstance(noise, bool) or not isinstance(noise, int | float) or not 0 <= noise < np.inf:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    torch = require_torch()

    from .conditioning import Denoiser

    X, Y, X_test, Y_test, rng = digits_split(seed)
    torch.manual_seed(seed)  # the weights
    model = Denoiser(mode, d=d, n_blocks=n_blocks)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = np.empty(steps)
    gen = torch.Generator().manual_seed(seed)  # the noise
    with one_torch_thread():
        for s in range(steps):
            idx = torch.as_tensor(rng.integers(0, len(X), size=batch))
            clean = X[idx]
            noisy = clean + noise * torch.randn(clean.shape, generator=gen)
            loss = torch.nn.functional.mse_loss(model(noisy, Y[idx]), clean)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[s] = loss.item()
        with torch.no_grad():
            noisy = X_test + noise * torch.randn(X_test.shape, generator=gen)
            held_out = torch.nn.functional.mse_loss(model(noisy, Y_test), X_test).item()
    return model, losses, held_out
