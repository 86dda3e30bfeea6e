"""Chapter 16's experiments: layer norm split across real processes (torch.distributed, gloo).

Which rank holds what (:func:`ownership`, NumPy); the split layer norms against one process,
forward and backward, in float64 (:func:`agreement`); the accuracy of the three ways to
all-reduce the statistics of a hidden-sharded norm as the data's offset grows, and the bytes
each sends (:func:`accuracy_grid` for the chapter's figure, :func:`accuracy_sweep` for the
live face, both running :func:`accuracy_rank` on every rank). Everything that starts
processes loads torch and :mod:`lnbook.distributed` inside the function, so this module
imports in the browser edition.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..._optional import require_torch
from ..._results import remembered
from ..._validate import check_choices, check_floats, check_int, check_ints

WORLD_SIZES = (2, 3, 4)
HIDDEN_SIZES = (64, 1024)
DTYPES = ("float32", "float64")
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")  # the torch dtypes taken
# The tokens' common offset, in standard deviations: from none to far beyond float32's
# 2**24 ~ 1.7e7 ratio between a number and its rounding step, squared (see the chapter).
OFFSETS = (0.0, 1.0, 10.0, 100.0, 1e3, 1e4)
METHODS = ("naive", "chan", "two_pass")
LABELS = {"naive": "naive: sum x, sum x²", "chan": "Chan: (mean, M2) merged",
          "two_pass": "two-pass: sum x, then sum (x − μ)²"}  # fmt: skip
EPS = 1e-5


def ownership(n_tokens: int, d: int, world_size: int) -> dict:
    """Which rank holds each element of an (n_tokens, d) activation, for the two splits.

    Returns ``{"hidden": (n_tokens, d), "sequence": (n_tokens, d)}`` rank numbers: the
    features split in contiguous blocks (tensor parallelism), or the tokens (sequence
    parallelism), the first ranks one more where it does not divide (as ``np.array_split``).
    """
    check_int("world_size", world_size, 1)
    check_int("d", d, world_size)
    check_int("n_tokens", n_tokens, world_size)
    cols = np.concatenate([np.full(len(c), r) for r, c in
                           enumerate(np.array_split(np.arange(d), world_size))])  # fmt: skip
    rows = np.concatenate([np.full(len(c), r) for r, c in
                           enumerate(np.array_split(np.arange(n_tokens), world_size))])  # fmt: skip
    return {
        "hidden": np.broadcast_to(cols, (n_tokens, d)).copy(),
        "sequence": np.broadcast_to(rows[:, None], (n_tokens, d)).copy(),
    }


def _tokens(n_tokens: int, d: int, offset: float, seed: int) -> np.ndarray:
    """(n_tokens, d) standard normal values plus ``offset``, float64."""
    return offset + np.random.default_rng(seed).normal(size=(n_tokens, d))


def accuracy_rank(rank, world_size, d_values, dtypes, offsets, n_tokens, seeds, eps=EPS):
    """Run on each rank by :func:`accuracy_grid`: every method's statistics of a
    hidden-sharded layer norm, against float64 statistics of the same (rounded) inputs.

    Returns, on rank 0 (None elsewhere), arrays indexed (d, dtype, method, seed, offset):
    ``var_error`` (the largest relative error of a token's variance), ``y_error`` (the
    largest error of an output), and per (dtype, method) ``bytes_passed`` (bytes per token
    handed to the collectives) and ``ring_bytes`` (bytes per token each rank sends under
    the ring algorithms' model).
    """
    torch = require_torch()
    from ... import distributed as dist_ln

    shape = (len(d_values), len(dtypes), len(METHODS), len(seeds), len(offsets))
    var_error, y_error = np.zeros(shape), np.zeros(shape)
    passed, ring = np.zeros(shape[1:3]), np.zeros(shape[1:3])
    errors = dist_ln.Collectives()  # gathers the errors: not part of the norm, not counted
    for i, d in enumerate(d_values):
        cols = dist_ln.shard_slice(d, rank, world_size)
        widths = dist_ln.shard_widths(d, world_size)
        # Every seed and offset in one batch of tokens: one collective per method, not one
        # per case (a collective costs a round trip between the processes).
        x64 = np.stack([[_tokens(n_tokens, d, offset, seed) for offset in offsets]
                        for seed in seeds])  # (S, O, N, d)  # fmt: skip
        for j, dtype in enumerate(dtypes):
            x = torch.tensor(x64, dtype=getattr(torch, dtype))
            exact = x.double()  # the rounded inputs, whose exact statistics we want
            mu_ref = exact.mean(-1, keepdim=True)
            var_ref = ((exact - mu_ref) ** 2).mean(-1, keepdim=True)
            y_ref = ((exact - mu_ref) / torch.sqrt(var_ref + eps))[..., cols]
            shard = x[..., cols].reshape(-1, cols.stop - cols.start)  # (S O N, D_r)
            for k, method in enumerate(METHODS):
                comm = dist_ln.Collectives()
                mu, var = dist_ln.sharded_statistics(shard, widths, comm, method)
                y = ((shard - mu) * torch.rsqrt(var + eps)).reshape(y_ref.shape)
                rel = (var.double().reshape(var_ref.shape) - var_ref).abs() / var_ref
                var_error[i, j, k] = rel.amax(dim=(-2, -1)).numpy()  # (S, O)
                local = (y.double() - y_ref).abs().amax(dim=(-2, -1))  # (S, O), this shard
                y_error[i, j, k] = errors.all_reduce(local, op=dist_ln.dist.ReduceOp.MAX)
                n = shard.shape[0]
                passed[j, k] = sum(b for _, b in comm.log) / n
                ring[j, k] = dist_ln.ring_bytes(comm.log, world_size) / n
    if rank:
        return None
    return {"var_error": var_error, "y_error": y_error, "bytes_passed": passed,
            "ring_bytes": ring}  # fmt: skip


@remembered
def accuracy_grid(
    world_sizes: Sequence[int] = WORLD_SIZES,
    d_values: Sequence[int] = HIDDEN_SIZES,
    dtypes: Sequence[str] = DTYPES,
    offsets: Sequence[float] = OFFSETS,
    n_tokens: int = 64,
    seeds: Sequence[int] = (0, 1, 2),
) -> dict:
    """The three ways to take a hidden-sharded layer norm's statistics, on real process
    groups of each size: errors against float64 and bytes communicated per token.

    One process group per world size runs the whole grid (starting the processes is the
    slow part). Returns the inputs and ``var_error``, ``y_error`` (P, d, dtype, method,
    seed, offset), ``bytes_passed`` and ``ring_bytes`` (P, dtype, method).
    """
    from ... import process_group

    world_sizes, d_values = check_ints("world_sizes", world_sizes), check_ints("d_values", d_values)
    offsets, seeds = check_floats("offsets", offsets), check_ints("seeds", seeds, 0)
    dtypes = check_choices(
        "dtypes", dtypes, FLOAT_DTYPES, kind="dtype names", example='("float32",)'
    )
    for p in world_sizes:
        check_int("world_size", p, 1, 16)
        if min(d_values) < p:
            raise ValueError(f"every hidden size must be >= world size {p}, got {d_values}")
    runs = [process_group.launch(accuracy_rank, p, d_values=tuple(d_values), dtypes=tuple(dtypes),
                                 offsets=tuple(offsets), n_tokens=n_tokens,
                                 seeds=tuple(seeds))[0]
            for p in world_sizes]  # fmt: skip
    out = {key: np.stack([r[key] for r in runs]) for key in runs[0]}
    return {"world_sizes": tuple(world_sizes), "d_values": tuple(d_values),
            "dtypes": tuple(dtypes), "offsets": np.asarray(offsets, dtype=float),
            "methods": METHODS, "seeds": tuple(seeds), **out}  # fmt: skip


def accuracy_sweep(world_size: int = 2, d: int = 64, dtype: str = "float32", seed: int = 0,
                   offsets: Sequence[float] = OFFSETS, n_tokens: int = 64) -> dict:  # fmt: skip
    """The live face's one run: ``accuracy_grid`` for one world size, hidden size, dtype and
    seed (a fresh process group each call). Same keys, with those axes of length 1."""
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be a float type's name, got {dtype!r}")
    return accuracy_grid.__wrapped__((world_size,), (d,), (dtype,), offsets, n_tokens, (seed,))


def _agreement_case(seed: int, n_tokens: int, d: int, hidden: int) -> tuple[dict, dict, dict]:
    """One seed's inputs, and the single-process results (float64, ``F.layer_norm`` and
    autograd): of the layer norm alone, and of the MLP block with its layer norm."""
    torch = require_torch()
    import torch.nn.functional as F

    rng = np.random.default_rng(seed)
    x = rng.normal(2.0, 1.5, size=(n_tokens, d))
    gamma, beta = rng.normal(1.0, 0.3, size=d), rng.normal(0.0, 0.3, size=d)
    dy = rng.normal(size=(n_tokens, d))
    w1, b1 = rng.normal(size=(d, hidden)) / np.sqrt(d), rng.normal(0, 0.1, size=hidden)
    w2, b2 = rng.normal(size=(hidden, d)) / np.sqrt(hidden), rng.normal(0, 0.1, size=d)
    arrays = {"x": x, "gamma": gamma, "beta": beta, "dy": dy}

    def leaf(a):
        return torch.tensor(a, dtype=torch.float64, requires_grad=True)

    xt, gt, bt = leaf(x), leaf(gamma), leaf(beta)
    y = F.layer_norm(xt, (d,), gt, bt, EPS)
    (y * torch.tensor(dy)).sum().backward()  # a scalar: y.backward(dy) imports sympy
    ref = {"y": y.detach().numpy(), "dx": xt.grad.numpy(), "dgamma": gt.grad.numpy(),
           "dbeta": bt.grad.numpy()}  # fmt: skip
    xt, gt, bt, w1t, w2t = leaf(x), leaf(gamma), leaf(beta), leaf(w1), leaf(w2)
    h = F.layer_norm(xt, (d,), gt, bt, EPS)
    out = xt + F.gelu(h @ w1t + torch.tensor(b1)) @ w2t + torch.tensor(b2)
    (out * torch.tensor(dy)).sum().backward()
    tp_ref = {"out": out.detach().numpy(), "dx": xt.grad.numpy(), "dgamma": gt.grad.numpy(),
              "dw1": w1t.grad.numpy(), "dw2": w2t.grad.numpy()}  # fmt: skip
    return arrays, {**arrays, "w1": w1, "b1": b1, "w2": w2, "b2": b2}, (ref, tp_ref)


def _gap(a, b) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


def _compare(runs: list, ref: dict, tp_ref: dict, p: int, n_tokens: int) -> dict:
    """One seed's differences from one process (see :func:`agreement`)."""
    from ... import distributed as dist_ln

    r, gap = {}, _gap
    for m, ranks in zip(METHODS, runs, strict=False):
        for key in ("y", "dx", "dgamma", "dbeta"):
            r[f"{m}_{key}"] = gap(np.concatenate([q[key] for q in ranks], -1), ref[key])
        fwd, bwd = ranks[0]["log"][:-1], ranks[0]["log"][-1:]  # the backward's is the last
        r[f"{m}_forward_bytes"] = sum(n for _, n in fwd) / n_tokens
        r[f"{m}_backward_bytes"] = sum(n for _, n in bwd) / n_tokens
        r[f"{m}_forward_ring"] = dist_ln.ring_bytes(fwd, p) / n_tokens
        r[f"{m}_backward_ring"] = dist_ln.ring_bytes(bwd, p) / n_tokens
    seq, tp, drifted = runs[len(METHODS) :]
    r["seq_y"] = gap(np.concatenate([q["y"] for q in seq]), ref["y"])
    r["seq_dx"] = gap(np.concatenate([q["dx"] for q in seq]), ref["dx"])
    r["seq_dgamma"] = max(gap(q["dgamma"], ref["dgamma"]) for q in seq)
    r["seq_dbeta"] = max(gap(q["dbeta"], ref["dbeta"]) for q in seq)
    r["seq_partial"] = min(gap(q["dgamma_partial"], ref["dgamma"]) for q in seq)
    r["seq_forward_collectives"] = max(len(q["forward_log"]) for q in seq)
    r["seq_drift_partial"] = seq[0]["drift_partial"]
    r["seq_drift_synced"] = seq[0]["drift_synced"]
    r["tp_out"] = max(gap(q["out"], tp_ref["out"]) for q in tp)
    r["tp_dx"] = max(gap(q["dx"], tp_ref["dx"]) for q in tp)
    r["tp_dgamma"] = max(gap(q["dgamma"], tp_ref["dgamma"]) for q in tp)
    r["tp_dw1"] = gap(np.concatenate([q["dw1"] for q in tp], 1), tp_ref["dw1"])
    r["tp_dw2"] = gap(np.concatenate([q["dw2"] for q in tp], 0), tp_ref["dw2"])
    r["tp_drift"] = tp[0]["drift"]
    r["drifted_out"] = max(gap(q["out"], tp_ref["out"]) for q in drifted)
    r["drifted_drift"] = drifted[0]["drift"]
    r["drifted_h_drift"] = drifted[0]["h_drift"]
    r["drifted_dgamma_gap"] = max(gap(q["dgamma"], drifted[0]["dgamma"]) for q in drifted)
    return r


