"""The in-browser edition (lnbook.book.lite): the notebook transformation and the lock rewriting,
then the built lite site in chromium, offline: the kernel starts from the site's own Pyodide
core, runs Python, and says plainly that NumPy needs Pyodide's package index."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import sitekit

import lnbook
from lnbook.book import editions, launch, lite, myst

NUMPY_CELL = "import numpy as np\nprint(np.arange(4).sum())"


# ------------------------------------------------------------------ unit tests ----


def test_lite_url_opens_the_chapter_notebook_at_the_root_of_the_contents():
    assert launch.LITE_DIR == "lite"
    assert launch.lite_url("01_per_example_statistics") == (
        "lite/lab/index.html?path=01_per_example_statistics.ipynb"
    )


def _reader_like() -> nbformat.NotebookNode:
    torch_cell = nbformat.v4.new_code_cell(
        "model = train()", metadata={"tags": ["needs-torch"]}, execution_count=3
    )
    torch_cell.outputs = [nbformat.v4.new_output("stream", text="loss 0.1\n")]
    return nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("**Chapter**: the reader's note"),
            nbformat.v4.new_code_cell("import numpy as np\nfrom myst_nb import glue\n"),
            torch_cell,
            nbformat.v4.new_code_cell("x = np.ones(3)"),
        ],
    )


def test_lite_notebook_adds_the_setup_cell_and_a_note_before_each_torch_cell():
    reader = _reader_like()
    before = json.dumps(reader, sort_keys=True)
    nb = lite.lite_notebook(reader)
    sources = [c.source for c in nb.cells]
    assert sources == [
        "**Chapter**: the reader's note",
        lite.NOTE,
        lite.SETUP,
        "import numpy as np\n",  # myst_nb is not in the browser
        lite.TORCH_NOTE,
        "model = train()",
        "x = np.ones(3)",
    ]
    assert nb.cells[2].cell_type == "code" and "%pip install lnbook" in nb.cells[2].source
    assert nb.cells[4].cell_type == "markdown" and "`make lab`" in lite.TORCH_NOTE
    assert nb.cells[5].outputs == reader.cells[2].outputs  # the full edition's output kept
    assert nb.cells[5].metadata.tags == ["needs-torch", "raises-exception"]  # Run All goes on
    assert nb.metadata["lnbook"]["edition"] == "lite"
    nbformat.validate(nb)
    assert json.dumps(reader, sort_keys=True) == before  # a pure function


def test_every_chapter_becomes_a_valid_lite_notebook_with_one_setup_cell():
    path = myst.chapters()[0]
    nb = lite.lite_notebook(editions.reader_notebook(_uncached(path), path))
    nbformat.validate(nb)
    assert [c.source for c in nb.cells].count(lite.SETUP) == 1
    assert not any("myst_nb" in c.source for c in nb.cells if c.cell_type == "code")


def _uncached(path: Path) -> nbformat.NotebookNode:
    import jupytext

    return jupytext.read(path, fmt="md:myst")


LOCK = {
    "info": {"python": "3.14.2"},
    "packages": {
        "pure": {"name": "pure", "file_name": "pure-1.0-py3-none-any.whl", "sha256": "aa"},
        "numpy": {"name": "numpy", "file_name": "numpy-2.4.6-wasm32.whl", "sha256": "bb"},
        "prompt-toolkit": {"name": "prompt_toolkit", "file_name": "p.whl", "depends": []},
    },
}


def test_rewrite_lock_serves_shipped_wheels_locally_and_the_rest_from_the_index():
    index = "https://example.org/pyodide/"
    local = {
        "pure": {"file_name": "pure-1.0-py3-none-any.whl", "sha256": "cc"},
        "prompt-toolkit": {"file_name": "prompt_toolkit-3.whl", "sha256": "dd"},
        "new": {"name": "new", "file_name": "new-2-py3-none-any.whl", "sha256": "ee"},
    }
    before = json.dumps(LOCK, sort_keys=True)
    out = lite.rewrite_lock(LOCK, local, index)["packages"]
    assert out["pure"] == {"name": "pure", "file_name": "pure-1.0-py3-none-any.whl", "sha256": "cc"}
    assert out["numpy"]["file_name"] == index + "numpy-2.4.6-wasm32.whl"
    assert out["numpy"]["sha256"] == "bb"  # the index serves Pyodide's own build
    assert out["prompt-toolkit"]["name"] == "prompt_toolkit"  # found by its canonical name
    assert out["new"]["file_name"] == "new-2-py3-none-any.whl"
    assert json.dumps(LOCK, sort_keys=True) == before


def test_closure_follows_dependencies_by_canonical_name():
    lock = {
        "packages": {
            "ipython": {"depends": ["prompt_toolkit", "six"]},
            "prompt-toolkit": {"depends": ["wcwidth"]},
            "six": {"depends": []},
            "wcwidth": {"depends": []},
            "numpy": {"depends": []},
        }
    }
    assert lite.closure(lock, ["IPython"]) == ["ipython", "prompt-toolkit", "six", "wcwidth"]


def test_pyodide_index_is_none_unless_the_builder_names_one(monkeypatch):
    # The site loads nothing from outside its own folder: no CDN by default.
    monkeypatch.delenv(lite.INDEX_ENV, raising=False)
    assert lite.pyodide_index() == ""
    assert lite.rewrite_lock(
        {"packages": {"numpy": {"file_name": "numpy-2.whl"}}}, {}, lite.pyodide_index()
    ) == {"packages": {"numpy": {"file_name": "numpy-2.whl"}}}
    monkeypatch.setenv(lite.INDEX_ENV, "https://mirror.example/pyodide")
    assert lite.pyodide_index() == "https://mirror.example/pyodide/"


def test_npm_pyodide_pin_is_the_version_the_kernel_expects():
    from jupyterlite_pyodide_kernel.constants import PYODIDE_VERSION

    package = json.loads((sitekit.ROOT / "package.json").read_text())
    assert package["devDependencies"]["pyodide"] == PYODIDE_VERSION == lite.PYODIDE_VERSION


def test_lnbook_wheel_carries_the_modules_and_digits_but_not_torch(tmp_path):
    from lnbook import data

    wheel = lite.lnbook_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read(f"lnbook-{lnbook.__version__}.dist-info/METADATA").decode()
    assert {"lnbook/__init__.py", "lnbook/numpy_ln.py", f"lnbook/{data.DIGITS_FILE}"} <= names
    # Every module of the source tree is in it, subpackages included.
    package = Path(lnbook.__file__).parent
    modules = {f"lnbook/{p.relative_to(package).as_posix()}" for p in package.rglob("*.py")}
    assert modules - names == set()
    # Unpacked alone, the wheel is a working lnbook: a chapter's imports, the live figure
    # (it reads its script at import) and the browser's setup function.
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(unpacked)
    code = (
        "import lnbook, lnbook.book.lite\n"
        "from lnbook.topics.statistics import checks, experiments, figures, widgets\n"
        "from lnbook import data\n"
        f"assert lnbook.__file__.startswith({str(unpacked)!r}), lnbook.__file__\n"
        "widgets.example_explorer(data.layer_activations(4, 8, seed=0))\n"
        "print('ok')"
    )
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
    assert "Requires-Dist: numpy==" in metadata
    assert "torch" not in metadata and "scikit-learn" not in metadata
    assert lite.lnbook_wheel(tmp_path).read_bytes() == wheel.read_bytes()  # reproducible


# ------------------------------------------------------------ the built lite site ----


@pytest.mark.site
def test_lite_site_holds_every_chapter_and_a_lock_that_matches_its_wheels(site):
    root = site / launch.LITE_DIR
    for path in myst.chapters():
        nb = json.loads((root / "files" / f"{path.stem}.ipynb").read_text(encoding="utf-8"))
        assert nb["metadata"]["lnbook"]["edition"] == "lite"
    config = json.loads((root / "jupyter-lite.json").read_text())["jupyter-config-data"]
    kernel = config["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    assert kernel["pyodideUrl"] == "./static/pyodide/pyodide.mjs"
    assert kernel["disablePyPIFallback"] is True
    folder = root / "static" / "pyodide"
    packages = json.loads((folder / "pyodide-lock.json").read_text())["packages"]
    # Nothing from outside the site unless the build was told a URL; the packages not
    # shipped keep npm's lock entry (their file is not in the site: the setup cell says so).
    index = lite.pyodide_index() if sitekit.is_external(lite.pyodide_index()) else None
    npm = json.loads((sitekit.ROOT / "node_modules/pyodide/pyodide-lock.json").read_text())
    for name, entry in packages.items():
        if sitekit.is_external(entry["file_name"]):
            assert index and entry["file_name"].startswith(index), name
            continue
        wheel = folder / entry["file_name"]
        if not wheel.is_file() and name in npm["packages"]:
            assert entry == npm["packages"][name], name  # Pyodide's own, not shipped
            continue
        assert wheel.is_file(), name
        assert hashlib.sha256(wheel.read_bytes()).hexdigest() == entry["sha256"], name
    for name in ["micropip", "ipython", "comm", "plotly", "ipywidgets", "anywidget", "lnbook"]:
        assert not sitekit.is_external(packages[name]["file_name"]), name
    assert not list(root.rglob("*.map")), "built with --no-sourcemaps"


class LitePage:
    """A lite chapter opened in chromium; every request outside the site is recorded and
    refused, every console error kept."""

    TIMEOUT_MS = 180_000

    def __init__(self, browser, base: str, stem: str, allow: str | None = None):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.outside: list[str] = []
        self.errors: list[str] = []

        def route(r):
            url = r.request.url
            if url.startswith((base, "data:", "blob:")) or (allow and url.startswith(allow)):
                r.continue_()
            else:
                self.outside.append(url)
                r.abort()

        self.context.route("**/*", route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(f"{base}/{launch.lite_url(stem)}", timeout=self.TIMEOUT_MS)
        self.page.wait_for_function(
            "path => window.jupyterapp?.shell.currentWidget?.context?.path === path",
            arg=f"{stem}.ipynb",
            timeout=self.TIMEOUT_MS,
        )

    def wait_for_idle_kernel(self) -> None:
        self.page.wait_for_function(
            "() => window.jupyterapp.shell.currentWidget.sessionContext.session"
            "?.kernel?.status === 'idle'",
            timeout=self.TIMEOUT_MS,
        )

    def execute(self, code: str) -> dict:
        """Run ``code`` on the notebook's kernel: its text output and error, if any."""
        return self.page.evaluate(
            """async code => {
                const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
                const future = kernel.requestExecute({code});
                const out = {text: '', error: null};
                future.onIOPub = msg => {
                    const c = msg.content;
                    if (msg.header.msg_type === 'stream') out.text += c.text;
                    if (c.data && c.data['text/plain']) out.text += c.data['text/plain'];
                    if (msg.header.msg_type === 'error') out.error = c.ename + ': ' + c.evalue;
                };
                await future.done;
                return out;
            }""",
            code,
        )

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def lite_chapter(site, server, browser):
    """Chapter 1 in the lite lab, its kernel started and idle."""
    page = LitePage(browser, server, "01_per_example_statistics")
    page.wait_for_idle_kernel()
    yield page
    page.close()


