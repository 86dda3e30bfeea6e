"""Live in Jupyter: a real JupyterLab server from the project's environment, configured as
``make lab`` and Binder configure it, opens a chapter as a notebook, and a widget of that
chapter answers a control change sent the way a browser sends it (a comm message) with
its callback, in a real kernel. In JupyterLab itself (headless chromium), a live figure
fills its output area.

The server listens on 127.0.0.1 only, with a random token, and serves the repository; the
tests talk to it over HTTP and the kernel websocket, as JupyterLab's frontend does, or
drive JupyterLab in a browser (``lab_page``, on notebooks a test writes with
``lab_page.write_notebook``, under ``_build/``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import struct
import time
import urllib.request
import uuid

import labkit

CHAPTER = "book/06_covariate_shift.md"


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
    plugin = labkit.get(base, token, "/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    viewers = plugin["schema"]["properties"]["defaultViewers"]["default"]
    assert viewers.get("markdown") == "Jupytext Notebook"


def test_a_chapter_opens_as_a_notebook_through_the_contents_api(lab):
    base, token = lab
    model = labkit.get(base, token, f"/api/contents/{CHAPTER}?type=notebook&content=1")
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
    nb = labkit.get(base, token, f"/api/contents/{CHAPTER}?type=notebook&content=1")["content"]
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

    # In a thread of its own: Playwright's sync API (the browser tests of this worker) may
    # hold an event loop in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result()


# The n-th plotly figure of the current notebook, and the output area it sits in.
_PLOT_WIDTHS = """n => {
    const panel = document.getElementById(window.jupyterapp.shell.currentWidget.id);
    const plot = panel.querySelectorAll('.js-plotly-plot')[n];
    const svg = plot && plot.querySelector('.main-svg');
    if (!svg) return null;
    const area = plot.closest('.jp-OutputArea-output');
    return {svg: svg.getBoundingClientRect().width, area: area.getBoundingClientRect().width};
}"""


def _plot_fills_its_output(
    lab_page, n: int = 0, slack: float = 40, narrower_than: float = float("inf")
) -> dict | None:
    """Wait until the n-th plot fills its output area (within ``slack`` px); its widths.

    ``narrower_than``: also wait until the area is narrower than this, so that a resize of
    the window has reached the notebook (JupyterLab lays out again on the next frame, and
    the old widths still "fit").
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = lab_page.page
    bound = "Infinity" if narrower_than == float("inf") else narrower_than
    fits = f"""() => {{ const w = ({_PLOT_WIDTHS})({n});
        return w !== null && Math.abs(w.area - w.svg) <= {slack} && w.area < {bound}; }}"""
    try:
        page.wait_for_function(fits, timeout=60_000)
    except PlaywrightTimeout:
        pass  # the caller's assertion says what was drawn instead
    return page.evaluate(_PLOT_WIDTHS, n)


EXPLORER = (
    "from lnbook.topics.statistics import widgets\n"
    "from lnbook.data import layer_activations\n"
    "explorer = widgets.example_explorer(layer_activations(4, 8, seed=0))\n"
)


def test_a_live_figure_fills_its_output_area_in_jupyterlab(lab_page):
    # plotly's FigureWidget draws before its element is in the page and keeps plotly.js's
    # 700 px default; lnbook.live.LiveFigure draws at the output's width, and follows it.
    lab_page.open(lab_page.write_notebook("live-figure-width", [EXPLORER + "explorer"]))
    lab_page.run_all()
    lab_page.notebook.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=60_000)
    widths = _plot_fills_its_output(lab_page)
    assert widths and widths["area"] > 800, widths  # a laptop's notebook: well over 700 px
    assert abs(widths["area"] - widths["svg"]) <= 40, f"the figure does not fill: {widths}"
    # A narrower window: the figure follows its output area.
    # The window loses 400 px; the notebook's share of that depends on JupyterLab's side
    # panels, so ask only for a clear change.
    lab_page.page.set_viewport_size({"width": 1000, "height": 1000})
    try:
        narrower = _plot_fills_its_output(lab_page, narrower_than=widths["area"] - 100)
    finally:
        lab_page.page.set_viewport_size({"width": 1400, "height": 1000})
    assert narrower["area"] < widths["area"] - 100, (widths, narrower)
    assert abs(narrower["area"] - narrower["svg"]) <= 40, f"no resize: {narrower}"


def test_a_live_figure_updated_before_it_is_drawn_keeps_every_trace_whole(lab_page):
    # A figure draws once it has a width, so updates can reach it first (here: shown in a
    # hidden box, updated, then revealed). What an update leaves unchanged plotly marks
    # "_undefined_"; its front end used to store that mark as the value, and the drawing
    # lost it: the statistics (trace 4: same place, new text) fell onto the axis.
    lab_page.open(
        lab_page.write_notebook(
            "live-figure-update",
            [
                EXPLORER + "import ipywidgets as W\n"
                "box = W.VBox([explorer.widget], layout=W.Layout(display='none'))\n"
                "box",
                "import json\n"
                "explorer.controls['n_features'].value = 5\n"
                "note = explorer.figure.data[4]\n"
                "print(json.dumps([list(note.x), list(note.y), list(note.text)]))",
                "box.layout.display = 'flex'",
            ],
        )
    )
    lab_page.run_all()
    lab_page.notebook.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=60_000)
    printed = lab_page.notebook.locator("[data-mime-type='application/vnd.jupyter.stdout']")
    kernel = json.loads(printed.first.inner_text())
    drawn = lab_page.page.evaluate(
        """() => {
            const panel = document.getElementById(window.jupyterapp.shell.currentWidget.id);
            const t = panel.querySelector('.js-plotly-plot').data[4];
            return [Array.from(t.x ?? []), Array.from(t.y ?? []), Array.from(t.text ?? [])];
        }"""
    )
    assert drawn == kernel
