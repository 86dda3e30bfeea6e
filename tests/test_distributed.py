"""lnbook.distributed on real gloo process groups, against one process.

Starting processes is the slow part, so one module-scoped fixture per world size runs every
case in one process group (``launch_all``), and the tests read its results. The oracles are
``torch.nn.functional.layer_norm`` with autograd and ``lnbook.torch_ln`` in this process, and
an MLP block written out here; the error reporting has tests of its own (a failing rank, a
rank that dies, a rank that hangs), each a short launch of 2 ranks.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F

from lnbook import distributed, process_group, torch_ln

N, D, HIDDEN, EPS, PERTURB = 5, 10, 14, 1e-5, 1e-3  # D = 10: uneven shards on 3 ranks


def _inputs(seed: int = 7) -> dict:
    g = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=1.0, shift=0.0):
        return (shift + scale * torch.randn(*shape, generator=g, dtype=torch.float64)).numpy()

    return {
        "x": rand(N, D, scale=2.0, shift=3.0),
        "gamma": rand(D, scale=0.3, shift=1.0),
        "beta": rand(D, scale=0.3),
        "dy": rand(N, D),
        "w1": rand(D, HIDDEN, scale=0.3),
        "b1": rand(HIDDEN, scale=0.1),
        "w2": rand(HIDDEN, D, scale=0.3),
        "b2": rand(D, scale=0.1),
    }


INPUTS = _inputs()
LN_ARGS = {k: INPUTS[k] for k in ("x", "gamma", "beta", "dy")}


@pytest.fixture(scope="module", params=[2, 3], ids=lambda p: f"{p}ranks")
def runs(request):
    p = request.param
    calls = [(distributed.sharded_ln_rank, {**LN_ARGS, "method": m}) for m in distributed.METHODS]
    calls += [
        (distributed.sequence_parallel_rank, LN_ARGS),
        (distributed.tensor_parallel_rank, INPUTS),
        (distributed.tensor_parallel_rank, {**INPUTS, "perturb": PERTURB}),
        (widths_refused, {}),
    ]
    start = time.perf_counter()
    out = process_group.launch_all(calls, p, timeout_s=60)
    assert time.perf_counter() - start < 30  # seconds, not minutes
    named = dict(zip(distributed.METHODS, out, strict=False))
    named.update(
        zip(("seq", "tp", "drifted", "widths"), out[len(distributed.METHODS) :], strict=True)
    )
    return p, named


def widths_refused(rank, world_size) -> list[str]:
    """In a real group: the messages of widths that do not fit it (the check needs the
    group's size and this rank's number)."""
    x, comm, said = torch.zeros(2, 3), distributed.Collectives(), []
    for widths in ([3] * (world_size + 1), [4] * world_size):
        try:
            distributed.sharded_statistics(x, widths, comm)
        except ValueError as e:
            said.append(str(e))
    return said


def _leaf(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def _one_process_ln(norm) -> dict:
    x, gamma, beta = _leaf(LN_ARGS["x"]), _leaf(LN_ARGS["gamma"]), _leaf(LN_ARGS["beta"])
    y = norm(x, (D,), gamma, beta, EPS)
    y.backward(torch.tensor(LN_ARGS["dy"]))
    return {"y": y.detach().numpy(), "dx": x.grad.numpy(), "dgamma": gamma.grad.numpy(),
            "dbeta": beta.grad.numpy()}  # fmt: skip


def _one_process_block(gamma=None) -> dict:
    x, w1, w2 = _leaf(INPUTS["x"]), _leaf(INPUTS["w1"]), _leaf(INPUTS["w2"])
    g, b = _leaf(INPUTS["gamma"] if gamma is None else gamma), _leaf(INPUTS["beta"])
    h = F.layer_norm(x, (D,), g, b, EPS)
    out = x + F.gelu(h @ w1 + torch.tensor(INPUTS["b1"])) @ w2 + torch.tensor(INPUTS["b2"])
    out.backward(torch.tensor(INPUTS["dy"]))
    return {"out": out.detach().numpy(), "dx": x.grad.numpy(), "dgamma": g.grad.numpy(),
            "dw1": w1.grad.numpy(), "dw2": w2.grad.numpy()}  # fmt: skip


@pytest.mark.parametrize("method", distributed.METHODS)
@pytest.mark.parametrize("oracle", [F.layer_norm, torch_ln.layer_norm], ids=["torch", "lnbook"])
def test_sharded_forward_and_backward_match_one_process(runs, method, oracle):
    p, named = runs
    ranks, ref = named[method], _one_process_ln(oracle)
    # Each rank held a contiguous block of features; together they cover all D, in order.
    assert [r["features"] for r in ranks][0][0] == 0 and ranks[-1]["features"][1] == D
    for key in ("y", "dx", "dgamma", "dbeta"):
        whole = np.concatenate([r[key] for r in ranks], axis=-1)
        np.testing.assert_allclose(whole, ref[key], rtol=0, atol=1e-12, err_msg=key)


def test_sharded_collectives_carry_two_numbers_per_token(runs):
    p, named = runs
    value = 8  # float64
    # Forward: naive and Chan one collective of (N, 2), two-pass two of (N, 1); the
    # backward: one all-reduce of (N, 2), the sums of g and g * x_hat.
    expected = {
        "naive": [("all_reduce", 2 * N * value)],
        "chan": [("all_gather", 2 * N * value)],
        "two_pass": [("all_reduce", N * value), ("all_reduce", N * value)],
    }
    for method, forward in expected.items():
        for r in named[method]:
            assert r["log"] == forward + [("all_reduce", 2 * N * value)], method


def test_ring_bytes_and_shard_slice_refuse_what_they_cannot_count():
    with pytest.raises(ValueError, match="world_size"):
        distributed.ring_bytes([("all_reduce", 8)], 0)
    with pytest.raises(ValueError, match="broadcast"):
        distributed.ring_bytes([("broadcast", 8)], 2)
    with pytest.raises(ValueError, match="rank"):
        distributed.shard_slice(12, -1, 3)  # not the last rank's slice
    with pytest.raises(ValueError, match="rank"):
        distributed.shard_slice(12, 3, 3)


def test_ring_bytes_follow_the_ring_model():
    log = [("all_reduce", 80), ("all_gather", 40)]
    for p in (2, 3, 4):
        assert distributed.ring_bytes(log, p) == pytest.approx(2 * (p - 1) / p * 80 + (p - 1) * 40)


def test_sequence_parallel_needs_the_gradient_all_reduce(runs):
    p, named = runs
    ranks, ref = named["seq"], _one_process_ln(F.layer_norm)
    assert all(r["forward_log"] == [] for r in ranks)  # the statistics are local
    np.testing.assert_allclose(np.concatenate([r["y"] for r in ranks]), ref["y"], atol=1e-12)
    np.testing.assert_allclose(np.concatenate([r["dx"] for r in ranks]), ref["dx"], atol=1e-12)
    for r in ranks:  # after the all-reduce: every rank the full gradient
        np.testing.assert_allclose(r["dgamma"], ref["dgamma"], atol=1e-12)
        np.testing.assert_allclose(r["dbeta"], ref["dbeta"], atol=1e-12)
    # Before it: partial sums, which add up to the full gradient.
    partials = np.array([r["dgamma_partial"] for r in ranks])
    assert all(np.abs(q - ref["dgamma"]).max() > 1e-3 for q in partials)
    np.testing.assert_allclose(partials.sum(axis=0), ref["dgamma"], atol=1e-12)
    # An SGD step with the partial gradients leaves the ranks' gammas apart; with the
    # summed ones, not at all.
    assert ranks[0]["drift_partial"] > 1e-3 and ranks[0]["drift_synced"] == 0.0


def test_tensor_parallel_block_matches_one_process(runs):
    p, named = runs
    ranks, ref = named["tp"], _one_process_block()
    for r in ranks:
        for key in ("out", "dx", "dgamma"):
            np.testing.assert_allclose(r[key], ref[key], atol=1e-12, err_msg=key)
    np.testing.assert_allclose(np.concatenate([r["dw1"] for r in ranks], 1), ref["dw1"], atol=1e-12)
    np.testing.assert_allclose(np.concatenate([r["dw2"] for r in ranks], 0), ref["dw2"], atol=1e-12)
    assert all(r["drift"] == 0.0 and r["h_drift"] == 0.0 for r in ranks)


def test_drifted_replica_is_caught(runs):
    p, named = runs
    ranks = named["drifted"]
    # One rank's gamma moved by PERTURB: the largest gap between two ranks' copies, read
    # the same on every rank.
    for r in ranks:
        assert r["drift"] == pytest.approx(PERTURB, rel=1e-9)
        assert r["h_drift"] > 1e-4  # the ranks' layer-norm outputs differ
    # The output is neither model's: not the one with gamma, not the one with gamma moved.
    for gamma in (INPUTS["gamma"], INPUTS["gamma"] + PERTURB):
        assert np.abs(ranks[0]["out"] - _one_process_block(gamma)["out"]).max() > 1e-5
    # And nothing pulls the replicas back together: their gamma gradients are identical.
    assert all(np.array_equal(r["dgamma"], ranks[0]["dgamma"]) for r in ranks)


def test_chan_merge_matches_numpy_on_any_split():
    rng = np.random.default_rng(3)
    for _ in range(20):
        values = rng.normal(rng.uniform(-50, 50), rng.uniform(0.1, 5), size=rng.integers(2, 30))
        cut = rng.integers(1, len(values))
        a, b = values[:cut], values[cut:]

        def triple(v):
            return len(v), v.mean(), ((v - v.mean()) ** 2).sum()

        n, mean, m2 = distributed.chan_merge(*triple(a), *triple(b))
        assert n == len(values)
        assert mean == pytest.approx(values.mean(), rel=1e-12, abs=1e-12)
        assert m2 / n == pytest.approx(values.var(), rel=1e-10)


def test_widths_that_do_not_fit_the_group_are_refused_on_every_rank(runs):
    p, named = runs
    for said in named["widths"]:  # one message per wrong widths, on each rank
        assert len(said) == 2, said
        assert all(f"every rank's D_r ({p} of them)" in m and "x.shape[1] = 3" in m for m in said)


def test_chan_merge_refuses_summaries_it_cannot_merge():
    one = np.ones(3)
    with pytest.raises(ValueError, match=r"one shape, got .*'m2_b': \(2,\)"):
        distributed.chan_merge(2, one, one, 3, one, np.ones(2))
    with pytest.raises(
        ValueError, match=r"n_a must be one count or one per mean, shape \(\) or \(3,\)"
    ):
        distributed.chan_merge(np.ones(2), one, one, 3, one, one)
    with pytest.raises(ValueError, match="m2_a must be a sum of squared deviations, >= 0, got -1"):
        distributed.chan_merge(2, 0.0, -1.0, 3, 0.0, 1.0)  # a variance would not be negative
    # NaN or inf is how float16 statistics overflow: merged, not refused (chapter 16
    # measures that error).
    assert np.isnan(distributed.chan_merge(2, 0.0, 1.0, 3, 0.0, float("nan"))[2])
    with pytest.raises(ValueError, match="n_b must be a count >= 0, got -1"):
        distributed.chan_merge(2, 0.0, 1.0, -1, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"n_a \+ n_b must be >= 1"):
        distributed.chan_merge(0, 0.0, 0.0, 0, 0.0, 0.0)
    with pytest.raises(TypeError, match=r"NumPy arrays or tensors, not both"):
        distributed.chan_merge(2, torch.ones(3), torch.ones(3), 3, one, one)
    with pytest.raises(TypeError, match="mean_b must be a number, a NumPy array or a tensor"):
        distributed.chan_merge(2, 0.0, 1.0, 3, [0.0], 1.0)
    # An empty side merges as nothing: a running merge may start from (0, 0, 0).
    assert distributed.chan_merge(0, 0.0, 0.0, 3, 2.0, 5.0) == (3, 2.0, 5.0)


def test_shards_cover_every_feature_once():
    for d, p in ((10, 3), (12, 4), (7, 7), (5, 2)):
        widths = distributed.shard_widths(d, p)
        assert sum(widths) == d and max(widths) - min(widths) <= 1
        covered = np.concatenate([np.arange(d)[distributed.shard_slice(d, r, p)] for r in range(p)])
        assert covered.tolist() == list(range(d))
    with pytest.raises(ValueError, match="d"):
        distributed.shard_widths(2, 3)


def test_sharded_layer_norm_refuses_bad_arguments():
    comm = distributed.Collectives()  # never used: the checks come first
    x, w = torch.zeros(3, 4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"gamma must be \(D_r,\) = \(4,\), got \(5,\)"):
        distributed.sharded_layer_norm(x, torch.ones(5), w, [4, 4], comm)
    with pytest.raises(TypeError, match=r"beta must be a torch.Tensor \(D_r,\), got ndarray"):
        distributed.sharded_layer_norm(x, w, np.ones(4), [4, 4], comm)
    with pytest.raises(ValueError, match=r"x must be \(N, D_r\) = \(any, any\), got \(4,\)"):
        distributed.sharded_statistics(w, [4, 4], comm)
    with pytest.raises(TypeError, match="comm must be a Collectives, got NoneType"):
        distributed.sharded_statistics(x, [4, 4], None)
    with pytest.raises(TypeError, match="widths must be a non-empty sequence of ints >= 1"):
        distributed.sharded_statistics(x, [4.0, 4.0], comm)
    with pytest.raises(ValueError, match="method"):
        distributed.sharded_layer_norm(x, w, w, [4, 4], comm, method="welford")
    with pytest.raises(ValueError, match="world_size"):
        process_group.launch(distributed.sharded_ln_rank, 0)


def test_tensor_parallel_block_and_replica_helpers_refuse_bad_arguments():
    comm = distributed.Collectives()  # never used: the checks come first
    a = {k: torch.tensor(v) for k, v in INPUTS.items()}
    block = [a[k] for k in ("x", "gamma", "beta", "w1", "b1", "w2", "b2")]
    with pytest.raises(ValueError, match=r"w2 must be \(F_r, D\) = \(14, 10\), got \(10, 14\)"):
        distributed.tensor_parallel_mlp(*block[:5], a["w2"].T, a["b2"], comm)
    with pytest.raises(ValueError, match=r"b1 must be \(F_r,\) = \(14,\), got \(10,\)"):
        distributed.tensor_parallel_mlp(*block[:4], a["b2"], *block[5:], comm)
    with pytest.raises(TypeError, match=r"x must be a torch.Tensor \(N, D\), got ndarray"):
        distributed.tensor_parallel_mlp(INPUTS["x"], *block[1:], comm)
    with pytest.raises(TypeError, match="comm must be a Collectives"):
        distributed.tensor_parallel_mlp(*block, None)
    with pytest.raises(ValueError, match="eps"):
        distributed.tensor_parallel_mlp(*block, comm, eps=-1.0)
    with pytest.raises(TypeError, match="t must be a torch.Tensor"):
        distributed.param_drift(INPUTS["gamma"], comm)
    with pytest.raises(TypeError, match=r"params\[0\] must be a torch.Tensor, got ndarray"):
        distributed.all_reduce_grads([INPUTS["beta"]], comm)
    with pytest.raises(TypeError, match="comm must be a Collectives"):
        distributed.all_reduce_grads([a["gamma"]], "gloo")


@pytest.mark.parametrize(
    "rank_fn, wrong, said",
    [
        (distributed.sharded_ln_rank, {"x": INPUTS["x"][0]}, r"x must be \(N, D\), got \(10,\)"),
        (distributed.sequence_parallel_rank, {"dy": INPUTS["dy"][:1]},
         r"dy must be \(N, D\) = \(5, 10\), got \(1, 10\)"),
        (distributed.tensor_parallel_rank, {"w1": INPUTS["w1"][0]},
         r"w1 must be \(D, F\), got \(14,\)"),
        (distributed.tensor_parallel_rank, {"b2": INPUTS["b1"]},
         r"b2 must be \(D,\) = \(10,\), got \(14,\)"),
    ],
)  # fmt: skip
def test_rank_functions_check_the_whole_arrays_before_any_collective(rank_fn, wrong, said):
    # Outside a group: the check comes before the first collective, so no rank is left
    # waiting on one that failed while slicing.
    args = INPUTS if rank_fn is distributed.tensor_parallel_rank else LN_ARGS
    with pytest.raises(ValueError, match=said):
        rank_fn(0, 2, **{**args, **wrong})


# ---------------------------------------------------------------- errors come back -------


def fails_on_rank_1(rank, world_size):
    """Rank 1 raises while rank 0 waits for it in an all-reduce."""
    if rank == 1:
        raise ValueError("rank 1 gives up")
    dist.all_reduce(torch.ones(1))
    return rank


def dies_on_rank_1(rank, world_size):
    if rank == 1:
        os._exit(3)
    dist.all_reduce(torch.ones(1))


def hangs_on_rank_1(rank, world_size):
    if rank == 1:
        time.sleep(60)
    return rank


def test_a_failing_rank_is_reported_with_its_traceback_not_a_hang():
    start = time.perf_counter()
    with pytest.raises(process_group.RankError) as e:
        process_group.launch(fails_on_rank_1, 2, timeout_s=30)
    assert time.perf_counter() - start < 15  # rank 0, stuck in its all-reduce, was stopped
    message = str(e.value)
    assert message.startswith("rank 1 of 2 failed")
    assert "ValueError: rank 1 gives up" in message and "fails_on_rank_1" in message


def test_a_rank_that_dies_is_reported():
    with pytest.raises(process_group.RankError, match=r"rank 1 of 2 died \(exit code 3\)"):
        process_group.launch(dies_on_rank_1, 2, timeout_s=30)


def test_a_rank_that_hangs_times_out():
    start = time.perf_counter()
    with pytest.raises(TimeoutError, match=r"ranks \[1\] of 2 did not finish"):
        process_group.launch(hangs_on_rank_1, 2, timeout_s=1.5)
    assert time.perf_counter() - start < 10


def test_a_function_of_main_is_refused_before_any_process_starts():
    def in_a_notebook(rank, world_size):
        return rank

    in_a_notebook.__module__ = "__main__"
    with pytest.raises(TypeError, match="defined in __main__"):
        process_group.launch(in_a_notebook, 2)


def test_chapter_experiments_refuse_bad_arguments_before_starting_processes():
    from lnbook.topics.distributed import experiments

    with pytest.raises(ValueError, match=r"hidden size must be >= world size 4"):
        experiments.accuracy_grid((4,), (2,))
    with pytest.raises(TypeError, match=r"d_values must be .* ints, e\.g\. \(64,\), got int 64"):
        experiments.accuracy_grid(d_values=64)
    with pytest.raises(TypeError, match=r"seeds must be .* ints >= 0, e\.g\. \(0,\), got int 0"):
        experiments.accuracy_grid(seeds=0)
    with pytest.raises(TypeError, match="dtypes must be a non-empty sequence of dtype names"):
        experiments.accuracy_grid(dtypes="float32")
    with pytest.raises(ValueError, match="world_sizes must be a non-empty sequence"):
        experiments.agreement(world_sizes=())
    with pytest.raises(TypeError, match=r"seeds must be .* e\.g\. \(0,\), got int 0"):
        experiments.agreement(seeds=0)
    with pytest.raises(ValueError, match="dtype"):
        experiments.accuracy_sweep(dtype="int8")
    with pytest.raises(ValueError, match="world_size"):
        experiments.ownership(n_tokens=4, d=4, world_size=0)


def test_accuracy_grid_checks_every_dtype_before_starting_processes(monkeypatch):
    from lnbook.topics.distributed import experiments

    def started(*args, **kwargs):
        raise AssertionError("started")

    monkeypatch.setattr(process_group, "launch", started)
    # The typo is the second dtype: refused before the first process group starts.
    with pytest.raises(
        ValueError,
        match=r"dtypes must be a non-empty sequence of dtype names, each one of \('float16', "
        r"'bfloat16', 'float32', 'float64'\), got \['float32', 'float46'\]: 'float46' is not",
    ):
        experiments.accuracy_grid((2,), dtypes=("float32", "float46"))
    with pytest.raises(AssertionError, match="started"):  # the dtypes accuracy_sweep takes
        experiments.accuracy_grid((2,), dtypes=experiments.FLOAT_DTYPES)
