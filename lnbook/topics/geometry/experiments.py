"""Chapter 9's experiments (geometry): pure functions that compute what the chapter shows.

Projection and sphere, the Jacobian, attention after a norm, gamma = 1 + w.
"""

from __future__ import annotations

import numpy as np

from ... import numpy_ln
from ..._optional import require_torch
from ..._validate import check_batch, check_eps, check_floats, check_int, check_ints


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
    x = _one_example(x, eps)
    d = x.size
    rstd = 1.0 / np.sqrt(x.var() + eps)
    x_hat = (x - x.mean()) * rstd
    return rstd * (centring_matrix(d) - np.outer(x_hat, x_hat) / d)


def _one_example(x, eps: float) -> np.ndarray:
    """``x`` as a float64 (D,) example, D >= 2 (layer norm of one feature is 0 / 0), after
    checking it and ``eps``: the Jacobians' shared check, run before any torch call."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"x must be one example of shape (D,), D >= 2, got {x.shape}")
    check_eps(eps)
    return x


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
    x = _one_example(x, eps)
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
    x = _one_example(x, eps)  # before torch, whose own error would name none of this
    torch = require_torch()
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
    seeds = check_ints("seeds", seeds, 0)
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
    decays = check_floats("decays", decays, 0)
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
