"""Where a benchmark runs: the device, waiting for it, and what a CSV says of it.

``lnbook.bench`` times on the CPU or, with ``--device cuda``, on an NVIDIA GPU. A GPU runs
asynchronously (a call returns once its kernels are queued), so its timings wait for it
(:func:`device_sync`); a machine without one gets a sentence, not a traceback
(:func:`device_problem`). Every CSV row (:func:`write_csv`) carries the machine and
versions it was measured with (:func:`machine_info`), and chapter 15 shows a GPU's rows
only when such a CSV exists (:func:`read_results`). torch is imported inside the
functions: the browser edition imports this module without it.
"""

from __future__ import annotations

import csv
import importlib.metadata
import platform
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

# Where a GPU run's CSV is kept for chapter 15, relative to book/ (where chapters run):
# python -m lnbook.bench --device cuda --csv book/data/bench_cuda.csv
STORED_CUDA_CSV = Path("data") / "bench_cuda.csv"
# The CSV's numeric columns (the rest are text).
NUMBERS = ("mib", "seconds", "gbps", "x_copy", "x_native", "compile_s", "faults")


def _is_cuda(device: str) -> bool:
    return device == "cuda" or device.startswith("cuda:") and device[5:].isdigit()


def device_problem(device: str) -> str:
    """Why a benchmark cannot run on ``device`` ("cpu", "cuda" or "cuda:N") here; "" if it can."""
    if device == "cpu":
        return ""
    if not _is_cuda(device):
        return f"--device must be cpu, cuda or cuda:N, got {device!r}"
    import torch

    if not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        return (
            f"--device {device} needs an NVIDIA GPU, and torch {torch.__version__} ({build}) "
            "sees none on this machine; run without --device to time the CPU"
        )
    if (torch.device(device).index or 0) >= torch.cuda.device_count():
        return f"--device {device}: torch sees {torch.cuda.device_count()} GPU(s) here"
    return ""


def device_sync(device: str) -> Callable[[], object]:
    """What waits for ``device``'s queued work: ``torch.cuda.synchronize`` on a GPU, nothing
    on a CPU (whose calls return when their work is done)."""
    if not _is_cuda(device):
        return lambda: None
    import torch

    return lambda: torch.cuda.synchronize(device)


def machine_info(device: str = "cpu") -> dict:
    """The machine, the versions and the date (UTC) of a measurement, as CSV columns."""
    import torch

    try:
        triton = importlib.metadata.version("triton")  # the version, without importing it
    except importlib.metadata.PackageNotFoundError:
        triton = ""
    return {
        "device": torch.cuda.get_device_name(device) if _is_cuda(device) else device,
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "cuda": torch.version.cuda or "",
        "triton": triton,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


CSV_COLUMNS = (
    "shape", "mib", "norm", "pass", "impl", "seconds", "gbps", "x_copy", "x_native", "compile_s",
    "faults", "skipped",
)  # fmt: skip


def write_csv(rows: list[dict], path: str | Path, device: str = "cpu") -> Path:
    """Write ``lnbook.bench``'s grid rows to ``path``, each with the machine and versions
    it ran on (:func:`machine_info`)."""
    machine = machine_info(device)
    path = Path(path)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*CSV_COLUMNS, *machine])
        writer.writeheader()
        for r in rows:
            writer.writerow({**{k: r[k] for k in CSV_COLUMNS}, **machine})
    return path


def read_results(path: str | Path) -> list[dict] | None:
    """The rows of a CSV written by ``python -m lnbook.bench``, numbers as floats; None when
    there is no such file (nothing was measured)."""
    path = Path(path)
    if not path.is_file():
        return None
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for key in NUMBERS:
            r[key] = float(r[key]) if r.get(key) else float("nan")
    return rows


def results_markdown(path: str | Path = STORED_CUDA_CSV) -> str:
    """What chapter 15 shows of a GPU run: the CSV at ``path`` as a Markdown table, after a
    line naming the device, the date and the versions; or, when there is no such file, a
    sentence saying that nothing was measured (so none is shown)."""
    rows = read_results(path)
    if not rows:
        return (
            "No GPU results are shown here: none were measured. This page was built on a "
            f"machine without a GPU, and the repository holds no `book/{Path(path).as_posix()}` "
            "from a GPU run."
        )
    m = rows[0]
    lines = [
        f"Measured on **{m['device']}** on {m['date']} (torch {m['torch']}, CUDA "
        f"{m['cuda'] or 'none'}, triton {m['triton'] or 'not installed'}), float32, medians "
        "of timed rounds, the GPU synchronized around each round.",
        "",
        "| shape | norm | pass | implementation | ms | GB/s | × copy | × native |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.get("skipped"):
            numbers = f"skipped: {r['skipped']} | | | "
        else:
            numbers = (
                f"{1e3 * r['seconds']:.3f} | {r['gbps']:.0f} | {r['x_copy']:.2f} | "
                f"{r['x_native']:.2f}"
            )
        lines.append(f"| {r['shape']} | {r['norm']} | {r['pass']} | {r['impl']} | {numbers} |")
    return "\n".join(lines)
