"""The theme's icon font cut to the icons in use (lnbook.book.icons), against fontTools' reading."""

from __future__ import annotations

from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from lnbook.book import icons

CSS = (
    '.fa{x:1}.fa-bars:before,.navicon:before{content:"\\f0c9"}'
    '.fa-at:before{content:"\\@"}.fa-k:before{content:"K"}'
    '.fa-chevron-circle-right:before,.fa-circle-chevron-right:before{content:"\\f138"}'
    '.fa-zero:before{content:"\\30 "}.other{y:2}'
    ':root{--pst-icon-bell:"\uf0f3";--pst-icon-note:var(--pst-icon-bell)}'
)


def test_icon_char_reads_css_escapes():
    assert icons.icon_char("\\f0c9") == "\uf0c9"
    assert icons.icon_char("\\30 ") == "0"
    assert icons.icon_char("\\@") == "@"
    assert icons.icon_char("K") == "K"


def test_slim_css_keeps_used_icons_and_everything_else():
    css, chars = icons.slim_css(CSS, {"fa-k", "fa-circle-chevron-right"})
    assert css == (
        '.fa{x:1}.fa-bars:before,.navicon:before{content:"\\f0c9"}'  # not only icons: kept
        '.fa-k:before{content:"K"}'
        '.fa-circle-chevron-right:before{content:"\\f138"}'
        ".other{y:2}"
        ':root{--pst-icon-bell:"\uf0f3";--pst-icon-note:var(--pst-icon-bell)}'
    )
    assert chars == {"K", "\uf138", "\uf0f3"}  # the variable's icon too


def test_used_icons_reads_pages_and_scripts_but_not_plotly(tmp_path: Path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "a.html").write_text('<i class="fa-solid fa-bars"></i>')
    (tmp_path / "_static" / "theme.js").write_text('e.classList.add("fa-xmark")')
    (tmp_path / "_static" / "plotly.min.js").write_text('"fa-plotly-only"')
    assert icons.used_icons(tmp_path) == {"fa-solid", "fa-bars", "fa-xmark"}


def test_subset_font_holds_exactly_the_glyphs_asked_for(tmp_path: Path):
    solid = icons._theme_static() / icons._FONTS / "fa-solid-900.woff2"
    if not solid.is_file():
        pytest.fail(f"the theme's font is missing: {solid}")
    full = set(TTFont(solid).getBestCmap())
    wanted = {"\uf0c9", "\uf002", "\U0010fff0"}  # bars, magnifying glass, not in the font
    target = tmp_path / "out.woff2"
    icons.subset_font(solid, target, wanted)
    kept = set(TTFont(target).getBestCmap())
    assert kept == {ord(c) for c in wanted} & full
    assert target.stat().st_size < solid.stat().st_size / 10
