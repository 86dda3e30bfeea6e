"""Chapter 10's experiments (effective rate): pure functions that compute what the chapter shows.

Weights that feed a norm (the first linear layer's weight and bias) under SGD:
:func:`scale_invariance_identities` (with autograd), :func:`rate_run` (one run, the book's
loop, watched), :func:`rate_runs` (a grid, stacked), :func:`equilibrium` (the closed form),
:func:`rate_summary` (what the runs show). torch is loaded inside the functions that train
(:func:`lnbook._optional.require_torch`), and so is :mod:`lnbook.models`, which needs it:
the browser edition has none, and the chapter's exercises run there.
"""

from __future__ import annotations

import copy

import numpy as np

from ..._optional import require_torch
from ..._results import remembered
from ..._validate import check_floats, check_int, check_ints, check_rate
from ...data import digits
from ...training import digits_split, fit_digits, fit_digits_stacked

# The network: 64 pixels -> Linear(64, 64) -> layer norm -> ReLU -> Linear(64, 10).
RATE_NET = {"d_hidden": 64, "depth": 1}


def _rate_mlp(seed: int):
    """The chapter's network, its weights drawn from torch's generator seeded with ``seed``."""
    torch = require_torch()
    from ...models import MLP  # torch-only module: imported where torch is known to exist

    torch.manual_seed(seed)
    return MLP(64, RATE_NET["d_hidden"], 10, depth=RATE_NET["depth"], norm="layer")


def angle_between(u, v):
    """The angle (radians) between torch vectors ``u`` and ``v`` along the last axis.

    ``arccos`` of the cosine loses half the digits near 0 (cos is flat there); the chord
    between the unit vectors, ``2 arcsin(|u/|u| - v/|v|| / 2)``, keeps them.
    """
    a = u / u.norm(dim=-1, keepdim=True)
    b = v / v.norm(dim=-1, keepdim=True)
    return 2 * require_torch().arcsin((a - b).norm(dim=-1).clamp(max=2.0) / 2)


@remembered
def scale_invariance_identities(
    scales=(0.1, 0.5, 2.0, 10.0), *, eps: float = 0.0, seed: int = 0
) -> dict:
    """The three identities of a weight that feeds a norm, checked with torch's autograd.

    On the chapter's network (in float64, layer norm with this ``eps``) and 64 digits, with
    ``W`` the first layer's weight and bias: the loss at ``c W`` against the loss at ``W``,
    the cosine between ``W`` and the gradient, and the gradient at ``c W`` times ``c``
    against the gradient at ``W``. With ``eps = 0`` all three are exact (to rounding);
    ``eps > 0`` breaks them by about ``eps`` over the variance of the layer's outputs.

    Returns
    -------
    dict with ``scales`` (K,), ``loss`` (float, at W), ``loss_change`` (K,) |L(cW) - L(W)|
    / L(W), ``cosine`` (float) W . grad / (|W| |grad|), and ``grad_change`` (K,)
    |c grad(cW) - grad(W)| / |grad(W)|
    """
    torch = require_torch()

    scales = np.asarray(check_floats("scales", scales, positive=True), dtype=np.float64)
    model = _rate_mlp(seed).double()
    model.net[1].eps = float(eps)  # the layer norm after the first linear layer
    images, labels = digits()
    x = torch.tensor(images[:64] / 16.0)  # (64, 64) float64
    y = torch.tensor(labels[:64])
    layer = model.net[0]
    w0, b0 = layer.weight.detach().clone(), layer.bias.detach().clone()

    def loss_and_grad(c: float):
        with torch.no_grad():
            layer.weight.copy_(c * w0)
            layer.bias.copy_(c * b0)
        model.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss.item(), torch.cat([layer.weight.grad.reshape(-1), layer.bias.grad])

    loss, grad = loss_and_grad(1.0)
    theta = torch.cat([w0.reshape(-1), b0])
    changes = [loss_and_grad(float(c)) for c in scales]
    return {
        "scales": scales,
        "loss": loss,
        "loss_change": np.array([abs(lc - loss) / loss for lc, _ in changes]),
        "cosine": float(theta @ grad / (theta.norm() * grad.norm())),
        "grad_change": np.array(
            [
                float((c * g - grad).norm() / grad.norm())
                for c, (_, g) in zip(scales, changes, strict=True)
            ]
        ),
    }


def _check_run_args(steps: int, batch_size: int) -> None:
    check_int("steps", steps, 1)
    check_int("batch_size", batch_size, 1)


