"""Benchmarks, run on demand (``make bench``), never at import and never in the tests.

Live widgets: the time from a control's new value to the figure holding the new data
(compute + assigning the traces inside ``batch_update``), for the sizes the chapters use.
A smooth control needs this under one frame, 16 ms. The browser's repaint comes on top and
is not measured here.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

FRAME_MS = 16.0


@contextmanager
def single_thread() -> Iterator[None]:
    """One thread for torch and for every BLAS/OpenMP pool NumPy uses, then restore.

    Timings compare implementations, not thread pools: two pools (torch's and NumPy's
    BLAS) each starting one thread per core fight over the cores and add noise.
    """
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(previous)


def median_seconds(
    fn: Callable[[], object], *, rounds: int = 7, min_round_s: float = 0.01
) -> float:
    """The median time of one call of ``fn``, in seconds.

    After one warm-up call (first-call costs are not what we compare), the number of calls
    per round doubles until a round lasts ``min_round_s`` (so the clock's resolution does
    not matter); then ``rounds`` rounds are timed and the median per-call time returned,
    which ignores the odd round slowed down by another process.
    """
    if rounds < 1 or min_round_s <= 0:
        raise ValueError(f"need rounds >= 1 and min_round_s > 0, got {rounds}, {min_round_s}")

    def one_round(number: int) -> float:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        return time.perf_counter() - start

    fn()
    number = 1
    while one_round(number) < min_round_s:
        number *= 2
    return statistics.median(one_round(number) / number for _ in range(rounds))


def norm_costs(shape: tuple[int, int] = (2048, 1024), *, rounds: int = 7) -> dict[str, float]:
    """Chapter 7: layer norm against RMSNorm, forward (and forward + backward in torch).

    float32, one thread, the median of ``rounds`` rounds. NumPy runs each operation as its
    own pass over memory, so it shows the cost of the operations counted; torch's
    ``layer_norm`` is one fused kernel while its CPU ``rms_norm`` may be composed of
    several, so it shows what an implementation does to that count.

    Returns
    -------
    dict of seconds per call: ``numpy_ln``, ``numpy_rms``, ``torch_ln``, ``torch_rms``
    (forward), ``torch_ln_fb``, ``torch_rms_fb`` (forward + backward)
    """
    import torch

    from . import numpy_ln

    n, d = shape
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g)
    dy = torch.randn(n, d, generator=g)
    w, b = torch.ones(d), torch.zeros(d)
    x_np = x.numpy()
    xg = x.clone().requires_grad_(True)

    def forward_backward(norm):
        def run():
            xg.grad = None
            norm(xg).backward(dy)

        return run

    def ln(t):
        return torch.nn.functional.layer_norm(t, (d,), w, b)

    def rms(t):
        return torch.nn.functional.rms_norm(t, (d,), w, 1e-6)

    cases = {
        "numpy_ln": lambda: numpy_ln.layer_norm(x_np, d),
        "numpy_rms": lambda: numpy_ln.rms_norm(x_np, d, eps=1e-6),
        "torch_ln": lambda: ln(x),
        "torch_rms": lambda: rms(x),
        "torch_ln_fb": forward_backward(ln),
        "torch_rms_fb": forward_backward(rms),
    }
    with single_thread():
        return {name: median_seconds(fn, rounds=rounds) for name, fn in cases.items()}


def _time_updates(explorer, changes: list[tuple[str, object]], repeats: int) -> list[float]:
    """Apply the (control, value) changes in turn, ``repeats`` times; per-update times in ms.

    An assignment that does not change the value fires no update, so it is not timed: the
    lists below give every control two alternating values.
    """
    times = []
    for _ in range(repeats):
        for name, value in changes:
            control = explorer.controls[name]
            if control.value == value:
                continue
            start = time.perf_counter()
            control.value = value  # fires the observer: compute + redraw the data
            times.append((time.perf_counter() - start) * 1e3)
    return times


def widget_latency(repeats: int = 50) -> dict[str, dict[str, float]]:
    """Median and 95th-percentile update time (ms) of every live widget of the book."""
    from . import widgets
    from .data import layer_activations

    x = layer_activations(n_examples=16, n_features=32, seed=0)
    pool, labels = layer_activations(n_examples=600, n_features=16, seed=0, return_labels=True)
    rng = np.random.default_rng(0)
    per_feature = {"gamma": rng.uniform(0.2, 2.0, 32), "beta": rng.normal(0, 1.5, 32)}
    cases: dict[str, tuple[Callable, list[tuple[str, object]]]] = {
        "ch01 example_explorer": (
            lambda: widgets.example_explorer(x),
            [
                ("shift", 2.5),
                ("scale", 1.7),
                ("n_features", 12),
                ("eps", 0.3),
                ("example", 5),
                ("shift", -1.0),
                ("scale", -0.5),
                ("n_features", 32),
                ("eps", 1e-5),
                ("example", 0),
            ],
        ),
        "ch02 gamma_beta_explorer": (
            lambda: widgets.gamma_beta_explorer(x, per_feature),
            [
                ("gamma", 1.8),
                ("beta", -0.7),
                ("per_feature", True),
                ("example", 3),
                ("gamma", 0.6),
                ("beta", 1.2),
                ("per_feature", False),
                ("example", 0),
            ],
        ),
        "ch04 batch_dependence_explorer": (
            lambda: widgets.batch_dependence_explorer(pool, labels),
            [
                ("batch_size", 32),
                ("composition", "same_class"),
                ("seed", 3),
                ("batch_size", 4),
                ("composition", "random"),
                ("seed", 0),
                ("batch_size", 48),
            ],
        ),
        # Layer and step only redraw; a new network or rate trains (about 0.5 s, by design
        # behind a change of those controls only), so only the redraws are timed here, on
        # runs the explorer already holds.
        "ch06 covariate_shift_explorer": (
            lambda: widgets.covariate_shift_explorer(steps=100, checkpoints=11),
            [
                ("checkpoint", 3),
                ("layer", 0),
                ("checkpoint", 7),
                ("layer", 1),
                ("checkpoint", 10),
                ("layer", 2),
            ],
        ),
        "ch07 recentering_explorer": (
            lambda: widgets.recentering_explorer(x[0]),
            [
                ("shift", 3.0),
                ("scale", -1.5),
                ("eps", 0.1),
                ("shift", -2.0),
                ("scale", 2.0),
                ("eps", 1e-5),
            ],
        ),  # fmt: skip
        "ch07 s_curve_explorer": (
            lambda: widgets.s_curve_explorer(),
            [
                ("spread", 0.3),
                ("n_tokens", 64),
                ("d", 32),
                ("seed", 2),
                ("spread", 1.5),
                ("n_tokens", 32),
                ("d", 16),
                ("seed", 0),
            ],
        ),  # fmt: skip
    }
    out = {}
    for name, (make, changes) in cases.items():
        times = _time_updates(make(), changes, repeats)
        out[name] = {
            "median_ms": statistics.median(times),
            "p95_ms": float(np.percentile(times, 95)),
            "max_ms": max(times),
            "updates": len(times),
        }
    return out


def main() -> None:
    print(f"Live widget update latency (compute + redraw data), budget {FRAME_MS:g} ms")
    print(f"{'widget':<32}{'median ms':>10}{'p95 ms':>9}{'max ms':>9}{'updates':>9}")
    for name, r in widget_latency().items():
        print(
            f"{name:<32}{r['median_ms']:>10.2f}{r['p95_ms']:>9.2f}{r['max_ms']:>9.2f}"
            f"{r['updates']:>9d}"
        )


if __name__ == "__main__":
    main()
