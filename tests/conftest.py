"""Shared test settings, and the fixtures of the site tests (built once per session)."""

import functools
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import sitekit
from hypothesis import settings

# Property tests compare with torch; their speed varies with the shapes drawn, so no deadline.
# derandomize: every run (and CI) draws the same examples, so a failure is reproducible.
settings.register_profile("lnbook", deadline=None, derandomize=True)
settings.load_profile("lnbook")


@pytest.fixture(scope="session")
def site() -> Path:
    """Build the book exactly as ``make book`` does; warnings and failing cells fail it."""
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run(
        [str(jb), "build", "-W", "-n", "--keep-going", str(sitekit.ROOT)],
        capture_output=True,
        text=True,
        cwd=sitekit.ROOT,
    )
    log = proc.stdout + proc.stderr
    # With -W every Sphinx warning (a dropped figure, a broken reference) is an error.
    assert proc.returncode == 0, f"strict build failed:\n{log[-8000:]}"
    return sitekit.HTML


@pytest.fixture(scope="session")
def server(site):
    handler = functools.partial(sitekit.QuietHandler, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=sitekit.chromium(), args=sitekit.CHROMIUM_ARGS)
        yield b
        b.close()


# The book's tests, by file and test-name prefix: the chapter runs, the test that reads their
# executions, and the site tests (whose strict build renders those executions). Under
# ``make test``'s two workers they stay together on one worker, in collection order.
_BOOK = (
    ("tests/test_chapters.py", "test_chapter["),
    ("tests/test_editions.py", "test_student_edition_is_plain_markdown_with_the_executed"),
    ("tests/test_book_text.py", ""),
    ("tests/test_site.py", ""),
    ("tests/test_site_reader.py", ""),
)


def in_book_group(nodeid: str) -> bool:
    path, _, name = nodeid.partition("::")
    return any(path == p and name.startswith(prefix) for p, prefix in _BOOK)


def pytest_collection_modifyitems(config, items):
    """Run the site tests last: the strict build they share then reuses the chapters the
    chapter tests executed (tests/test_chapters.py) instead of executing each a second time.
    """
    items.sort(key=lambda item: item.get_closest_marker("site") is not None)  # stable
    stray = [
        i.nodeid for i in items if i.get_closest_marker("site") and not in_book_group(i.nodeid)
    ]
    if stray:  # a new site test file must join the book's worker (_BOOK), or it builds alone
        raise pytest.UsageError(f"site tests outside the book group (tests/conftest.py): {stray}")


def pytest_xdist_make_scheduler(config, log):
    """``make test`` runs two workers (pytest-xdist): the book's tests on one, as one unit
    of work, every other test on either.

    (xdist's own ``--dist loadgroup`` marks groups by renaming test ids, which pytest 9's
    structured ids ignore: with it the groups were silently split.)
    """
    from xdist.scheduler import LoadScopeScheduling

    class BookOnOneWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "book" if in_book_group(nodeid) else nodeid

    return BookOnOneWorker(config, log)


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread_per_worker():
    """Under xdist each worker gets one core: torch's default of one thread per core would
    make the two workers fight over both. (Chapter kernels are separate processes.)"""
    import os

    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)
