"""Chapter 2's experiments: gamma and beta, the scale and shift after normalizing.

What they do to the output's distribution (:func:`affine_histograms`, behind both faces of
the chapter's interactive), what they can and cannot give back (:func:`recover_example`),
and what training makes of them (:func:`norm_parameter_histograms`, on the runs of
:func:`lnbook.training.train_digits_mlp`, which the chapter calls directly). NumPy only;
plain arrays and dicts out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ... import numpy_ln
from ..._results import binned
from ..._validate import check_batch, check_index


def affine_histograms(
    x: np.ndarray,
    example: int,
    settings: Sequence[dict],
    *,
    bins: np.ndarray | None = None,
    eps: float = 1e-5,
) -> dict[str, np.ndarray]:
    """Output distribution of layer norm's ``y = gamma * x_hat + beta`` for several settings.

    Histograms are binned here, so a figure carries counts, not raw samples.

    Parameters
    ----------
    x : (N, D) batch
    example : the row whose own distribution is shown beside the batch's
    settings : each a dict with ``gamma`` and ``beta``: floats (the same for every feature)
        or (D,) arrays (one per feature)
    bins : bin edges (default: 81 edges from -8 to 12); values beyond them are counted in the
        first or last bin, so every row of the result sums to 1

    Returns
    -------
    dict with ``edges`` (B+1,), ``centers`` (B,), ``example`` and ``batch`` (S, B): the
    fraction of values in each bin, ``mean`` and ``std`` (S,) of the example's output
    """
    x = check_batch(x)
    n, d = x.shape
    check_index("example", example, n)
    edges = np.linspace(-8, 12, 81) if bins is None else np.asarray(bins, dtype=np.float64)
    x_hat = numpy_ln.layer_norm(x, d, eps=eps)
    ex_hist, batch_hist, means, stds = [], [], [], []
    for i, s in enumerate(settings):
        gamma, beta = (np.asarray(s[k], dtype=np.float64) for k in ("gamma", "beta"))
        for name, v in (("gamma", gamma), ("beta", beta)):
            if v.shape not in ((), (d,)):
                raise ValueError(
                    f"settings[{i}]['{name}'] must be a number or have shape "
                    f"({d},) for x of shape {x.shape}, got {v.shape}"
                )
        y = x_hat * gamma + beta  # (N, D)
        ex_hist.append(binned(y[example], edges) / d)
        batch_hist.append(binned(y, edges) / y.size)
        means.append(y[example].mean())
        stds.append(y[example].std())
    return {
        "edges": edges,
        "centers": (edges[:-1] + edges[1:]) / 2,
        "example": np.array(ex_hist),
        "batch": np.array(batch_hist),
        "mean": np.array(means),
        "std": np.array(stds),
    }


def recover_example(x: np.ndarray, k: int, eps: float = 1e-5) -> dict[str, np.ndarray]:
    """Choose gamma and beta that undo layer norm for example ``k``, and apply them to all.

    ``gamma = sqrt(var_k + eps)`` and ``beta = mu_k`` (the same for every feature) give back
    example ``k`` exactly; every other example comes back with *k's* mean and spread,
    because its own statistics were divided out and no parameter shared by the batch can
    know them.

    Returns
    -------
    dict with ``gamma``, ``beta`` (floats), ``y`` (N, D) the outputs, ``error`` (N,) the
    largest |y - x| of each example, and ``mean_in``, ``std_in``, ``mean_out``, ``std_out`` (N,)
    """
    x = check_batch(x)
    check_index("k", k, x.shape[0])
    d = x.shape[-1]
    mu, var = x[k].mean(), x[k].var()
    gamma, beta = np.sqrt(var + eps), mu
    y = numpy_ln.layer_norm(x, d, np.full(d, gamma), np.full(d, beta), eps=eps)
    return {
        "gamma": float(gamma),
        "beta": float(beta),
        "y": y,
        "error": np.abs(y - x).max(axis=-1),
        "mean_in": x.mean(axis=-1),
        "std_in": x.std(axis=-1),
        "mean_out": y.mean(axis=-1),
        "std_out": y.std(axis=-1),
    }


def norm_parameter_histograms(
    runs: dict[str, dict | list[dict]], edges: np.ndarray | None = None
) -> dict[str, np.ndarray | dict]:
    """Histograms of the learned gamma and beta of several training set-ups.

    Parameters
    ----------
    runs : label -> result of :func:`train_digits_mlp`, or a list of them (one per seed),
        whose values are then counted together
    edges : ``{"gamma": edges, "beta": edges}`` (default: 0 to 2 and -0.6 to 0.6, 41
        edges each); values beyond them are counted in the end bins

    Returns
    -------
    dict with ``centers``: {"gamma": (B,), "beta": (B,)} and ``gamma``, ``beta``:
    label -> (B,) counts
    """
    if not isinstance(runs, dict) or not runs:
        error = TypeError if not isinstance(runs, dict) else ValueError
        raise error(
            "runs must be a non-empty dict of label -> train_digits_mlp result (or a list of "
            f"them), got {type(runs).__name__} {runs!r:.60}"
        )
    if edges is None:
        edges = {"gamma": np.linspace(0.0, 2.0, 41), "beta": np.linspace(-0.6, 0.6, 41)}
    elif not isinstance(edges, dict) or set(edges) != {"gamma", "beta"}:
        raise ValueError(f'edges must be a dict {{"gamma": edges, "beta": edges}}, got {edges!r}')

    def values(label, run, key):  # every gamma (or beta) of a run, or of a list of runs
        group = run if isinstance(run, list) else [run]
        for r in group:
            if not isinstance(r, dict):
                raise TypeError(
                    f"runs[{label!r}] must be a train_digits_mlp result (a dict) or a list of "
                    f"them, got {type(r).__name__}"
                )
            if not {"gammas", "betas"} <= set(r):
                raise ValueError(
                    f"runs[{label!r}] must have the keys 'gammas' and 'betas' (a train_digits_mlp "
                    f"result), got {sorted(r)}"
                )
        arrays = [v for r in group for v in r[key]]
        if not arrays:  # a run without norm layers, or an empty list of runs
            raise ValueError(f"runs[{label!r}] has no {key} to count (norm=None, or no runs?)")
        return np.concatenate(arrays)

    return {
        "centers": {k: (e[:-1] + e[1:]) / 2 for k, e in edges.items()},
        "gamma": {k: binned(values(k, r, "gammas"), edges["gamma"]) for k, r in runs.items()},
        "beta": {k: binned(values(k, r, "betas"), edges["beta"]) for k, r in runs.items()},
    }
