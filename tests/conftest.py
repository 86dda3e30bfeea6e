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


def pytest_collection_modifyitems(config, items):
    """Run the site tests last: the strict build they share then reuses the chapters the
    chapter tests executed (tests/test_chapters.py) instead of executing each a second time.
    """
    items.sort(key=lambda item: item.get_closest_marker("site") is not None)  # stable
