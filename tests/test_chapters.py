"""Execute every chapter of the book, once per test run.

Each chapter is a MyST Markdown notebook: jupytext reads it, nbclient runs it
(``lnbook.book.execution.execute``, as the build and the editions run it), and a failing cell
fails the test with its traceback. A worker runs its chapters one after the other in one
kernel (``conftest.notebook_kernel``), each from a fresh start: an empty namespace, its own
folder, and the settings a fresh kernel has; a chapter that changes a process-wide setting
the fresh start does not restore fails its test (``conftest.kernel_settings``).

The executed notebook is then stored in the build's execution cache (keyed by the lnbook
source, see ``lnbook.book.execution.execution_cache_dir``), so the strict build in
``test_site.py`` renders these outputs instead of executing every chapter a second time.

Run one chapter alone with ``pytest tests/test_chapters.py -k 03_from_scratch``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import jupytext
import pytest
from conftest import (
    SLOW_CHAPTERS,
    chapter_done_mark,
    kernel_settings,
    notebook_kernel,
    run_in,
    start_site_build_when_chapters_are_done,
)
from filelock import FileLock
from jupyter_cache import get_cache

from lnbook.book import execution
from lnbook.book.execution import execution_cache_dir

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.md"))


def test_every_chapter_is_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text()
    assert CHAPTERS, "no chapters found in book/"
    missing = [p.stem for p in CHAPTERS if f"book/{p.stem}" not in toc]
    assert not missing, f"chapters missing from _toc.yml: {missing}"


def test_the_slow_chapters_the_test_order_names_are_chapters():
    # conftest runs them first; a renamed chapter would silently lose its place.
    unknown = set(SLOW_CHAPTERS) - {p.stem for p in CHAPTERS}
    assert not unknown, f"SLOW_CHAPTERS in conftest.py names no chapter: {sorted(unknown)}"


@pytest.fixture
def leaves_a_mark(request, run_dir):
    """When the chapter test ends, passed or not, the site build may go ahead (conftest):
    the last chapter test of the run starts it."""
    yield
    mark = chapter_done_mark(run_dir, request.node.callspec.id)
    mark.parent.mkdir(exist_ok=True)
    mark.touch()
    start_site_build_when_chapters_are_done(request.session, run_dir)


@pytest.fixture(scope="session")
def chapter_kernel(run_dir):
    """The kernel a worker runs its chapters in, and its settings after a fresh start, which
    each chapter must leave as it found them. Every result is computed there, and kept for
    the student notebook's run (lnbook._results)."""
    with notebook_kernel(LNBOOK_RESULTS=f"store:{run_dir / 'results'}") as km:
        yield km, kernel_settings(km, CHAPTERS[0])


@pytest.mark.chapter
@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter(path: Path, leaves_a_mark, run_dir, chapter_kernel):
    km, settings = chapter_kernel
    nb = jupytext.read(path)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", (
        f"{path.name} needs a jupytext header with kernelspec python3"
    )
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert not re.search(r"\bwarnings\.(filterwarnings|simplefilter)\(", code), (
        "a warning filter a chapter sets would outlive it in its kernel: use "
        "warnings.catch_warnings() around the cells' code instead"
    )
    start = time.perf_counter()
    # The working directory and settings of the build and the editions (errors raise, no
    # timing metadata: it would change the notebook's hash in the cache).
    run_in(km, nb, path)
    seconds = time.perf_counter() - start

    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors

    cache_path = execution_cache_dir(ROOT)
    with FileLock(run_dir / "cache.lock"):  # the two workers share one cache database
        record = execution.store(nb, path, cache_path, seconds)
        # The build must find this record for the unexecuted chapter, or executes it again.
        cache = get_cache(str(cache_path))
        assert cache.match_cache_notebook(jupytext.read(path)).pk == record.pk
    print(f"{path.name}: executed in {seconds:.1f} s")
    # What the next chapter in this kernel finds: what this one found.
    left = kernel_settings(km, path)
    changed = {
        k: (settings.get(k), left.get(k)) for k in settings | left if left.get(k) != settings.get(k)
    }
    if changed:
        km.restart_kernel(now=True)  # the next chapter starts as a fresh kernel does
    assert not changed, f"{path.name} changes settings a fresh start keeps: {changed}"
