"""Chapter 9's experiments (geometry): pure functions that compute what the chapter shows.

Sections 1-3 (projection, sphere, Jacobian, attention, gamma = 1 + w) come first; section 4
(scale invariance and the effective learning rate) comes after them.
"""

from __future__ import annotations

import numpy as np

from ... import numpy_ln
from ..._optional import require_torch
from ..._validate import check_batch, check_eps, check_int

# --- Sections 1-3: projection, sphere, Jacobian, attention, gamma = 1 + w -----------------


def centring_matrix(d: int) -> np.ndarray:
    """The centring matrix ``P = I - 1 1^T / d``: ``P @ x`` subtracts the mean of ``x``.

    It is the orthogonal projection onto the hyperplane of vectors whose features sum to 0
    (perpendicular to the all-ones vector ``1``).

    Returns
    -------
    P : (d, d) float64
    """
    check_int("d", d, 1)
    return np.eye(d) - np.ones((d, d)) / d


def projection_facts(x, eps: float = 0.0) -> dict:
    """Layer norm and RMSNorm of a batch written as a projection and a division, checked.

    Parameters
    ----------
    x : (N, D) a batch of examples
    eps : added to the variance (layer norm) and the mean square (RMSNorm)

    Returns
    -------
    dict with floats (each the worst over the batch): ``idempotent`` max|P P - P|,
    ``symmetric`` max|P - P^T|, ``kills_ones`` max|P 1|, ``ln_vs_package`` and
    ``rms_vs_package`` (this route against ``numpy_ln``), ``ln_sum`` max|sum of x_hat|; and
    (N,) arrays ``ln_length`` and ``rms_length``, each output's Euclidean length, against
    ``sqrt_d`` (a float) and ``ln_length_predicted`` (N,), sqrt(D var / (var + eps)).
    """
    x = check_batch(x)
    check_eps(eps)
    d = x.shape[1]
    p = centring_matrix(d)
    centred = x @ p  # (N, D): each row minus its mean (P is symmetric)
    var = (centred * centred).mean(axis=1, keepdims=True)  # (N, 1)
    x_hat = centred / np.sqrt(var + eps)  # onto the sphere inside the hyperplane
    rms = x / np.sqrt((x * x).mean(axis=1, keepdims=True) + eps)  # onto the sphere
    return {
        "idempotent": float(np.abs(p @ p - p).max()),
        "symmetric": float(np.abs(p - p.T).max()),
        "kills_ones": float(np.abs(p @ np.ones(d)).max()),
        "ln_vs_package": float(np.abs(x_hat - numpy_ln.layer_norm(x, d, eps=eps)).max()),
        "rms_vs_package": float(np.abs(rms - numpy_ln.rms_norm(x, d, eps=eps)).max()),
        "ln_sum": float(np.abs(x_hat.sum(axis=1)).max()),
        "ln_length": np.linalg.norm(x_hat, axis=1),
        "rms_length": np.linalg.norm(rms, axis=1),
        "ln_length_predicted": np.sqrt(d * var[:, 0] / (var[:, 0] + eps)),
        "sqrt_d": float(np.sqrt(d)),
    }


def projection_against_torch(x, eps: float = 0.0) -> dict[str, float]:
    """The projection-and-division route of ``projection_facts`` against the package's
    PyTorch norms, ``lnbook.torch_ln.layer_norm`` and ``rms_norm`` (float64).

    Returns
    -------
    dict of floats: ``ln`` and ``rms``, the largest absolute differences over the batch
    """
    torch = require_torch()
    from ... import torch_ln  # torch-only module: imported where torch is known to exist

    x = check_batch(x)
    check_eps(eps)
    d = x.shape[1]
    centred = x @ centring_matrix(d)
    x_hat = centred / np.sqrt((centred * centred).mean(axis=1, keepdims=True) + eps)
    rms = x / np.sqrt((x * x).mean(axis=1, keepdims=True) + eps)
    xt = torch.tensor(x)
    return {
        "ln": float(np.abs(x_hat - torch_ln.layer_norm(xt, d, eps=eps).detach().numpy()).max()),
        "rms": float(np.abs(rms - torch_ln.rms_norm(xt, d, eps=eps).detach().numpy()).max()),
    }


