"""Executing the chapters, once: the execution cache the build, the tests and every edition share.

The cache (jupyter-cache, as Jupyter Book's ``execute: cache``) lives in a folder keyed by
the package source and the pins (:func:`execution_cache_dir`), so a change in ``lnbook``
re-executes every chapter and a change in this build glue re-executes none. The chapter
tests execute each chapter and :func:`store` it there; the strict build then finds it
executed, so a test run executes each chapter once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import jupytext
import nbformat

from .myst import ROOT

# Everything of lnbook a chapter may run: the package outside this build glue (_HERE).
# Of the benchmarks, chapters 7 and 8 run bench; only the widgets' latency runs in none.
# A change in the rest re-executes every chapter.
_HERE = Path(__file__).parent
_PACKAGE = _HERE.parent
_NOT_EXECUTED = {"latency.py"}


def execution_cache_dir(root: str | Path) -> Path:
    """The jupyter-cache folder for the current package source and pins.

    Parameters
    ----------
    root : the repository root (holding ``_config.yml``)
    """
    root = Path(root)
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        # Build and classroom glue (this subpackage) runs no chapter: a change there
        # re-executes nothing.
        if path.is_relative_to(_HERE) or path.name in _NOT_EXECUTED:
            continue
        digest.update(path.relative_to(_PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    for name in ("requirements.txt", "pyproject.toml"):
        if (root / name).exists():
            digest.update((root / name).read_bytes())
    return root / "_build" / ".jupyter_cache" / digest.hexdigest()[:16]


def executed_notebook(source: str | Path, cache_path: str | Path):
    """A chapter as a notebook with the outputs of its cached execution (none if uncached).

    Returns None for a page that is not a notebook (no jupytext header with a kernel).
    """
    import jupytext
    from jupyter_cache import get_cache

    source = Path(source)
    if source.suffix != ".md" or "kernelspec:" not in source.read_text(encoding="utf-8")[:600]:
        return None
    nb = jupytext.read(source, fmt="md:myst")
    try:
        _, nb = get_cache(str(cache_path)).merge_match_into_notebook(nb)
    except KeyError:  # not executed yet: offer the notebook without outputs
        pass
    return nb


def fresh_start(folder: Path) -> str:
    """The source of a cell that gives the cells after it what a fresh kernel would, in a
    kernel that ran another notebook before: an empty namespace (``%reset -f``), ``folder``
    as the working folder, torch's default dtype (chapter 3 sets float64 for its
    comparisons) and no wrong tries counted by the exercise checks (``lnbook.checking``).
    Of the settings that outlive a namespace, grep of book/ finds only the dtype and
    torch.manual_seed, which a chapter whose numbers depend on a draw sets itself."""
    return f"""%reset -f
import os as _os, sys as _sys
_os.chdir({str(folder)!r})
if "torch" in _sys.modules:
    _sys.modules["torch"].set_default_dtype(_sys.modules["torch"].float32)
if "lnbook.checking" in _sys.modules:
    _sys.modules["lnbook.checking"]._wrong_tries.clear()
del _os, _sys"""


def execute(nb: nbformat.NotebookNode, path: Path, allow_errors: bool = False, km=None) -> None:
    """Run ``nb`` in a fresh python3 kernel, in the folder of ``path`` (its chapter), as
    the build does.

    Timing metadata is left out (it would change the notebook's hash in the execution
    cache) and widget state is not kept (no edition shows a widget without a kernel).

    Parameters
    ----------
    nb : the notebook, executed in place
    path : the chapter's source: the kernel starts in its folder
    allow_errors : go on after a failing cell (its error is then in its outputs)
    km : a ``jupyter_client.KernelManager`` of a kernel already running, to run ``nb`` in
        instead of a fresh one: ``nb`` starts as in a fresh kernel (:func:`fresh_start`, in
        the folder of ``path``; its execution counts from 1), and the kernel keeps running
        after it
    """
    from nbclient import NotebookClient

    if km is not None:  # the fresh start runs first, then leaves the notebook as it was
        nb.cells.insert(0, nbformat.v4.new_code_cell(fresh_start(path.resolve().parent)))

    client = NotebookClient(
        nb,
        km=km,
        timeout=600,  # a hang guard, not a speed limit (a busy machine is slow)
        kernel_name="python3",
        allow_errors=allow_errors,
        record_timing=False,
        store_widget_state=False,
        resources={"metadata": {"path": str(path.resolve().parent)}},
    )
    try:
        client.execute()
    finally:
        if km is not None:
            _renumber(nb.cells, nb.cells.pop(0).get("execution_count"))
            if client.kc is not None:  # the kernel stays, its client goes
                client.kc.stop_channels()


def _renumber(cells, before: int | None) -> None:
    """Execution counts as a fresh kernel gives them (from 1), where the fresh start ran
    before the cells with count ``before``. nbclient counts the cells it ran; their results
    (``execute_result``) carry the kernel's count, which goes on from notebook to notebook:
    in a fresh kernel it is their cell's."""
    if not before:
        return
    for cell in cells:
        if cell.cell_type == "code" and cell.get("execution_count"):
            cell.execution_count -= before
            for out in cell.get("outputs", []):
                if out.get("execution_count"):
                    out.execution_count = cell.execution_count


def store(nb: nbformat.NotebookNode, path: Path, cache_path: Path, seconds: float):
    """Keep an executed chapter in the execution cache, where the build finds it; return
    the cache's record."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    return get_cache(str(cache_path)).cache_notebook_bundle(
        CacheBundleIn(nb, str(path), data={"execution_seconds": seconds}),
        check_validity=False,
        overwrite=True,
    )


def executed_chapter(path: Path, root: Path = ROOT) -> nbformat.NotebookNode:
    """The chapter with its outputs: from the execution cache, or executed now (and kept
    there for the build and the other editions; on Binder, which has no cache, postBuild
    executes every chapter once this way)."""
    import time

    cache = execution_cache_dir(root)
    nb = executed_notebook(path, cache)
    if any(c.get("outputs") for c in nb.cells if c.cell_type == "code"):
        return nb
    print(f"executing {path.name} (not in the execution cache yet)...", flush=True)
    nb = jupytext.read(path, fmt="md:myst")
    start = time.perf_counter()
    execute(nb, path)
    store(nb, path, cache, time.perf_counter() - start)
    return nb


# The kernel's peak resident memory in KiB: Linux's VmHWM, which starts afresh when the
# kernel's program starts. (getrusage's ru_maxrss does not: it keeps the peak of the process
# that launched the kernel, before its exec, so a kernel started from a big process looks big.)
_PEAK_MEMORY = (
    "import re\n"
    "with open('/proc/self/status') as f:\n"
    "    print(re.search(r'VmHWM:\\s*(\\d+) kB', f.read())[1])"
)


def cost(nb: nbformat.NotebookNode, path: Path) -> tuple[float, float]:
    """Seconds to run ``nb`` in a fresh kernel (start included) and the kernel's peak
    resident memory in MB: what a reader's, a grader's or Binder's machine pays."""
    import time

    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.resolve().parent)}},
    )
    start = time.perf_counter()
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, i)
        seconds = time.perf_counter() - start
        probe = nbformat.v4.new_code_cell(_PEAK_MEMORY)
        nb.cells.append(probe)  # nbclient writes a cell's outputs back by its index
        client.execute_cell(probe, len(nb.cells) - 1)
        nb.cells.pop()
    return seconds, int(probe.outputs[0]["text"]) / 1024
