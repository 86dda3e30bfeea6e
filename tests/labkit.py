"""JupyterLab for the browser tests: a real server from the project's ``.venv`` started as
``make lab`` starts it, and one of its tabs in headless chromium (:class:`LabPage`).

The fixtures that use these live in ``conftest.py`` (``lab``, one server per worker, and
``lab_page``): ``test_live.py`` (live widgets) and ``test_lab.py`` (the reader edition)
share them.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(base: str, token: str, path: str):
    """GET a JSON answer of the server's REST API."""
    request = urllib.request.Request(base + path, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@contextmanager
def running_lab(config: Path):
    """JupyterLab with make lab's settings, serving the repository; yields (base, token).

    ``config``: an empty folder for its settings, data and runtime files.
    """
    env = {
        **os.environ,
        # Nothing from, or into, the home folder (settings, the notebook-signing key).
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_DATA_DIR": str(config / "data"),
        "JUPYTER_CONFIG_PATH": str(ROOT / "etc" / "jupyter"),  # as make lab
        "JUPYTER_RUNTIME_DIR": str(config / "runtime"),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    # The repository's settings, applied as `make lab` and binder/postBuild apply them.
    subprocess.run([str(BIN / "jupytext-config"), "set-default-viewer"], env=env, check=True)
    # Every cell rendered at once (by default Lab renders the cells near the viewport), so
    # a test can read a notebook's whole text.
    tracker = config / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    port, token = _free_port(), secrets.token_hex(16)
    log = open(config / "server.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [
            str(BIN / "jupyter"),
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={ROOT}",
            # window.jupyterapp, so the browser tests drive JupyterLab by its own commands
            # (run all cells, ...) rather than by simulated keys.
            "--LabApp.expose_app_in_browser=True",
            *(["--allow-root"] if os.geteuid() == 0 else []),  # CI containers run as root
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                get(base, token, "/api/status")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "JupyterLab did not start:\n" + (config / "server.log").read_text()
                    ) from None
                time.sleep(0.5)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


class LabPage:
    """One JupyterLab tab in headless chromium, driven by JupyterLab's own commands
    (``window.jupyterapp``, which the ``lab`` fixture exposes).

    Every wait is on a state (the document open, the kernel idle, an element drawn), with a
    generous timeout: a cold kernel on a busy two-core machine takes tens of seconds.
    """

    TIMEOUT_MS = 180_000

    def __init__(self, page, base: str, token: str, folder: Path):
        self.page, self.base, self.token, self.folder = page, base, token, folder

    def write_notebook(self, name: str, cells: list[str]) -> str:
        """A notebook of code ``cells`` (Python 3 kernel) in this page's folder, which the
        lab serves; returns its path for :meth:`open`."""
        nb = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(c) for c in cells],
            metadata={
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
            },
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, self.folder / f"{name}.ipynb")
        return (self.folder / f"{name}.ipynb").relative_to(ROOT).as_posix()

    def open(self, path: str) -> None:
        """Open ``path`` in a fresh workspace (no earlier tab restored); wait until it is the
        current document and its kernel is idle."""
        workspace = uuid.uuid4().hex[:12]
        self.page.goto(
            f"{self.base}/lab/workspaces/{workspace}/tree/{path}?reset&token={self.token}",
            timeout=self.TIMEOUT_MS,
        )
        self.page.wait_for_function(
            "path => window.jupyterapp?.shell.currentWidget?.context?.path === path",
            arg=path,
            timeout=self.TIMEOUT_MS,
        )
        self.page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.ready")
        self.wait_for_idle_kernel()

    def wait_for_idle_kernel(self) -> None:
        self.page.wait_for_function(
            "() => window.jupyterapp.shell.currentWidget.sessionContext.session"
            "?.kernel?.status === 'idle'",
            timeout=self.TIMEOUT_MS,
        )

    def run_all(self) -> None:
        """Run every cell of the current notebook; fail with the error if one raises."""
        ok = self.page.evaluate(
            """ms => Promise.race([
                window.jupyterapp.commands.execute('notebook:run-all-cells'),
                new Promise((_, no) => setTimeout(() => no(new Error('cells still running')), ms)),
            ])""",
            self.TIMEOUT_MS,
        )
        errors = self.notebook.locator("[data-mime-type='application/vnd.jupyter.stderr']")
        assert ok, "a cell raised:\n" + "\n".join(errors.all_inner_texts())
        self.wait_for_idle_kernel()

    @property
    def notebook(self):
        """The current notebook panel (other documents' elements stay out of reach)."""
        panel = self.page.evaluate("() => window.jupyterapp.shell.currentWidget.id")
        return self.page.locator(f"[id='{panel}']")
