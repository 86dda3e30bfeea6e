"""Chapter 6's experiments: does normalization help by reducing covariate shift, or by
smoothing the loss?

One small network, :func:`sigmoid_mlp` (Ioffe and Szegedy's, 2015, Fig. 1 in miniature),
trained with plain SGD on the digits by :func:`lnbook.training.fit_digits`, watched three
ways: its units' input distributions during training (:func:`covariate_shift_run`,
:func:`distribution_shift`), how fast it trains over a grid of learning rates
(:func:`lr_sensitivity`, :func:`steps_to_target`, :func:`lr_summary`; the grid trains
its runs side by side in :func:`stacked_sgd_runs`) and how far the gradient can be trusted
along each step (:func:`landscape_smoothness`, after Santurkar et al., 2018). The long
runs are :func:`lnbook._results.remembered`: a test run that repeats a call reuses it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from ..._optional import require_torch
from ..._results import binned, remembered
from ..._validate import check_floats, check_int, check_ints, check_rate
from ...training import (
    digits_accuracy,
    digits_split,
    fit_digits,
    fit_digits_stacked,
    stacked_loss,
)

# The sizes of Ioffe and Szegedy's (2015) Fig. 1 network, in miniature: 64 -> 3 hidden
# layers of 64 -> 10.
SIGMOID_MLP = {"d_hidden": 64, "depth": 3}


def sigmoid_mlp(
    norm: str | None, noise: float = 0.0, init: str = "xavier", activation: str = "sigmoid"
):
    """The network of this chapter: :data:`SIGMOID_MLP`'s sizes, a norm after each hidden
    linear layer (and its noise, if ``noise``), sigmoid units by default.

    Xavier's initialisation keeps a sigmoid network's signal alive without any norm, so the
    comparison is with a network that can train, not with a broken one.
    """
    from ... import models

    return models.MLP(
        64, d_out=10, **SIGMOID_MLP, norm=norm, noise=noise, init=init, activation=activation
    )


# The networks of chapter 6's figures. The noise is NoisyNorm's: after batch norm it is
# Santurkar et al.'s (2018) experiment; after layer norm, the same test for layer norm.
COVARIATE_SHIFT_NETS = {
    "no norm": {"norm": None},
    "layer norm": {"norm": "layer"},
    "batch norm": {"norm": "batch"},
    "batch norm + noise": {"norm": "batch", "noise": 1.0},
    "layer norm + noise": {"norm": "layer", "noise": 1.0},
}


def _unit_inputs(model, x) -> np.ndarray:
    """What the activation functions of ``model`` receive for the batch ``x``.

    Measured on a copy in training mode, as during training (batch norm uses the batch's
    statistics, the noisy norm adds its noise), without touching the model (batch norm's
    running statistics would move) or the random stream its training draws from (the noise
    would otherwise differ with the number of probes).

    Returns
    -------
    (L, N, D) array: for each hidden layer, each example's input to each unit
    """
    torch = require_torch()

    from ...models import ACTIVATIONS

    probe = copy.deepcopy(model).train()
    seen: list[np.ndarray] = []
    hooks = [
        m.register_forward_hook(lambda _m, inp, _out: seen.append(inp[0].numpy().copy()))
        for m in probe.modules()
        if isinstance(m, tuple(ACTIVATIONS.values()))
    ]
    with torch.no_grad(), torch.random.fork_rng():
        probe(x)
    for h in hooks:
        h.remove()
    return np.array(seen)


@remembered
def covariate_shift_run(
    norm: str | None = None,
    *,
    noise: float = 0.0,
    lr: float = 1.0,
    steps: int = 600,
    checkpoints: int = 25,
    n_probe: int = 300,
    unit: int = 0,
    batch_size: int = 64,
    init: str = "xavier",
    activation: str = "sigmoid",
    edges: np.ndarray | None = None,
    seed: int = 0,
) -> dict:
    """Train the chapter's network with SGD and watch its units' input distributions.

    A miniature of Ioffe and Szegedy (2015), Fig. 1: at ``checkpoints`` evenly spaced steps
    (step 0 included; 0: none) the input of every hidden unit (what its sigmoid receives,
    after the norm) is recorded for ``n_probe`` held-out images.

    Parameters
    ----------
    norm : "layer", "batch", "rms" or None, after each hidden linear layer
    noise : if > 0, the norm is followed by :class:`lnbook.models.NoisyNorm`'s noise
    lr, steps, batch_size, seed : plain SGD on the digits
    unit : the unit whose inputs are kept in full (for histograms)
    init, activation : the weights' initialisation and the units' non-linearity (see
        :class:`lnbook.models.MLP`)
    edges : bin edges of the histograms (default: 41 edges from -8 to 8, where a sigmoid is
        saturated); values beyond them are counted in the end bins

    Returns
    -------
    dict with ``steps`` (C,) the checkpoints; for unit ``unit``: ``inputs`` (C, L, P) its
    input per checkpoint, layer and probe image, ``percentiles`` (C, L, 3) their 15th, 50th
    and 85th percentiles, ``edges`` (B+1,) and ``hist`` (C, L, B) the share of images per
    bin; ``all_percentiles`` (C, L, D, 3) the same percentiles for every unit; ``loss``
    (steps,) the training loss and ``test_accuracy`` (float, in inference mode on the
    held-out images)
    """
    torch = require_torch()
    d_hidden = SIGMOID_MLP["d_hidden"]
    check_int("steps", steps, 1)
    check_int("batch_size", batch_size, 1)
    check_int("unit", unit, 0, d_hidden - 1)
    check_rate("lr", lr)
    if checkpoints != 0:
        check_int("checkpoints (0 for none)", checkpoints, 2)
    X_train, Y_train, X_test, Y_test, rng = digits_split(seed)
    # Batch norm needs two images to take statistics over; the rest is held out.
    check_int("n_probe", n_probe, 2, len(X_test))
    torch.manual_seed(seed)
    probe = X_test[:n_probe]
    model = sigmoid_mlp(norm, noise, init, activation)
    at = np.unique(np.linspace(0, steps, checkpoints).round().astype(int)) if checkpoints else []
    inputs = []

    def record_inputs(step: int, _x, _y) -> None:
        if step in at:
            inputs.append(_unit_inputs(model, probe))

    losses = fit_digits(
        model,
        torch.optim.SGD(model.parameters(), lr=lr),
        X_train,
        Y_train,
        rng,
        steps=steps,
        batch_size=batch_size,
        watch=record_inputs,
    )
    acc = digits_accuracy(model, X_test, Y_test)
    return _shift_result(at, inputs, losses, acc, unit, edges, n_probe)


def _shift_result(at, inputs, losses, acc, unit, edges, n_probe) -> dict:
    """What :func:`covariate_shift_run` returns, from the probes' (L, P, D) inputs."""
    at = np.asarray(at, dtype=int)
    d_hidden, depth = SIGMOID_MLP["d_hidden"], SIGMOID_MLP["depth"]
    every = np.array(inputs).reshape(len(at), depth, n_probe, d_hidden)  # (C, L, P, D)
    pct = np.moveaxis(np.percentile(every, (15, 50, 85), axis=2), 0, -1)  # (C, L, D, 3)
    one = every[..., unit]  # (C, L, P)
    edges = np.linspace(-8, 8, 41) if edges is None else np.asarray(edges, dtype=np.float64)
    return {
        "steps": at,
        "inputs": one,
        "percentiles": pct[:, :, unit],
        "all_percentiles": pct,
        "edges": edges,
        "hist": np.array([[binned(v, edges) / len(v) for v in layers] for layers in one]),
        "loss": losses,
        "test_accuracy": acc,
    }


