"""The book's PDF (``make pdf``, :mod:`lnbook.book.pdf`) and the site's print styles.

The PDF is printed once per run, from the strict build of the site tests (the ``site``
fixture), and read with pypdf (its bookmarks, links and page count) and poppler
(``pdftotext`` for its text, ``-bbox`` for where words are, ``pdftoppm`` for what a page
shows).
"""

from __future__ import annotations

import functools
import html
import json
import re
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import sitekit

from lnbook.book import pdf

pytestmark = pytest.mark.site

# Poppler's word boxes and pixels are in points (1/72 in); plotly's heights in CSS pixels.
_PT_PER_PX = 72 / 96
_DPI = 36  # half a pixel a point: enough to see a plot's marks, fast to render
# A drawn plot's region, words masked out, has at least this share of dark pixels (lines,
# markers, cells); the sparsest figure had 0.8 % when this test was written.
_MIN_INK = 0.004


@pytest.fixture(scope="module")
def book_pdf(site, run_dir, browser) -> tuple[Path, dict]:
    """The book printed once per run for these tests: (the PDF, what render returned).

    Under xdist both workers may run tests of this module: the first prints (under a lock
    in the run's shared folder), the other reads what it printed.
    """
    from filelock import FileLock

    out, log = run_dir / "lnbook.pdf", run_dir / "lnbook-pdf.json"
    with FileLock(run_dir / "pdf.lock"):
        if not log.exists():
            log.write_text(json.dumps(pdf.render(out, site, browser=browser)))
    return out, json.loads(log.read_text())


def test_links_between_pages_become_links_inside_the_one_page():
    article = (
        '<section id="pitfalls"><a href="#pitfalls">here</a>'
        '<a href="05_transformers.html#warm-up">there</a><a href="05_transformers.html">5</a>'
        '<img src="../_images/digit.png"><a href="../_sources/book/04_x.ipynb">notebook</a>'
        '<a href="https://arxiv.org/abs/1607.06450#v1">paper</a><span data-id="x"></span>'
    )
    pages = {"book/04_x", "book/05_transformers"}
    assert pdf._prefixed("book/04_x", article, pages) == (
        '<section id="04_x--pitfalls"><a href="#04_x--pitfalls">here</a>'
        '<a href="#05_transformers--warm-up">there</a><a href="#05_transformers">5</a>'
        '<img src="../_images/digit.png"><a href="../_sources/book/04_x.ipynb">notebook</a>'
        '<a href="https://arxiv.org/abs/1607.06450#v1">paper</a><span data-id="x"></span>'
    )


@functools.cache  # each test reads the same PDF
def page_texts(path: Path) -> list[str]:
    """Each page's text (poppler's pdftotext ends every page with a form feed; it reads
    the book's 300 pages in about a second, pypdf's extract_text in about twelve)."""
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
    return out.stdout.decode("utf-8").split("\f")[:-1]


def squash(text: str) -> str:
    """Text compared as words only: ligatures split, case and punctuation dropped."""
    return re.sub(r"\W+", "", unicodedata.normalize("NFKC", text)).lower()


def test_pdf_has_every_chapter_in_toc_order_with_page_numbers(book_pdf, site, record_property):
    path, done = book_pdf
    record_property(
        "measured",
        f"PDF: {done['pages']} pages, {done['figures']} figures, "
        f"{path.stat().st_size / 1e6:.1f} MB, printed in {done['seconds']} s",
    )
    texts = page_texts(path)
    assert done["pages"] == len(texts) >= 60
    # The contents page lists every page of _toc.yml with the page it starts on, and the
    # chapter's title is on that page; the pages rise in reading order.
    starts = []
    for _, docnames in pdf.book_parts():
        for docname in docnames:
            title = pdf.page_title(site, docname)
            number = done["contents"][pdf.page_anchor(docname)]
            assert squash(title) in squash(texts[number - 1]), (title, number)
            assert squash(title) in squash(texts[1]), f"{title} not in the contents"
            starts.append(number)
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    # Every page carries "N / total" in its footer.
    for number, text in enumerate(texts, start=1):
        assert f"{number} / {len(texts)}" in text, f"page {number} has no page number"


def test_pdf_has_solutions_appendix_after_the_chapters(book_pdf):
    path, done = book_pdf
    texts = page_texts(path)
    appendix = done["contents"][pdf.SOLUTIONS_ID]
    assert squash(texts[appendix - 1]).startswith(squash(pdf.SOLUTIONS_TITLE))
    assert appendix > max(n for a, n in done["contents"].items() if a != pdf.SOLUTIONS_ID)
    before = squash(" ".join(texts[: appendix - 1]))
    after = squash(" ".join(texts[appendix - 1 :]))
    # Each exercise's solution is in the appendix, and none is left in the chapters.
    exercises = set(re.findall(r"Exercise (\d+\.\d+)", " ".join(texts[: appendix - 1])))
    assert len(exercises) >= 8
    for number in exercises:
        assert squash(f"Solution to Exercise {number}") in after, number
    assert "solutiontoexercise" not in before


