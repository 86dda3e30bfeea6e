"""Layer norm split across processes, on real ``torch.distributed`` process groups (gloo, CPU).

- **hidden dimension sharded** (tensor parallelism): each rank holds ``D / P`` features of
  every token, so the statistics need a collective: :func:`sharded_statistics` takes them
  three ways (naive sums of ``x`` and ``x**2``; per-shard (count, mean, M2) merged with
  :func:`chan_merge`; two passes); :class:`ShardedLayerNorm` adds the hand-written
  backward, whose two row sums over all ``D`` features are one more all-reduce;
- **sequence parallelism**: each rank holds whole tokens; no collective in the norm, but
  gamma's and beta's gradients are partial sums (:func:`all_reduce_grads`);
- **a Megatron-style tensor-parallel MLP** (:func:`tensor_parallel_mlp`) after a layer norm
  replicated on every rank, whose copies must stay equal (:func:`param_drift`).

:func:`launch` runs a function on ``P`` fresh processes joined in a gloo process group; the
``*_rank`` functions are what the book and the tests run there. Every collective goes
through :class:`Collectives`, which logs the bytes of the tensors it is given.
"""

from __future__ import annotations

import contextlib
import datetime
import multiprocessing as mp
import os
import queue
import sys
import tempfile
import time
import traceback
import types
from collections.abc import Callable, Sequence

from ._optional import torch_missing

try:
    import torch
    import torch.distributed as dist
    from torch import Tensor
except ImportError as e:  # the browser edition: say where this module runs instead
    raise torch_missing("lnbook.distributed") from e

import numpy as np

from . import torch_ln
from ._validate import check_eps, check_int

METHODS = ("naive", "chan", "two_pass")


# ---------------------------------------------------------------- running P processes ----


class RankError(RuntimeError):
    """A rank of :func:`launch` raised, or died: the message holds its traceback."""


