"""What the site tests share: the built pages, their parsed references, a browser visit.

The fixtures that build the site, serve it and start the browser are in ``conftest.py``, so
that every test module of the site can use them.
"""

from __future__ import annotations

import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest

from lnbook.book import pdf
from lnbook.book.pdf import CHROMIUM_ARGS, QuietHandler, serving  # noqa: F401 (shared)

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"


def pages(site: Path) -> list[Path]:
    """The book's pages (the chapters, genindex and search), not the theme's assets nor
    the in-browser edition's app (``lite/``, tested in test_lite.py)."""
    pages = sorted(
        p
        for p in site.rglob("*.html")
        if not p.relative_to(site).parts[0].startswith("_")
        and p.relative_to(site).parts[0] != "lite"
    )
    assert pages
    return pages


class _Refs(HTMLParser):
    """Collect every URL a page would *load* (scripts, stylesheets, images, frames...)."""

    LOADING = {
        ("script", "src"),
        ("link", "href"),
        ("img", "src"),
        ("iframe", "src"),
        ("source", "src"),
        ("video", "src"),
        ("audio", "src"),
        ("embed", "src"),
        ("object", "data"),
    }

    def __init__(self):
        super().__init__()
        self.loads: list[str] = []
        self.plotly_js = 0
        self.figures = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "link" and not set((a.get("rel") or "").split()) & {
            "stylesheet",
            "preload",
            "icon",
            "modulepreload",
            "prefetch",
            "manifest",
        }:
            return  # navigation links (rel=next, canonical...) load nothing
        for t, attr in self.LOADING:
            if tag == t and a.get(attr):
                self.loads.append(a[attr])
        if tag == "script" and (a.get("src") or "").split("?")[0].endswith("lnbook/plotly.min.js"):
            self.plotly_js += 1
        if tag == "div" and "lnbook-plotly" in (a.get("class") or "").split():
            self.figures += 1


# What a reader sees change in a figure: every trace's data and whether it is shown.
PLOTTED = "gd => JSON.stringify(gd.data.map(t => [t.x, t.y, t.z, t.visible]))"


def figure_pages(site: Path) -> list[str]:
    """The pages (relative paths) that draw at least one plotly figure."""
    return [p.relative_to(site).as_posix() for p in pages(site) if parse(p).figures]


def parse(page: Path) -> _Refs:
    refs = _Refs()
    refs.feed(page.read_text(encoding="utf-8"))
    return refs


def is_external(url: str) -> bool:
    return url.startswith(("http:", "https:", "//", "ftp:"))


def book_config(repository_url: str | None = None) -> SimpleNamespace:
    """The Sphinx settings of a build of ``_config.yml``, through Jupyter Book's own
    translation (``repository: url`` replaced by ``repository_url`` unless None)."""
    import yaml
    from jupyter_book.config import get_final_config

    book = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    if repository_url is not None:
        book["repository"]["url"] = repository_url
    config, _ = get_final_config(
        user_yaml=book, cli_config={"latex_individualpages": False}, sourcedir=ROOT
    )
    return SimpleNamespace(
        html_theme_options=config["html_theme_options"], lnbook_pages_branch="gh-pages"
    )


def chromium() -> str:
    try:
        return pdf.chromium()
    except FileNotFoundError as error:
        pytest.fail(f"the browser tests need it: {error}")


# A phone as the readers hold it: 390 x 844 CSS pixels, touch, a high-density screen.
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 3,
}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


class Visit:
    """A page opened in a fresh context (or ``tab``), with every request and console error
    recorded; the HTTP cache is off, as Playwright's routing turns it off.

    ``device`` is a dict of Playwright context options (:data:`PHONE`, :data:`DESKTOP`);
    ``dark`` opens the page with the theme's dark mode chosen, as a reader's earlier choice
    is remembered by the theme (``localStorage.mode``). ``tab``: open the page in this tab
    of :func:`new_tab` instead, which goes from page to page as a reader following links
    does, each page a new document that finds the site's storage empty; ``close`` leaves
    the page (what its unloading sends is still this visit's) and the tab open for the next
    visit. Chromium takes some 0.5 s to open a tab and its context: in one tab, the tour of
    every page (test_site_pages.py) took 130 s instead of 141 s, and the phone's walk over
    the figure pages 22 s instead of 26 s (quiet machine).
    """

    def __init__(
        self,
        browser,
        base: str,
        path: str,
        device: dict | None = None,
        dark: bool = False,
        tab=None,
    ):
        if tab is not None and (device is not None or dark):
            raise ValueError("tab= opens the page as that tab's context is: no device, no dark")
        self.base = base
        self._own_context = tab is None
        self.context = browser.new_context(**(device or DESKTOP)) if tab is None else tab.context
        if dark:
            self.context.add_init_script("localStorage.setItem('mode', 'dark')")
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.page = self.context.new_page() if tab is None else tab
        self.page.route("**/*", self._route)
        self.page.on("console", self._console)
        self.page.on("pageerror", self._page_error)
        self.page.goto(f"{base}/{path}", wait_until="load")
        self.page.wait_for_load_state("networkidle")

    def _route(self, r):
        if r.request.url.startswith(self.base) or r.request.url.startswith("data:"):
            r.continue_()
        else:  # record and refuse: the site must not need it
            self.outside.append(r.request.url)
            r.abort()

    def _console(self, message):
        if message.type == "error":
            self.errors.append(message.text)

    def _page_error(self, error):
        self.errors.append(str(error))

    def first_paint_ms(self) -> float:
        """Milliseconds from navigation to the first contentful paint."""
        return self.page.evaluate(
            "() => performance.getEntriesByName('first-contentful-paint')[0].startTime"
        )

    def close(self):
        if self._own_context:
            self.context.close()
        else:  # the page unloads while this visit still records; the tab goes on
            self.page.goto("about:blank")
            self.page.unroute("**/*", self._route)
            self.page.remove_listener("console", self._console)
            self.page.remove_listener("pageerror", self._page_error)