@pytest.mark.site
def test_lite_app_and_kernel_start_from_the_site_alone(lite_chapter, record_property):
    # Everything up to here (the app, the notebook, Pyodide's core, the kernel's packages)
    # came from the site: nothing outside was even asked for, and nothing failed.
    assert not lite_chapter.outside, f"requests outside the site: {lite_chapter.outside}"
    assert not lite_chapter.errors, lite_chapter.errors
    # The chapter's figures (kept outputs) drawn by the plotly extension, with its own plotly.js.
    assert lite_chapter.page.locator(".js-plotly-plot").count() >= 3
    start = lite_chapter.page.evaluate("() => performance.now()")
    record_property("measured", f"lite chapter open, kernel idle after {start / 1000:.0f} s")


@pytest.mark.site
def test_lite_kernel_runs_python(lite_chapter):
    out = lite_chapter.execute("import statistics\nprint(statistics.mean([1, 2, 3, 6]))")
    assert out == {"text": "3\n", "error": None}


@pytest.mark.site
def test_numpy_without_the_index_fails_with_a_readable_message(lite_chapter):
    index = lite.pyodide_index()
    if index and not sitekit.is_external(index):
        pytest.skip(f"{lite.INDEX_ENV} is a local folder: the site serves NumPy itself")
    lite_chapter.outside.clear()
    # A NumPy cell run before the setup cell: Pyodide asks for NumPy where the lock says
    # (the configured index, or beside the lock) and, refused, names the missing module.
    out = lite_chapter.execute(NUMPY_CELL)
    assert "No module named 'numpy'" in (out["error"] or ""), out
    asked = list(lite_chapter.outside)
    # The setup cell (which the notebook says to run first) says why, and what to do.
    lite_chapter.outside.clear()
    out = lite_chapter.execute(lite.SETUP)
    # (the Pyodide kernel names the exception "<class 'ImportError'>")
    assert "ImportError" in (out["error"] or ""), out
    assert "NumPy could not be loaded" in out["error"]
    assert "built without Pyodide's compiled packages" in out["error"]
    numpy = json.loads((sitekit.HTML / "lite/static/pyodide/pyodide-lock.json").read_text())[
        "packages"
    ]["numpy"]["file_name"]
    if index:  # a URL the builder chose: NumPy was asked of it, and refused; nothing else
        assert numpy.startswith(index)
        assert set(lite_chapter.outside) == set(asked) == {numpy}
    else:  # none (the default): nothing left the site, not even the request for NumPy
        assert not sitekit.is_external(numpy)
        assert asked == [] and lite_chapter.outside == []