def _check_decay(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < np.inf:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def rate_run(
    lr: float, weight_decay: float = 0.0, *, steps: int = 800, batch_size: int = 64, seed: int = 0
) -> dict:
    """Train the chapter's network with SGD and watch its first layer's weights.

    Plain SGD (``torch.optim.SGD``) at rate ``lr`` with weight decay ``weight_decay`` on
    every parameter (``W <- W - lr (grad + weight_decay W)``), run by the book's loop
    (:func:`lnbook.training.fit_digits`). At every step the watch records, for ``W`` (the
    first linear layer's weight and bias, the weights layer norm makes scale-invariant):
    its norm, the cosine between it and the step's gradient, the gradient's norm, and the
    angle the step turned it by.

    Returns
    -------
    dict with ``norm`` (steps + 1,) |W_t| before each step and after the last,
    ``cosine``, ``grad_norm``, ``angle`` and ``loss`` (steps,)
    """
    torch = require_torch()

    check_rate("lr", lr)
    _check_decay("weight_decay", weight_decay)
    _check_run_args(steps, batch_size)
    X_train, Y_train, _, _, rng = digits_split(seed)
    model = _rate_mlp(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=weight_decay)
    layer = model.net[0]  # the linear layer whose outputs layer norm normalizes
    seen = {"norm": [], "cosine": [], "grad_norm": [], "angle": []}
    before = []  # W before the step being taken

    def watch(step, x, y):
        """Before each step (and after the last): the step just taken, from W_t to W_t+1."""
        w = torch.cat([layer.weight.detach().reshape(-1), layer.bias.detach()]).double()
        if before:
            w_t = before.pop()
            # The gradient of that step is still in .grad (SGD adds the decay out of place).
            g = torch.cat([layer.weight.grad.reshape(-1), layer.bias.grad]).double()
            seen["cosine"].append(float(w_t @ g / (w_t.norm() * g.norm())))
            seen["grad_norm"].append(float(g.norm()))
            seen["angle"].append(float(angle_between(w_t, w)))
        seen["norm"].append(float(w.norm()))
        before.append(w)

    loss = fit_digits(
        model, opt, X_train, Y_train, rng, steps=steps, batch_size=batch_size, watch=watch
    )
    return {**{k: np.array(v) for k, v in seen.items()}, "loss": loss}


def _rate_runs(lrs, decays, seeds, steps: int, batch_size: int) -> dict:
    """:func:`rate_runs` without the result cache (see there)."""
    torch = require_torch()
    from ...stacked import StackedMLP  # torch-only module, as in _rate_mlp

    runs = [(lr, wd, s) for lr in lrs for wd in decays for s in seeds]
    members, rngs, X, Y = [], [], [], []
    splits = {s: digits_split(s) for s in set(seeds)}
    for _, _, s in runs:
        # As rate_run: the split and its generator (NumPy), the weights (torch's seed);
        # each member draws its mini-batches from its own copy of the split's generator.
        X_train, Y_train, _, _, rng = splits[s]
        members.append(_rate_mlp(s))
        rngs.append(copy.deepcopy(rng))
        X.append(X_train), Y.append(Y_train)
    model = StackedMLP(members)
    layer = model.layers[0]  # the stacked first linear layers: weight (E, 64, 64), bias (E, 1, 64)
    e = len(runs)
    seen = {"norm": [], "cosine": [], "grad_norm": [], "angle": []}
    before = []

    def watch(step, x, y):
        """rate_run's watch, for every member at once: (E, P) weights and gradients."""
        w = torch.cat([layer.weight.detach().reshape(e, -1), layer.bias.detach().reshape(e, -1)], 1)
        w = w.double()
        if before:
            w_t = before.pop()
            g = torch.cat([layer.weight.grad.reshape(e, -1), layer.bias.grad.reshape(e, -1)], 1)
            g = g.double()
            seen["cosine"].append(((w_t * g).sum(1) / (w_t.norm(dim=1) * g.norm(dim=1))).numpy())
            seen["grad_norm"].append(g.norm(dim=1).numpy())
            seen["angle"].append(angle_between(w_t, w).numpy())
        seen["norm"].append(w.norm(dim=1).numpy())
        before.append(w)

    loss = fit_digits_stacked(
        model,
        torch.tensor([float(r[0]) for r in runs]),
        torch.stack(X),
        torch.stack(Y),
        rngs,
        steps=steps,
        batch_size=batch_size,
        weight_decay=torch.tensor([float(r[1]) for r in runs]),
        watch=watch,
    )
    shape = (len(lrs), len(decays), len(seeds))
    out = {k: np.stack(v, axis=-1) for k, v in seen.items()}  # (E, steps (+ 1))
    return {
        "lrs": np.array(lrs, dtype=float),
        "decays": np.array(decays, dtype=float),
        "seeds": np.array(seeds),
        **{k: v.reshape(*shape, -1) for k, v in out.items()},
        "loss": loss.reshape(*shape, steps),
    }


def rate_runs(
    lrs: tuple[float, ...] = (0.1, 0.3, 1.0),
    decays: tuple[float, ...] = (0.0, 0.003, 0.01),
    seeds: tuple[int, ...] = (0, 1, 2),
    *,
    steps: int = 800,
    batch_size: int = 64,
) -> dict:
    """:func:`rate_run` for every rate, decay and seed, trained side by side.

    Each run is the one ``rate_run(lr, weight_decay, seed=seed)`` makes (same weights,
    same mini-batches, the same SGD step), the runs stacked into one
    :class:`lnbook.stacked.StackedMLP`: one step of all of them costs a few steps of one.
    Their records agree with the separate runs' to float rounding (tests compare them).
    Kept by :func:`lnbook._results.remembered`: a test run that repeats the call reuses it.

    Returns
    -------
    dict with ``lrs`` (R,), ``decays`` (L,), ``seeds`` (S,), ``norm`` (R, L, S, steps + 1),
    and ``cosine``, ``grad_norm``, ``angle``, ``loss`` (R, L, S, steps), as
    :func:`rate_run` returns them for each run
    """

    _check_run_args(steps, batch_size)
    lrs, decays = check_floats("lrs", lrs, positive=True), check_floats("decays", decays, 0)
    seeds = check_ints("seeds", seeds, 0)
    # Lists of plain numbers, whatever the caller passed: one kept result per grid.
    return remembered(_rate_runs)(list(lrs), list(decays), list(seeds), steps, batch_size)


def equilibrium(lr, weight_decay, g_unit_sq):
    """Where SGD with weight decay on scale-invariant weights settles: the closed form.

    One step, ``W <- (1 - lr wd) W - lr g`` with ``g`` orthogonal to ``W`` and ``|g|^2 =
    g_unit_sq / |W|^2`` (the gradient's size at ``|W| = 1`` divided by ``|W|``), changes the
    squared norm to ``(1 - lr wd)^2 |W|^2 + lr^2 g_unit_sq / |W|^2``. Its fixed point, and
    the effective rate and the angle of one step there (van Laarhoven, 2017; Wan et al.,
    2021, for plain SGD): to first order in ``lr wd``, ``|W|^4 = lr g_unit_sq / (2 wd)`` and
    the angle is ``sqrt(2 lr wd)``, whatever the gradient.

    Parameters
    ----------
    lr, weight_decay : positive numbers or arrays (broadcast together)
    g_unit_sq : the mean of ``|g|^2 |W|^2`` (the squared gradient at unit norm)

    Returns
    -------
    dict with ``norm`` |W| at equilibrium, ``rate`` lr / |W|^2 there, and ``angle`` (radians)
    of one step there
    """
    lr, wd, g2 = (np.asarray(v, dtype=np.float64) for v in (lr, weight_decay, g_unit_sq))
    if (lr <= 0).any() or (wd <= 0).any() or (g2 <= 0).any():
        raise ValueError(
            "lr, weight_decay and g_unit_sq must be positive: without decay, no equilibrium"
        )
    if (lr * wd >= 1).any():
        raise ValueError(f"lr * weight_decay must be below 1, got {(lr * wd).max():g}")
    shrink = 1 - lr * wd  # what the decay leaves of W in one step
    kept = 1 - shrink**2  # 2 lr wd - (lr wd)^2: the share of |W|^2 the decay removes
    norm_sq = np.sqrt(lr**2 * g2 / kept)  # |W|^2 where the gradient adds what decay removes
    return {
        "norm": np.sqrt(norm_sq),
        "rate": lr / norm_sq,
        # tan(angle) = lr |g| / ((1 - lr wd) |W|), and lr^2 |g|^2 = kept |W|^2 there
        "angle": np.arctan(np.sqrt(kept) / shrink),
    }


def pick_runs(result: dict, lr: float, decays: tuple[float, ...]) -> dict:
    """The runs of ``result`` (from :func:`rate_runs`) at rate ``lr`` and these decays, as
    ``rate_runs((lr,), decays, ...)`` with the same seeds and steps returns them.

    Raises ValueError if ``result`` has no such rate or decay.
    """
    lrs, known = [float(v) for v in result["lrs"]], [float(v) for v in result["decays"]]
    if float(lr) not in lrs or any(float(d) not in known for d in decays):
        raise ValueError(f"result has rates {lrs} and decays {known}, not {lr} and {decays}")
    i, js = lrs.index(float(lr)), [known.index(float(d)) for d in decays]
    out = {k: result[k][i : i + 1][:, js] for k in ("norm", "cosine", "grad_norm", "angle", "loss")}
    return {
        "lrs": np.array([float(lr)]),
        "decays": np.array([float(d) for d in decays]),
        "seeds": result["seeds"].copy(),
        **out,
    }


def windowed_rms(values: np.ndarray, window: int) -> np.ndarray:
    """The root mean square of ``values`` (..., T) over consecutive windows of ``window``
    steps along the last axis: (..., T // window); a last, partial window is dropped.

    The angle of one step is noisy (each mini-batch's gradient differs); the equilibrium
    concerns its mean square, which this reads off.
    """
    values = np.asarray(values, dtype=np.float64)
    check_int("window", window, 1, values.shape[-1])
    k = values.shape[-1] // window
    chunks = values[..., : k * window].reshape(*values.shape[:-1], k, window)
    return np.sqrt((chunks**2).mean(axis=-1))


def rate_summary(result: dict, window: int = 200, curve_window: int = 40) -> dict:
    """What :func:`rate_runs` shows, per run, over the last ``window`` steps.

    Returns
    -------
    dict with ``angle_windows`` (R, L, S, T // curve_window), the root mean square of the
    angle per step over consecutive windows of ``curve_window`` steps (the figure's curve;
    ``window_steps`` says how many), and (R, L, S) arrays (rate, decay, seed):
    ``start_norm`` and ``final_norm`` |W|, ``window_norm`` its mean over the window,
    ``start_rate`` and ``final_rate`` lr / |W|^2, ``angle`` the root mean square of the
    angle per step over the window, ``g_unit_sq`` the mean of (|g| |W|)^2 there,
    ``predicted_norm`` and ``predicted_angle`` (:func:`equilibrium` with that
    ``g_unit_sq``; NaN without decay), ``max_cosine`` the largest |cos(W, g)| of the run,
    and ``recurrence`` the largest relative error of |W_t+1|^2 = (1 - lr wd)^2 |W_t|^2 +
    lr^2 |g_t|^2 over the run; and ``settled`` (R, L): whether the decay had three relaxation
    times, 1 / (4 lr wd) steps each, to bring |W| to its equilibrium before the window
    """
    norm, grad, angle = result["norm"], result["grad_norm"], result["angle"]
    steps = angle.shape[-1]
    check_int("window", window, 1, steps)
    lr = result["lrs"][:, None, None]  # (R, 1, 1)
    wd = result["decays"][None, :, None]  # (1, L, 1)
    g_unit_sq = ((grad * norm[..., :-1]) ** 2)[..., -window:].mean(axis=-1)  # (R, L, S)
    # A prediction where there is an equilibrium: decay, and a gradient (a network whose
    # weights all decayed to nothing has none left, and a diverged one has NaN).
    decayed = np.broadcast_to(wd > 0, g_unit_sq.shape) & np.isfinite(g_unit_sq) & (g_unit_sq > 0)
    eq = equilibrium(
        np.broadcast_to(lr, g_unit_sq.shape)[decayed],
        np.broadcast_to(wd, g_unit_sq.shape)[decayed],
        g_unit_sq[decayed],
    )
    predicted_norm = np.full(g_unit_sq.shape, np.nan)
    predicted_angle = np.full(g_unit_sq.shape, np.nan)
    predicted_norm[decayed], predicted_angle[decayed] = eq["norm"], eq["angle"]
    # The step's exact bookkeeping: decay shrinks W, the orthogonal gradient adds in squares.
    lr4, wd4 = lr[..., None], wd[..., None]
    # Settled: three relaxation times, 1 / (4 lr wd) steps each (the deviation of |W|^2
    # from its fixed point shrinks by about 1 - 4 lr wd per step), before the window. Two
    # were not enough here: the fixed point moves as the loss falls and the gradient with it.
    settled = (wd > 0) & (4 * lr * wd * (steps - window) >= 3)  # (R, L, 1)
    expected_sq = (1 - lr4 * wd4) ** 2 * norm[..., :-1] ** 2 + lr4**2 * grad**2
    return {
        "angle_windows": windowed_rms(angle, curve_window),
        "window_steps": curve_window,
        "start_norm": norm[..., 0],
        "final_norm": norm[..., -1],
        "window_norm": norm[..., -window - 1 : -1].mean(axis=-1),
        "settled": settled[..., 0],
        "start_rate": lr / norm[..., 0] ** 2,
        "final_rate": lr / norm[..., -1] ** 2,
        "angle": np.sqrt((angle[..., -window:] ** 2).mean(axis=-1)),
        "g_unit_sq": g_unit_sq,
        "predicted_norm": predicted_norm,
        "predicted_angle": predicted_angle,
        "max_cosine": np.abs(result["cosine"]).max(axis=-1),
        "recurrence": (np.abs(norm[..., 1:] ** 2 - expected_sq) / norm[..., 1:] ** 2).max(axis=-1),
    }
