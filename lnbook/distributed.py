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

:func:`lnbook.process_group.launch` runs a function on ``P`` fresh processes joined in a gloo
process group; the ``*_rank`` functions are what the book and the tests run there. Every
collective goes through :class:`Collectives`, which logs the bytes of the tensors it is given.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._optional import torch_missing

try:
    import torch
    import torch.distributed as dist
    from torch import Tensor
except ImportError as e:  # the browser edition: say where this module runs instead
    raise torch_missing("lnbook.distributed") from e

import numpy as np

from . import torch_ln
from ._validate import check_eps, check_int, check_ints

METHODS = ("naive", "chan", "two_pass")


# ---------------------------------------------------------------- argument checks --------


def _check_tensor(name: str, t, shape: tuple, meaning: str) -> None:
    """``t`` a tensor of ``shape`` (None: any size on that axis), ``meaning`` its shape in
    symbols, e.g. ``"(N, D)"``: a wrong shape here would broadcast, or fail deep inside a
    collective on one rank while the others wait."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor {meaning}, got {type(t).__name__}")
    if t.ndim != len(shape) or any(
        n is not None and n != m for n, m in zip(shape, t.shape, strict=True)
    ):
        want = ", ".join("any" if n is None else str(n) for n in shape) + "," * (len(shape) == 1)
        raise ValueError(f"{name} must be {meaning} = ({want}), got {tuple(t.shape)}")


def _check_comm(comm) -> None:
    if not isinstance(comm, Collectives):
        raise TypeError(f"comm must be a Collectives, got {type(comm).__name__}")


def _check_shard(x, widths, comm, method: str) -> None:
    """The arguments of :func:`sharded_statistics`: an (N, D_r) shard, every rank's width in
    rank order (this rank's that of x: the widths are the counts the statistics divide by),
    the collectives and a method of :data:`METHODS`."""
    _check_tensor("x", x, (None, None), "(N, D_r)")
    _check_comm(comm)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    widths = check_ints("widths", widths, 1)  # every rank's D_r
    if len(widths) != comm.world_size or widths[dist.get_rank(comm.group)] != x.shape[1]:
        raise ValueError(
            f"widths must list every rank's D_r ({comm.world_size} of them), this rank's equal "
            f"to x.shape[1] = {x.shape[1]}, got {widths}"
        )


def _check_summaries(named: dict) -> None:
    """:func:`chan_merge`'s two summaries: numbers, arrays or tensors (not both), the means
    and M2s of one shape, each count a number or one per mean, counts >= 0 (an empty set
    merges as nothing) adding up to >= 1, and M2s >= 0."""
    for name, v in named.items():
        if isinstance(v, bool) or not isinstance(v, int | float | np.number | np.ndarray | Tensor):
            raise TypeError(
                f"{name} must be a number, a NumPy array or a tensor, got {type(v).__name__}"
            )
    kinds = {type(v).__name__ for v in named.values() if isinstance(v, np.ndarray | Tensor)}
    if len(kinds) > 1:
        raise TypeError(f"pass NumPy arrays or tensors, not both: got {sorted(kinds)}")
    shapes = {name: tuple(np.shape(v)) for name, v in named.items()}
    shape = shapes["mean_a"]
    if any(shapes[k] != shape for k in ("m2_a", "mean_b", "m2_b")):
        means = {k: shapes[k] for k in ("mean_a", "m2_a", "mean_b", "m2_b")}
        raise ValueError(f"mean_a, m2_a, mean_b and m2_b must have one shape, got {means}")
    for name in ("n_a", "n_b"):
        if shapes[name] not in ((), shape):
            raise ValueError(
                f"{name} must be one count or one per mean, shape () or {shape}, got {shapes[name]}"
            )
    # An M2 is a sum of squares: a negative one is a variance (or a bug) passed in its place.
    for name in ("n_a", "n_b"):
        if not _smallest(named[name]) >= 0:  # NaN fails too
            raise ValueError(f"{name} must be a count >= 0, got {_said(named[name])}")
    if not _smallest(named["n_a"] + named["n_b"]) >= 1:  # the union of no numbers has no mean
        raise ValueError(
            f"n_a + n_b must be >= 1, got n_a {_said(named['n_a'])}, n_b {_said(named['n_b'])}"
        )
    # A negative M2 is a variance (or a bug) passed in its place. NaN or inf is let through:
    # it is how float16 statistics overflow, which chapter 16 measures rather than refuses.
    for name in ("m2_a", "m2_b"):
        v = named[name]
        if bool((v < 0).any() if np.ndim(v) else v < 0):
            raise ValueError(f"{name} must be a sum of squared deviations, >= 0, got {_said(v)}")


def _smallest(v) -> float:
    v = v.detach() if isinstance(v, Tensor) else v
    return float(v.min()) if np.ndim(v) else float(v)


def _said(v) -> str:
    """A number as itself, an array by its smallest value (a message, not a dump)."""
    return f"{_smallest(v):g} at the smallest" if np.ndim(v) else f"{_smallest(v):g}"


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
    _check_summaries(dict(n_a=n_a, mean_a=mean_a, m2_a=m2_a, n_b=n_b, mean_b=mean_b, m2_b=m2_b))
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
    _check_shard(x, widths, comm, method)
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
    _check_tensor("x", x, (None, None), "(N, D_r)")
    _check_tensor("gamma", gamma, (x.shape[1],), "(D_r,)")
    _check_tensor("beta", beta, (x.shape[1],), "(D_r,)")
    check_eps(eps)
    _check_shard(x, widths, comm, method)
    return ShardedLayerNorm.apply(x, gamma, beta, list(widths), comm, method, float(eps))


# ---------------------------------------------------------------- tokens split, replicas --


def all_reduce_grads(params: Sequence[Tensor], comm: Collectives) -> None:
    """Sum each parameter's ``.grad`` over the ranks, in place: under sequence
    parallelism each rank saw only its tokens, and a parameter's gradient is a sum over
    all of them."""
    _check_comm(comm)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"params[{i}] must be a torch.Tensor, got {type(p).__name__}")
        if p.grad is None:
            raise ValueError(f"params[{i}] has no .grad: run the backward pass first")
        comm.all_reduce(p.grad)


def param_drift(t: Tensor, comm: Collectives) -> float:
    """How far a replicated tensor differs between the ranks: the largest difference
    between two ranks' copies of any element (exactly 0.0 when every rank holds the same
    bits; a mean over the ranks would add its own rounding)."""
    _check_comm(comm)
    if not isinstance(t, Tensor):
        raise TypeError(f"t must be a torch.Tensor, got {type(t).__name__}")
    hi = comm.all_reduce(t.detach().clone(), op=dist.ReduceOp.MAX)
    lo = comm.all_reduce(t.detach().clone(), op=dist.ReduceOp.MIN)
    return float((hi - lo).max())


def _check_block(x, gamma, beta, w1, b1, w2, b2, comm, eps) -> None:
    """:func:`tensor_parallel_mlp`'s shapes: a wrong one would broadcast on one rank and
    leave the others waiting in the all-reduce."""
    _check_tensor("x", x, (None, None), "(N, D)")
    d = x.shape[1]
    _check_tensor("w1", w1, (d, None), "(D, F_r)")
    f = w1.shape[1]
    expected = {"gamma": ((d,), "(D,)"), "beta": ((d,), "(D,)"), "b1": ((f,), "(F_r,)"),
                "w2": ((f, d), "(F_r, D)"), "b2": ((d,), "(D,)")}  # fmt: skip
    given = {"gamma": gamma, "beta": beta, "b1": b1, "w2": w2, "b2": b2}
    for name, (shape, meaning) in expected.items():
        _check_tensor(name, given[name], shape, meaning)
    _check_comm(comm)
    check_eps(eps)


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
    _check_block(x, gamma, beta, w1, b1, w2, b2, comm, eps)
    h = torch_ln.layer_norm(x, (x.shape[-1],), gamma, beta, eps)  # every rank the same
    h = _CopyToTensorParallel.apply(h, comm)
    a = torch.nn.functional.gelu(h @ w1 + b1)  # (N, F_r): column-parallel, no communication
    z = _ReduceFromTensorParallel.apply(a @ w2, comm)  # row-parallel partial sums, summed
    return x + z + b2


# ---------------------------------------------------------------- what the ranks run -----


# The whole arrays the rank functions are given, by their axes: N tokens, D features, F the
# hidden units of the MLP block.
_WHOLE = {"x": "ND", "dy": "ND", "gamma": "D", "beta": "D",
          "w1": "DF", "b1": "F", "w2": "FD", "b2": "D"}  # fmt: skip


def _check_whole(**arrays) -> None:
    """Each of ``arrays`` (names of :data:`_WHOLE`) of its shape, before a rank slices it:
    one rank's IndexError would leave the others waiting in a collective."""
    shapes = {name: tuple(np.shape(a)) for name, a in arrays.items()}
    for name in ("x", "w1"):  # the two that give the sizes
        if name in shapes and len(shapes[name]) != 2:
            raise ValueError(f"{name} must be ({', '.join(_WHOLE[name])}), got {shapes[name]}")
    sizes = dict(zip("ND", shapes["x"], strict=True))
    sizes["F"] = shapes["w1"][1] if "w1" in shapes else None
    for name, axes in _WHOLE.items():
        want = tuple(sizes[a] for a in axes)
        if name in shapes and shapes[name] != want:
            said = f"({', '.join(axes)}{',' * (len(axes) == 1)})"
            raise ValueError(f"{name} must be {said} = {want}, got {shapes[name]}")