# Run in each new document of a tab of new_tab, before the page's own scripts: the earlier
# page's storage is gone (the theme keeps the sidebar's scroll position in sessionStorage,
# written as a page unloads), as for a reader's first visit.
_EMPTY_STORAGE = """if (window === window.top) {
  try { localStorage.clear(); sessionStorage.clear(); } catch (e) {}  // about:blank has none
}"""


def new_tab(browser, device: dict | None = None):
    """A tab in a context of its own, for :class:`Visit` after :class:`Visit` (``tab=``);
    close it with ``tab.context.close()``."""
    context = browser.new_context(**(device or DESKTOP))
    context.add_init_script(_EMPTY_STORAGE)
    return context.new_page()


_TRANSFERRED = """async () => {
  await document.fonts.ready;  // fonts are fetched once the text that needs them is laid out
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  return {bytes: nav.decodedBodySize + res.reduce((s, r) => s + r.decodedBodySize, 0),
          requests: 1 + res.length};
}"""


def weight(visit: Visit) -> dict:
    """Bytes, requests and first paint of a page just opened (by :class:`Visit`, with no
    HTTP cache), once its figures are drawn.

    Bytes are the browser's own count (Resource Timing's decoded body sizes: uncompressed,
    as ``make serve`` sends them) of the page and everything it loaded.
    """
    wait_drawn(visit.page)
    return {**visit.page.evaluate(_TRANSFERRED), "first_paint_ms": round(visit.first_paint_ms())}


def weigh(site: Path, base: str, browser) -> dict[str, dict]:
    """:func:`weight` of every page, each loaded once with an empty cache."""
    found = {}
    for page in pages(site):
        rel = page.relative_to(site).as_posix()
        visit = Visit(browser, base, rel)
        try:
            found[rel] = weight(visit)
        finally:
            visit.close()
    return found


class SlowLine:
    """A slow connection that every response of a server shares: ``rate`` bytes a second,
    after ``latency`` seconds a request. The server is slow itself, rather than chromium
    slowed by its DevTools (``Network.emulateNetworkConditions``), under which a page's
    load sometimes never finished (four times in recent runs of make test)."""

    CHUNK = 16_384

    def __init__(self, rate: float, latency: float):
        self.rate, self.latency = rate, latency
        self._free_at = 0.0  # when the line has sent what it was given so far
        self._lock = threading.Lock()

    def send(self, data: bytes, out) -> None:
        """Write ``data`` to ``out`` at the line's rate, sharing it with other sends."""
        for i in range(0, len(data), self.CHUNK):
            chunk = data[i : i + self.CHUNK]
            with self._lock:
                self._free_at = max(time.monotonic(), self._free_at) + len(chunk) / self.rate
                sent_at = self._free_at
            time.sleep(max(0.0, sent_at - time.monotonic()))
            out.write(chunk)

    def handler(self) -> type[QuietHandler]:
        """A request handler (for :func:`serving`) that answers over this line."""
        line = self

        class OverTheLine(QuietHandler):
            def send_head(self):
                time.sleep(line.latency)
                return super().send_head()

            def copyfile(self, source, outputfile):
                line.send(source.read(), outputfile)

        return OverTheLine


def wait_drawn(page, timeout: float = 15_000) -> None:
    """Wait until every plotly figure of a Playwright page is drawn."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('div.lnbook-plotly')]"
        ".every(gd => gd._fullLayout && gd.querySelector('.main-svg'))",
        timeout=timeout,
    )


def paper_luminance(page) -> list[float]:
    """The relative luminance (0 black, 1 white) of each figure's paper colour."""
    return page.evaluate(
        """() => [...document.querySelectorAll('div.lnbook-plotly')].map(gd => {
          const c = document.createElement('canvas').getContext('2d');
          c.fillStyle = gd._fullLayout.paper_bgcolor; c.fillRect(0, 0, 1, 1);
          const [r, g, b] = c.getImageData(0, 0, 1, 1).data;
          return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
        })"""
    )


def figure_specs(page: Path) -> list[dict]:
    """The plotly figures (data, layout) a built page embeds, in page order."""
    import json

    text = page.read_text(encoding="utf-8")
    chunks = text.split('<script type="application/json" class="lnbook-plotly-spec">')[1:]
    return [json.loads(c.split("</script>", 1)[0].replace("<\\/", "</")) for c in chunks]


if __name__ == "__main__":
    # python tests/sitekit.py: the weight table of the built site (after make book).
    from playwright.sync_api import sync_playwright

    with serving(HTML) as base, sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        rows = weigh(HTML, base, b)
        b.close()
    print(f"{'page':45} {'bytes':>10} {'requests':>8} {'first paint ms':>14}")
    for rel, r in rows.items():
        print(f"{rel:45} {r['bytes']:>10,} {r['requests']:>8} {r['first_paint_ms']:>14}")