def _local_index() -> Path | None:
    index = os.environ.get(lite.INDEX_ENV, "")
    return Path(index) if index and Path(index).is_dir() else None


@pytest.mark.site
@pytest.mark.skipif(
    _local_index() is None,
    reason=f"{lite.INDEX_ENV} does not point at a local folder holding Pyodide "
    f"{lite.PYODIDE_VERSION}'s packages: none exists on this machine (no registry it reaches "
    "serves Pyodide's compiled packages, NumPy included)",
)
def test_chapter_1_numpy_cells_and_an_exercise_check_run_in_the_browser(site, server, browser):
    page = LitePage(browser, server, "01_per_example_statistics")
    try:
        page.wait_for_idle_kernel()
        assert page.execute(lite.SETUP)["text"].startswith("Ready: NumPy")
        nb = json.loads(
            (site / "lite/files/01_per_example_statistics.ipynb").read_text(encoding="utf-8")
        )
        cells = [
            c["source"]
            for c in nb["cells"]
            if c["cell_type"] == "code" and "needs-torch" not in c["metadata"].get("tags", [])
        ]
        verdicts = ""
        for source in cells[1:]:  # after the setup cell
            out = page.execute(source)
            assert out["error"] is None, (source, out)
            verdicts += out["text"]
        assert "correct" in verdicts.lower(), "a solution's check ran and passed"
        assert not page.outside, page.outside
    finally:
        page.close()