def _leaf(a, dtype=torch.float64) -> Tensor:
    return torch.tensor(np.asarray(a), dtype=dtype).requires_grad_(True)


def _backward(y: Tensor, dy) -> None:
    """Backpropagate the gradient ``dy`` of ``y``, as the scalar ``sum(y * dy)`` (the same
    gradients; ``y.backward(dy)`` would import sympy on its first call, seconds per rank)."""
    (y * torch.as_tensor(dy, dtype=y.dtype)).sum().backward()  # dy: checked by _check_whole


def sharded_ln_rank(rank, world_size, x, gamma, beta, dy, method="chan", eps=1e-5) -> dict:
    """One rank of a hidden-sharded layer norm, forward and backward, in float64.

    ``x`` (N, D), ``gamma``, ``beta`` (D,) and ``dy`` (N, D) are the whole arrays (every
    rank gets them and keeps its features). Returns this rank's ``y``, ``dx``, ``dgamma``,
    ``dbeta`` (its features only), its ``features`` slice and the collectives' ``log``.
    """
    _check_whole(x=x, gamma=gamma, beta=beta, dy=dy)
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
    _check_whole(x=x, gamma=gamma, beta=beta, dy=dy)
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
    _check_whole(x=x, gamma=gamma, beta=beta, w1=w1, b1=b1, w2=w2, b2=b2, dy=dy)
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
