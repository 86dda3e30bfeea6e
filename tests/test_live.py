"""Live in Jupyter: a real JupyterLab server from the project's environment, configured as
``make lab`` and Binder configure it, opens a chapter as a notebook, and a widget of that
chapter answers a control change sent the way a browser sends it (a comm message) with
its callback, in a real kernel.

The server listens on 127.0.0.1 only, with a random token; the test talks to it over HTTP
and the kernel websocket, as JupyterLab's frontend does.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHAPTER = "book/06_covariate_shift.md"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    config = tmp_path_factory.mktemp("jupyter-config")
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config),  # nothing from, or into, the home folder
        "JUPYTER_RUNTIME_DIR": str(config / "runtime"),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    # The repository's settings, applied as `make lab` and binder/postBuild apply them.
    subprocess.run([str(BIN / "jupytext-config"), "set-default-viewer"], env=env, check=True)
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
                _get(base, token, "/api/status")
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


def _get(base: str, token: str, path: str):
    request = urllib.request.Request(base + path, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _post(base: str, token: str, path: str, body: dict):
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_markdown_chapters_open_as_notebooks_by_default(lab):
    base, token = lab
    plugin = _get(base, token, "/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    viewers = plugin["schema"]["properties"]["defaultViewers"]["default"]
    assert viewers.get("markdown") == "Jupytext Notebook"


def test_a_chapter_opens_as_a_notebook_through_the_contents_api(lab):
    base, token = lab
    model = _get(base, token, f"/api/contents/{CHAPTER}?type=notebook&content=1")
    assert model["type"] == "notebook"
    nb = model["content"]
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert any("covariate_shift_explorer" in c["source"] for c in code)


def _decode(raw: str | bytes) -> dict:
    """A kernel websocket message: JSON text, or, when it carries binary buffers (the
    figure widget's arrays), the server's binary framing: a count n, n offsets, the JSON
    message at the first offset, then the buffers."""
    if isinstance(raw, str):
        return json.loads(raw)
    (n,) = struct.unpack("!I", raw[:4])
    offsets = [*struct.unpack(f"!{n}I", raw[4 : 4 + 4 * n]), len(raw)]
    return json.loads(raw[offsets[0] : offsets[1]])


class _Kernel:
    """The kernel websocket, spoken as a frontend speaks it (Jupyter messaging, JSON)."""

    def __init__(self, ws, session: str):
        self.ws, self.session = ws, session

    def _message(self, msg_type: str, content: dict, channel: str = "shell") -> dict:
        return {
            "header": {
                "msg_id": uuid.uuid4().hex,
                "username": "test",
                "session": self.session,
                "msg_type": msg_type,
                "version": "5.3",
            },
            "parent_header": {},
            "metadata": {},
            "content": content,
            "channel": channel,
            "buffers": [],
        }

    async def request(self, msg_type: str, content: dict, timeout: float = 120) -> list[dict]:
        """Send one shell message; return every iopub message it caused, until idle."""
        msg = self._message(msg_type, content)
        await self.ws.write_message(json.dumps(msg))
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            raw = await asyncio.wait_for(self.ws.read_message(), timeout)
            if raw is None:
                raise RuntimeError("the kernel websocket closed")
            reply = _decode(raw)
            if reply.get("parent_header", {}).get("msg_id") != msg["header"]["msg_id"]:
                continue
            if reply["channel"] != "iopub":
                continue
            if reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle":
                return seen
            seen.append(reply)
        raise TimeoutError(f"{msg_type} did not finish in {timeout} s")

    async def run(self, code: str) -> list[dict]:
        out = await self.request(
            "execute_request",
            {"code": code, "silent": False, "store_history": False, "allow_stdin": False},
        )
        errors = [m["content"] for m in out if m["msg_type"] == "error"]
        assert not errors, errors
        return out


def _printed(messages: list[dict]) -> str:
    return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")


def test_a_chapter_widget_answers_a_frontend_control_change_in_a_real_kernel(lab):
    from tornado.websocket import websocket_connect

    base, token = lab
    nb = _get(base, token, f"/api/contents/{CHAPTER}?type=notebook&content=1")["content"]
    code = [c["source"] for c in nb["cells"] if c["cell_type"] == "code"]
    setup = code[0]  # the chapter's imports
    (widget_cell,) = [c for c in code if "widgets.covariate_shift_explorer" in c]
    kernel = _post(base, token, "/api/kernels", {"name": "python3"})

    async def scenario():
        ws = await websocket_connect(
            f"ws://{base.split('://')[1]}/api/kernels/{kernel['id']}/channels?token={token}"
        )
        k = _Kernel(ws, uuid.uuid4().hex)
        try:
            await k.run(setup)
            # The chapter's own widget cell, displayed as a frontend would show it.
            shown = await k.run(f"explorer = {widget_cell.strip()}\ndisplay(explorer)")
            views = [
                m["content"]["data"]
                for m in shown
                if m["msg_type"] == "display_data"
                and "application/vnd.jupyter.widget-view+json" in m["content"]["data"]
            ]
            assert views, "the widget was not displayed as a widget view"
            ids = _printed(
                await k.run(
                    "print(explorer.controls['layer'].model_id)\n"
                    "before = list(explorer.figure.data[5].y)\n"
                    "print(explorer.controls['layer'].value)"
                )
            ).split()
            model_id, value = ids[0], int(ids[1])
            new = 0 if value != 0 else 1
            # What the browser sends when the reader clicks another layer: a comm update of
            # the toggle buttons' synced state, the selected index (here equal to the value).
            effects = await k.request(
                "comm_msg",
                {
                    "comm_id": model_id,
                    "data": {"method": "update", "state": {"index": new}, "buffer_paths": []},
                },
            )
            # The callback ran: the figure widget sent its new data back to the frontend.
            assert any(m["msg_type"] == "comm_msg" for m in effects)
            after = _printed(
                await k.run(
                    "print(explorer.controls['layer'].value, "
                    "list(explorer.figure.data[5].y) != before)"
                )
            ).split()
            assert after == [str(new), "True"]
        finally:
            ws.close()

    asyncio.run(scenario())