def sphere_point(x, eps: float = 0.0) -> dict:
    """One example of three features and the points of the 3-D picture (section 1).

    Parameters
    ----------
    x : (3,) the example (any D works; the picture needs 3)

    Returns
    -------
    dict of (D,) arrays: ``x``, ``px`` (its projection P x onto the plane perpendicular to
    1), ``ln`` (layer norm's output, without gamma and beta) and ``rms`` (RMSNorm's); and
    floats ``mean`` and ``std`` (what layer norm subtracts and divides by)
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size < 2 or not np.isfinite(x).all():
        raise ValueError(f"x must be one finite example of shape (D,), D >= 2, got {x.shape}")
    check_eps(eps)
    d = x.size
    return {
        "x": x,
        "px": centring_matrix(d) @ x,
        "ln": numpy_ln.layer_norm(x, d, eps=eps),
        "rms": numpy_ln.rms_norm(x, d, eps=eps),
        "mean": float(x.mean()),
        "std": float(x.std()),
    }


def _turn_about_ones(x: np.ndarray, degrees: float) -> np.ndarray:
    """``x`` turned by ``degrees`` about the all-ones axis (Rodrigues' formula)."""
    u = np.ones(x.size) / np.sqrt(x.size)
    along = (x @ u) * u
    perp = x - along
    if x.size != 3:
        raise ValueError("a turn about the ones axis is drawn for D = 3 only")
    t = np.radians(degrees)
    return along + np.cos(t) * perp + np.sin(t) * np.cross(u, perp)


def sphere_path(x0) -> dict[str, dict]:
    """The moves of the 3-D picture's slider: shifts along 1, scalings, turns about 1.

    Each move starts again from ``x0`` (3,), so that each shows one thing: a shift along 1
    leaves layer norm's output where it is and moves RMSNorm's; a positive scaling moves
    neither, a negative one sends both to the opposite point; a turn about 1 moves both.

    Returns
    -------
    label -> ``sphere_point`` of the moved example, in the slider's order
    """
    x0 = np.asarray(x0, dtype=np.float64)
    if x0.shape != (3,):
        raise ValueError(f"x0 must have shape (3,), got {x0.shape}")
    moves = {"start": x0}
    for s in (0.5, 1.0, 1.5, 2.0):
        moves[f"shift +{s:g}"] = x0 + s
    for c in (1.5, 2.0, 0.5, -1.0):
        moves[f"scale ×{c:g}"] = c * x0
    for t in (30, 60, 90, 120):
        moves[f"turn {t}°"] = _turn_about_ones(x0, t)
    return {label: sphere_point(x) for label, x in moves.items()}


def layer_norm_jacobian(x, eps: float = 0.0) -> np.ndarray:
    """The Jacobian d x_hat / d x of layer norm (no gamma, beta) at one example, closed form.

    ``J = rstd (I - 1 1^T / D - x_hat x_hat^T / D)``, rstd = 1 / sqrt(var + eps). With
    eps = 0 the bracket is the orthogonal projection onto the complement of 1 and x_hat.

    Parameters
    ----------
    x : (D,) one example

    Returns
    -------
    J : (D, D), J[j, i] = d x_hat_j / d x_i (symmetric)
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"x must be one example of shape (D,), D >= 2, got {x.shape}")
    check_eps(eps)
    d = x.size
    rstd = 1.0 / np.sqrt(x.var() + eps)
    x_hat = (x - x.mean()) * rstd
    return rstd * (centring_matrix(d) - np.outer(x_hat, x_hat) / d)


def rms_norm_jacobian(x, eps: float = 0.0) -> np.ndarray:
    """The Jacobian of RMSNorm (no gain) at one example: ``(I - x_hat x_hat^T / D) / rms``,
    with ``x_hat = x / rms`` and rms = sqrt(mean(x**2) + eps). See ``layer_norm_jacobian``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size < 1:
        raise ValueError(f"x must be one example of shape (D,), got {x.shape}")
    check_eps(eps)
    d = x.size
    r = 1.0 / np.sqrt((x * x).mean() + eps)
    x_hat = x * r
    return r * (np.eye(d) - np.outer(x_hat, x_hat) / d)


def finite_difference_jacobian(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central finite differences of ``f`` (D,) -> (D,) at ``x``: J[:, i] = df / dx_i."""
    x = np.asarray(x, dtype=np.float64)
    cols = []
    for i in range(x.size):
        step = np.zeros_like(x)
        step[i] = h
        cols.append((f(x + step) - f(x - step)) / (2 * h))
    return np.stack(cols, axis=1)


def jacobian_facts(x, eps: float = 0.0) -> dict:
    """Section 2's checks of both Jacobians at one example, by NumPy alone.

    Returns
    -------
    dict: ``ln`` and ``rms`` (D, D) closed forms; ``ln_fd_err`` and ``rms_fd_err``, their
    largest difference from finite differences of ``numpy_ln``; ``ln_sv`` and ``rms_sv``
    (D,) singular values, largest first; ``rstd`` and ``rrms`` (1/sigma, 1/rms); ``ln_rank``
    and ``rms_rank`` (singular values above 1e-9 of the largest); ``ln_null`` max of
    |J 1| and |J x_hat| relative to rstd, ``ln_projector`` max|(J/rstd)^2 - J/rstd|
    """
    x = np.asarray(x, dtype=np.float64)
    d = x.size
    ln = layer_norm_jacobian(x, eps)
    rms = rms_norm_jacobian(x, eps)
    ln_fd = finite_difference_jacobian(lambda v: numpy_ln.layer_norm(v, d, eps=eps), x)
    rms_fd = finite_difference_jacobian(lambda v: numpy_ln.rms_norm(v, d, eps=eps), x)
    rstd = 1.0 / np.sqrt(x.var() + eps)
    rrms = 1.0 / np.sqrt((x * x).mean() + eps)
    x_hat = (x - x.mean()) * rstd
    ln_sv = np.linalg.svd(ln, compute_uv=False)
    rms_sv = np.linalg.svd(rms, compute_uv=False)
    q = ln / rstd  # the bracket: a projector when eps = 0
    return {
        "ln": ln,
        "rms": rms,
        "ln_fd_err": float(np.abs(ln - ln_fd).max()),
        "rms_fd_err": float(np.abs(rms - rms_fd).max()),
        "ln_sv": ln_sv,
        "rms_sv": rms_sv,
        "rstd": float(rstd),
        "rrms": float(rrms),
        "ln_rank": int((ln_sv > 1e-9 * ln_sv[0]).sum()),
        "rms_rank": int((rms_sv > 1e-9 * rms_sv[0]).sum()),
        "ln_null": float(max(np.abs(q @ np.ones(d)).max(), np.abs(q @ x_hat).max())),
        "ln_projector": float(np.abs(q @ q - q).max()),
    }


def jacobian_against_torch(x, eps: float = 0.0) -> dict[str, float]:
    """Both closed-form Jacobians against ``torch.autograd.functional.jacobian`` (reverse
    mode, one backward pass per output; ``torch.func.jacrev`` gives the same, but its first
    call costs seconds of set-up) through torch's own
    ``layer_norm`` and ``rms_norm`` (float64), and layer norm's vector-Jacobian product
    ``J^T g`` against chapter 3's hand-derived backward ``numpy_ln.layer_norm_backward``.

    Returns
    -------
    dict of floats: ``ln_err``, ``rms_err`` (max abs differences of the matrices) and
    ``backward_err`` (the gradient of a random upstream g, both ways)
    """
    torch = require_torch()
    x = np.asarray(x, dtype=np.float64)
    d = x.size
    xt = torch.tensor(x)
    jacobian = torch.autograd.functional.jacobian
    ln_t = jacobian(lambda v: torch.nn.functional.layer_norm(v, (d,), eps=eps), xt)
    rms_t = jacobian(lambda v: torch.nn.functional.rms_norm(v, (d,), eps=eps), xt)
    g = np.random.default_rng(0).standard_normal((1, d))
    _, cache = numpy_ln.layer_norm_forward(x[None], d, np.ones(d), np.zeros(d), eps=eps)
    dx = numpy_ln.layer_norm_backward(g, cache)[0][0]
    return {
        "ln_err": float(np.abs(layer_norm_jacobian(x, eps) - ln_t.numpy()).max()),
        "rms_err": float(np.abs(rms_norm_jacobian(x, eps) - rms_t.numpy()).max()),
        "backward_err": float(np.abs(layer_norm_jacobian(x, eps).T @ g[0] - dx).max()),
    }


def _nnls(a: np.ndarray, b: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """min ||a z - b|| over z >= 0 (Lawson and Hanson's active-set method, exact in a
    finite number of steps)."""
    n = a.shape[1]
    z = np.zeros(n)
    free = np.zeros(n, dtype=bool)  # the variables allowed above 0
    w = a.T @ (b - a @ z)
    for _ in range(3 * n):
        if free.all() or w[~free].max() <= tol:
            break
        free[np.argmax(np.where(free, -np.inf, w))] = True
        while True:
            s = np.zeros(n)
            s[free] = np.linalg.lstsq(a[:, free], b, rcond=None)[0]
            if (s[free] > tol).all():
                break
            # Step from z towards s until a variable reaches 0; drop it and solve again.
            blocked = free & (s <= tol)
            alpha = np.min(z[blocked] / (z[blocked] - s[blocked]))
            z = z + alpha * (s - z)
            free &= z > tol
        z = s
        w = a.T @ (b - a @ z)
    return z


def unselectable(keys) -> np.ndarray:
    """Which keys no query can select: those inside the convex hull of the other keys.

    A query q selects key k (gives it the largest score q . k) only if k is a vertex of
    the keys' convex hull; a key inside the hull of the others scores below one of them for
    every q. Each key is tested by the distance from it to the hull of the others,
    min ||K^T z - k|| over z >= 0 summing to 1 (a non-negative least squares with the sum
    as a heavily weighted extra row): a key at distance ~0 is inside.

    Parameters
    ----------
    keys : (n, d) keys, in general position (no two equal)

    Returns
    -------
    (n,) bool, True for a key that no query can select
    """
    keys = check_batch(keys)
    n = keys.shape[0]
    scale = float(np.abs(keys).max()) or 1.0
    k = keys / scale
    weight = 1e3  # the sum-to-one row, weighted so that it holds to about 1e-6 and better
    inside = np.zeros(n, dtype=bool)
    for i in range(n):
        others = np.delete(k, i, axis=0)  # (n - 1, d)
        a = np.vstack([others.T, weight * np.ones(n - 1)])  # (d + 1, n - 1)
        b = np.append(k[i], weight)
        z = _nnls(a, b)
        inside[i] = np.linalg.norm(others.T @ z - k[i]) < 1e-7
    return inside


def _plane_coordinates(v: np.ndarray) -> np.ndarray:
    """(n, D) vectors perpendicular to 1 in an orthonormal basis of that plane: (n, D - 1)."""
    d = v.shape[1]
    # The last D - 1 left singular vectors of P span the plane (P has rank D - 1).
    basis = np.linalg.svd(centring_matrix(d))[0][:, : d - 1]  # (D, D - 1)
    return v @ basis


def selectable_keys(n_keys: int = 32, d: int = 3, *, seeds=(0, 1, 2)) -> dict[str, np.ndarray]:
    """Brody et al. (2023): after layer norm every key can be selected; without it, some
    cannot. Keys are random normal vectors with a random offset (as real activations
    have); per seed, the fraction that no query can select (``unselectable``).

    Returns
    -------
    dict of (len(seeds),) arrays: ``raw`` (the keys as drawn, in d dimensions), ``ln``
    (after layer norm: in the (d - 1)-dimensional plane perpendicular to 1), ``rms`` (after
    RMSNorm), ``ln_linear`` (layer norm then a random full-rank d x d map, as W_k with
    d_head = d), ``ln_down`` (layer norm in 2 d dimensions, then a random map down to d:
    d_head < d_model); and ``uniform`` (per seed, the largest |attention weight - 1/n| of
    a query along 1 over the layer-normed keys)
    """
    check_int("n_keys", n_keys, 3)
    check_int("d", d, 2)
    out = {name: [] for name in ("raw", "ln", "rms", "ln_linear", "ln_down", "uniform")}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        keys = rng.standard_normal((n_keys, d)) + rng.standard_normal(d)
        ln = numpy_ln.layer_norm(keys, d, eps=0.0)
        wide = rng.standard_normal((n_keys, 2 * d)) + rng.standard_normal(2 * d)
        down = numpy_ln.layer_norm(wide, 2 * d, eps=0.0) @ rng.standard_normal((2 * d, d))
        out["raw"].append(unselectable(keys).mean())
        out["ln"].append(unselectable(_plane_coordinates(ln)).mean())
        out["rms"].append(unselectable(numpy_ln.rms_norm(keys, d, eps=0.0)).mean())
        out["ln_linear"].append(
            unselectable(_plane_coordinates(ln) @ rng.standard_normal((d - 1, d - 1))).mean()
        )
        out["ln_down"].append(unselectable(down).mean())
        scores = ln @ (3.0 * np.ones(d))  # a query along 1, of any length
        attention = np.exp(scores - scores.max())
        attention /= attention.sum()
        out["uniform"].append(np.abs(attention - 1.0 / n_keys).max())
    return {name: np.array(v, dtype=np.float64) for name, v in out.items()}


def gamma_decay(
    decays,
    *,
    zero_centred: bool,
    n: int = 256,
    d: int = 16,
    m: int = 4,
    steps: int = 2000,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Weight decay on gamma against weight decay on w, with gamma = 1 + w (section 3).

    A regression through a layer norm whose right gamma is about 1: targets
    ``Y = (x_hat * gamma_true) @ V + noise`` with a known readout ``V`` (d, m) and
    gamma_true = 1 + 0.3 N(0, 1) per feature. Only gamma is learned, by full-batch gradient
    descent on half the mean squared error plus (decay / 2) |theta|^2, where theta is gamma
    itself or w. The loss is quadratic in gamma, so the end point has a closed form: with A
    the error's Hessian and c its linear term, ``gamma = (A + decay I)^-1 (c + decay g0)``,
    g0 = 0 when gamma is decayed (decay pulls gamma to 0) and 1 when w is (it pulls gamma
    to 1).

    Parameters
    ----------
    decays : the decay coefficients to train with (one run each), each >= 0
    zero_centred : learn w with gamma = 1 + w (and decay w), or gamma itself

    Returns
    -------
    dict with (len(decays),) arrays ``gamma_mean`` (trained: the mean over features),
    ``closed_mean`` (the closed form's), ``err`` (max |trained - closed form| over the
    features); ``true_mean`` (1,), the mean of gamma_true
    """
    check_int("steps", steps, 1)
    check_int("m", m, 2)  # with one output, gamma along 1 / v would change nothing
    rng = np.random.default_rng(seed)
    x_hat = numpy_ln.layer_norm(rng.standard_normal((n, d)) * 2 + 1, d, eps=0.0)
    v = rng.standard_normal((d, m)) / np.sqrt(d)
    gamma_true = 1 + 0.3 * rng.standard_normal(d)
    y = (x_hat * gamma_true) @ v + 0.1 * rng.standard_normal((n, m))
    a = (x_hat.T @ x_hat / n) * (v @ v.T)  # the error's Hessian in gamma: (d, d)
    c = ((x_hat.T @ y / n) * v).sum(axis=1)  # its linear term: (d,)
    g0 = 1.0 if zero_centred else 0.0  # where decay pulls gamma
    means, closed, errs = [], [], []
    for decay in decays:
        check_eps(decay)
        lr = 1.0 / (np.linalg.eigvalsh(a)[-1] + decay)  # a stable step for this quadratic
        gamma = np.ones(d)  # both start at the identity: gamma = 1, w = 0
        for _ in range(steps):
            # d/dw = d/dgamma since gamma = 1 + w; the decay term is decay * theta.
            gamma = gamma - lr * (a @ gamma - c + decay * (gamma - g0))
        exact = np.linalg.solve(a + decay * np.eye(d), c + decay * g0)
        means.append(gamma.mean())
        closed.append(exact.mean())
        errs.append(np.abs(gamma - exact).max())
    return {
        "gamma_mean": np.array(means),
        "closed_mean": np.array(closed),
        "err": np.array(errs),
        "true_mean": np.array([gamma_true.mean()]),
    }


# --- Section 4: scale invariance and the effective learning rate -------------------------
#
# Weights that feed a norm (the first linear layer's weight and bias) under SGD:
# :func:`scale_invariance_identities` (with autograd), :func:`rate_run` (one run, the book's
# loop, watched), :func:`rate_runs` (a grid, stacked), :func:`equilibrium` (the closed form),
# :func:`rate_summary` (what the runs show). Imports sit inside the functions: torch must load
# lazily (the browser edition has none), and this half then touches no line of the other.

# The network: 64 pixels -> Linear(64, 64) -> layer norm -> ReLU -> Linear(64, 10).
RATE_NET = {"d_hidden": 64, "depth": 1}


def _torch():
    """torch, or the browser edition's explanation of why it is missing."""
    from ..._optional import require_torch

    return require_torch()


def _rate_mlp(seed: int):
    """The chapter's network, its weights drawn from torch's generator seeded with ``seed``."""
    torch = _torch()
    from ...models import MLP

    torch.manual_seed(seed)
    return MLP(64, RATE_NET["d_hidden"], 10, depth=RATE_NET["depth"], norm="layer")


def angle_between(u, v):
    """The angle (radians) between torch vectors ``u`` and ``v`` along the last axis.

    ``arccos`` of the cosine loses half the digits near 0 (cos is flat there); the chord
    between the unit vectors, ``2 arcsin(|u/|u| - v/|v|| / 2)``, keeps them.
    """
    a = u / u.norm(dim=-1, keepdim=True)
    b = v / v.norm(dim=-1, keepdim=True)
    return 2 * _torch().arcsin((a - b).norm(dim=-1).clamp(max=2.0) / 2)


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
    torch = _torch()
    from ...data import digits

    scales = np.asarray(scales, dtype=np.float64)
    if scales.ndim != 1 or len(scales) == 0 or not ((scales > 0) & np.isfinite(scales)).all():
        raise ValueError(f"scales must be a non-empty list of positive numbers, got {scales}")
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
    from ..._validate import check_int

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
    torch = _torch()
    from ..._validate import check_rate
    from ...training import digits_split, fit_digits

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
    torch = _torch()
    import copy

    from ...models import StackedMLP
    from ...training import digits_split, fit_digits_stacked

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
    :class:`lnbook.models.StackedMLP`: one step of all of them costs a few steps of one.
    Their records agree with the separate runs' to float rounding (tests compare them).
    Kept by :func:`lnbook._results.remembered`: a test run that repeats the call reuses it.

    Returns
    -------
    dict with ``lrs`` (R,), ``decays`` (L,), ``seeds`` (S,), ``norm`` (R, L, S, steps + 1),
    and ``cosine``, ``grad_norm``, ``angle``, ``loss`` (R, L, S, steps), as
    :func:`rate_run` returns them for each run
    """
    from ..._results import remembered
    from ..._validate import check_rate

    _check_run_args(steps, batch_size)
    if len(lrs) == 0 or len(decays) == 0 or len(seeds) == 0:
        raise ValueError(
            f"need at least one rate, decay and seed, got {list(lrs)}, {list(decays)}, "
            f"{list(seeds)}"
        )
    for lr in lrs:
        check_rate("every rate in lrs", float(lr) if isinstance(lr, np.generic) else lr)
    for wd in decays:
        _check_decay("every decay in decays", float(wd) if isinstance(wd, np.generic) else wd)
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 0:
            raise ValueError(f"every seed in seeds must be an int >= 0, got {s!r}")
    lrs, decays = [float(v) for v in lrs], [float(v) for v in decays]
    return remembered(_rate_runs)(lrs, decays, [int(s) for s in seeds], steps, batch_size)


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
    from ..._validate import check_int

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
    from ..._validate import check_int

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
