"""Benchmarks, run on demand (``make bench``), never at import and never in the tests.

Speed of layer norm and RMSNorm: a declarative grid of shapes x implementations x passes
(forward, backward, both), each timed as the median of several rounds on one thread, and
reported as GB/s of the bytes the pass must move at least, against two yardsticks measured
in the same run: the machine's copy speed (the roofline of a memory-bound kernel) and
torch's own kernel. ``python -m lnbook.bench`` prints the table and writes a CSV.

The live widgets' update latency is measured by :mod:`lnbook.latency` (``make bench`` runs
both), so the speed benchmark imports no widget.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np

from ._results import remembered
from ._validate import check_nd_shape, check_size
from .bench_devices import device_problem, device_sync, machine_info, write_csv


@contextmanager
def single_thread() -> Iterator[None]:
    """One thread for torch and for every BLAS/OpenMP pool NumPy uses, then restore.

    Timings compare implementations, not thread pools: two pools (torch's and NumPy's
    BLAS) each starting one thread per core fight over the cores and add noise. Without
    torch (the browser edition) only NumPy's pools are limited, and there without
    threadpoolctl: Pyodide runs one thread anyway.
    """
    try:
        import torch
    except ImportError:
        torch = None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None

    previous = torch.get_num_threads() if torch else None
    if torch:
        torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1) if threadpool_limits else nullcontext():
            yield
    finally:
        if torch:
            torch.set_num_threads(previous)


def median_seconds(
    fn: Callable[[], object],
    *,
    rounds: int = 7,
    min_round_s: float = 0.01,
    sync: Callable[[], object] = lambda: None,
) -> float:
    """The median time of one call of ``fn``, in seconds.

    After one warm-up call (first-call costs are not what we compare), the number of calls
    per round doubles until a round lasts ``min_round_s`` (so the clock's resolution does
    not matter); then ``rounds`` rounds are timed and the median per-call time returned,
    which ignores the odd round slowed down by another process. ``sync`` waits for work
    still queued (a GPU's: ``torch.cuda.synchronize``); it runs around each round, not each
    call, so that the time of one call is the kernel's, not a round trip to the GPU.
    """
    if rounds < 1 or min_round_s <= 0:
        raise ValueError(f"need rounds >= 1 and min_round_s > 0, got {rounds}, {min_round_s}")

    def one_round(number: int) -> float:
        sync()
        start = time.perf_counter()
        for _ in range(number):
            fn()
        sync()
        return time.perf_counter() - start

    fn()
    number = 1
    while one_round(number) < min_round_s:
        number *= 2
    return statistics.median(one_round(number) / number for _ in range(rounds))


def speed_words(ratio) -> str:
    """How one time compares with another, in words, from their measured ratio or the ratios
    of several runs (a difference is claimed only where every run shows it). The chapters
    quote speeds through this, never typed by hand: the prose stays true on any machine."""
    try:
        r = np.atleast_1d(np.asarray(ratio, dtype=float))
    except (TypeError, ValueError):
        r = np.array([np.nan])
    if not (r.size and np.isfinite(r).all() and (r > 0).all()):
        raise ValueError(f"ratio must be positive finite numbers, got {ratio!r}")
    if (r < 0.9).all():
        return f"{1 / np.median(r):.1f} times faster than"
    if (r > 1.1).all():
        return f"{np.median(r):.1f} times slower than"
    return "about as fast as"


@remembered  # make test's second run of chapter 8 (the student edition) reuses the timings
def correction_cost(shape: tuple[int, int] = (4096, 1024), *, rounds: int = 5) -> dict:
    """Chapter 8: the time of ``numpy_ln.layer_norm``'s kernel with and without its
    residual-mean correction, one thread, float32, on rows of ``1e4 + randn`` (where every
    row needs the correction) and of plain ``randn`` (where none does, and the kernel skips
    the extra pass).

    Returns
    -------
    dict of seconds per call: ``offset_corrected``, ``offset_uncorrected``,
    ``plain_corrected``, ``plain_uncorrected``
    """
    from . import numpy_ln

    shape = check_nd_shape("shape", shape)
    z = np.random.default_rng(0).standard_normal(shape)
    out = np.empty(shape, np.float32)
    eps = np.float32(1e-5)
    result = {}
    with single_thread():
        for data, x in (("offset", (1e4 + z).astype(np.float32)), ("plain", z.astype(np.float32))):
            for key, correct in (("corrected", True), ("uncorrected", False)):
                result[f"{data}_{key}"] = median_seconds(
                    lambda x=x, c=correct: numpy_ln._layer_norm_rows(
                        x, out, None, None, eps, correct=c
                    ),
                    rounds=rounds,
                )
    return result


# ---------------------------------------------------------------- the speed grid ----------
# Layer norm reads each input value once and writes each output value once, with a handful
# of arithmetic operations per value in between: far too few to keep a core busy while the
# data streams through memory. So its time is bounded by memory bandwidth, and the honest
# yardstick is the machine's own copy speed, measured in the same run.

PASSES = ("forward", "backward", "forward+backward")
# The fewest arrays of x's size each pass must move through memory: the forward reads x and
# writes y; the backward reads x (or x_hat) and dy and writes dx.
ARRAYS_MOVED = {"forward": 2, "backward": 3, "forward+backward": 5}
# 4, 16 and 32 MiB of float32: the last is where fresh allocations start to cost page faults.
DEFAULT_SHAPES = ((4096, 256), (4096, 1024), (1024, 8192))
NORMS = ("layer", "rms")
EPS = 1e-5


def _np_naive_layer(x, w, b):
    """Layer norm as NumPy code is usually first written: every expression a full pass."""
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + EPS) * w + b


def _np_naive_rms(x, w, b):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + EPS) * w


def _torch_composed_layer(x, w, b):
    """Layer norm from elementary torch operations: what torch.compile is given to fuse."""
    import torch

    mu = x.mean(-1, keepdim=True)
    xc = x - mu
    var = (xc * xc).mean(-1, keepdim=True)
    return xc * torch.rsqrt(var + EPS) * w + b


def _torch_composed_rms(x, w, b):
    import torch

    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + EPS) * w


def _torch_native_layer(x, w, b):
    import torch

    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, EPS)


def _torch_native_rms(x, w, b):
    import torch

    return torch.nn.functional.rms_norm(x, (x.shape[-1],), w, EPS)


def _lnbook_layer(x, w, b):
    from . import torch_ln

    return torch_ln.layer_norm(x, (x.shape[-1],), w, b, EPS)


def _lnbook_rms(x, w, b):
    from . import torch_ln

    return torch_ln.rms_norm(x, (x.shape[-1],), w, EPS)


@dataclass(frozen=True)
class Impl:
    """One implementation in the grid.

    ``backend`` "numpy" runs ``fn(x, w, b)`` on arrays (forward only, unless it is the
    package's layer norm, whose hand-derived backward is timed too); "torch" runs it on
    tensors, and the backward passes come from autograd (for the package's
    ``autograd.Function``, that is its hand-written backward). ``compiled`` wraps ``fn`` in
    ``torch.compile`` (its compile time is reported apart). ``native`` marks torch's own
    kernel, the denominator of the "x native" ratio.
    """

    name: str
    norm: str
    backend: str
    fn: Callable
    native: bool = False
    compiled: bool = False
    out: bool = False  # numpy only: write into a preallocated output (out=)


IMPLS = (
    Impl("NumPy, naive", "layer", "numpy", _np_naive_layer),
    Impl("NumPy, lnbook", "layer", "numpy", None),
    Impl("NumPy, lnbook, out=", "layer", "numpy", None, out=True),
    Impl("PyTorch, composed ops", "layer", "torch", _torch_composed_layer),
    Impl("PyTorch, lnbook autograd.Function", "layer", "torch", _lnbook_layer),
    Impl("PyTorch, F.layer_norm", "layer", "torch", _torch_native_layer, native=True),
    Impl("torch.compile, composed ops", "layer", "torch", _torch_composed_layer, compiled=True),
    Impl("NumPy, naive", "rms", "numpy", _np_naive_rms),
    Impl("NumPy, lnbook", "rms", "numpy", None),
    Impl("PyTorch, composed ops", "rms", "torch", _torch_composed_rms),
    Impl("PyTorch, lnbook autograd.Function", "rms", "torch", _lnbook_rms),
    Impl("PyTorch, F.rms_norm", "rms", "torch", _torch_native_rms, native=True),
    Impl("torch.compile, composed ops", "rms", "torch", _torch_composed_rms, compiled=True),
)


def _numpy_runner(impl: Impl, pass_: str, x, w, b, dy) -> Callable[[], object] | None:
    from . import numpy_ln

    d = x.shape[-1]
    if impl.fn is not None:  # a plain forward function
        return (lambda: impl.fn(x, w, b)) if pass_ == "forward" else None
    if impl.norm == "rms":
        return (lambda: numpy_ln.rms_norm(x, d, w, EPS)) if pass_ == "forward" else None
    if pass_ == "forward":
        out = np.empty_like(x) if impl.out else None
        return lambda: numpy_ln.layer_norm(x, d, w, b, EPS, out=out)
    if impl.out:
        return None
    if pass_ == "backward":
        _, cache = numpy_ln.layer_norm_forward(x, d, w, b, EPS)
        return lambda: numpy_ln.layer_norm_backward(dy, cache)

    def forward_backward():
        _, cache = numpy_ln.layer_norm_forward(x, d, w, b, EPS)
        return numpy_ln.layer_norm_backward(dy, cache)

    return forward_backward


def _torch_runner(impl: Impl, pass_: str, x, w, b, dy, device: str):
    import torch

    fn = impl.fn
    if impl.compiled:
        torch._dynamo.reset()  # compile afresh, so the compile time is this case's own
        fn = torch.compile(fn)
    grad = pass_ != "forward"
    t = torch.from_numpy(x).to(device).requires_grad_(grad)
    tw = torch.from_numpy(w).to(device).requires_grad_(grad)
    tb = torch.from_numpy(b).to(device).requires_grad_(grad and impl.norm == "layer")
    tdy = torch.from_numpy(dy).to(device)
    inputs = (t, tw, tb) if impl.norm == "layer" else (t, tw)
    # No synchronization per call: on a GPU, run_grid synchronizes around each timed round.
    if pass_ == "forward":

        def run():
            with torch.no_grad():
                return fn(t, tw, tb)

        return run
    if pass_ == "forward+backward":
        return lambda: torch.autograd.grad(fn(t, tw, tb), inputs, tdy)
    y = fn(t, tw, tb)  # the backward alone: the graph is built once and kept
    return lambda: torch.autograd.grad(y, inputs, tdy, retain_graph=True)


def copy_seconds(x: np.ndarray, *, rounds: int = 7, device: str = "cpu") -> float:
    """Median time to copy ``x`` into an existing array of its shape: the roofline's time
    for moving two arrays (one read, one write)."""
    if device == "cpu":
        dst = np.empty_like(x)
        return median_seconds(lambda: np.copyto(dst, x), rounds=rounds)
    import torch

    src = torch.from_numpy(x).to(device)
    dst = torch.empty_like(src)
    return median_seconds(lambda: dst.copy_(src), rounds=rounds, sync=device_sync(device))


# Arithmetic per value of x, counted from the formulas (chapter 8): the forward takes a
# sum, a subtraction, a square and a sum, the scaling by rstd, gamma and beta; the backward
# g = dy * gamma, two products and three sums for c1, c2, dgamma and dbeta, and four
# operations for dx.
FLOPS_PER_VALUE = {"forward": 7, "backward": 11, "forward+backward": 18}


@remembered  # make test's second run of chapter 8 (the student edition) reuses the timings
def machine_balance(shape: tuple[int, int] = (2048, 1024), *, rounds: int = 5) -> dict:
    """This machine's two roofs, on one thread: memory bandwidth and arithmetic speed.

    Returns
    -------
    dict with ``copy_gbps`` (bytes read + written per second by ``np.copyto`` of a float32
    array of ``shape``), ``matmul_gflops`` (float32 1024 x 1024 matrix product: 2 n^3
    operations per call) and ``ridge`` (operations per byte at which the two roofs meet)
    """
    a = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    with single_thread():
        copy = copy_seconds(x, rounds=rounds)
        matmul = median_seconds(lambda: a @ a, rounds=rounds)
    copy_gbps = 2 * x.nbytes / copy / 1e9
    gflops = 2 * 1024**3 / matmul / 1e9
    return {"copy_gbps": copy_gbps, "matmul_gflops": gflops, "ridge": gflops / copy_gbps}


@remembered  # make test's second run of chapter 8 (the student edition) reuses the timings
def copy_bandwidth(sizes_mib: Sequence[float] = (0.25, 1, 4, 16, 64, 256), *, rounds: int = 5):
    """Copy speed (bytes read + written per second, one thread) against the array's size.

    Small arrays stay in the CPU's caches, large ones stream from main memory: the
    roofline of a memory-bound kernel depends on where its data lives. The sizes take
    turns, a round each (arrays made anew each turn), and each speed is the median of its
    ``rounds``: a slow spell of a shared machine falls on every size alike.

    Returns
    -------
    dict with ``mib`` (K,) and ``gbps`` (K,)
    """
    if any(m <= 0 for m in sizes_mib):
        raise ValueError(f"sizes_mib must be positive, got {list(sizes_mib)}")
    if not (isinstance(rounds, int) and rounds >= 1):
        raise ValueError(f"rounds must be an int >= 1, got {rounds!r}")
    n = [max(1, int(mib * 2**20 / 4)) for mib in sizes_mib]  # float32 values
    seconds: list[list[float]] = [[] for _ in n]
    with single_thread():
        for _ in range(rounds):
            for size, times in zip(n, seconds, strict=True):
                times.append(copy_seconds(np.ones(size, np.float32), rounds=1))
    gbps = [2 * 4 * size / statistics.median(t) / 1e9 for size, t in zip(n, seconds, strict=True)]
    return {"mib": np.asarray(sizes_mib, dtype=float), "gbps": np.array(gbps)}


def page_faults(fn: Callable[[], object], calls: int = 3) -> float:
    """Minor page faults per call of ``fn``, counted by the operating system (Unix); NaN
    where nothing counts them (the browser edition has no ``resource`` module)."""
    check_size("calls", calls)
    try:
        import resource
    except ImportError:
        return float("nan")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


@remembered  # make test's second run of chapter 8 (the student edition) reuses the timings
def run_grid(
    shapes: Sequence[tuple[int, int]] = DEFAULT_SHAPES,
    *,
    norms: Sequence[str] = NORMS,
    passes: Sequence[str] = PASSES,
    impls: Sequence[Impl] = IMPLS,
    rounds: int = 7,
    compile: bool = True,
    device: str = "cpu",
    seed: int = 0,
) -> list[dict]:
    """Time every implementation of every norm and pass on every shape (float32).

    Returns
    -------
    list of rows (dicts): ``shape`` (str "NxD"), ``mib`` (size of x), ``norm``, ``pass``,
    ``impl``, ``seconds`` (median per call), ``gbps`` (the pass's minimum bytes per
    second), ``x_copy`` (time over the time of moving those bytes at copy speed),
    ``x_native`` (time over torch's kernel's, same norm, pass and shape), ``compile_s``
    (torch.compile's first call, else NaN), ``faults`` (minor page faults per call: fresh
    memory the operating system had to map, a cost that depends on the allocator's state).
    On a GPU (``device="cuda"``) the NumPy rows are left out. An implementation that cannot
    run here (the Triton kernel without a GPU) gets a row with NaN times and ``skipped``,
    the reason (empty for the rows that ran).
    """
    for name, values, allowed in (("norms", norms, NORMS), ("passes", passes, PASSES)):
        bad = [v for v in values if v not in allowed]
        if bad:
            raise ValueError(f"{name} must be among {allowed}, got {bad}")
    for i, shape in enumerate(shapes):
        check_nd_shape(f"shapes[{i}]", shape)
    rng = np.random.default_rng(seed)
    rows = []
    with single_thread():
        for n, d in shapes:
            x = rng.standard_normal((n, d)).astype(np.float32)
            dy = rng.standard_normal((n, d)).astype(np.float32)
            w = rng.uniform(0.5, 1.5, d).astype(np.float32)
            b = rng.standard_normal(d).astype(np.float32)
            t_copy = copy_seconds(x, rounds=rounds, device=device)
            for norm in norms:
                for pass_ in passes:
                    group = []
                    for impl in impls:
                        if impl.norm != norm or (impl.compiled and not compile):
                            continue
                        if impl.backend == "numpy" and device != "cpu":
                            continue
                        if reason := skip_reason(impl, device):  # listed, not dropped
                            group.append(skipped_row(n, d, norm, pass_, impl, reason))
                            continue
                        compile_s = float("nan")
                        if impl.backend == "numpy":
                            run = _numpy_runner(impl, pass_, x, w, b, dy)
                        else:
                            run = _torch_runner(impl, pass_, x, w, b, dy, device)
                        if run is None:
                            continue
                        if impl.compiled:
                            start = time.perf_counter()
                            run()  # the first call compiles
                            device_sync(device)()
                            compile_s = time.perf_counter() - start
                        seconds = median_seconds(run, rounds=rounds, sync=device_sync(device))
                        faults = page_faults(run)
                        moved = ARRAYS_MOVED[pass_] * x.nbytes
                        group.append(
                            {
                                "shape": f"{n}x{d}",
                                "mib": x.nbytes / 2**20,
                                "norm": norm,
                                "pass": pass_,
                                "impl": impl.name,
                                "native": impl.native,
                                "seconds": seconds,
                                "gbps": moved / seconds / 1e9,
                                "x_copy": seconds / (t_copy * ARRAYS_MOVED[pass_] / 2),
                                "compile_s": compile_s,
                                "faults": faults,
                                "skipped": "",
                            }
                        )
                    native = [r["seconds"] for r in group if r["native"]]
                    for r in group:
                        r["x_native"] = r["seconds"] / native[0] if native else float("nan")
                    rows.extend(group)
    return rows


# ------------------------------------------------------------------ on a GPU ----------
# `python -m lnbook.bench --device cuda`: the torch rows of the grid and the fused kernels,
# timed on the GPU. Shapes above an H100's 50 MB of L2 cache (NVIDIA, "Hopper Architecture
# In-Depth"), so that the data streams from HBM: the roofline there is the GPU's copy speed,
# measured in the same run.
CUDA_SHAPES = ((16384, 1024), (16384, 4096))


def _triton_layer(x, w, b):
    from . import triton_ln

    return triton_ln.layer_norm(x, (x.shape[-1],), w, b, EPS)


# Kernels beyond torch's own, run by the command line (chapter 8's grid is IMPLS alone). The
# fused residual add + layer norm moves other arrays, so main() times it apart (lnbook.fusion).
KERNEL_IMPLS = (Impl("Triton, lnbook kernel", "layer", "triton", _triton_layer),)


def skip_reason(impl: Impl, device: str) -> str:
    """Why ``impl`` cannot run on ``device`` here; empty when it can."""
    if impl.backend != "triton":
        return ""
    from . import triton_ln

    ok = triton_ln.available()
    if not device.startswith("cuda"):
        return "runs on a CUDA GPU only (--device cuda)" + ("" if ok else f"; here: {ok.reason}")
    return "" if ok else ok.reason


def skipped_row(n: int, d: int, norm: str, pass_: str, impl: Impl, reason: str) -> dict:
    """A grid row for an implementation that did not run: NaN numbers and the reason."""
    nan = float("nan")
    return {"shape": f"{n}x{d}", "mib": n * d * 4 / 2**20, "norm": norm, "pass": pass_,
            "impl": impl.name, "native": False, "skipped": reason,
            **dict.fromkeys(("seconds", "gbps", "x_copy", "compile_s", "faults"), nan)}  # fmt: skip


def format_table(rows: list[dict]) -> str:
    """The grid as a plain-text table, one block per shape, norm and pass."""
    lines, key = [], None
    for r in rows:
        if (r["shape"], r["norm"], r["pass"]) != key:
            key = (r["shape"], r["norm"], r["pass"])
            lines += [
                "",
                f"{r['norm']} norm, {r['pass']}, {r['shape']} float32 ({r['mib']:g} MiB)",
                f"  {'implementation':<36}{'ms':>9}{'GB/s':>8}{'x copy':>8}{'x native':>10}"
                f"{'faults':>8}{'compile s':>11}",
            ]
        if r.get("skipped"):
            lines.append(f"  {r['impl']:<36}skipped: {r['skipped']}")
            continue
        compile_s = "" if np.isnan(r["compile_s"]) else f"{r['compile_s']:.1f}"
        lines.append(
            f"  {r['impl']:<36}{1e3 * r['seconds']:>9.3f}{r['gbps']:>8.1f}{r['x_copy']:>8.1f}"
            f"{r['x_native']:>10.2f}{r['faults']:>8.0f}{compile_s:>11}"
        )
    return "\n".join(lines[1:])


def _parse_shape(text: str) -> tuple[int, int]:
    try:
        n, d = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a shape is NxD, like 4096x1024; got {text!r}") from None
    return n, d


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m lnbook.bench",
        description="Layer norm and RMSNorm speed: implementations x shapes x passes.",
    )
    parser.add_argument(
        "--shapes",
        type=_parse_shape,
        nargs="+",
        metavar="NxD",
        help=f"float32 inputs (default: {DEFAULT_SHAPES}; with --device cuda {CUDA_SHAPES})",
    )
    parser.add_argument("--norms", nargs="+", choices=NORMS, default=list(NORMS))
    parser.add_argument("--passes", nargs="+", choices=PASSES, default=list(PASSES))
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds; the median is kept")
    parser.add_argument("--no-compile", action="store_true", help="leave torch.compile out")
    parser.add_argument(
        "--device", default="cpu", help="cpu, cuda or cuda:N (no NumPy rows on a GPU)"
    )
    parser.add_argument("--csv", default="bench_results.csv", help="where to write the rows")
    args = parser.parse_args(argv)
    if problem := device_problem(args.device):
        parser.exit(1, f"python -m lnbook.bench: {problem}\n")  # a message, not a traceback
    shapes = args.shapes or list(CUDA_SHAPES if args.device != "cpu" else DEFAULT_SHAPES)
    rows = run_grid(shapes, norms=args.norms, passes=args.passes, rounds=args.rounds,
                    compile=not args.no_compile, device=args.device,
                    impls=IMPLS + KERNEL_IMPLS)  # fmt: skip
    for r in {r["impl"]: r for r in rows if r["skipped"]}.values():
        print(f"Skipped {r['impl']}: {r['skipped']}", file=sys.stderr)
    print(f"On {machine_info(args.device)['device']}.", end=" ")
    print("One thread; medians of", args.rounds, "rounds. GB/s: the bytes the pass must move")
    print("(forward 2, backward 3, both 5 arrays of x's size) per second. x copy: time over")
    print("the time of moving them at this machine's copy speed. x native: time over torch's.")
    print("faults: page faults per call (fresh memory the system had to map).")
    print()
    print(format_table(rows))
    # Chapter 15: the residual add fused with layer norm or not (NumPy on the CPU only).
    backends = ("numpy",) * (args.device == "cpu") + ("torch",) * (not args.no_compile)
    if backends:
        from . import fusion

        shape = max(shapes, key=lambda s: s[0] * s[1])
        costs = {b: fusion.alternate(fusion.add_norm_runs(shape, backend=b, device=args.device),
                                     median_seconds, within=single_thread, rounds=args.rounds,
                                     sync=device_sync(args.device))
                 for b in backends}  # fmt: skip
        print("\n" + fusion.format_fused(shape, costs))
    print(f"\nWrote {write_csv(rows, args.csv, args.device)}", file=sys.stderr)


if __name__ == "__main__":
    main()
