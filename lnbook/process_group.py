"""Run a function on P fresh processes joined in a ``torch.distributed`` process group
(gloo, CPU), and get back what each returned, or the first failure with its traceback.

:func:`launch` runs one function, :func:`launch_all` several in order on the same group
(starting the processes is the slow part). The processes fork from a *forkserver* that has
imported torch once. A rank that raises or dies stops every rank, so none is left waiting
in a collective; :class:`RankError` carries the failing rank's traceback.
:mod:`lnbook.distributed` builds the layer norms split across ranks on this.
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
    raise torch_missing("lnbook.process_group") from e

from ._validate import check_int


class RankError(RuntimeError):
    """A rank of :func:`launch` raised, or died: the message holds its traceback."""


def _start_context(modules: Sequence[str]):
    """A forkserver that has imported torch and ``modules`` once (each later process forks
    from it in a fraction of a second, instead of importing torch again for 1-2 s); spawn
    where there is no forkserver (Windows). Both start clean processes, safe in a Jupyter
    kernel, but the function a rank runs must be importable (defined in a module, not in the
    notebook). The server starts with the first launch of a process: the modules of that
    launch's functions are the ones it keeps (a later launch's import their own)."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        # What a rank would otherwise import on its own: torch, and what autograd's first
        # backward from a non-scalar output imports (sympy, through symbolic_shapes: ~3 s).
        preload = ["torch", "torch.distributed", "torch.fx.experimental.symbolic_shapes"]
        ctx.set_forkserver_preload([*preload, *modules])
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
    ctx = _start_context(sorted({fn.__module__ for fn, _ in calls}))
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
