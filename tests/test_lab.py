"""The reader edition in a real JupyterLab, in Chromium, as ``make lab`` starts it.

The server comes from the project's ``.venv`` with ``make lab``'s settings (jupytext's
default viewer; ``etc/jupyter`` on ``JUPYTER_CONFIG_PATH``), listens on 127.0.0.1 with a
random token, and serves the repository. The reader notebooks it opens are written by
``lnbook.book.editions`` from this run's executed chapters, as ``make lab`` writes them. The
server and the browser tab are ``conftest``'s ``lab`` and ``lab_page`` (``labkit.py``).

With ``LNBOOK_SCREENSHOTS=DIR`` the tests leave their screenshots in DIR, to look at.
"""

from __future__ import annotations

import os
import re
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from lnbook.book import editions, execution, myst

ROOT = Path(__file__).resolve().parents[1]
# As make lab writes them into _build/reader, but a folder per xdist worker (both workers
# may write the same chapters at once).
READER = ROOT / "_build" / "lab-tests" / f"reader-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
SHOWN = ["01_per_example_statistics", "06_covariate_shift"]
# A Markdown cell's rendered text: JupyterLab's renderer, or jupyterlab-myst's (installed
# for authors: make lab DIR=book/), which renders plain Markdown the same way.
RENDERED = ".jp-MarkdownCell :is(.jp-MarkdownOutput, .myst)"


@pytest.fixture(scope="module")
def reader_notebooks(executed_chapters) -> dict[str, nbformat.NotebookNode]:
    """The reader notebooks of the chapters shown here, as make lab writes them."""
    READER.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in SHOWN:
        path = ROOT / "book" / f"{name}.md"
        nb = editions.reader_notebook(execution.executed_chapter(path), path)
        nbformat.write(nb, READER / f"{name}.ipynb")
        out[name] = nb
    return out


def _served(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()  # the lab serves the repository


def _shot(page, name: str) -> None:
    folder = os.environ.get("LNBOOK_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


@pytest.mark.parametrize("name", SHOWN)
def test_a_reader_notebook_renders_in_jupyterlab_as_the_website_reads(
    name, reader_notebooks, lab_page
):
    page = lab_page.page
    lab_page.open(_served(READER / f"{name}.ipynb"))
    notebook = lab_page.notebook
    rendered = notebook.locator(RENDERED)
    # Markdown cells render one after another: wait for every one (a busy machine showed the
    # first cells only, when this waited for one).
    n_markdown = sum(c.cell_type == "markdown" for c in reader_notebooks[name].cells)
    page.wait_for_function(
        """([panel, n]) => [...document.getElementById(panel).querySelectorAll('.jp-MarkdownCell')]
            .filter(c => { const o = c.querySelector(':is(.jp-MarkdownOutput, .myst)');
                           return o && (o.textContent.trim() || o.querySelector('img, svg')); })
            .length >= n""",
        arg=[page.evaluate("() => window.jupyterapp.shell.currentWidget.id"), n_markdown],
        timeout=60_000,
    )
    text = "\n".join(rendered.all_inner_texts())
    # No MyST left as text: the reader edition is plain Markdown.
    for raw in (":::{", "{glue", "{cite", "{ref}", "{numref}", "{literalinclude}", ":label:"):
        assert raw not in text, f"{name}: {raw!r} shows in JupyterLab"
    # The executed numbers are there: every glued value the chapter quotes, as rendered.
    source = (ROOT / "book" / f"{name}.md").read_text(encoding="utf-8")
    glued = myst.glue_values(execution.executed_chapter(ROOT / "book" / f"{name}.md"))
    quoted = re.findall(r"\{glue:text\}`([^`]+)`", source)
    assert quoted
    for role in quoted[:5]:
        shown = myst.plain_markdown(f"{{glue:text}}`{role}`", glued, {}, {}, ROOT)
        assert shown in text, f"{name}: glued {role} ({shown}) not in the page"
    # Outputs are there: the figures drawn by JupyterLab's plotly renderer.
    assert notebook.locator(".js-plotly-plot").count() >= 1
    # Solutions are folded: the heading shows, collapsed; the solution's code does not.
    numbers = myst.exercise_numbers()
    for label, code in editions.solutions(source).items():
        heading = notebook.locator(f"{RENDERED} h4", has_text=f"Exercise {numbers[label]}")
        assert heading.count() == 1 and heading.is_visible()
        check = code.strip().splitlines()[-1]
        shown = [c for c in notebook.locator(".jp-Cell", has_text=check).all() if c.is_visible()]
        assert not shown, f"{label}: the solution's code shows"
    # The stub is there to work, with its verdict.
    assert notebook.locator(".lnbook-verdict", has_text="Not attempted yet").count() >= 3
    _shot(page, f"reader-{name}")
    page.locator(f"{RENDERED} h4").first.scroll_into_view_if_needed()
    _shot(page, f"reader-{name}-exercises")


def test_a_chapter_source_renders_as_myst_and_saves_byte_identical(lab_page):
    name = "book/01_per_example_statistics.md"
    path = ROOT / name
    before, stamp = path.read_bytes(), path.stat().st_mtime_ns
    try:
        page = lab_page.page
        lab_page.open(name)  # its kernel started: Lab has written the kernelspec it reports
        # An author reads the source as MyST (jupyterlab-myst): directives are rendered.
        rendered = lab_page.notebook.locator(RENDERED)
        rendered.first.wait_for(timeout=60_000)
        first = rendered.first.inner_text()
        assert "What you will learn" in first and ":::{admonition}" not in first
        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        deadline = time.monotonic() + 30
        while path.stat().st_mtime_ns == stamp and time.monotonic() < deadline:
            time.sleep(0.2)
        assert path.stat().st_mtime_ns != stamp, "JupyterLab did not save the chapter"
        # The save truncates, then writes: wait until the file has stopped changing.
        while True:
            stamp = path.stat().st_mtime_ns
            time.sleep(1.0)
            if path.stat().st_mtime_ns == stamp or time.monotonic() > deadline:
                break
        assert path.read_bytes() == before, "saving in JupyterLab changed the source"
    finally:
        if path.read_bytes() != before:
            path.write_bytes(before)  # never leave the repository changed


def test_jupyterlab_shows_no_nbgrader_teacher_ui_and_no_news_prompt(
    lab, lab_page, reader_notebooks
):
    base, token = lab
    page = lab_page.page
    lab_page.open(_served(READER / "01_per_example_statistics.ipynb"))
    menus = " ".join(page.locator(".lm-MenuBar-itemLabel").all_inner_texts())
    assert "File" in menus and "nbgrader" not in menus.lower()
    # No "get notified about official Jupyter news?" prompt (it would fetch from outside).
    lab_page.notebook.locator(".jp-Cell").nth(3).wait_for()
    assert page.get_by_text("official Jupyter news").count() == 0
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{base}/formgrader?token={token}", timeout=30)
    assert missing.value.code == 404
