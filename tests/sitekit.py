"""What the site tests share: the built pages, their parsed references, a browser visit.

The fixtures that build the site, serve it and start the browser are in ``conftest.py``, so
that every test module of the site can use them.
"""

from __future__ import annotations

import os
import shutil
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"

# Chromium as the probe of this machine starts it: without the background-networking flags
# it keeps calling Google's hosts, which this closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pages(site: Path) -> list[Path]:
    """The book's pages (the chapters, genindex and search), not the theme's assets."""
    pages = sorted(
        p for p in site.rglob("*.html") if not p.relative_to(site).parts[0].startswith("_")
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


def parse(page: Path) -> _Refs:
    refs = _Refs()
    refs.feed(page.read_text(encoding="utf-8"))
    return refs


def is_external(url: str) -> bool:
    return url.startswith(("http:", "https:", "//", "ftp:"))


def chromium() -> str:
    path = os.environ.get("LNBOOK_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail("Debian's chromium is required for the browser tests: apt-get install chromium")
    return path


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Visit:
    """A page opened in a fresh context, with every request and console error recorded."""

    def __init__(self, browser, base: str, path: str):
        self.base = base
        self.context = browser.new_context()
        self.outside: list[str] = []
        self.errors: list[str] = []

        def route(r):
            if r.request.url.startswith(base) or r.request.url.startswith("data:"):
                r.continue_()
            else:  # record and refuse: the site must not need it
                self.outside.append(r.request.url)
                r.abort()

        self.context.route("**/*", route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(f"{base}/{path}", wait_until="load")
        self.page.wait_for_load_state("networkidle")

    def close(self):
        self.context.close()