@remembered
def covariate_shift_runs(norm: str | None = None, *, seeds: Sequence[int] = (0,), **kwargs) -> list:
    """:func:`covariate_shift_run` ``(norm, **kwargs, seed=seed)`` for every seed.

    The runs are trained side by side (as :func:`stacked_sgd_runs`: the same runs, to float
    rounding) and probed side by side; with settings other than these, one by one.
    """
    require_torch()  # a readable error where torch is missing (the browser edition)
    seeds = check_ints("seeds", seeds, 0)
    if not set(kwargs) <= {"noise", "lr", "steps", "checkpoints", "init", "activation"}:
        return [covariate_shift_run(norm, **kwargs, seed=s) for s in seeds]
    lr, steps = kwargs.get("lr", 1.0), kwargs.get("steps", 600)
    checkpoints, n_probe = kwargs.get("checkpoints", 25), 300
    check_int("steps", steps, 1)
    if checkpoints != 0:
        check_int("checkpoints (0 for none)", checkpoints, 2)
    net = {"norm": norm, "noise": kwargs.get("noise", 0.0), "init": kwargs.get("init", "xavier")}
    net["activation"] = kwargs.get("activation", "sigmoid")
    model, rate, X, Y, X_test, Y_test, rngs = _stacked_members(net, (lr,), seeds)
    at = np.unique(np.linspace(0, steps, checkpoints).round().astype(int)) if checkpoints else []
    inputs = []  # per checkpoint, (L, E, P, D)

    def record_inputs(step: int, _x, _y) -> None:
        if step in at:
            inputs.append(_unit_inputs(model, X_test[:, :n_probe]))

    losses = fit_digits_stacked(
        model, rate, X, Y, rngs, steps=steps, batch_size=64, watch=record_inputs
    )
    acc = digits_accuracy(model, X_test, Y_test)  # (E,)
    return [
        _shift_result(at, [x[:, e] for x in inputs], losses[e], float(acc[e]), 0, None, n_probe)
        for e in range(len(seeds))
    ]


