"""Checkers of chapter 8's exercises (performance): the least time a layer norm can take at
copy speed (:func:`roofline_seconds`), layer norm in blocks with no full-size temporary
(:func:`layer_norm_blocked`), and a timer that takes one warm-up call and the median
(:func:`median_time`); and, for chapter 15, the bytes per row of the fused Triton forward
(:func:`triton_forward_bytes`).

Timing and memory are measured, not assumed: :func:`median_time` is judged against the
calls' measured durations, :func:`layer_norm_blocked` by ``tracemalloc``'s peak. Calling the
answers under a time limit is :mod:`lnbook.checking`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ...checking import (
    CORRECT,
    Verdict,
    as_number,
    call,
    checker,
    close,
    compare,
    diagnose_layer_norm,
    ln_rows,
    wrong,
)


@checker
def roofline_seconds(fn: Callable[[tuple, str, float], float]) -> Verdict:
    """Chapter 8: ``fn(shape, pass_, copy_gbps)``: the least time a float32 layer norm of
    ``shape`` can take for ``pass_`` ("forward", "backward" or "forward+backward") on a
    machine that copies at ``copy_gbps`` (GB/s, bytes read + written, 1 GB = 1e9 bytes)."""
    cases = [((4096, 1024), "forward"), ((1000, 300), "backward"), ((64, 64), "forward+backward")]
    arrays = {"forward": 2, "backward": 3, "forward+backward": 5}  # read x, write y; + dy, dx
    gbps = 40.0
    for shape, pass_ in cases:
        result, verdict = call(fn, shape, pass_, gbps)
        if verdict:
            return verdict
        if result is None:
            return wrong("The result is None: did you forget to `return` it?")
        value, verdict = as_number(result, "The result")
        if verdict:
            return verdict
        nbytes = shape[0] * shape[1] * 4
        expected = arrays[pass_] * nbytes / (gbps * 1e9)
        known = [
            (nbytes / (gbps * 1e9), "that moves one array; the pass reads and writes several"),
            (
                arrays[pass_] * nbytes * 8 / (gbps * 1e9),
                "that counts bits; GB/s counts bytes (a float32 is 4 bytes)",
            ),
            (
                arrays[pass_] * nbytes / (gbps * 2**30),
                "that takes a GB as 2**30 bytes; here 1 GB = 1e9 bytes",
            ),
            (
                2 * nbytes / (gbps * 1e9),
                f"that counts the forward's 2 arrays for the {pass_!r} pass",
            ),
            (
                arrays[pass_] * shape[0] * shape[1] / (gbps * 1e9),
                "that counts values, not bytes: a float32 value is 4 bytes",
            ),
            (
                arrays[pass_] * nbytes / gbps,
                "that divides by GB/s without turning GB into bytes (x 1e9)",
            ),
            (1e3 * expected, "that is in milliseconds; return seconds"),
            (2 * expected, "that counts 8 bytes per value; a float32 is 4 bytes"),
            (
                4 * nbytes / (gbps * 1e9),
                "that is a single fused pass (read x and dy, write y and dx); the forward and "
                "the backward run one after the other, so y is written and x read again: 5",
            ),
        ]
        verdict = compare(
            value,
            expected,
            known,
            wrong(
                f"For {shape}, {pass_}: {value:.3g} s is not the least time. Count the bytes "
                "the pass must move (each array it reads or writes, 4 bytes per float32 "
                "value) and divide by the copy speed in bytes per second.",
                answer=f"Expected {expected:.3g} s.",
            ),
            prefix=f"For {shape}, {pass_}: ",
            rtol=1e-6,
        )
        if not verdict.passed:
            return verdict
    return Verdict(
        CORRECT,
        "The forward moves 2 arrays (x in, y out), the backward 3 (x or x_hat and dy in, dx "
        "out), both 5; at copy speed that is the floor no implementation can beat by much.",
    )


@checker
def layer_norm_blocked(fn: Callable[[np.ndarray, np.ndarray, float, int], object]) -> Verdict:
    """Chapter 8: ``fn(x, out, eps, rows)`` writes layer norm (no gamma, beta) of the float32
    (N, D) array ``x`` into ``out``, ``rows`` rows at a time, with no full-size temporary."""
    import tracemalloc

    rng = np.random.default_rng(23)
    # The last block is partial; a block is 1/32 of x, so a few float64 temporaries per
    # block (a fine answer too) stay far below a full-size temporary.
    n, d, rows = 1000, 256, 32
    # Spreads from 1e-3 (where eps inside or outside the root differ) to 3.
    spread = np.geomspace(1e-3, 3, n)[rng.permutation(n), None]
    x = (rng.standard_normal((n, d)) * spread + 2.0).astype(np.float32)
    # A first call, not measured: imports and first-call set-up are not the function's own
    # memory.
    _, verdict = call(fn, x.copy(), np.empty_like(x), 1e-5, rows)
    if verdict:
        return verdict
    out = np.full_like(x, np.nan)
    x_given = x.copy()
    tracemalloc.start()
    try:
        _, verdict = call(fn, x_given, out, 1e-5, rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    if verdict:
        return verdict
    if not np.array_equal(x_given, x):
        return wrong("Your function changed x; write only into out.")
    if np.isnan(out).all():
        return wrong(
            "out is untouched: write the result into it (out[start:stop] = ..., or a ufunc "
            "with out=...), do not return a new array."
        )
    if np.isnan(out).any():
        missing = int(np.isnan(out).any(axis=1).sum())
        return wrong(
            f"{missing} of {n} rows of out are still unwritten: does the loop reach the "
            "last rows (range(0, N, rows))?"
        )
    x64 = x.astype(np.float64)
    expected = ln_rows(x64, 1e-5)
    if not close(out, expected, rtol=0, atol=1e-3):
        per_block = np.concatenate(
            [ln_rows(x64[b : b + rows], 1e-5, axis=0) for b in range(0, n, rows)]
        )
        if close(out, per_block, rtol=0, atol=1e-3):
            return wrong(
                "You normalized each column of a block (axis 0, over the block's rows); "
                "layer norm takes each row's statistics: axis=-1, keepdims=True."
            )
        return wrong(diagnose_layer_norm(out.astype(np.float64), x64, 1e-5, atol=1e-3))
    # One full-size temporary (x - mu, say) is as large as x; blocked work needs a few
    # blocks' worth, even in float64.
    if peak >= x.nbytes:
        return wrong(
            f"The values are right, but the function allocated {peak / 2**10:.0f} KiB at its "
            f"peak, at least a full-size temporary ({x.nbytes / 2**10:.0f} KiB for x). Work "
            "on x[start:stop] and write each block into out[start:stop]."
        )
    return Verdict(
        CORRECT,
        f"At most {peak / 2**10:.0f} KiB of temporaries for a "
        f"{x.nbytes / 2**10:.0f} KiB input: each block stays in the cache while it is worked on.",
    )


@checker
def median_time(fn: Callable[[Callable, int], float]) -> Verdict:
    """Chapter 8: ``fn(f, rounds)`` times ``f``: one warm-up call, then ``rounds`` timed
    calls; returns the median time of one call in seconds."""
    import statistics

    calls = []  # how long each call of f really took (time.sleep overshoots, more so on
    # a busy machine): the answer is judged against these, not against the delays asked
    # The first call is slow (a warm-up: compiling, allocating); the fifth is an outlier
    # (another program took the core). The others take different times, 2 to 26 ms, so
    # that the median (14 ms) differs from the fastest call and from the mean.
    delays = [0.1, 0.002, 0.006, 0.010, 0.15, 0.014, 0.022, 0.026]

    def f():
        start = time.perf_counter()
        time.sleep(delays[len(calls)] if len(calls) < len(delays) else 0.014)
        calls.append(time.perf_counter() - start)

    result, verdict = call(fn, f, 7)
    if verdict:
        return verdict
    value, verdict = as_number(result, "The result")
    if verdict:
        return verdict
    if len(calls) < 8:
        return wrong(
            f"f was called {len(calls)} times for 7 rounds: call it once before timing "
            "(a warm-up), so first-call costs are not measured."
        )
    timed = calls[-7:]
    median, fastest = statistics.median(timed), min(timed)
    # The learner's own timing adds a little (the loop, perf_counter): 1 ms either side.
    # The neighbours of the median are about 4 and 8 ms away.
    if median - 0.001 <= value <= median + 0.001:
        return Verdict(
            CORRECT,
            "One warm-up, then the median: neither the first call's extra cost nor an outlier "
            "round moved the result.",
        )
    for factor, unit in ((1e3, "milliseconds"), (1e6, "microseconds"), (1e9, "nanoseconds")):
        if fastest / 2 <= value / factor <= 0.2:
            return wrong(f"That looks like {unit}; return seconds, as time.perf_counter() gives.")
    if fastest - 0.0005 <= value <= fastest + 0.002:
        return wrong(
            f"Got {value * 1e3:.1f} ms, the fastest call: that is the minimum. The minimum "
            "is a fine timer of its own, but the exercise asks for the median: sort the "
            "per-call times and take the middle one (statistics.median).",
            answer=f"The median call takes {median * 1e3:.0f} ms.",
        )
    if value > median:
        return wrong(
            f"Got {value * 1e3:.1f} ms, more than a typical call takes: a mean (or a total, "
            "or a median that counts the warm-up) lets a slow call weigh in; take the median "
            "of the timed calls' per-call times.",
            answer=f"The median call takes {median * 1e3:.0f} ms.",
        )
    if value < fastest:
        return wrong(
            f"Got {value * 1e3:.2f} ms, less than any call takes: time each call with "
            "time.perf_counter() before and after it.",
            answer=f"Every call takes at least {fastest * 1e3:.0f} ms.",
        )
    return wrong(
        f"Got {value * 1e3:.1f} ms, not the median call's time: time each of the rounds "
        "with time.perf_counter() and take the median (statistics.median).",
        answer=f"The median call takes {median * 1e3:.0f} ms.",
    )


@checker
def triton_forward_bytes(fn: Callable[[int, int], float]) -> Verdict:
    """Chapter 15: ``fn(d, itemsize)``: the bytes per row that ``lnbook.triton_ln``'s fused
    forward moves through GPU memory, for rows of ``d`` values of ``itemsize`` bytes (gamma
    and beta, shared by every row, left out)."""
    # float16, float32 and float8 rows: answers that mix up the two sizes (the input's and
    # the statistics' float32) differ on at least one of them.
    cases = [(4096, 2), (1000, 4), (768, 1)]
    given = []
    for d, itemsize in cases:
        result, verdict = call(fn, d, itemsize)
        if verdict:
            return verdict
        if result is None:
            return wrong("The result is None: did you forget to `return` it?")
        value, verdict = as_number(result, "The result")
        if verdict:
            return verdict
        given.append(value)
    d, s = np.array(cases, dtype=float).T
    row = d * s  # one row of x, in bytes
    expected = 2 * row + 8
    known = [
        (2 * row, "That is x in and y out; the forward also stores mean and rstd per row"),
        (2 * row + 2 * s, "Mean and rstd are kept in float32 (4 bytes each), whatever x's dtype"),
        (2 * row + 4, "That stores one statistic; the backward needs both mean and rstd"),
        (2 * row + 16, "Mean and rstd are float32 (4 bytes), not float64"),
        (
            2 * d * 4 + 8,
            "That counts x and y as float32: they are in the input's dtype, itemsize "
            "bytes a value; only the statistics are float32",
        ),
        (
            4 * row + 8,
            "That adds two row-sized arrays: gamma and beta are read once for all "
            "rows (they stay in the cache), and x only once per row (it stays in "
            "registers)",
        ),
        (row + 8, "That moves one row: x is read and y written, two arrays of the row's size"),
        (8 * expected, "That counts bits; count bytes"),
    ]
    cases_text = ", ".join(f"(d={int(a)}, itemsize={int(b)})" for a, b in cases)
    return compare(
        np.array(given),
        expected,
        known,
        wrong(
            f"Not the bytes per row for {cases_text}. Count what one program reads and "
            "writes for its row: x in, y out (itemsize bytes a value), and the statistics "
            "it stores for the backward (float32).",
            answer=f"Expected {', '.join(f'{v:.0f}' for v in expected)} bytes.",
        ),
        success="Reading x and writing y at the input's width, plus two float32 statistics: "
        "divided by the GPU's memory bandwidth, that is the floor under the kernel's time.",
        rtol=1e-9,
        atol=0,
    )