def _start_context():
    """A forkserver that has imported torch once (each later process forks from it in a
    fraction of a second, instead of importing torch again for 1-2 s); spawn where there is
    no forkserver (Windows). Both start clean processes, safe in a Jupyter kernel, but the
    function a rank runs must be importable (defined in a module, not in the notebook)."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        # What a rank would otherwise import on its own: torch, and what autograd's first
        # backward from a non-scalar output imports (sympy, through symbolic_shapes: ~3 s).
        preload = ["torch", "torch.distributed", "torch.fx.experimental.symbolic_shapes"]
        ctx.set_forkserver_preload([*preload, "lnbook.distributed"])
        return ctx
    return mp.get_context("spawn")


@contextlib.contextmanager
def _without_main():
    """Start processes that do not re-run the parent's ``__main__`` (a script, ``pytest``),
    as multiprocessing has them do in case their function lives there: ours never does
    (``launch_all`` refuses it), so a rank costs only its fork from the server."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _numpy(value):
    """Tensors as NumPy arrays, in dicts, lists and tuples too: a tensor put in a queue
    would travel through shared memory that dies with its process."""
    if isinstance(value, Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {k: _numpy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_numpy(v) for v in value)
    return value


def _worker(rank, world_size, store, calls, timeout_s, results) -> None:
    """One rank: join the group, run every call, send back ``(rank, status, value, when)``
    (status "ok", "error" or "init"; when: the time, which orders the failures)."""
    try:
        torch.set_num_threads(1)  # P processes share the machine's cores
        dist.init_process_group(
            "gloo",
            init_method=f"file://{store}",
            rank=rank,
            world_size=world_size,
            timeout=datetime.timedelta(seconds=timeout_s),
        )
    except BaseException:  # noqa: BLE001 - see _INIT_TRIES
        results.put((rank, "init", traceback.format_exc(), time.time()))
        return
    try:
        status, value = "ok", [_numpy(fn(rank, world_size, **kwargs)) for fn, kwargs in calls]
    except BaseException:  # noqa: BLE001 - every failure goes back to the parent
        # Reported before the group goes: the ranks waiting on this one fail next, and the
        # time tells the parent which failure came first.
        status, value = "error", traceback.format_exc()
        results.put((rank, status, value, time.time()))
    finally:
        dist.destroy_process_group()
    if status == "ok":
        results.put((rank, status, value, time.time()))


# Gloo's connection of every rank to every other fails now and then on a busy machine
# ("Connection closed by peer" in connectFullMesh; about 1 start in 30 here, at 4 ranks):
# a start that fails before any call ran is retried, in fresh processes.
_INIT_TRIES = 3


class _InitFailed(Exception):
    pass


def launch_all(
    calls: Sequence[tuple[Callable, dict]], world_size: int, *, timeout_s: float = 60.0
) -> list[list]:
    """Run every ``fn(rank, world_size, **kwargs)`` of ``calls``, in order, on each of
    ``world_size`` fresh processes joined in one gloo process group.

    One start for many checks: starting the processes is the slow part.

    Parameters
    ----------
    calls : (fn, kwargs) pairs; each ``fn`` importable (a module's top-level function),
        its kwargs and return value picklable (tensors come back as NumPy arrays)
    world_size : the number of ranks P, 1 to 16
    timeout_s : the whole run's limit; a collective that waits longer fails too

    Returns
    -------
    results[i][rank] : what call i returned on that rank

    Raises
    ------
    RankError : a rank raised (its traceback in the message) or died; the other ranks
        are stopped, not left waiting in a collective
    TimeoutError : not every rank finished within ``timeout_s``
    """
    check_int("world_size", world_size, 1, 16)
    calls = list(calls)
    for fn, kwargs in calls:
        if not callable(fn) or not isinstance(kwargs, dict):
            raise TypeError(f"calls must hold (function, dict) pairs, got ({fn!r}, {kwargs!r})")
        if getattr(fn, "__module__", None) == "__main__":
            raise TypeError(
                f"{fn.__name__} is defined in __main__ (a notebook or a script): a new process "
                "cannot import it. Define it in a module and import it from there."
            )
    for attempt in range(_INIT_TRIES):
        try:
            return _launch_once(calls, world_size, timeout_s)
        except _InitFailed as e:
            if attempt == _INIT_TRIES - 1:
                raise RankError(str(e)) from None
    raise AssertionError("unreachable")


def _launch_once(calls, world_size: int, timeout_s: float) -> list[list]:
    ctx = _start_context()
    results = ctx.Queue()
    with tempfile.TemporaryDirectory() as folder:
        store = os.path.join(folder, "store")  # the FileStore: no port to find or to clash
        procs = [
            ctx.Process(target=_worker, args=(r, world_size, store, calls, timeout_s, results))
            for r in range(world_size)
        ]
        with _without_main():
            for p in procs:
                p.start()
        try:
            return _collect(procs, results, world_size, time.monotonic() + timeout_s)
        finally:
            for p in procs:  # a rank still waiting on a failed one must not be left behind
                if p.is_alive():
                    p.kill()
                p.join(5)
            results.close()


def _collect(procs, results, world_size: int, deadline: float) -> list[list]:
    """Each rank's results, or the first failure as an exception."""
    got: dict[int, list] = {}
    while len(got) < world_size:
        try:
            rank, status, value, when = results.get(timeout=0.1)
        except queue.Empty:
            dead = [r for r, p in enumerate(procs) if r not in got and p.exitcode not in (None, 0)]
            if dead:
                raise RankError(
                    f"rank {dead[0]} of {world_size} died (exit code {procs[dead[0]].exitcode})"
                ) from None
            if time.monotonic() > deadline:
                waiting = [r for r in range(world_size) if r not in got]
                raise TimeoutError(f"ranks {waiting} of {world_size} did not finish") from None
            continue
        if status == "init":
            raise _InitFailed(f"rank {rank} of {world_size} could not join the group:\n{value}")
        if status == "error":
            rank, value, others = _first_failure(results, rank, value, when)
            # A rank that died without a word (a crash, os._exit) is what the others' errors
            # ("connection closed by peer") come from: name it first.
            reported = {rank, *others}
            dead = [r for r, p in enumerate(procs)
                    if r not in reported and p.exitcode not in (None, 0)]  # fmt: skip
            if dead:
                raise RankError(
                    f"rank {dead[0]} of {world_size} died (exit code {procs[dead[0]].exitcode}); "
                    f"then rank {rank} failed:\n{value}"
                )
            more = f"\n(then rank(s) {sorted(others)} failed too)" if others else ""
            raise RankError(f"rank {rank} of {world_size} failed:\n{value}{more}")
        got[rank] = value
    return [[got[r][i] for r in range(world_size)] for i in range(len(got[0]))]


def _first_failure(results, rank: int, value: str, when: float, grace_s: float = 0.5):
    """The failure that came first (a rank that raises takes the group down, and the ranks
    waiting on it fail in turn, maybe reporting sooner): (rank, traceback, other ranks)."""
    failures = [(when, rank, value)]
    end = time.monotonic() + grace_s
    while time.monotonic() < end:
        try:
            r, status, v, t = results.get(timeout=0.05)
        except queue.Empty:
            continue
        if status == "error":
            failures.append((t, r, v))
    when, rank, value = min(failures)
    return rank, value, [r for _, r, _ in failures if r != rank]


def launch(fn: Callable, world_size: int, *, timeout_s: float = 60.0, **kwargs) -> list:
    """``fn(rank, world_size, **kwargs)`` on each of ``world_size`` ranks (see
    :func:`launch_all`); returns the list of what each rank returned."""
    return launch_all([(fn, kwargs)], world_size, timeout_s=timeout_s)[0]


# ---------------------------------------------------------------- collectives, counted ----


class Collectives:
    """The collectives a layer uses, each logged as (name, bytes of the tensor passed).

    ``group``: the process group (the default one if None). The log counts what each rank
    hands to a collective; what a network carries depends on the algorithm (see
    :func:`ring_bytes`).
    """

    def __init__(self, group=None):
        self.group = group
        self.log: list[tuple[str, int]] = []

    @property
    def world_size(self) -> int:
        return dist.get_world_size(self.group)

    def all_reduce(self, t: Tensor, op=dist.ReduceOp.SUM) -> Tensor:
        """Reduce ``t`` over the ranks, in place (every rank gets the same values)."""
        self.log.append(("all_reduce", t.numel() * t.element_size()))
        dist.all_reduce(t, op=op, group=self.group)
        return t

    def all_gather(self, t: Tensor) -> list[Tensor]:
        """Every rank's ``t``, in rank order (the same list on every rank)."""
        self.log.append(("all_gather", t.numel() * t.element_size()))
        parts = [torch.empty_like(t) for _ in range(self.world_size)]
        dist.all_gather(parts, t.contiguous(), group=self.group)
        return parts


def ring_bytes(log: Sequence[tuple[str, int]], world_size: int) -> float:
    """Bytes each rank sends for ``log``'s collectives under the ring algorithms (a model,
    not a measurement): an all-reduce of n bytes sends 2 (P - 1) / P n (a reduce-scatter,
    then an all-gather, of P - 1 chunks of n / P each); an all-gather of n bytes from each
    rank sends (P - 1) n (every other rank's part passes through)."""
    check_int("world_size", world_size, 1)
    p = world_size
    factor = {"all_reduce": 2 * (p - 1) / p, "all_gather": p - 1}
    if unknown := {name for name, _ in log} - set(factor):
        raise ValueError(f"log names collectives other than {sorted(factor)}: {unknown}")
    return float(sum(factor[name] * n for name, n in log))


# ---------------------------------------------------------------- features split ---------


def shard_widths(d: int, world_size: int) -> list[int]:
    """How many of ``d`` features (or tokens) each rank holds: as even as possible, the
    first ``d % P`` ranks one more. Every rank computes it, so the counts never travel."""
    check_int("world_size", world_size, 1)
    check_int("d", d, world_size)
    base, extra = divmod(d, world_size)
    return [base + (r < extra) for r in range(world_size)]


def shard_slice(d: int, rank: int, world_size: int) -> slice:
    """The features (or tokens) of ``rank``: a contiguous block (see :func:`shard_widths`)."""
    widths = shard_widths(d, world_size)
    check_int("rank", rank, 0, world_size - 1)
    start = sum(widths[:rank])
    return slice(start, start + widths[rank])


def chan_merge(n_a, mean_a, m2_a, n_b, mean_b, m2_b):
    """Merge the statistics of two disjoint sets of numbers (Chan, Golub and LeVeque).

    ``n`` numbers, their ``mean`` and ``M2``, the sum of squared deviations from the mean
    (the variance is ``M2 / n``). NumPy arrays, tensors or numbers, elementwise.

    Returns
    -------
    (n, mean, m2) of the union
    """
    n = n_a + n_b
    delta = mean_b - mean_a
    mean = mean_a + delta * (n_b / n)
    # Each half's M2 is about its own mean; the gap between the means adds the rest.
    m2 = m2_a + m2_b + delta * delta * (n_a * n_b / n)
    return n, mean, m2


def sharded_statistics(
    x: Tensor, widths: Sequence[int], comm: Collectives, method: str = "chan"
) -> tuple[Tensor, Tensor]:
    """The mean and biased variance of each token over all ``sum(widths)`` features, from
    this rank's shard of them.

    Parameters
    ----------
    x : (N, D_r) this rank's features of N tokens
    widths : every rank's D_r, in rank order
    comm : the collectives (their bytes are logged)
    method : "naive" one all-reduce of (sum x, sum x**2), (N, 2): var = E[x^2] - mu^2;
        "chan" one all-gather of each shard's (mean, M2), (N, 2), merged pairwise in rank
        order (all-reduce cannot do it: the merge is not a sum);
        "two_pass" all-reduce sum x (N, 1), then sum (x - mu)^2 (N, 1): accurate but two
        round trips

    Returns
    -------
    mu, var : (N, 1) each, the same on every rank
    """
    d = sum(widths)
    if method == "naive":
        s = comm.all_reduce(torch.stack([x.sum(-1), (x * x).sum(-1)], -1))  # (N, 2)
        mu = s[:, :1] / d
        # E[x^2] - mu^2 cancels when |mu| >> std; a negative result is clamped to 0, as
        # one-pass kernels do, so that the error shows up as an error, not a NaN.
        var = (s[:, 1:] / d - mu * mu).clamp_min(0)
        return mu, var
    if method == "chan":
        mean = x.mean(-1)  # (N,): this shard's own two-pass statistics, exact-ish
        m2 = ((x - mean[:, None]) ** 2).sum(-1)
        parts = comm.all_gather(torch.stack([mean, m2], -1))  # P x (N, 2)
        # The counts are the shard widths, known to every rank: they need not travel.
        n, mean, m2 = widths[0], parts[0][:, 0], parts[0][:, 1]
        for w, part in zip(widths[1:], parts[1:], strict=True):
            n, mean, m2 = chan_merge(n, mean, m2, w, part[:, 0], part[:, 1])
        return mean[:, None], (m2 / n)[:, None]
    if method == "two_pass":
        mu = comm.all_reduce(x.sum(-1, keepdim=True)) / d  # (N, 1)
        var = comm.all_reduce(((x - mu) ** 2).sum(-1, keepdim=True)) / d
        return mu, var
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


class ShardedLayerNorm(torch.autograd.Function):
    """Layer norm of tokens whose features are split across the ranks, and its backward.

    ``apply(x, gamma, beta, widths, comm, method, eps)`` with x (N, D_r), gamma and beta
    (D_r,) this rank's features. Forward: the statistics of :func:`sharded_statistics`,
    then every feature locally. Backward: ``dx = rstd (g - c2 - x_hat c1)`` with
    ``g = dy gamma``, ``c1`` the row mean of ``g x_hat`` and ``c2`` of ``g``, means over
    all D features: this shard holds only part of each sum, hence one all-reduce of the
    two partial sums. ``dgamma`` and ``dbeta`` sum over tokens, which every rank holds all
    of, so they stay local.
    """

    @staticmethod
    def forward(ctx, x, gamma, beta, widths, comm, method, eps):
        mu, var = sharded_statistics(x, widths, comm, method)
        rstd = torch.rsqrt(var + eps)  # (N, 1)
        x_hat = (x - mu) * rstd
        ctx.save_for_backward(x_hat, rstd, gamma)
        ctx.d, ctx.comm = sum(widths), comm
        return x_hat * gamma + beta

    @staticmethod
    def backward(ctx, dy):
        x_hat, rstd, gamma = ctx.saved_tensors
        g = dy * gamma  # dL/dx_hat, this shard's features
        # The two sums over the features, this shard's part of each: (N, 2).
        sums = torch.stack([g.sum(-1), (g * x_hat).sum(-1)], -1)
        ctx.comm.all_reduce(sums)  # now over all D features, on every rank
        c2 = sums[:, :1] / ctx.d  # mean of g
        c1 = sums[:, 1:] / ctx.d  # mean of g * x_hat
        dx = rstd * (g - c2 - x_hat * c1)
        dgamma = (dy * x_hat).sum(0)  # over the tokens: local to the shard
        dbeta = dy.sum(0)
        return dx, dgamma, dbeta, None, None, None, None


def sharded_layer_norm(
    x: Tensor,
    gamma: Tensor,
    beta: Tensor,
    widths: Sequence[int],
    comm: Collectives,
    method: str = "chan",
    eps: float = 1e-5,
) -> Tensor:
    """Layer norm of (N, D_r) shards of (N, D) tokens (see :class:`ShardedLayerNorm`)."""
    if x.ndim != 2 or gamma.shape != (x.shape[1],) or beta.shape != (x.shape[1],):
        raise ValueError(
            f"x must be (N, D_r) with gamma and beta (D_r,), got x {tuple(x.shape)}, "
            f"gamma {tuple(gamma.shape)}, beta {tuple(beta.shape)}"
        )
    check_eps(eps)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if len(widths) != comm.world_size or widths[dist.get_rank(comm.group)] != x.shape[1]:
        raise ValueError(  # the widths are the counts the statistics divide by
            f"widths must list every rank's D_r ({comm.world_size} of them), this rank's equal "
            f"to x.shape[1] = {x.shape[1]}, got {list(widths)}"
        )
    return ShardedLayerNorm.apply(x, gamma, beta, list(widths), comm, method, float(eps))


# ---------------------------------------------------------------- tokens split, replicas --


def all_reduce_grads(params: Sequence[Tensor], comm: Collectives) -> None:
    """Sum each parameter's ``.grad`` over the ranks, in place: under sequence
    parallelism each rank saw only its tokens, and a parameter's gradient is a sum over
    all of them."""
    for i, p in enumerate(params):
        if p.grad is None:
            raise ValueError(f"params[{i}] has no .grad: run the backward pass first")
        comm.all_reduce(p.grad)


def param_drift(t: Tensor, comm: Collectives) -> float:
    """How far a replicated tensor differs between the ranks: the largest difference
    between two ranks' copies of any element (exactly 0.0 when every rank holds the same
    bits; a mean over the ranks would add its own rounding)."""
    hi = comm.all_reduce(t.detach().clone(), op=dist.ReduceOp.MAX)
    lo = comm.all_reduce(t.detach().clone(), op=dist.ReduceOp.MIN)
    return float((hi - lo).max())


class _CopyToTensorParallel(torch.autograd.Function):
    """Megatron's f: identity forward; backward all-reduces the gradient, since each rank's
    slice of the next layer sends back only its part of it."""

    @staticmethod
    def forward(ctx, x, comm):
        ctx.comm = comm
        return x.view_as(x)

    @staticmethod
    def backward(ctx, dy):
        return ctx.comm.all_reduce(dy.clone()), None


class _ReduceFromTensorParallel(torch.autograd.Function):
    """Megatron's g: forward all-reduces the partial sums of a row-parallel layer;
    backward passes the gradient on unchanged (every rank needs all of it)."""

    @staticmethod
    def forward(ctx, z, comm):
        return comm.all_reduce(z.clone())

    @staticmethod
    def backward(ctx, dz):
        return dz, None


def tensor_parallel_mlp(x, gamma, beta, w1, b1, w2, b2, comm: Collectives, eps: float = 1e-5):
    """A pre-norm residual MLP block, ``x + gelu(LN(x) W1 + b1) W2 + b2``, split over the
    ranks as in Megatron-LM: W1 by columns, W2 by rows, layer norm replicated.

    Parameters
    ----------
    x : (N, D) every rank the same tokens
    gamma, beta : (D,) the layer norm's parameters, replicated on every rank
    w1 : (D, F_r) and b1 : (F_r,) this rank's columns of the first layer
    w2 : (F_r, D) this rank's rows of the second layer; b2 : (D,) replicated

    Returns
    -------
    (N, D), the same on every rank: two all-reduces per block, one in each direction.
    """
    h = torch_ln.layer_norm(x, (x.shape[-1],), gamma, beta, eps)  # every rank the same
    h = _CopyToTensorParallel.apply(h, comm)
    a = torch.nn.functional.gelu(h @ w1 + b1)  # (N, F_r): column-parallel, no communication
    z = _ReduceFromTensorParallel.apply(a @ w2, comm)  # row-parallel partial sums, summed
    return x + z + b2


# ---------------------------------------------------------------- what the ranks run -----


def _leaf(a, dtype=torch.float64) -> Tensor:
    return torch.tensor(np.asarray(a), dtype=dtype).requires_grad_(True)


def _backward(y: Tensor, dy) -> None:
    """Backpropagate the gradient ``dy`` of ``y``, as the scalar ``sum(y * dy)`` (the same
    gradients; ``y.backward(dy)`` would import sympy on its first call, seconds per rank)."""
    (y * torch.as_tensor(dy, dtype=y.dtype)).sum().backward()


def sharded_ln_rank(rank, world_size, x, gamma, beta, dy, method="chan", eps=1e-5) -> dict:
    """One rank of a hidden-sharded layer norm, forward and backward, in float64.

    ``x`` (N, D), ``gamma``, ``beta`` (D,) and ``dy`` (N, D) are the whole arrays (every
    rank gets them and keeps its features). Returns this rank's ``y``, ``dx``, ``dgamma``,
    ``dbeta`` (its features only), its ``features`` slice and the collectives' ``log``.
    """
    cols = shard_slice(np.shape(x)[1], rank, world_size)
    widths = shard_widths(np.shape(x)[1], world_size)
    comm = Collectives()
    xs, g, b = _leaf(x[:, cols]), _leaf(gamma[cols]), _leaf(beta[cols])
    y = sharded_layer_norm(xs, g, b, widths, comm, method, eps)
    _backward(y, dy[:, cols])
    return {"y": y, "dx": xs.grad, "dgamma": g.grad, "dbeta": b.grad, "log": comm.log,
            "features": (cols.start, cols.stop)}  # fmt: skip


def sequence_parallel_rank(rank, world_size, x, gamma, beta, dy, eps=1e-5, lr=0.1) -> dict:
    """One rank of a sequence-parallel layer norm: its tokens, all features, float64.

    Returns this rank's ``y`` and ``dx`` (its tokens), gamma's gradient before
    (``dgamma_partial``) and after the all-reduce (``dgamma``, ``dbeta``), the statistics'
    collectives' ``log`` (none) and the gap between the ranks' gammas after one SGD step
    of size ``lr`` with the partial gradients (``drift_partial``) and with the summed ones
    (``drift_synced``).
    """
    rows = shard_slice(np.shape(x)[0], rank, world_size)
    comm = Collectives()
    xs, g, b = _leaf(x[rows]), _leaf(gamma), _leaf(beta)
    y = torch_ln.layer_norm(xs, (xs.shape[1],), g, b, eps)  # no collective at all
    forward_log = list(comm.log)
    _backward(y, dy[rows])
    partial = g.grad.clone()
    all_reduce_grads([g, b], comm)
    with torch.no_grad():
        drift_partial = param_drift(g - lr * partial, comm)
        drift_synced = param_drift(g - lr * g.grad, comm)
    return {"y": y, "dx": xs.grad, "dgamma_partial": partial, "dgamma": g.grad,
            "dbeta": b.grad, "forward_log": forward_log, "tokens": (rows.start, rows.stop),
            "drift_partial": drift_partial, "drift_synced": drift_synced}  # fmt: skip


def tensor_parallel_rank(rank, world_size, x, gamma, beta, w1, b1, w2, b2, dy, eps=1e-5,
                         perturb=0.0) -> dict:  # fmt: skip
    """One rank of :func:`tensor_parallel_mlp` in float64, forward and backward.

    Whole arrays in (``w1`` (D, F), ``b1`` (F,), ``w2`` (F, D)); the rank keeps its columns
    of W1 and rows of W2. ``perturb``: added to gamma on the last rank only (a replica that
    has drifted). Returns ``out``, ``dx``, the LN's ``dgamma`` and ``dbeta``, this rank's
    ``dw1`` and ``dw2``, ``hidden`` (its F slice), the ``drift`` of gamma that
    :func:`param_drift` measures and that of the LN's output (``h_drift``).
    """
    comm = Collectives()
    cols = shard_slice(np.shape(w1)[1], rank, world_size)
    gamma = np.asarray(gamma) + (perturb if rank == world_size - 1 else 0.0)
    xs, g, b = _leaf(x), _leaf(gamma), _leaf(beta)
    w1s, b1s, w2s, b2s = _leaf(w1[:, cols]), _leaf(b1[cols]), _leaf(w2[cols]), _leaf(b2)
    out = tensor_parallel_mlp(xs, g, b, w1s, b1s, w2s, b2s, comm, eps)
    _backward(out, dy)
    with torch.no_grad():
        h = torch_ln.layer_norm(xs, (xs.shape[1],), g, b, eps)
        drift, h_drift = param_drift(g, comm), param_drift(h, comm)
    return {"out": out, "dx": xs.grad, "dgamma": g.grad, "dbeta": b.grad, "dw1": w1s.grad,
            "dw2": w2s.grad, "hidden": (cols.start, cols.stop), "drift": drift,
            "h_drift": h_drift}  # fmt: skip