def distribution_shift(percentiles: np.ndarray, relative: bool = False) -> np.ndarray:
    """How much units' input distributions move between consecutive checkpoints.

    Parameters
    ----------
    percentiles : (C, L, Q) percentiles of one unit's input at C checkpoints for L layers,
        or (C, L, D, Q) for D units each
    relative : divide each unit's move by its width (last percentile minus first, averaged
        over the checkpoints): a move of 0.5 means half the distribution's width. Without
        it the move is in the units of the input itself (the sigmoid's: 1 is a large move)

    Returns
    -------
    (L,) the mean |change| of the percentiles from one checkpoint to the next, averaged
    over the percentiles and the units
    """
    p = np.asarray(percentiles, dtype=np.float64)
    if p.ndim not in (3, 4) or p.shape[0] < 2:
        raise ValueError(
            f"percentiles must have shape (C >= 2, L, Q) or (C >= 2, L, D, Q), got {p.shape}"
        )
    move = np.abs(np.diff(p, axis=0)).mean(axis=(0, -1))  # (L,) or (L, D)
    if relative:
        move = move / (p[..., -1] - p[..., 0]).mean(axis=0)
    return move if move.ndim == 1 else move.mean(axis=-1)


def steps_to_target(loss: np.ndarray, target: float, window: int = 20) -> float:
    """The first step at which the loss, averaged over the last ``window`` steps, is at or
    below ``target``; NaN if it never is.

    Averaging matters: a single mini-batch's loss is noisy and dips below a target long
    before the model is reliably there.

    Parameters
    ----------
    loss : (T,) training loss per step (step 1 first)

    Returns
    -------
    float: a step number in [window, T], or NaN
    """
    loss = np.asarray(loss, dtype=np.float64)
    if loss.ndim != 1 or not 1 <= window <= len(loss):
        raise ValueError(
            f"need loss of shape (T,) and 1 <= window <= T, got shape {loss.shape}, window {window}"
        )
    # Running mean over the last `window` steps; NaN (diverged) never counts as reached.
    smooth = np.convolve(loss, np.ones(window) / window, mode="valid")  # (T - window + 1,)
    hit = np.flatnonzero(smooth <= target)
    return float(hit[0] + window) if len(hit) else float("nan")


