"""Live widgets' update latency, measured on demand (``make bench``, ``python -m lnbook.latency``).

The time from a control's new value to the figure holding the new data (compute + assigning
the traces inside ``batch_update``), for the sizes the chapters use. A smooth control needs
this under one frame, 16 ms. The browser's repaint comes on top and is not measured here.
This module sits on top of every topic's widgets, as the chapters do; the speed benchmark
(:mod:`lnbook.bench`) imports none of them.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np

from .data import layer_activations
from .topics.affine import widgets as affine
from .topics.attention_logits import experiments as attention_logits_runs
from .topics.attention_logits import widgets as attention_logits
from .topics.batch_norm import widgets as batch_norm
from .topics.covariate_shift import widgets as covariate_shift
from .topics.effective_rate import experiments as effective_rate_runs
from .topics.effective_rate import widgets as effective_rate
from .topics.folding import widgets as folding
from .topics.geometry import widgets as geometry
from .topics.outliers import widgets as outliers
from .topics.placements import widgets as placements
from .topics.precision import widgets as precision
from .topics.recurrent import widgets as recurrent
from .topics.statistics import widgets as statistics_
from .topics.variants import widgets as variants

FRAME_MS = 16.0  # one frame at 60 Hz: the budget of a smooth control


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

    x = layer_activations(n_examples=16, n_features=32, seed=0)
    pool, labels = layer_activations(n_examples=600, n_features=16, seed=0, return_labels=True)
    rng = np.random.default_rng(0)
    per_feature = {"gamma": rng.uniform(0.2, 2.0, 32), "beta": rng.normal(0, 1.5, 32)}
    cases: dict[str, tuple[Callable, list[tuple[str, object]]]] = {
        "ch01 example_explorer": (
            lambda: statistics_.example_explorer(x),
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
            lambda: affine.gamma_beta_explorer(x, per_feature),
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
            lambda: batch_norm.batch_dependence_explorer(pool, labels),
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
            lambda: covariate_shift.covariate_shift_explorer(steps=100, checkpoints=11),
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
            lambda: variants.recentering_explorer(x[0]),
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
            lambda: variants.s_curve_explorer(),
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
        "ch09 sphere_explorer": (
            lambda: geometry.sphere_explorer(),
            [("x0", -1.0), ("x1", 3.0), ("x2", 0.5), ("eps", 0.5), ("x0", 2.0), ("eps", 0.0)],
        ),
        # A new rate or decay trains (about 2 s, by design behind a released slider), so only
        # the redraws are timed, on runs the explorer already holds: a short grid it is given.
        "ch10 rate_explorer": (
            lambda: effective_rate.rate_explorer(
                steps=40,
                known=effective_rate_runs.rate_runs((0.1, 0.3), (0.0, 0.003, 0.01), steps=40),
            ),
            [
                ("lr", 0.1),
                ("decay", 0.003),
                ("lr", 0.3),
                ("decay", 0.01),
                ("lr", 0.1),
                ("decay", 0.003),
                ("lr", 0.3),
            ],
        ),
        # A new placement or depth measures three seeds (well under a second), so only the
        # redraws are timed, on results the explorer already keeps (the first pass keeps them).
        "ch12 profile_explorer": (
            lambda: placements.profile_explorer(seeds=(0,), max_depth=4),
            [
                ("depth", 2),
                ("placement", "deepnorm"),
                ("depth", 4),
                ("placement", "post"),
                ("depth", 2),
                ("placement", "deepnorm"),
                ("depth", 4),
            ],
        ),
        # A new rate trains (a few seconds), so only redraws are timed, on known runs.
        "ch13 logit_explorer": (
            lambda: attention_logits.logit_explorer(
                steps=10, known=attention_logits_runs.logit_runs((0.01, 0.1), steps=10)
            ),
            [("lr", 0.01), ("lr", 0.1), ("lr", 0.01), ("lr", 0.1), ("lr", 0.01), ("lr", 0.1)],
        ),
        "ch11 norm_explorer": (
            lambda: recurrent.norm_explorer(),
            [
                ("scale", 2.0),
                ("steps", 100),
                ("hidden", 32),
                ("scale", 0.5),
                ("steps", 200),
                ("hidden", 64),
            ],
        ),  # fmt: skip
        "ch14 outlier_explorer": (
            lambda: outliers.outlier_explorer(),
            [("m", 100.0), ("d", 64), ("alpha", 2.0), ("seed", 3), ("m", 2.0), ("d", 16)],
        ),
        # Reruns the four methods at every hidden size (~0.1 s): the sliders update on
        # release, not while dragged.
        "ch15 statistics_explorer": (
            lambda: precision.statistics_explorer(),
            [("dtype", "bfloat16"), ("offset", 100.0), ("seed", 3)]
            + [("dtype", "float16"), ("offset", 1.0), ("seed", 1)],
        ),
        "ch15 saved_bytes_explorer": (
            lambda: folding.saved_bytes_explorer(),
            [
                ("d", 1024),
                ("dtype", "bfloat16"),
                ("d", 64),
                ("dtype", "float64"),
                ("d", 512),
                ("dtype", "float32"),
            ],
        ),
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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m lnbook.latency",
        description="Update latency of every live widget of the book.",
    )
    parser.add_argument("--repeats", type=int, default=50, help="rounds of control changes")
    args = parser.parse_args(argv)
    print(f"Live widget update latency (compute + redraw data), budget {FRAME_MS:g} ms")
    print(f"{'widget':<32}{'median ms':>10}{'p95 ms':>9}{'max ms':>9}{'updates':>9}")
    for name, r in widget_latency(args.repeats).items():
        print(
            f"{name:<32}{r['median_ms']:>10.2f}{r['p95_ms']:>9.2f}{r['max_ms']:>9.2f}"
            f"{r['updates']:>9d}"
        )


if __name__ == "__main__":
    main()