def test_pdf_bookmarks_and_links_stay_inside_the_book(book_pdf):
    from pypdf import PdfReader

    path, done = book_pdf
    bookmarks = pdf.contents_pages(path)
    assert set(bookmarks.values()) == set(done["contents"].values())
    # Cross-references, citations and "Solution in the appendix" jump within the PDF; no
    # link points at the server it was printed from.
    inside, outside = 0, []
    for page in PdfReader(path).pages:
        for link in (a.get_object() for a in page.get("/Annots") or []):
            action = link.get("/A") or {}
            if "/Dest" in link or action.get("/S") == "/GoTo":
                inside += 1
            elif action.get("/S") == "/URI" and not action["/URI"].startswith("https://"):
                outside.append(action["/URI"])
    assert inside >= 100
    assert outside == []


def figures(site: Path) -> list[tuple[str, float, list[str]]]:
    """Every figure of the book: its caption, the height plotly draws it (points), and the
    texts only plotly draws (axis titles, notes, legend entries that the page's prose and
    code never spell out: in the PDF, they show that plotly drew the figure)."""
    spec_re = re.compile(
        r'<figcaption class="lnbook-figure-title">(.*?)</figcaption>.*?'
        r'<script type="application/json" class="lnbook-plotly-spec">(.*?)</script>',
        re.S,
    )
    found = []
    for _, docnames in pdf.book_parts():
        for docname in docnames:
            page = (site / f"{docname}.html").read_text(encoding="utf-8")
            elsewhere = squash(_plain(spec_re.sub("", page)))
            for caption, spec in spec_re.findall(page):
                spec = json.loads(spec.replace("<\\/", "</"))
                layout = spec.get("layout", {})
                texts = [
                    t.get("text", "") if isinstance(t, dict) else str(t or "")
                    for k, axis in layout.items()
                    if re.fullmatch(r"[xy]axis\d*", k)
                    for t in [axis.get("title")]
                ]
                texts += [a.get("text", "") for a in layout.get("annotations", [])]
                texts += [t.get("name", "") for t in spec.get("data", [])]
                own = sorted({_plain(t) for t in texts if squash(_plain(t)) not in elsewhere})
                height = layout.get("height", 450) * _PT_PER_PX
                found.append((_plain(caption), height, [t for t in own if squash(t)]))
    return found


