"""Chapter 4's experiments: layer norm against batch norm, and the batch's part in it.

Which elements share statistics under each normalization (:func:`norm_sets`,
:func:`normalize_over`, :func:`group_norm_equivalences`), how an example's batch-norm
output depends on its companions (:func:`batch_dependence`, behind the chapter's
interactive), batch norm's two modes (:func:`train_inference_gap`) and training with small
batches (:func:`small_batch_training`: chapter 2's runs of
:func:`lnbook.training.train_digits_mlp`, each batch size's seeds trained side by side by
:func:`seed_runs`).
Everything but the training is NumPy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ... import numpy_ln
from ..._optional import require_torch
from ..._results import remembered
from ..._validate import check_batch, check_choices, check_index, check_int, check_ints
from ...training import (
    digits_accuracy,
    digits_accuracy_in_batches,
    digits_split,
    fit_digits_stacked,
)

# The norms of lnbook.models.NORMS that lnbook.stacked.StackedMLP stacks (not Dynamic Tanh,
# not the detached layer norm): :func:`seed_runs`'s, kept here torch-free.
STACKED_NORMS = ("layer", "batch", "rms", None)

NORM_METHODS = (
    "batch norm",
    "layer norm",
    "instance norm",
    "group norm",
    "layer norm per position",
)


def norm_sets(shape: tuple[int, int, int], method: str, groups: int = 2) -> np.ndarray:
    """Which statistics each element of an (N, C, P) tensor shares, for each normalization.

    P stands for the positions (H x W flattened). Elements with the same label are averaged
    together: batch norm shares per channel across examples and positions, layer norm per
    example across channels and positions, instance norm per (example, channel), group norm
    per (example, group of C/groups channels) (Wu and He, 2018, Fig. 2); "layer norm per
    position" (channels-last, as in ConvNeXt, and a transformer's layer norm, where each
    token is an example) per (example, position), across the channels alone.

    Returns
    -------
    labels : (N, C, P) int array
    """
    if len(shape) != 3 or any(not isinstance(v, int | np.integer) or v < 1 for v in shape):
        raise ValueError(f"shape must be three positive ints (N, C, P), got {shape!r}")
    n, c, p = shape
    if method not in NORM_METHODS:
        raise ValueError(f"method must be one of {NORM_METHODS}, got {method!r}")
    if (
        isinstance(groups, bool)
        or not isinstance(groups, int | np.integer)
        or groups < 1
        or c % groups
    ):
        raise ValueError(f"groups must be a positive divisor of the {c} channels, got {groups!r}")
    if method == "layer norm per position":  # the one set that splits a channel's positions
        label = np.arange(n)[:, None] * p + np.arange(p)[None, :]  # (N, P)
        return np.repeat(label[:, None, :], c, axis=1)
    ex, ch = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")  # (N, C) each
    label = {
        "batch norm": ch,
        "layer norm": ex,
        "instance norm": ex * c + ch,
        "group norm": ex * groups + ch // (c // groups),
    }[method]
    return np.repeat(label[:, :, None], p, axis=2)


def normalize_over(x: np.ndarray, axes: tuple[int, ...], eps: float = 1e-5) -> np.ndarray:
    """The textbook definition: subtract the mean and divide by the standard deviation taken
    over ``axes``. Written out here, independently of ``numpy_ln``, as a reference."""
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(var + eps)


def group_norm_equivalences(x: np.ndarray) -> dict[str, float]:
    """Largest differences showing group norm's two extremes, on an (N, C, H, W) batch.

    ``numpy_ln.group_norm`` is compared with the definitions written out by axes
    (:func:`normalize_over`): ``one_group_vs_layer``: 1 group vs the statistics over
    (C, H, W); ``c_groups_vs_instance``: C groups vs the statistics over (H, W).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 4:
        raise ValueError(f"x must be an (N, C, H, W) batch, got shape {x.shape}")
    c = x.shape[1]
    return {
        "one_group_vs_layer": float(
            np.abs(numpy_ln.group_norm(x, 1) - normalize_over(x, (1, 2, 3))).max()
        ),
        "c_groups_vs_instance": float(
            np.abs(numpy_ln.group_norm(x, c) - normalize_over(x, (2, 3))).max()
        ),
    }


def live_features(h: np.ndarray, min_active: float = 0.5) -> np.ndarray:
    """Mask of the features (columns of ``h``) that are non-zero in at least ``min_active``
    of the examples. After a ReLU some units are almost always 0; their statistics are
    degenerate and would dilute any average over features."""
    h = check_batch(h)
    return (h != 0).mean(axis=0) >= min_active


