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


def pytest_configure(config):
    # Here rather than in pyproject.toml, whose bytes key the execution cache.
    config.addinivalue_line(
        "markers", "executed: reads the chapters tests/test_chapters.py executed in this run"
    )


def pytest_collection_modifyitems(config, items):
    """Order the tests, and keep the book's tests together on one worker.

    The site tests run last: the strict build they share then reuses the chapters the
    chapter tests executed (tests/test_chapters.py) instead of executing each a second time.
    ``make test`` runs two workers (pytest-xdist, ``--dist loadgroup``): the chapter runs,
    the tests that read their executions and the site tests form one group, kept in this
    order on one worker, while the other worker takes every other test.
    """
    items.sort(key=lambda item: item.get_closest_marker("site") is not None)  # stable
    for item in items:
        executes_chapter = (
            item.get_closest_marker("chapter") and item.path.name == "test_chapters.py"
        )
        if (
            executes_chapter
            or item.get_closest_marker("executed")
            or item.get_closest_marker("site")
        ):
            item.add_marker(pytest.mark.xdist_group("book"))


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread_per_worker():
    """Under xdist each worker gets one core: torch's default of one thread per core would
    make the two workers fight over both. (Chapter kernels are separate processes.)"""
    import os

    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)