def _plain(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def _words(path: Path, page: int) -> list[tuple[str, float, float, float, float]]:
    """(word, x0, y0, x1, y1) of one page, in points from its top left (pdftotext -bbox)."""
    out = subprocess.run(
        ["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [
        (squash(html.unescape(w)), *map(float, box))
        for *box, w in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>',
            out,
        )
    ]


def _pixels(path: Path, page: int, tmp: Path) -> np.ndarray:
    """One page in grey levels (0 black, 255 white), _DPI dots per inch (pdftoppm)."""
    stem = tmp / f"page{page}"
    subprocess.run(
        ["pdftoppm", "-gray", "-r", str(_DPI), "-f", str(page), "-l", str(page)]
        + ["-singlefile", str(path), str(stem)],
        check=True,
    )
    data = stem.with_suffix(".pgm").read_bytes()
    # P5 header: magic, width, height, maxval, each ended by whitespace.
    magic, width, height, _, raster = data.split(maxsplit=4)
    assert magic == b"P5"
    return np.frombuffer(raster, dtype=np.uint8).reshape(int(height), int(width))


def _caption_bottom(words: list[tuple], caption: str):
    """Where a caption's words run consecutively on a page: the bottom of each run (pt).

    Whole words only: the same title in a code cell reads ``title="The ...``.
    """
    key, first = squash(caption), squash(caption.split()[0])
    for i, word in enumerate(words):
        if word[0] != first:
            continue
        text, n = "", i
        while n < len(words) and len(text) < len(key):
            text += words[n][0]
            n += 1
        if text == key:
            yield max(w[4] for w in words[i:n])


def drawn_figures(path: Path, site: Path, tmp: Path) -> dict[str, tuple[list[str], float]]:
    """Each figure as printed: the plotly-only texts found in its region, and the share of
    dark pixels there once all words are masked out (the plot's marks).

    The region is the plot's height below the figure's caption. Were the figure not
    drawn, what follows it would move up into that region: its words are no texts of the
    figure's (they are chosen to appear nowhere else on the page).
    """
    texts = [squash(t) for t in page_texts(path)]
    scale = _DPI / 72
    drawn = {}
    for caption, height, own in figures(site):
        key = squash(caption)
        pages = [n for n, t in enumerate(texts, start=1) if key in t]
        assert pages, f"figure caption not in the PDF: {caption}"
        found = [
            (n, words, b)
            for n in pages
            for words in [_words(path, n)]
            for b in _caption_bottom(words, caption)
        ]
        assert found, f"caption not found as words on pages {pages}: {caption}"
        page, words, bottom = found[0]
        inside = "".join(w[0] for w in words if bottom < w[2] < bottom + height)
        grey = _pixels(path, page, tmp).copy()
        for _, x0, y0, x1, y1 in words:  # text is not a plot's mark
            grey[int(y0 * scale) : int(y1 * scale) + 2, int(x0 * scale) : int(x1 * scale) + 2] = 255
        top, end = int((bottom + 6) * scale), int((bottom + height) * scale)
        region = grey[top:end, int(45 * scale) : grey.shape[1] - int(45 * scale)]
        drawn[caption] = ([t for t in own if squash(t) in inside], float((region < 230).mean()))
    return drawn


def test_pdf_fits_everything_on_the_paper(book_pdf):
    """No equation, table, code output or figure wider than the text (the paper would cut
    it off: they are measured in the laid-out page, once fitted), and no figure taller
    than a page (a page break would cut through it)."""
    _, done = book_pdf
    assert done["overflowing"] == []
    assert done["tallest"] <= pdf.PAGE_HEIGHT_PX


def test_pdf_draws_every_figure(book_pdf, site, tmp_path):
    """Every figure drawn by plotly, whole, with marks in it.

    Printed with JavaScript off (plotly never draws), none of the 28 figures was found
    drawn when this test was written; printed as lnbook.book.pdf (the module) does, all 28.
    """
    path, done = book_pdf
    expected = figures(site)
    assert done["figures"] == len(expected) >= 20
    # Every figure has texts of its own to look for (or the check below could not fail).
    assert all(own for _, _, own in expected), [c for c, _, own in expected if not own]
    drawn = drawn_figures(path, site, tmp_path)
    undrawn = [caption for caption, (texts, _) in drawn.items() if not texts]
    assert not undrawn, f"figures that plotly did not draw in the PDF: {undrawn}"
    blank = {c: round(ink, 4) for c, (_, ink) in drawn.items() if ink < _MIN_INK}
    assert not blank, f"figures with no marks in the PDF (share of dark pixels): {blank}"


# Between the browser's default print margins (10 mm), A4 holds 718 CSS pixels of text.
_A4_TEXT_PX = 718


def test_chapter_printed_from_the_site_shows_no_chrome(server, browser):
    """A chapter printed from the browser: the text, its figures, no screen controls.

    On the widest screen layout (figures drawn 775 px wide), as a reader prints it.
    """
    device = {"viewport": {"width": 1440, "height": 900}}
    visit = sitekit.Visit(browser, server, "book/05_transformers.html", device=device)
    try:
        page = visit.page
        page.wait_for_function(
            "[...document.querySelectorAll('div.lnbook-plotly')].every(g => g._fullLayout)"
        )
        drawn = page.evaluate(
            "Math.max(...[...document.querySelectorAll('div.lnbook-plotly')]"
            ".map(g => g.offsetWidth))"
        )
        # The site links the print styles itself (lnbook/book/sphinxext.py), for print only.
        link = page.locator('link[href*="lnbook/lnbook-print.css"]')
        assert link.count() == 1 and link.get_attribute("media") == "print"
        page.emulate_media(media="print")
        printed = page.evaluate(
            """() => {
              const shown = el => el.getClientRects().length > 0
                && getComputedStyle(el).visibility !== "hidden";
              const chrome = [".bd-sidebar-primary", ".bd-sidebar-secondary",
                ".bd-header-article", ".prev-next-area", ".search-button-field",
                ".theme-switch-button", ".lnbook-controls", ".modebar-container",
                ".toggle-button", "details.hide.above-input", "details.lnbook-launch"];
              const visible = chrome.flatMap(s => [...document.querySelectorAll(s)])
                .filter(shown).map(el => el.className);
              const article = document.querySelector(".bd-article").getBoundingClientRect();
              const solutions = [...document.querySelectorAll(".solution section")]
                .filter(shown).length;
              const zoom = +getComputedStyle(document.querySelector(".lnbook-plotly")).zoom;
              return {visible, articleWidth: article.width, pageWidth: innerWidth, solutions,
                      zoom};
            }"""
        )
        assert printed["visible"] == []
        assert printed["solutions"] == 0, "a solution shows in print"
        # The text takes the page's width (no sidebar column beside it).
        assert printed["articleWidth"] >= 0.9 * printed["pageWidth"]
        # A figure drawn for the screen fits the printed page's width (no JavaScript runs
        # when the browser lays out the print, so plotly does not redraw it).
        assert drawn * printed["zoom"] <= _A4_TEXT_PX, (drawn, printed["zoom"])
        page.pdf(format="A4")  # prints without error
        assert visit.errors == []
    finally:
        visit.close()
