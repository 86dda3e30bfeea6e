"""Build the book strictly, then check the site as files and in a real browser.

The browser is Debian's chromium (``apt-get install chromium``; ``.ci/run`` installs it),
driven by Playwright with no browser download. Every request the pages make is recorded;
anything not served by the local test server fails the test.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from sitekit import Visit, book_config, figure_specs, is_external, pages, parse

from lnbook.book.sphinxext import _JS_FILES, launch_settings

PAGE_BUDGET_BYTES = 600_000  # a chapter's HTML alone (test_site_pages weighs all it loads)

pytestmark = pytest.mark.site


def test_pages_load_nothing_from_outside(site):
    external = {
        str(p.relative_to(site)): [u for u in parse(p).loads if is_external(u)] for p in pages(site)
    }
    assert not {k: v for k, v in external.items() if v}


def test_stylesheets_load_nothing_from_outside(site):
    # Fonts and @imports hide in CSS; data: URIs are fine.
    offenders = []
    for css in site.rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        for chunk in text.split("url(")[1:] + text.split("@import")[1:]:
            target = chunk.strip().strip("'\"")
            if is_external(target):
                offenders.append(f"{css.relative_to(site)}: {target[:80]}")
    assert not offenders


def test_plotly_js_is_local_and_loaded_once_on_pages_with_figures(site):
    assert (site / "_static" / "lnbook" / "plotly.min.js").stat().st_size > 1_000_000
    parsed = {p.relative_to(site).as_posix(): parse(p) for p in pages(site)}
    assert any(r.figures for r in parsed.values()), "no plotly figure on any page"
    for name, refs in parsed.items():
        assert refs.plotly_js == (1 if refs.figures else 0), name
        if refs.figures:  # deferred: the text is drawn before plotly.js arrives
            tags = re.findall(r"<script[^>]*lnbook/plotly[^>]*>", (site / name).read_text())
            # plotly.js, the layouts, the drawing: each once, in that order, all deferred.
            # (A rebuild into an existing _build/html adds Sphinx's "?v=checksum".)
            srcs = [re.search(r'src="[^"]*/([^"/?]+)(?:\?[^"]*)?"', tag).group(1) for tag in tags]
            assert srcs == list(_JS_FILES) and all("defer" in tag for tag in tags), tags


def test_math_is_rendered_at_build_time_with_local_fonts(site):
    # KaTeX runs when the book is built: pages carry its HTML (and MathML for screen
    # readers) and load its stylesheet, never a math script.
    page = site / "book" / "03_from_scratch.html"
    text = page.read_text(encoding="utf-8")
    maths = re.findall(r'<(?:span|div) class="math[^"]*"[^>]*>(.*?)</(?:span|div)>', text, re.S)
    assert maths and all('class="katex' in m for m in maths[:50])
    assert "katex-error" not in text and "<math" in text
    loads = [u.split("?")[0] for u in parse(page).loads]
    assert "../_static/katex/katex.min.css" in loads
    assert not [u for u in loads if "mathjax" in u.lower() or u.endswith("katex.min.js")]
    css = (site / "_static" / "katex" / "katex.min.css").read_text(encoding="utf-8")
    fonts = re.findall(r"url\((fonts/[^)]+\.woff2)\)", css)
    assert fonts and all((site / "_static" / "katex" / f).is_file() for f in fonts)


def test_chapter_pages_stay_under_budget(site):
    sizes = {p.name: p.stat().st_size for p in (site / "book").glob("[0-9][0-9]_*.html")}
    assert sizes
    assert all(s < PAGE_BUDGET_BYTES for s in sizes.values()), sizes


def test_no_widget_javascript_or_state_on_the_site(site):
    # ipywidgets are for live kernels; myst-nb would otherwise pull require.js from a CDN and
    # embed every widget's state (megabytes for a plotly FigureWidget).
    for page in pages(site):
        loads = " ".join(parse(page).loads)
        assert "require" not in loads and "embed-amd" not in loads, page
        assert "application/vnd.jupyter.widget-state+json" not in page.read_text(), page


# ---------------------------------------------------------------- figures and exercises ---


def test_every_figure_has_a_title_and_titled_axes(site):
    missing = []
    for page in pages(site):
        for i, spec in enumerate(figure_specs(page)):
            layout = spec.get("layout", {})
            title = layout.get("title", {})
            if not (title.get("text") if isinstance(title, dict) else title):
                missing.append(f"{page.name} figure {i}: no title")
            for key, axis in layout.items():
                # Axes that show values need a title with units; image grids hide theirs.
                if (
                    key.startswith(("xaxis", "yaxis"))
                    and axis.get("showticklabels", True)
                    and axis.get("visible", True)
                    and not axis.get("overlaying")
                ):
                    if not axis.get("title", {}).get("text"):
                        missing.append(f"{page.name} figure {i}: {key} has no title")
    assert not missing


def test_markdown_tables_render_as_tables(site):
    # The invariance table is Markdown built by a cell; it must become an HTML table.
    text = (site / "book" / "01_per_example_statistics.html").read_text(encoding="utf-8")
    table = text.split("<table", 1)[1].split("</table>", 1)[0] if "<table" in text else ""
    assert "weight matrix re-scaling" in table and "invariant" in table

    # And no page anywhere shows a table's Markdown source instead of the table (a blank
    # line inside a table, or a table built without its header row, does that).
    def raw_rows(page):  # paragraphs that read "| ... |": table rows left as text
        paragraphs = re.findall(r"<p>(.*?)</p>", page.read_text(encoding="utf-8"), flags=re.S)
        texts = (re.sub(r"<[^>]+>", "", p).strip() for p in paragraphs)
        return [t for t in texts if t.startswith("|") and t.endswith("|")]

    raw = [page.name for page in site.rglob("*.html") if raw_rows(page)]
    assert not raw, f"Markdown table source shown as text on: {raw}"


def test_exercises_have_folded_executed_solutions(site):
    chapters = sorted((site / "book").glob("[0-9][0-9]_*.html"))
    with_exercises = 0
    for page in chapters:
        text = page.read_text(encoding="utf-8")
        n_ex = text.count('<div class="exercise admonition"')
        solutions = text.split('<div class="solution dropdown admonition"')[1:]
        assert len(solutions) == n_ex, f"{page.name}: every exercise needs a folded solution"
        if n_ex:
            with_exercises += 1
            assert n_ex >= 3, page.name
            # The learner's stub is shown unanswered; each solution ran and passed its check.
            assert text.count("Not attempted yet.") >= n_ex, page.name
            for s in solutions:
                assert "✔ Correct." in s.split('<div class="exercise admonition"')[0], page.name
    assert with_exercises >= 2


def test_solutions_open_only_when_asked(site, server, browser):
    visit = Visit(browser, server, "book/01_per_example_statistics.html")
    try:
        solutions = visit.page.locator("div.solution")
        assert solutions.count() >= 3
        for i in range(solutions.count()):
            body = solutions.nth(i).locator("section, div.cell").first
            assert not body.is_visible(), f"solution {i} is shown before it is opened"
            solutions.nth(i).locator("button.toggle-button").click()
            body.wait_for(state="visible", timeout=3000)
    finally:
        visit.close()
    assert not visit.errors and not visit.outside


def _panel_links(text: str) -> dict[str, str]:
    panel = re.search(
        r'<details class="lnbook-launch" id="run-this-chapter">.*?</details>', text, re.S
    )
    assert panel, "no Run this chapter panel"
    return {
        key: html.unescape(href)
        for key, href in re.findall(
            r'<li class="lnbook-launch-(\w+)"><a href="([^"]+)"', panel.group(0)
        )
    }


def test_every_chapter_has_a_launch_panel_whose_links_resolve(site):
    import nbformat

    settings = launch_settings(book_config())  # as the site fixture's build saw them
    live = 0
    for page in sorted((site / "book").glob("[0-9][0-9]_*.html")):
        text = page.read_text(encoding="utf-8")
        links = _panel_links(text)
        # The download: the executed notebook, in plain Markdown as Colab and Jupyter render it.
        assert links["download"] == f"../_sources/book/{page.stem}.ipynb"
        # ... offered twice: in the panel and in the header's download menu.
        assert text.count(f'href="{links["download"]}"') == 2, page.name
        nb = nbformat.read(site / "_sources" / "book" / f"{page.stem}.ipynb", as_version=4)
        assert any(c.cell_type == "code" and c.get("outputs") for c in nb.cells)
        # No widget state: megabytes that show nothing without a kernel.
        assert "widgets" not in nb.metadata, page.name
        markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert not re.search(r"\{(glue|cite|ref)[:}]|^:::|```\{", markdown, re.M), page.name
        # The in-browser edition: its app, and this chapter's notebook in its contents.
        app, query = links["lite"].split("?")
        assert (page.parent / app).resolve().is_file(), links["lite"]
        assert query == f"path={page.stem}.ipynb"
        assert (site / "lite" / "files" / f"{page.stem}.ipynb").is_file()
        # Binder, Colab and JupyterHub only from the book's own repository, when it has one.
        assert "executablebooks/jupyter-book" not in text
        outside = {k for k in links if k not in ("lite", "download")}
        if settings.repository:
            assert "binder" in outside and settings.repository.split("/", 3)[3] in links["binder"]
        else:
            assert not outside and "names no repository" in text
            assert "mybinder.org" not in text
        # Each "Run it live" box links to the panel.
        boxes = re.findall(r'<p class="admonition-title">Run it live</p>(.*?)</div>', text, re.S)
        assert len(boxes) == text.count(">Run it live</p>")
        assert all('href="#run-this-chapter"' in box for box in boxes), page.name
        live += len(boxes)
    assert live >= 5  # the chapters with widgets (a regex gone stale would find none)


def test_the_launch_panel_opens_by_keyboard_and_from_run_it_live(site, server, browser):
    visit = Visit(browser, server, "book/01_per_example_statistics.html")
    try:
        page = visit.page
        panel = page.locator("details.lnbook-launch")
        assert panel.get_attribute("open") is None  # folded: the chapter comes first
        page.locator("details.lnbook-launch > summary").focus()
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.querySelector('details.lnbook-launch').open")
        assert page.locator("details.lnbook-launch li a").first.is_visible()
        page.keyboard.press("Enter")  # and folds again
        page.wait_for_function("() => !document.querySelector('details.lnbook-launch').open")
        for _ in range(2):  # a second click changes no hash, and must unfold it all the same
            page.locator('.admonition a[href="#run-this-chapter"]').first.click()
            page.wait_for_function("() => document.querySelector('details.lnbook-launch').open")
            page.evaluate("() => { document.querySelector('details.lnbook-launch').open = false }")
    finally:
        visit.close()
    assert not visit.errors and not visit.outside


def test_a_build_with_a_repository_and_a_hub_links_every_way_to_run(tmp_path):
    """A small book built as ``make book`` builds this one, with LNBOOK_REPOSITORY_URL and
    LNBOOK_JUPYTERHUB_URL set: the panel gains Binder, Colab and the hub, in their forms."""
    import os
    import shutil
    import subprocess
    import sys

    from sitekit import ROOT

    (tmp_path / "book").mkdir()
    shutil.copy(ROOT / "_config.yml", tmp_path)
    shutil.copy(ROOT / "book" / "references.bib", tmp_path / "book")
    shutil.copytree(ROOT / "book" / "images", tmp_path / "book" / "images")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/01_a\n"
    )
    (tmp_path / "book" / "intro.md").write_text("# Intro\n\nA page that is no chapter.\n")
    (tmp_path / "book" / "01_a.md").write_text(
        "---\njupytext:\n  text_representation:\n    format_name: myst\n"
        "kernelspec:\n  name: python3\n  display_name: Python 3 (ipykernel)\n---\n\n"
        "# A chapter\n\n:::{admonition} Run it live\n:class: note\nDrag it.\n:::\n"
    )
    env = {
        **os.environ,
        "LNBOOK_REPOSITORY_URL": "git@github.com:someone/lnbook.git",
        "LNBOOK_JUPYTERHUB_URL": "https://hub.example",
    }
    jb = Path(sys.executable).with_name("jupyter-book")
    done = subprocess.run(
        [str(jb), "build", "-W", "-n", "--keep-going", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    out = tmp_path / "_build" / "html"
    text = (out / "book" / "01_a.html").read_text(encoding="utf-8")
    links = _panel_links(text)
    assert list(links) == ["lite", "binder", "colab", "jupyterhub", "download"]
    assert (out / "book" / links["download"]).resolve().is_file()
    assert links["binder"] == (
        "https://mybinder.org/v2/gh/someone/lnbook/main?urlpath=lab/tree/_build/reader/01_a.ipynb"
    )
    assert links["colab"] == (
        "https://colab.research.google.com/github/someone/lnbook/blob/gh-pages/"
        "_sources/book/01_a.ipynb"
    )
    assert links["jupyterhub"].startswith("https://hub.example/hub/user-redirect/git-pull?")
    assert "git clone https://github.com/someone/lnbook.git" in text
    assert "names no repository" not in text
    assert 'href="#run-this-chapter"' in text  # from the Run it live box
    # No panel on a page that is no chapter, and the theme's launch menu is gone everywhere.
    intro = (out / "book" / "intro.html").read_text(encoding="utf-8")
    assert "lnbook-launch" not in intro
    assert "mybinder.org" not in intro and "launch-buttons" not in intro
