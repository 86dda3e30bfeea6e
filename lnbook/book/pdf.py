"""The book as one PDF, printed by Debian's chromium from the built site (``make pdf``).

Usage: ``python -m lnbook.book.pdf [OUT] [--student]`` (default ``_build/lnbook.pdf``), after
``make book``. ``--student`` leaves the solutions out.

Sphinx's ``singlehtml`` builder cannot make the one page to print: myst-nb registers its
folded-cell node for the ``html`` builder only, and the plotly renderer
(``sphinxext.PlotlyMimeRenderer``) is keyed to ``html`` too. So the page is put together
from the built site instead (no second build, no execution):

1. :func:`assemble` joins the articles of the pages in ``_toc.yml`` order, after a cover and
   a table of contents, in the head of a chapter page (its stylesheets and plotly.js). Ids
   and links are prefixed with their page, so links between chapters and to the
   bibliography stay inside the PDF. A small script (:data:`_SCRIPT`, run before the
   page's deferred scripts draw the figures) moves every solution, unfolded, into an
   appendix and links each exercise to its solution.
2. :func:`render` serves the site, opens that page in chromium (Playwright) at the width of
   the printed text and with print media, so ``static/plotly-init.js`` draws each figure,
   as first shown, at the size it prints; it waits for every figure and font, shrinks
   any equation or table still wider than the text, and prints: A4, page numbers in the
   footer, bookmarks from the headings (``outline``), tagged. The first print tells on
   which page each chapter starts (its bookmark); the same tab, with those page numbers
   written into the contents (the same lines, so no page moves), prints again.

The print styles are the website's (``static/lnbook-print.css``: no sidebars, buttons or
figure controls) plus :data:`_PDF_CSS` for the cover, the contents and the page breaks.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import html
import os
import posixpath
import re
import shutil
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
OUT = ROOT / "_build" / "lnbook.pdf"
PRINT_CSS = Path(__file__).parent / "static" / "lnbook-print.css"
# The page to print is served by a route, never written: beside the chapters (book/), so
# that their relative links to images and _static/ hold. Every page of _toc.yml is there.
_PRINT_PAGE = "__lnbook_pdf__.html"
SOLUTIONS_ID = "lnbook-solutions"
SOLUTIONS_TITLE = "Solutions to the exercises"

# A4 with 16 mm margins (18 at the foot, for the page number): the text is 178 mm wide,
# 672 CSS pixels, the width the browser lays the page out at before it prints.
_MARGIN = {"top": "16mm", "bottom": "18mm", "left": "16mm", "right": "16mm"}
_TEXT_WIDTH_PX = 672
PAGE_HEIGHT_PX = 994  # 297 - 16 - 18 = 263 mm of text a page
_FOOTER = (
    '<div style="width:100%;font-size:8pt;text-align:center;color:#555">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)
# Debian's chromium as this machine starts it (the browser tests too, tests/sitekit.py):
# without the background-networking flags it keeps calling Google's hosts, which a closed
# network refuses. The site is served from this machine; a request elsewhere is refused
# (the book must not need one).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

_PDF_CSS = """
@media print {
  /* The theme prints a page's title in its own contents list (.onlyprint) and hides the
     article's first h1; here the contents come first and each chapter keeps its h1. */
  .onlyprint { display: none !important; }
  .bd-main .bd-content .bd-article h1:first-of-type { display: block !important; }
  .lnbook-pdf-chapter, #lnbook-solutions { break-before: page; }
  .lnbook-pdf-cover { height: 235mm; display: flex; flex-direction: column;
    justify-content: center; text-align: center; break-after: page; }
  .lnbook-pdf-cover .title { font-size: 2.6rem; font-weight: 700; margin: 0 0 1rem; }
  .lnbook-pdf-cover .by { font-size: 1.2rem; }
  .lnbook-pdf-toc .heading { font-size: 1.8rem; font-weight: 700; margin: 0 0 1rem; }
  .lnbook-pdf-toc .part { font-weight: 700; margin: 1rem 0 0.3rem; }
  .lnbook-pdf-toc ol { list-style: none; padding: 0; margin: 0; }
  .lnbook-pdf-toc a { display: flex; gap: 0.4rem; color: inherit; text-decoration: none;
    line-height: 1.9; }
  .lnbook-pdf-toc .dots { flex: 1; border-bottom: 1px dotted #888; margin-bottom: 0.5rem; }
  .lnbook-pdf-toc .page { min-width: 3ch; text-align: right; }
  .lnbook-pdf-see { font-size: 0.9em; }
  /* The appendix runs on: a solution may start on one page and end on the next. */
  #lnbook-solutions .admonition { break-inside: auto; }
  /* Drawn at the text's width here: the site's print zoom for screen-sized figures off. */
  .lnbook-pdf-chapter .lnbook-plotly, #lnbook-solutions .lnbook-plotly { zoom: 1; }
}
"""

# Run where it stands, at the end of the body: after the content is parsed and before the
# deferred scripts (plotly-init.js draws the figures; togglebutton folds .dropdown on
# DOMContentLoaded), so a moved solution is drawn unfolded, at the width of the page.
_SCRIPT = """
(function () {
  var appendix = document.getElementById("%(id)s");
  document.querySelectorAll(".lnbook-pdf-chapter").forEach(function (chapter) {
    var solutions = chapter.querySelectorAll(".solution");
    if (!solutions.length || !appendix) {
      solutions.forEach(function (s) { s.remove(); });  // the student edition
      return;
    }
    var heading = document.createElement("h2");
    heading.textContent = chapter.dataset.title;
    appendix.appendChild(heading);
    solutions.forEach(function (s) {
      s.classList.remove("dropdown");  // shown whole: only .dropdown is folded
      appendix.appendChild(s);
      // "Solution to Exercise 5.1": the title links to the exercise; it links back.
      var link = s.querySelector(".admonition-title a[href^='#']");
      var exercise = link && document.getElementById(link.getAttribute("href").slice(1));
      if (exercise) {
        var see = document.createElement("p");
        see.className = "lnbook-pdf-see";
        see.innerHTML = '<a href="#' + s.id + '">Solution in the appendix</a>';
        exercise.appendChild(see);
      }
    });
  });
})();
"""

# What is too big for a page is scaled down to fit (CSS zoom, which the layout follows):
# equations and tables wider than the text, and figures taller than a page (a figure is
# never split: a page break would cut through the plot). A figure keeps the width plotly
# drew it at, so plotly sees no resize. Returns how many were scaled, and the tallest
# figure with its caption after that (CSS pixels).
_FIT = """pageHeight => {
  let fitted = 0;
  // A wide equation is centred, so it overflows on both sides; scrollWidth sees only the
  // right. Its width is that of the boxes KaTeX lays out side by side.
  const width = el => {
    const parts = [...el.querySelectorAll(".katex-html > *")].map(b => b.getBoundingClientRect());
    if (!parts.length) return el.scrollWidth;
    return Math.max(...parts.map(r => r.right)) - Math.min(...parts.map(r => r.left));
  };
  for (const el of document.querySelectorAll(".katex-display, .bd-article table")) {
    const box = getComputedStyle(el.parentElement);
    const room =
      el.parentElement.clientWidth - parseFloat(box.paddingLeft) - parseFloat(box.paddingRight);
    const need = width(el);
    if (room > 0 && need > room + 1) {
      el.style.zoom = ((0.98 * room) / need).toFixed(3); // 2 %: KaTeX pads its boxes
      fitted += 1;
    }
  }
  let tallest = 0;
  for (const gd of document.querySelectorAll("div.lnbook-plotly")) {
    const figure = gd.closest("figure") || gd;
    const room = pageHeight - (figure.offsetHeight - gd.offsetHeight) - 24;
    if (gd.offsetHeight > room) {
      gd.style.width = gd.offsetWidth + "px";
      gd.style.zoom = (room / gd.offsetHeight).toFixed(3);
      fitted += 1;
    }
    tallest = Math.max(tallest, figure.getBoundingClientRect().height);
  }
  return {fitted, tallest};
}"""

# What still sticks out of the text's width after fitting (the paper would cut it off).
_OVERFLOWING = """() => {
  const page = document.querySelector(".bd-article").getBoundingClientRect();
  const parts = ".katex-html > *, table, pre, figure, img, svg.main-svg, .cell_output > *";
  return [...document.querySelectorAll(parts)]
    .filter(el => el.getClientRects().length > 0)
    .filter(el => {
      const r = el.getBoundingClientRect();
      return r.left < page.left - 1 || r.right > page.right + 1;
    })
    .map(el => el.tagName.toLowerCase() + ": " + el.textContent.trim().slice(0, 60));
}"""

# Every figure of the page drawn: plotly has laid it out and made its SVG.
_DRAWN = """() => {
  const figures = [...document.querySelectorAll("script.lnbook-plotly-spec")];
  return figures.length > 0 && figures.every(s => {
    const gd = s.previousElementSibling;
    return gd && gd._fullLayout && gd.querySelector("svg.main-svg");
  });
}"""


def book_parts(root: Path = ROOT) -> list[tuple[str, list[str]]]:
    """The book's pages in reading order, as ``_toc.yml`` groups them: (caption, docnames).

    The root page comes first, under no caption.
    """
    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text(encoding="utf-8"))
    parts = [("", [toc["root"]])]
    for part in toc.get("parts", []):
        parts.append((part.get("caption", ""), [c["file"] for c in part["chapters"]]))
    return parts


_ARTICLE = re.compile(r'<article class="bd-article">(.*?)</article>', re.S)
_H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S)
_ATTR = re.compile(r'(?<![\w:-])(id|href)="([^"]*)"')  # not data-id=, xlink:href=
_STYLESHEET = re.compile(r'<link rel="stylesheet"[^>]*>')


def page_title(site: Path, docname: str) -> str:
    """A built page's title, as its article's h1 reads (with the chapter's number)."""
    article = _ARTICLE.search((Path(site) / f"{docname}.html").read_text(encoding="utf-8"))
    return _text(_H1.search(article.group(1)).group(1))


def _text(markup: str) -> str:
    """Plain text of a bit of HTML: tags and the headings' "#" links dropped."""
    markup = re.sub(r'<a class="headerlink".*?</a>', "", markup, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", markup)).split())


def page_anchor(docname: str) -> str:
    """The id a page's chapter has in the PDF (its file name: ``05_transformers``)."""
    return docname.rsplit("/", 1)[-1]


def _prefixed(docname: str, article: str, docnames: set[str]) -> str:
    """The article with its ids prefixed by its page, and links between pages made links
    inside the one page (``05_transformers.html#x`` -> ``#05_transformers--x``)."""
    page = page_anchor(docname)

    def swap(match: re.Match) -> str:
        attr, value = match.groups()
        if attr == "id":
            return f'id="{page}--{value}"'
        path, _, fragment = value.partition("#")
        if path:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(docname), path))
            if not target.endswith(".html") or target[: -len(".html")] not in docnames:
                return match.group(0)  # an asset, a download or an address elsewhere
            target = page_anchor(target[: -len(".html")])
        else:
            target = page
        return f'href="#{target}--{fragment}"' if fragment else f'href="#{target}"'

    return _ATTR.sub(swap, article)


def assemble(
    site: Path = SITE,
    root: Path = ROOT,
    solutions: bool = True,
) -> str:
    """The whole book as one HTML page to print, at ``book/`` in the site.

    Parameters
    ----------
    site : the built site (``_build/html``)
    root : the repository root (``_toc.yml``, ``_config.yml``)
    solutions : move the solutions into an appendix (True) or leave them out
    """
    site = Path(site)
    config = yaml.safe_load((Path(root) / "_config.yml").read_text(encoding="utf-8"))
    parts = book_parts(root)
    docnames = {d for _, names in parts for d in names}
    sources = {d: (site / f"{d}.html").read_text(encoding="utf-8") for d in docnames}
    # The head of a page that draws figures: plotly.js, plotly-init.js and the site's styles.
    head_page = next((s for s in sources.values() if "lnbook/plotly.min.js" in s), "")
    head_page = head_page or sources[parts[0][1][0]]
    links = dict.fromkeys(m for s in sources.values() for m in _STYLESHEET.findall(s))

    def entry(anchor: str, title: str) -> str:  # its page number is filled in when printed
        return (
            f'<li><a href="#{anchor}"><span class="title">{html.escape(title)}</span>'
            f'<span class="dots"></span><span class="page"></span></a></li>'
        )

    toc, chapters = [], []
    for caption, names in parts:
        if caption:
            toc.append(f'<p class="part">{html.escape(caption)}</p>')
        toc.append("<ol>")
        for docname in names:
            article = _ARTICLE.search(sources[docname]).group(1)
            title = _text(_H1.search(article).group(1))
            anchor = page_anchor(docname)
            toc.append(entry(anchor, title))
            chapters.append(
                f'<section class="lnbook-pdf-chapter" id="{anchor}" '
                f'data-title="{html.escape(title)}">'
                f"{_prefixed(docname, article, docnames)}</section>"
            )
        toc.append("</ol>")
    if solutions:
        toc += ["<ol>", entry(SOLUTIONS_ID, SOLUTIONS_TITLE), "</ol>"]
        chapters.append(f'<section id="{SOLUTIONS_ID}"><h1>{SOLUTIONS_TITLE}</h1></section>')

    cover = (
        '<div class="lnbook-pdf-cover">'
        f'<p class="title">{html.escape(config["title"])}</p>'
        f'<p class="by">{html.escape(config.get("author", ""))}</p>'
        f"<p>{html.escape(str(config.get('copyright', '')))}</p></div>"
    )
    contents = '<nav class="lnbook-pdf-toc"><p class="heading">Contents</p>' + "".join(toc)
    body = (
        f"{cover}{contents}</nav>{''.join(chapters)}"
        f"<script>{_SCRIPT % {'id': SOLUTIONS_ID}}</script>"
    )
    start, end = _ARTICLE.search(head_page).span(1)
    page = head_page[:start] + body + head_page[end:]
    # The sidebar's "on this page" links name ids of the page the head came from, which
    # are prefixed now: the theme's script would look them up and fail.
    page = re.sub(r'(<nav id="pst-page-toc-nav"[^>]*>).*?(</nav>)', r"\1\2", page, flags=re.S)
    style = f"<style>{PRINT_CSS.read_text(encoding='utf-8')}{_PDF_CSS}</style>"
    page = page.replace("</head>", "\n".join(links) + style + "</head>", 1)
    return re.sub(r"<title>.*?</title>", f"<title>{html.escape(config['title'])}</title>", page)


def contents_pages(pdf: Path) -> dict[str, int]:
    """The page (from 1) of each top-level bookmark of a PDF, by its title without spaces."""
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    return {
        _key(item.title): reader.get_destination_page_number(item) + 1
        for item in reader.outline
        if not isinstance(item, list)  # a list holds the children of the entry before it
    }


def _key(title: str) -> str:
    # Chromium's bookmarks drop the space where a heading wraps ("training<br>stability").
    return "".join(title.split())


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves a folder without logging each request (the PDF's and the browser tests')."""

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serving(folder: Path, handler: type[SimpleHTTPRequestHandler] = QuietHandler):
    """``folder`` served on 127.0.0.1, on a free port, by ``handler`` while the block runs;
    yields the base URL (the print's, and the browser tests')."""
    handler = functools.partial(handler, directory=str(folder))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextlib.contextmanager
def _opened(browser, base: str, folder: str, page_html: str):
    """Open the assembled page (served in ``folder`` of the site) in a fresh tab, with its
    figures drawn for print and what is too big scaled to fit; yields (the tab, what
    was drawn and fitted)."""
    context = browser.new_context(
        viewport={"width": _TEXT_WIDTH_PX, "height": 1000}, color_scheme="light"
    )
    url = f"{base}/{folder}/{_PRINT_PAGE}"
    errors: list[str] = []

    def route(r):
        if r.request.url == url:
            r.fulfill(body=page_html, content_type="text/html; charset=utf-8")
        elif r.request.url.startswith(base) or r.request.url.startswith("data:"):
            r.continue_()
        else:
            r.abort()

    try:
        context.route("**/*", route)
        tab = context.new_page()
        tab.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))
        # Print media before the figures are drawn, so they are drawn for the printed page.
        tab.emulate_media(media="print")
        tab.goto(url, wait_until="load", timeout=120_000)
        tab.wait_for_function(_DRAWN, timeout=120_000, polling=250)
        tab.evaluate("document.fonts.ready.then(() => true)")
        fit = tab.evaluate(_FIT, PAGE_HEIGHT_PX)
        figures = tab.evaluate("document.querySelectorAll('div.lnbook-plotly').length")
        overflowing = tab.evaluate(_OVERFLOWING)
        yield tab, {"figures": figures, "overflowing": overflowing, **fit}
    finally:
        context.close()
    if errors:
        raise RuntimeError(f"the print page had script errors: {errors}")


def _to_pdf(tab, out: Path) -> None:
    tab.pdf(
        path=str(out),
        format="A4",
        margin=_MARGIN,
        print_background=True,
        display_header_footer=True,
        header_template="<span></span>",
        footer_template=_FOOTER,
        outline=True,  # bookmarks: chromium makes them from the tagged headings
        tagged=True,
    )


# Writes each contents entry's page number (anchor -> page); returns the anchors not found.
_FILL_PAGES = """pages => Object.entries(pages).filter(([anchor, n]) => {
  const cell = document.querySelector(
    `nav.lnbook-pdf-toc a[href="#${CSS.escape(anchor)}"] .page`);
  if (cell) cell.textContent = n;
  return !cell;
}).map(([anchor]) => anchor)"""


def render(
    out: Path = OUT, site: Path = SITE, root: Path = ROOT, solutions: bool = True, browser=None
):
    """Print the book to ``out``; returns what was printed.

    ``browser``: a running Playwright chromium to print with (the tests share theirs: one
    process may hold only one sync Playwright); by default one is started and closed.

    Returns
    -------
    dict with ``pages`` (of the PDF), ``figures`` (drawn), ``fitted`` (equations, tables
    and figures scaled to fit a page), ``tallest`` (figure, CSS pixels), ``overflowing``
    (what is still wider than the text: should be nothing), ``contents`` (anchor -> page)
    and ``seconds``
    """
    from pypdf import PdfReader

    site, out = Path(site), Path(out)
    if not (site / "index.html").is_file():
        raise FileNotFoundError(f"no site in {site}: run `make book` first")
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    folder = posixpath.dirname(book_parts(root)[0][1][0])  # the root page's: book/

    def print_with(browser):
        # First print: where each chapter starts. Then the same page, its contents numbered
        # (the numbers sit at the end of lines that keep their length: nothing moves).
        with _opened(browser, base, folder, assemble(site, root, solutions)) as (tab, drawn):
            _to_pdf(tab, out)
            by_title = contents_pages(out)
            anchors = _anchors_by_title(site, root, solutions)
            missing = [t for t in anchors if t not in by_title]
            if missing:
                raise RuntimeError(f"no bookmark for {missing} in {sorted(by_title)}")
            pages = {anchors[t]: n for t, n in by_title.items() if t in anchors}
            unnumbered = tab.evaluate(_FILL_PAGES, pages)
            if unnumbered:
                raise RuntimeError(f"no contents entry for {unnumbered}")
            _to_pdf(tab, out)
        return drawn, pages

    with serving(site) as base:
        if browser is not None:
            drawn, pages = print_with(browser)
        else:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
                try:
                    drawn, pages = print_with(browser)
                finally:
                    browser.close()
    return {
        **drawn,
        "pages": len(PdfReader(out).pages),
        "contents": pages,
        "seconds": round(time.monotonic() - started, 1),
    }


def _anchors_by_title(site: Path, root: Path, solutions: bool) -> dict[str, str]:
    """Each contents entry's title (as :func:`contents_pages` keys it) -> its anchor."""
    found = {}
    for _, names in book_parts(root):
        for docname in names:
            found[_key(page_title(site, docname))] = page_anchor(docname)
    if solutions:
        found[_key(SOLUTIONS_TITLE)] = SOLUTIONS_ID
    return found


def chromium() -> str:
    """Debian's chromium (``LNBOOK_CHROMIUM`` names another): it prints the PDF and runs
    the browser tests."""
    path = os.environ.get("LNBOOK_CHROMIUM") or shutil.which("chromium")
    if not path:
        raise FileNotFoundError("Debian's chromium is needed: apt-get install chromium")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m lnbook.book.pdf", description=__doc__.split("\n")[0]
    )
    parser.add_argument("out", nargs="?", type=Path, default=OUT, help="the PDF to write")
    parser.add_argument("--student", action="store_true", help="leave the solutions out")
    parser.add_argument("--site", type=Path, default=SITE, help="the built site (make book)")
    args = parser.parse_args(argv)
    done = render(args.out, args.site, ROOT, solutions=not args.student)
    size = args.out.stat().st_size
    print(
        f"Wrote {args.out}: {done['pages']} pages, {done['figures']} figures, "
        f"{size / 1e6:.1f} MB, in {done['seconds']} s"
    )


if __name__ == "__main__":
    main()