@remembered
def lr_sensitivity(
    configs: dict[str, dict],
    lrs: Sequence[float] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0),
    *,
    seeds: Sequence[int] = (0, 1),
    steps: int = 300,
    target: float = 0.5,
    window: int = 20,
) -> dict:
    """Final loss and steps to a target loss over a grid of learning rates (plain SGD).

    Parameters
    ----------
    configs : label -> keyword arguments of :func:`covariate_shift_run` (``norm``,
        ``noise``, ``init``)
    lrs : the learning rates, each run for every seed

    Returns
    -------
    dict with ``lrs`` (R,), ``labels``, ``target``, and for each label: ``final[label]``
    (R, S) the mean
    loss of the last ``window`` steps (NaN or inf where training diverged),
    ``steps[label]`` (R, S) the steps to reach ``target`` (NaN: never), ``accuracy[label]``
    (R, S) the held-out accuracy; for the networks trained stacked (see :func:`_stackable`),
    ``weight_norm[label]`` (R, S, 2, L) the norms of the weights that feed a norm at the
    start and the end (``StackedMLP.hidden_weight_norms``)
    """
    check_floats("lrs", lrs, positive=True)
    check_ints("seeds", seeds, 0)
    if not isinstance(configs, dict) or not configs:
        kind = type(configs).__name__
        raise TypeError(
            f"configs must be a non-empty dict of label -> settings, got {kind} {configs!r}"
        )
    out = {"lrs": np.asarray(lrs, dtype=float), "labels": list(configs), "target": target}
    for key in ("final", "steps", "accuracy", "weight_norm"):
        out[key] = {}
    for label, kwargs in configs.items():
        if _stackable(kwargs):  # every rate and seed at once: the same runs, faster
            loss, acc, out["weight_norm"][label] = stacked_sgd_runs(kwargs, lrs, seeds, steps=steps)
        else:
            runs = [
                [
                    covariate_shift_run(**kwargs, lr=lr, steps=steps, checkpoints=0, seed=s)
                    for s in seeds
                ]
                for lr in lrs
            ]
            loss = np.array([[r["loss"] for r in row] for row in runs])
            acc = np.array([[r["test_accuracy"] for r in row] for row in runs])
        out["final"][label] = loss[..., -window:].mean(axis=-1)
        out["steps"][label] = np.array(
            [[steps_to_target(run, target, window) for run in row] for row in loss]
        )
        out["accuracy"][label] = acc
    return out


_STACKED_KEYS = {"norm", "noise", "init", "activation"}


def _stackable(kwargs: dict) -> bool:
    """Whether these covariate_shift_run arguments can be trained stacked (same runs)."""
    return set(kwargs) <= _STACKED_KEYS and kwargs.get("norm") in (None, "layer", "batch", "rms")


def _stacked_members(kwargs: dict, lrs: Sequence[float], seeds: Sequence[int]) -> tuple:
    """The runs ``covariate_shift_run(**kwargs, lr=lr, seed=seed)`` would start from, for
    every rate and seed (rate-major), stacked: the model, the rates, the splits, the
    mini-batch generators."""
    torch = require_torch()

    from ...models import NoisyNorm
    from ...stacked import StackedMLP

    check_floats("lrs", lrs, positive=True)
    check_ints("seeds", seeds, 0)
    norm, noise = kwargs.get("norm"), kwargs.get("noise", 0.0)
    init, activation = kwargs.get("init", "xavier"), kwargs.get("activation", "sigmoid")
    splits = {seed: digits_split(seed) for seed in set(seeds)}
    members, rngs, X, Y, X_test, Y_test, rates = [], [], [], [], [], [], []
    for lr in lrs:
        for seed in seeds:
            # As covariate_shift_run: the split (NumPy), then the weights (torch's seed);
            # each run draws its mini-batches from its own copy of the split's generator.
            X_train, Y_train, Xt, Yt, rng = splits[seed]
            torch.manual_seed(seed)
            members.append(sigmoid_mlp(norm, noise, init, activation))
            # Its noise, from where torch's stream would be after the weights, its own.
            own = torch.Generator().set_state(torch.get_rng_state())
            for m in members[-1].modules():
                if isinstance(m, NoisyNorm):
                    m.generator = own
            rngs.append(copy.deepcopy(rng))
            X.append(X_train), Y.append(Y_train), X_test.append(Xt), Y_test.append(Yt)
            rates.append(float(lr))
    return (
        StackedMLP(members),
        torch.tensor(rates),
        torch.stack(X),
        torch.stack(Y),
        torch.stack(X_test),
        torch.stack(Y_test),
        rngs,
    )