@remembered
def agreement(world_sizes: Sequence[int] = WORLD_SIZES, seeds: Sequence[int] = (0, 1, 2),
              n_tokens: int = 6, d: int = 12, hidden: int = 16,
              perturb: float = 1e-3) -> dict:  # fmt: skip
    """The split layer norms against one process (``torch.nn.functional.layer_norm`` and
    autograd, float64): the largest difference of every output and gradient, per world size
    and seed.

    One process group per world size runs every case of every seed: the hidden-sharded
    norm with each method, the sequence-parallel norm, and the tensor-parallel MLP block
    with its layer norm replicated, once in sync and once with gamma moved by ``perturb``
    on the last rank.

    Returns ``{P: {name: (S,) array}}``: ``<method>_y``, ``_dx``, ``_dgamma``, ``_dbeta``
    and the bytes per token handed to the collectives, ``<method>_forward_bytes``,
    ``_backward_bytes`` (and ``_forward_ring``, ``_backward_ring``: sent per rank, ring
    model); ``seq_y``, ``seq_dx``, ``seq_dgamma``, ``seq_dbeta`` (after the all-reduce),
    ``seq_partial`` (before it), ``seq_forward_collectives`` (how many the forward used),
    ``seq_drift_partial`` and ``seq_drift_synced`` (gamma's gap between the ranks after an
    SGD step); ``tp_out``, ``tp_dx``, ``tp_dgamma``, ``tp_dw1``, ``tp_dw2``, ``tp_drift``,
    and ``drifted_out``, ``drifted_drift``, ``drifted_h_drift`` (the gap between the
    ranks' layer-norm outputs), ``drifted_dgamma_gap`` (between their gamma gradients).
    """
    from ... import distributed as dist_ln
    from ... import process_group

    world_sizes, seeds = check_ints("world_sizes", world_sizes, 1), check_ints("seeds", seeds, 0)
    cases = [_agreement_case(seed, n_tokens, d, hidden) for seed in seeds]
    per_case = len(METHODS) + 3
    results = {}
    for p in world_sizes:
        calls = []
        for arrays, mlp, _ in cases:
            calls += [(dist_ln.sharded_ln_rank, {**arrays, "method": m}) for m in METHODS]
            calls += [(dist_ln.sequence_parallel_rank, arrays),
                      (dist_ln.tensor_parallel_rank, mlp),
                      (dist_ln.tensor_parallel_rank, {**mlp, "perturb": perturb})]  # fmt: skip
        runs = process_group.launch_all(calls, p)
        rows = [_compare(runs[i * per_case:(i + 1) * per_case], *refs, p, n_tokens)
                for i, (_, _, refs) in enumerate(cases)]  # fmt: skip
        results[p] = {key: np.array([row[key] for row in rows]) for key in rows[0]}
    return results
