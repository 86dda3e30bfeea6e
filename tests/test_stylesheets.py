"""The site's stylesheets cut to the rules in use (lnbook.book.stylesheets, with npm's PurgeCSS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lnbook.book import stylesheets
from lnbook.book.sphinxext import _PURGECSS

THEME_CSS = (
    ":root{--pst-color-text:#222;--unused-variable:1px}"
    ".used{color:red}"
    ".never-named{color:blue}"
    "html[data-theme=dark] .used{color:pink}"
    ".shown-by-script{display:block}"
    ".bs-tooltip-auto .tooltip-arrow{top:0}"
    "@font-face{font-family:X;src:url(x.woff2)}"
    "@keyframes spin{to{transform:rotate(1turn)}}"
)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    if not _PURGECSS.is_file():
        pytest.fail(f"{_PURGECSS} missing: run `npm ci` (make test does)")
    static = tmp_path / "_static"
    (static / "styles").mkdir(parents=True)
    (static / "katex").mkdir()
    (tmp_path / "page.html").write_text(
        '<html data-theme="light"><body><p class="used tooltip-arrow">x</p></body></html>'
    )
    (static / "theme.js").write_text(
        'el.classList.add("shown-by-script"); root.dataset.theme = "dark";'
    )
    (static / "styles" / "theme.css").write_text(THEME_CSS)
    (static / "katex" / "katex.min.css").write_text(".katex-unused{x:1}")
    return tmp_path


def test_purge_keeps_what_pages_and_scripts_name_and_drops_the_rest(site: Path):
    sizes = stylesheets.purge_unused_css(site, _PURGECSS)
    css = (site / "_static" / "styles" / "theme.css").read_text()
    assert ".used{" in css.replace(" ", "")
    assert "never-named" not in css
    assert "html[data-theme=dark] .used" in css  # the dark theme's rules stay
    assert "shown-by-script" in css  # a class only a script adds
    assert "bs-tooltip-auto" in css  # built by Bootstrap from pieces: kept by name
    # Variables, fonts and animations are kept whole.
    assert "--unused-variable" in css and "@font-face" in css and "@keyframes spin" in css
    before, after = sizes["_static/styles/theme.css"]
    assert before == len(THEME_CSS) and after == len(css.encode()) < before


def test_katex_and_the_books_own_stylesheets_are_left_whole(site: Path):
    assert stylesheets.stylesheets(site) == [site / "_static" / "styles" / "theme.css"]
    stylesheets.purge_unused_css(site, _PURGECSS)
    assert (site / "_static" / "katex" / "katex.min.css").read_text() == ".katex-unused{x:1}"


def test_two_stylesheets_with_one_name_are_refused(site: Path):
    (site / "_static" / "theme.css").write_text(".used{x:1}")
    with pytest.raises(ValueError, match="share a file name"):
        stylesheets.purge_unused_css(site, _PURGECSS)