def stacked_sgd_runs(
    kwargs: dict,
    lrs: Sequence[float],
    seeds: Sequence[int],
    *,
    steps: int,
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`covariate_shift_run` for every rate and seed, trained side by side.

    Each run is the one ``covariate_shift_run(**kwargs, lr=lr, seed=seed,
    checkpoints=0)`` makes, with the same initialisation, data split and mini-batches; the
    runs are stacked into one :class:`lnbook.stacked.StackedMLP` and trained by
    :func:`lnbook.training.fit_digits_stacked`. The losses agree with the separate runs' to
    float rounding (about 1e-7; tests/test_experiments.py compares them), which a run on
    the edge of divergence, at a high rate, amplifies over hundreds of steps like any
    rounding change.

    Parameters
    ----------
    kwargs : ``norm`` (None, "layer", "batch" or "rms"), ``noise``, ``init``, ``activation``

    Returns
    -------
    loss : (R, S, steps) training loss of rate r and seed s at every step
    accuracy : (R, S) held-out accuracy, in inference mode
    weight_norm : (R, S, 2, L) :meth:`lnbook.stacked.StackedMLP.hidden_weight_norms` at the
        start and the end
    """
    require_torch()  # a readable error where torch is missing (the browser edition)
    if not isinstance(kwargs, dict):
        raise TypeError(f"kwargs must be a dict of network settings, got {type(kwargs).__name__}")
    unknown = set(kwargs) - _STACKED_KEYS
    if unknown:
        raise ValueError(
            f"kwargs may hold only {sorted(_STACKED_KEYS)}, got also {sorted(unknown)}"
        )
    if not _stackable(kwargs):
        raise ValueError(f"only runs with norm None, layer, batch or rms stack, got {kwargs}")
    check_int("steps", steps, 1)
    check_int("batch_size", batch_size, 1)
    model, rate, X, Y, X_test, Y_test, rngs = _stacked_members(kwargs, lrs, seeds)
    norms = []

    def weight_norms(step, _x, _y):
        if step in (0, steps):
            norms.append(model.hidden_weight_norms())

    losses = fit_digits_stacked(
        model, rate, X, Y, rngs, steps=steps, batch_size=batch_size, watch=weight_norms
    )
    acc = digits_accuracy(model, X_test, Y_test)  # (E,)
    r, s = len(lrs), len(seeds)
    return (
        losses.reshape(r, s, steps),
        acc.reshape(r, s).astype(float),
        np.stack(norms, axis=1).reshape(r, s, 2, -1),
    )


def _member_norms(tensors, e: int):
    """Each member's norm of a list of stacked tensors (member-major first axis): (E,)."""
    return sum(t.reshape(e, -1).square().sum(1) for t in tensors).sqrt()


@remembered
def landscape_smoothness(
    norm: str | None = None,
    *,
    lrs: Sequence[float] = (1.0,),
    etas: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0),
    steps: int = 500,
    every: int = 10,
    batch_size: int = 64,
    init: str = "xavier",
    activation: str = "sigmoid",
    seeds: Sequence[int] = (0,),
) -> list[dict[str, np.ndarray]]:
    """How far the loss and its gradient can be trusted along the gradient, during training.

    A miniature of Santurkar et al. (2018), Fig. 4. Every ``every`` steps of SGD, on the
    current mini-batch with gradient ``g`` at weights ``w``, we look ahead along the step
    direction at ``w - eta * lr * g`` for each ``eta`` in ``etas`` (multiples of the step
    actually taken) and record:

    - ``loss_range``: the largest minus the smallest loss seen there ("loss landscape":
      small means the loss changes gently along the step);
    - ``grad_change``: the largest ``|grad(w - eta lr g) - g|`` ("gradient
      predictiveness": small means the gradient stays a good guide along the step);
    - ``beta``: the largest ``|grad(w - eta lr g) - g| / |eta lr g|``, an "effective
      beta-smoothness" (a local Lipschitz constant of the gradient).

    The network is the chapter's (``init`` and ``activation`` as for
    :func:`covariate_shift_run`), trained with plain SGD at each rate ``lr`` of ``lrs``, one
    run per rate and seed; the runs are those of :func:`covariate_shift_run`, trained side
    by side (:func:`lnbook.training.fit_digits_stacked`) and looked at side by side.

    Returns
    -------
    one dict per rate, with ``steps`` (M,) the steps measured; ``loss_range``,
    ``grad_change``, ``beta`` and ``grad_norm`` (S, M) for each seed; ``loss`` (S, steps)
    the training loss
    """
    torch = require_torch()
    etas = np.asarray(check_floats("etas", etas, positive=True), dtype=np.float64)
    check_int("every", every, 1)
    check_int("steps", steps, 1)
    check_int("batch_size", batch_size, 1)
    net = {"norm": norm, "init": init, "activation": activation}
    model, rate, X_train, Y_train, _, _, rngs = _stacked_members(net, lrs, seeds)
    e = len(rate)
    lr = rate[:, None]  # (E, 1): each run's rate, for its weights viewed as (E, -1)
    rows, measured = [], []

    def look_ahead(step, x, y):
        """Every ``every`` steps, between the mini-batch and the step: look along it."""
        if x is None or step % every:
            return
        # Look ahead on a copy: the training run itself must not be disturbed.
        ahead = copy.deepcopy(model)
        params = list(ahead.parameters())
        w = [p.detach().clone() for p in params]
        loss0 = stacked_loss(ahead, x, y)  # (E,): each seed's loss on its own batch
        g = torch.autograd.grad(loss0.sum(), params)  # each seed's own gradient
        g_norm = _member_norms(g, e)
        seen_loss, change, beta = [loss0.detach()], [], []
        for eta in etas:
            with torch.no_grad():  # w - eta * lr * g, for every seed
                for p, w0, gp in zip(params, w, g, strict=True):
                    p.view(e, -1).copy_(w0.view(e, -1) - eta * lr * gp.view(e, -1))
            loss_e = stacked_loss(ahead, x, y)
            g_e = torch.autograd.grad(loss_e.sum(), params)
            seen_loss.append(loss_e.detach())
            change.append(_member_norms([a - b for a, b in zip(g_e, g, strict=True)], e))
            beta.append(change[-1] / (eta * rate * g_norm))
        seen_loss = torch.stack(seen_loss)
        rows.append(
            torch.stack(
                [
                    seen_loss.max(0).values - seen_loss.min(0).values,
                    torch.stack(change).max(0).values,
                    torch.stack(beta).max(0).values,
                    g_norm,
                ]
            ).numpy()
        )
        measured.append(step)

    losses = fit_digits_stacked(
        model, rate, X_train, Y_train, rngs, steps=steps, batch_size=batch_size, watch=look_ahead
    )
    rows = np.array(rows).reshape(len(measured), 4, len(lrs), len(seeds))  # (M, 4, R, S)
    keys = ("loss_range", "grad_change", "beta", "grad_norm")
    losses = losses.reshape(len(lrs), len(seeds), steps)
    return [
        {"steps": np.array(measured), "loss": losses[k]}
        | {key: rows[:, j, k].T for j, key in enumerate(keys)}
        for k in range(len(lrs))
    ]


def lr_summary(result: dict) -> dict[str, dict]:
    """What :func:`lr_sensitivity` shows, per network, in a few numbers.

    Returns
    -------
    label -> dict with ``reached`` (the rates at which every seed reached the target),
    ``best_lr`` (the rate with the fewest median steps to the target; NaN if none) and
    ``best_steps`` (those steps), ``above_chance`` (the rates at which some seed's final
    loss is not finite or above chance, ln 10: it diverged or oscillates)
    """
    lrs = result["lrs"]
    out = {}
    for label in result["labels"]:
        steps, final = result["steps"][label], result["final"][label]  # (R, S)
        all_reached = np.isfinite(steps).all(axis=1)
        median = np.where(all_reached, np.median(steps, axis=1), np.inf)
        best = int(np.argmin(median))
        out[label] = {
            "reached": [float(lr) for lr in lrs[all_reached]],
            "best_lr": float(lrs[best]) if all_reached.any() else float("nan"),
            "best_steps": float(median[best]) if all_reached.any() else float("nan"),
            "above_chance": [
                float(lr)
                for lr, f in zip(lrs, final, strict=True)
                if not (np.isfinite(f) & (f < np.log(10))).all()
            ],
        }
    return out