def batch_dependence(
    pool: np.ndarray,
    labels: np.ndarray,
    example: int,
    batch_sizes: Sequence[int],
    *,
    draws: int = 8,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """How one example's normalized features depend on the rest of its batch.

    For each batch size B, ``draws`` batches are formed: the example plus B - 1 companions,
    either drawn at random from the pool or drawn from examples of the *same class* (a
    batch that is not a fair sample). Batch norm (training mode, batch statistics) and
    layer norm are applied; we keep the example's output.

    Parameters
    ----------
    pool : (M, D) examples to draw companions from
    labels : (M,) class of each pool example
    example : index in the pool of the example we follow
    batch_sizes : each >= 2 (batch norm needs 2 values per feature)

    Returns
    -------
    dict with ``batch_sizes`` (K,), ``bn_random`` and ``bn_same_class`` (K, draws, D): the
    example's batch-norm output in each batch, ``ln`` (D,): its layer-norm output (the same
    in every batch), ``spread_random``, ``spread_same_class``, ``spread_ln`` (K,): the
    standard deviation across batches, averaged over features, ``composition_shift``
    (K,): the mean |difference| between the example's average output in same-class and in
    random batches, and ``composition_floor`` (K,): the same statistic between two halves of
    the random batches, the level chance alone reaches
    """
    pool = check_batch(pool)
    m, d = pool.shape
    labels = np.asarray(labels)
    if labels.shape != (m,):
        raise ValueError(
            f"labels must have shape ({m},) for pool of shape {pool.shape}, got {labels.shape}"
        )
    check_index("example", example, m)
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 2:
        raise ValueError(f"draws must be an int >= 2, got {draws!r}")
    sizes = np.asarray(batch_sizes)
    others = np.delete(np.arange(m), example)
    same = others[labels[others] == labels[example]]
    if (
        sizes.ndim != 1
        or len(sizes) == 0
        or not np.issubdtype(sizes.dtype, np.integer)
        or (sizes < 2).any()
        or (sizes > len(same) + 1).any()
    ):
        raise ValueError(
            f"batch_sizes must be ints in [2, {len(same) + 1}] (the example's class has "
            f"{len(same)} other members), got {list(batch_sizes)!r}"
        )
    rng = np.random.default_rng(seed)
    out = {"random": [], "same_class": []}
    ln_rows = []  # layer norm of the example in every batch: measured, not assumed equal
    for b in sizes:
        for name, candidates in (("random", others), ("same_class", same)):
            rows = []
            for _ in range(draws):
                pick = rng.choice(candidates, size=b - 1, replace=False)
                batch = np.vstack([pool[example], pool[pick]])  # the example is row 0
                rows.append(numpy_ln.batch_norm(batch, None, None, training=True)[0])
                ln_rows.append((b, numpy_ln.layer_norm(batch, d)[0]))
            out[name].append(rows)
    ln = numpy_ln.layer_norm(pool[example], d)
    ln_spread = np.array(
        [np.std([r for bb, r in ln_rows if bb == b], axis=0).mean() for b in sizes]
    )
    bn_random, bn_same = np.array(out["random"]), np.array(out["same_class"])
    half = draws // 2
    return {
        # How far a biased batch moves the example's output on average: not noise, a bias.
        "composition_shift": np.abs(bn_same.mean(axis=1) - bn_random.mean(axis=1)).mean(-1),
        # The same statistic between two halves of the *random* draws: what chance alone
        # gives with this many draws (halves are smaller, so this overestimates a little).
        "composition_floor": np.abs(
            bn_random[:, :half].mean(axis=1) - bn_random[:, half:].mean(axis=1)
        ).mean(-1),
        "batch_sizes": sizes,
        "bn_random": bn_random,
        "bn_same_class": bn_same,
        "ln": ln,
        "spread_random": bn_random.std(axis=1).mean(axis=-1),
        "spread_same_class": bn_same.std(axis=1).mean(axis=-1),
        "spread_ln": ln_spread,
    }


def _module_mode_gap(module, batch: np.ndarray) -> float:
    """Mean |output in train() mode - output in eval() mode| of a torch module."""
    torch = require_torch()
    t = torch.tensor(batch)
    with torch.no_grad():
        module.train()
        a = module(t)
        module.eval()
        b = module(t)
    return float((a - b).abs().mean())


def train_inference_gap(
    pool: np.ndarray,
    *,
    batch_size: int = 32,
    steps: int = 200,
    shift: float = 0.5,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Batch norm's two modes, and layer norm's one, on the same test batches.

    Running statistics are first accumulated over ``steps`` training batches (momentum 0.1,
    as torch). Then, over 20 test batches, the mean absolute difference between the
    training-mode output (batch statistics) and the inference-mode output (running
    statistics) is measured in three situations: test data like the training data; test data after a
    shift of every feature by ``shift`` standard deviations (a change of sensor, of
    lighting...); and test batches of 2 examples. For layer norm the same comparison is
    made on lnbook's ``LayerNorm`` module in ``train()`` and ``eval()`` mode.

    Returns
    -------
    ``{situation: {"batch norm": gap, "layer norm": gap}}`` for situations
    "same data", "shifted data", "batches of 2", the gaps in standard deviations
    """
    pool = check_batch(pool)
    m, d = pool.shape
    if not 2 <= batch_size <= m or steps < 1:
        raise ValueError(
            f"need 2 <= batch_size <= {m} and steps >= 1, got batch_size="
            f"{batch_size}, steps={steps}"
        )
    from ...torch_ln import LayerNorm

    ln_module = LayerNorm(d, elementwise_affine=False)  # a module, with train() and eval()
    rng = np.random.default_rng(seed)
    running_mean, running_var = np.zeros(d), np.ones(d)
    for _ in range(steps):
        batch = pool[rng.choice(m, size=batch_size, replace=False)]
        numpy_ln.batch_norm(batch, running_mean, running_var, training=True)
    std = pool.std(axis=0)
    situations = {
        "same data": lambda b: b,
        "shifted data": lambda b: b + shift * std,
        "batches of 2": lambda b: b[:2],
    }
    result = {}
    for name, make in situations.items():
        bn_gaps, ln_gaps = [], []
        for _ in range(20):
            batch = make(pool[rng.choice(m, size=batch_size, replace=False)])
            train = numpy_ln.batch_norm(batch, None, None, training=True)
            infer = numpy_ln.batch_norm(batch, running_mean, running_var, training=False)
            bn_gaps.append(np.abs(train - infer).mean())
            ln_gaps.append(_module_mode_gap(ln_module, batch))
        result[name] = {
            "batch norm": float(np.mean(bn_gaps)),
            "layer norm": float(np.mean(ln_gaps)),
        }
    return result


@remembered
def small_batch_training(
    batch_sizes: Sequence[int] = (128, 4, 2),
    norms: Sequence[str] = ("batch", "layer"),
    *,
    steps: int = 1000,
    eval_every: int = 100,
    seeds: Sequence[int] = (0, 1, 2),
    lr: float = 1e-3,
) -> dict:
    """A miniature of Ba, Kiros and Hinton's (2016) Fig. 6: batch norm vs layer norm in an
    MLP trained with a large and a small batch, on the handwritten digits.

    Every run takes the same number of steps. Three measures separate *learning poorly*
    from *training fine but inferring badly*: the training loss (what the optimizer sees,
    batch norm in training mode), the held-out accuracy in inference mode (batch norm with
    its running statistics) and the held-out accuracy in training mode, in batches of the
    training batch size (the function the network was trained as).

    Returns
    -------
    dict with ``steps`` (E,) and, for each ``(norm, batch_size)``: ``curves[key]`` (S, E)
    held-out accuracy in inference mode during training, ``loss_curves[key]`` (S, E) the
    training loss averaged over the ``eval_every`` steps before each of ``steps``,
    ``final[key]`` (S,) the final accuracy in inference mode, ``final_train_mode[key]`` (S,)
    the final accuracy in training mode, ``final_loss[key]`` (S,) the training loss over
    the last ``eval_every`` steps (one value per seed), and ``final_mean[key]``,
    ``final_std[key]`` of ``final`` over the seeds
    """
    batch_sizes, seeds = check_ints("batch_sizes", batch_sizes, 2), check_ints("seeds", seeds, 0)
    norms = check_choices(
        "norms", norms, STACKED_NORMS, kind="norm names", example='("batch", "layer")'
    )
    check_int("steps", steps, 1)
    check_int("eval_every", eval_every, 1)
    if steps % eval_every:
        raise ValueError(f"need eval_every dividing steps, got {steps=}, {eval_every=}")
    out = {
        name: {} for name in ("curves", "loss_curves", "final", "final_train_mode", "final_loss")
    }
    final_mean, final_std = {}, {}
    for norm in norms:
        for b in batch_sizes:
            r = seed_runs(norm, int(b), seeds, steps=steps, eval_every=eval_every, lr=lr)
            key = (norm, int(b))
            out["curves"][key] = r["curve_accuracy"]
            # (S, E): one mini-batch's loss is noisy at batch size 2; a window's mean is not
            windows = r["loss"].reshape(len(seeds), -1, eval_every).mean(axis=2)
            out["loss_curves"][key] = windows
            out["final_loss"][key] = windows[:, -1]
            out["final"][key] = r["test_accuracy"]
            out["final_train_mode"][key] = r["test_accuracy_train_mode"]
            final_mean[key] = float(out["final"][key].mean())
            final_std[key] = float(out["final"][key].std())
    return {
        "steps": np.arange(eval_every, steps + 1, eval_every),
        **out,
        "final_mean": final_mean,
        "final_std": final_std,
    }


def seed_runs(
    norm: str, batch_size: int, seeds: Sequence[int], *, steps: int, eval_every: int, lr: float
) -> dict:
    """``train_digits_mlp(norm=norm, batch_size=batch_size, steps=steps,
    eval_every=eval_every, lr=lr, seed=s, train_mode_accuracy=True)`` for each seed, the
    seeds trained side by side (:class:`lnbook.stacked.StackedMLP`, one AdamW: Adam's step
    is elementwise, so each member takes its own). Each member starts from its seed's
    weights and draws its seed's mini-batches; the sums run in another order. In float64
    the runs agree with the separate ones to 1e-9 (tests/test_experiments.py), except batch
    norm at batch size 2: there the bias before the norm has a gradient of pure rounding
    (the norm removes it), Adam scales that to steps of about ``lr``, and a batch of two
    amplifies them, so any change of summation order (another machine's, or this one's)
    gives another draw of those runs from the first steps.

    Parameters
    ----------
    norm : "batch" or "layer" (:class:`lnbook.models.MLP`'s, after each hidden layer)
    batch_size : training examples a step, and the training-mode accuracy's batches (>= 2)
    seeds : one run each
    steps, eval_every : steps in all, and the held-out accuracy every ``eval_every``
    lr : AdamW's rate

    Returns
    -------
    dict with ``loss`` (S, steps), ``curve_accuracy`` (S, steps // eval_every) held-out
    accuracy in inference mode every ``eval_every`` steps, ``test_accuracy`` (S,) at the
    end, and ``test_accuracy_train_mode`` (S,): in training mode, each member's held-out
    digits in consecutive batches of ``batch_size`` (a last, shorter batch left out)
    """
    torch = require_torch()
    from ...models import MLP
    from ...stacked import StackedMLP

    check_int("steps", steps, minimum=1)
    if not seeds or eval_every < 1 or steps % eval_every:
        raise ValueError(
            f"need at least one seed and eval_every >= 1 dividing steps, got seeds="
            f"{list(seeds)}, steps={steps}, eval_every={eval_every}"
        )
    members, splits = [], [digits_split(s) for s in seeds]
    # Checked before training, not after: a training-mode batch needs two, and the test set
    # must hold one.
    check_int("batch_size", batch_size, minimum=2, maximum=len(splits[0][3]))
    for s in seeds:  # as train_digits_mlp: the weights from torch's generator, seeded
        torch.manual_seed(s)
        members.append(MLP(64, 64, 10, depth=2, norm=norm, placement="post"))
    model = StackedMLP(members)
    X_train, Y_train, X_test, Y_test = (torch.stack([sp[i] for sp in splits]) for i in range(4))
    curve = []

    def accuracy(step, _x, _y):
        if step and step % eval_every == 0:
            curve.append(digits_accuracy(model, X_test, Y_test))

    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    rngs = [sp[4] for sp in splits]  # each seed's generator, which drew its split
    loss = fit_digits_stacked(
        model,
        None,
        X_train,
        Y_train,
        rngs,
        steps=steps,
        batch_size=batch_size,
        watch=accuracy,
        opt=opt,
    )
    return {
        "loss": loss,
        "curve_accuracy": np.array(curve).T,
        "test_accuracy": digits_accuracy(model, X_test, Y_test),
        "test_accuracy_train_mode": digits_accuracy_in_batches(model, X_test, Y_test, batch_size),
    }
