"""The website for every reader: a phone, the keyboard, dark mode, a slow line, a screen reader.

Each test opens the built site in Debian's chromium (see ``sitekit``), the way such a reader
would: a 390 x 844 touch screen, the theme's menus and dark mode, search, icons, a slow
line. What every page is tried for on a desktop (offline, its bytes, axe-core's WCAG 2.1
AA rules; Tab and the keys, buttons and sliders) is in test_site_pages.py, one visit a
page.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sitekit import (
    DESKTOP,
    PHONE,
    PLOTTED,
    SlowLine,
    Visit,
    figure_pages,
    new_tab,
    pages,
    paper_luminance,
    parse,
    serving,
    wait_drawn,
)

pytestmark = pytest.mark.site


# ---------------------------------------------------------------- the theme's menus -----


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_menu_button_opens_the_table_of_contents(site, server, browser, device):
    visit = Visit(
        browser, server, "book/03_from_scratch.html", PHONE if device == "phone" else DESKTOP
    )
    try:
        page = visit.page
        # Exactly one menu button of each kind: two sharing a class was the bug.
        assert page.locator(".primary-toggle").count() == 1
        assert page.locator(".secondary-toggle").count() == 1
        toggle = page.locator(".primary-toggle")
        assert toggle.is_visible()
        toc_link = page.locator("a.reference.internal[href*='04_layernorm_vs_batchnorm']").first
        if device == "phone":
            assert not toc_link.is_visible()
            toggle.tap()
            page.locator("#pst-primary-sidebar-modal[open]").wait_for(timeout=3000)
            modal_link = page.locator(
                "#pst-primary-sidebar-modal a[href*='04_layernorm_vs_batchnorm']"
            ).first
            assert modal_link.is_visible()
            page.keyboard.press("Escape")
            # The page's own table of contents opens too.
            page.locator(".secondary-toggle").tap()
            page.locator("#pst-secondary-sidebar-modal[open]").wait_for(timeout=3000)
            assert page.locator("#pst-secondary-sidebar-modal a").first.is_visible()
        else:  # the desktop button hides and shows the sidebar
            sidebar = page.locator("#pst-primary-sidebar")
            assert sidebar.is_visible()
            toggle.click()
            page.wait_for_function(
                "() => document.querySelector('#pst-primary-sidebar')"
                ".classList.contains('pst-sidebar-hidden')",
                timeout=3000,
            )
            toggle.click()
            sidebar.wait_for(state="visible", timeout=3000)
    finally:
        visit.close()
    assert not visit.errors, visit.errors


# ---------------------------------------------------------------- a phone ---------------

_OUTSIDE = """([width]) => {
  const out = [];
  const check = (el, what) => {
    const r = el.getBoundingClientRect();
    if (r.width && (r.left < -1 || r.right > width + 1))
      out.push(`${what}: ${Math.round(r.left)}..${Math.round(r.right)}`);
  };
  document.querySelectorAll('figure.lnbook-figure').forEach((f, i) => {
    check(f, `figure ${i}`);
    f.querySelectorAll(`figcaption, .lnbook-controls button, .lnbook-controls input,
        .lnbook-controls select, .main-svg, .legend, .g-xtitle, .g-ytitle, .g-y2title,
        .annotation-text, .colorbar`)
      .forEach(el => check(el, `figure ${i} ${el.tagName} ${el.getAttribute('class') || ''}`));
    const cap = f.querySelector('figcaption');
    if (cap && cap.scrollWidth > cap.clientWidth + 1) out.push(`figure ${i}: caption clipped`);
    f.querySelectorAll('.lnbook-controls :is(button, input, select)').forEach(c => {
      const r = c.getBoundingClientRect();
      if (r.height < 43.5)
        out.push(`figure ${i}: ${c.textContent || c.type} is ${Math.round(r.height)} px tall`);
    });
  });
  return out;
}"""


def test_a_visit_in_a_shared_tab_records_its_own_page_and_starts_with_empty_storage(
    browser, tmp_path
):
    # The walks over every page go from page to page in one tab (sitekit.Visit, tab=): each
    # visit must see only its own page's errors and requests, and none of the storage an
    # earlier page wrote, as it loaded or as it unloaded (the theme writes then).
    (tmp_path / "a.html").write_text(
        "<script>localStorage.setItem('mode', 'dark'); sessionStorage.setItem('s', '1');"
        "console.error('from a'); fetch('http://example.invalid/a');"
        "addEventListener('pagehide', () => sessionStorage.setItem('scroll', '9'));</script>"
    )
    (tmp_path / "b.html").write_text("<p>b</p>")
    with serving(tmp_path) as base:
        tab = new_tab(browser, PHONE)
        try:
            a = Visit(browser, base, "a.html", tab=tab)
            a.close()
            b = Visit(browser, base, "b.html", tab=tab)
            stored = b.page.evaluate("() => [localStorage.length, sessionStorage.length]")
            touch = b.page.evaluate("() => navigator.maxTouchPoints > 0")
            b.close()
            assert not tab.is_closed()
        finally:
            tab.context.close()
    assert "from a" in a.errors and a.outside == ["http://example.invalid/a"]
    assert (b.errors, b.outside, stored, touch) == ([], [], [0, 0], True)
    with pytest.raises(ValueError, match="tab="):
        Visit(browser, base, "b.html", PHONE, tab=tab)


def test_every_figure_title_and_control_fits_a_phone(site, server, browser):
    problems = {}
    phone = new_tab(browser, PHONE)  # one phone's tab, going from page to page
    try:
        for rel in figure_pages(site):
            visit = Visit(browser, server, rel, tab=phone)
            try:
                wait_drawn(visit.page)
                page_width = visit.page.evaluate("() => document.documentElement.scrollWidth")
                found = visit.page.evaluate(_OUTSIDE, [PHONE["viewport"]["width"]])
                if page_width > PHONE["viewport"]["width"]:
                    found.append(f"the page scrolls sideways ({page_width} px)")
                # plotly's own SVG title, sliders and buttons are replaced on the site.
                svg_controls = visit.page.locator(
                    "div.lnbook-plotly .slider-container, div.lnbook-plotly .updatemenu-container"
                ).count()
                if svg_controls:
                    found.append(f"{svg_controls} plotly SVG controls left")
            finally:
                visit.close()
            if found or visit.errors:
                problems[rel] = found + visit.errors
    finally:
        phone.context.close()
    assert not problems, json.dumps(problems, indent=1)


def test_a_swipe_over_a_figure_scrolls_the_page_and_leaves_its_axes(site, server, browser):
    visit = Visit(browser, server, "book/01_per_example_statistics.html", PHONE)
    try:
        wait_drawn(visit.page)
        page = visit.page
        gd = page.locator("div.lnbook-plotly").first
        gd.scroll_into_view_if_needed()
        ranges = "gd => JSON.stringify([gd._fullLayout.xaxis.range, gd._fullLayout.yaxis.range])"
        before, y0 = gd.evaluate(ranges), page.evaluate("() => scrollY")
        box = gd.bounding_box()
        cdp = page.context.new_cdp_session(page)
        # A finger on the middle of the plot, moving 300 px up: raw touch events, through
        # the browser's own input pipeline (as a phone's are).
        x, y = box["x"] + box["width"] / 2, min(box["y"] + box["height"] / 2, 700)
        touch = "Input.dispatchTouchEvent"
        cdp.send(touch, {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
        for step in range(1, 16):
            cdp.send(touch, {"type": "touchMove", "touchPoints": [{"x": x, "y": y - 20 * step}]})
            page.wait_for_timeout(16)
        cdp.send(touch, {"type": "touchEnd", "touchPoints": []})
        page.wait_for_timeout(500)
        assert page.evaluate("() => scrollY") > y0 + 100, "the page did not scroll"
        assert gd.evaluate(ranges) == before, "the swipe zoomed or panned the plot"
        # And no "double-click to zoom back out" box, no modebar on a touch screen.
        assert page.locator(".notifier-note").count() == 0
        assert page.locator("div.lnbook-plotly .modebar").count() == 0
    finally:
        visit.close()


# ---------------------------------------------------------------- dark mode -------------

_CONTRAST = """el => {
  const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let bg = null;
  for (let e = el; e; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) { bg = c; break; }
  }
  bg = bg || [255, 255, 255];
  const worst = [el, ...el.querySelectorAll('*')].map(e => {
    const fg = rgb(getComputedStyle(e).color);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    return (a + 0.05) / (b + 0.05);
  });
  return Math.min(...worst);
}"""


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_verdict_boxes_meet_aa_contrast(site, server, browser, mode):
    visit = Visit(browser, server, "book/01_per_example_statistics.html", dark=mode == "dark")
    try:
        assert visit.page.evaluate("() => document.documentElement.dataset.theme") == mode
        boxes = visit.page.locator(".lnbook-verdict")
        assert boxes.count() >= 3
        ratios = [boxes.nth(i).evaluate(_CONTRAST) for i in range(boxes.count())]
        # A page opened in the reader's remembered mode draws its figures in it at once.
        wait_drawn(visit.page)
        lum = paper_luminance(visit.page)
    finally:
        visit.close()
    assert min(ratios) >= 4.5, ratios
    assert (max(lum) < 0.2) if mode == "dark" else (min(lum) > 0.9), lum


def test_figures_follow_the_theme_switch_live(site, server, browser):
    visit = Visit(browser, server, "book/04_layernorm_vs_batchnorm.html")
    try:
        wait_drawn(visit.page)
        page = visit.page
        assert min(paper_luminance(visit.page)) > 0.9  # light pages, light figures
        # The template came back (the page sends it once, by name): plotly_white's grid.
        assert (
            page.evaluate(
                "() => document.querySelector('div.lnbook-plotly')"
                "._fullLayout.template.layout.xaxis.gridcolor"
            )
            == "#EBF0F8"
        )
        # A reader's choice, made before the switch, must survive the redraw.
        figure = page.locator("figure.lnbook-figure").filter(has=page.locator(".lnbook-buttons"))
        figure.first.locator(".lnbook-buttons button").nth(1).click()
        gd = figure.first.locator("div.lnbook-plotly")
        page.wait_for_timeout(300)
        chosen = gd.evaluate(PLOTTED)
        # The theme's own switch cycles its modes; press it until the page is dark.
        for _ in range(3):
            if page.evaluate("() => document.documentElement.dataset.theme") == "dark":
                break
            page.locator(".theme-switch-button").first.click()
        assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
        page.wait_for_function(
            "() => [...document.querySelectorAll('div.lnbook-plotly')]"
            ".every(gd => gd._fullLayout.paper_bgcolor !== 'white'"
            " && gd._fullLayout.paper_bgcolor !== '#ffffff')",
            timeout=5000,
        )
        assert max(paper_luminance(visit.page)) < 0.2
        page.wait_for_timeout(300)
        assert gd.evaluate(PLOTTED) == chosen, "the switch lost the reader's choice"
        assert (
            figure.first.locator(".lnbook-buttons button").nth(1).get_attribute("aria-pressed")
            == "true"
        )
        # Ink that was black is light now: no trace keeps PALETTE["black"].
        blacks = page.evaluate(
            "() => [...document.querySelectorAll('div.lnbook-plotly')]"
            ".flatMap(gd => gd._fullData.map(t => JSON.stringify([t.line && t.line.color,"
            " t.marker && t.marker.color])))"
            ".filter(s => s.includes('#000000'))"
        )
        assert not blacks, blacks
    finally:
        visit.close()
    assert not visit.errors, visit.errors


def test_choices_survive_a_resize_across_the_phone_layout(site, server, browser):
    # Below 600 px the panels stack, which redraws every figure: the reader's slider position
    # and pressed button must come back, and again on the way back to desktop width.
    visit = Visit(browser, server, "book/01_per_example_statistics.html")
    try:
        wait_drawn(visit.page)
        page = visit.page
        buttons = page.locator("figure.lnbook-figure").filter(has=page.locator(".lnbook-buttons"))
        sliders = page.locator("figure.lnbook-figure").filter(has=page.locator("input[type=range]"))
        gds = [f.first.locator("div.lnbook-plotly") for f in (buttons, sliders)]
        initial = [gd.evaluate(PLOTTED) for gd in gds]
        buttons.first.locator(".lnbook-buttons button").nth(1).click()
        slider = sliders.first.locator("input[type=range]")
        slider.focus()
        page.keyboard.press("End")
        page.wait_for_timeout(500)
        chosen = [gd.evaluate(PLOTTED) for gd in gds]
        assert all(c != i for c, i in zip(chosen, initial, strict=True)), "the choices did nothing"
        value = slider.input_value()
        for width, height in ((390, 844), (1280, 900)):
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(1500)  # the resize observer redraws
            assert [gd.evaluate(PLOTTED) for gd in gds] == chosen, f"lost at {width} px"
            assert slider.input_value() == value
            pressed = buttons.first.locator(".lnbook-buttons button").nth(1)
            assert pressed.get_attribute("aria-pressed") == "true", f"lost at {width} px"
    finally:
        visit.close()
    assert not visit.errors, visit.errors


# ---------------------------------------------------------------- weight ----------------


def test_only_the_search_page_loads_the_search_index(site):
    # pydata-sphinx-theme loads it on every page for search-as-you-type, which is off
    # (lnbook/book/templates/layout.html); the search page needs it.
    for page in pages(site):
        loads = " ".join(parse(page).loads)
        assert ("searchindex.js" in loads) == (page.name == "search.html"), page.name


def test_search_from_a_chapter_finds_the_chapters(site, server, browser):
    # The search button of a chapter (no search scripts there) leads to results.
    visit = Visit(browser, server, "book/01_per_example_statistics.html")
    try:
        visit.page.locator(".search-button__button").first.click()
        box = visit.page.locator("#pst-search-dialog input[name=q]")
        box.fill("variance")
        box.press("Enter")
        visit.page.wait_for_url("**/search.html?q=variance*")
        hits = visit.page.locator("#search-results ul.search li a")
        hits.first.wait_for(timeout=15000)
        found = " ".join(hits.evaluate_all("as => as.map(a => a.getAttribute('href'))"))
        assert "01_per_example_statistics" in found, found
    finally:
        visit.close()
    assert not visit.errors and not visit.outside, (visit.errors, visit.outside)


def test_no_page_loads_the_font_awesome_script_and_icons_still_show(site, server, browser):
    for page in pages(site):
        assert "fontawesome.js" not in " ".join(parse(page).loads), page.name
    visit = Visit(browser, server, "book/01_per_example_statistics.html")
    try:
        # The icons a reader sees, and the font each is drawn with.
        shown = visit.page.evaluate(
            """() => [...document.querySelectorAll('.fa-solid, .fa-regular, .fa-brands')]
              .filter(i => i.offsetParent !== null)
              .map(i => [[...i.classList].filter(c => /^fa-/.test(c)),
                         getComputedStyle(i, '::before').fontWeight,
                         i.getBoundingClientRect().width])"""
        )
        drawn = visit.page.evaluate(
            """() => [...document.querySelectorAll('.admonition-title')]
              .map(t => [t.parentElement.className,
                         getComputedStyle(t, '::after').content])
              .filter(([, content]) => content !== 'none')"""
        )
    finally:
        visit.close()
    assert len(shown) >= 4, shown
    assert drawn, "no admonition on the page"
    # Each one's character, read from the theme's own (whole) stylesheet, must be in the
    # font the site serves (cut to the icons in use by lnbook/book/icons.py).
    import pydata_sphinx_theme
    from fontTools.ttLib import TTFont

    theme_css = (
        Path(pydata_sphinx_theme.__file__).parent
        / "theme/pydata_sphinx_theme/static/styles/pydata-sphinx-theme.css"
    ).read_text()
    fonts = site / "_static" / "vendor" / "fontawesome" / "webfonts"
    for classes, weight, width in shown:
        font = (
            "fa-brands-400"
            if "fa-brands" in classes
            else ("fa-solid-900" if weight == "900" else "fa-regular-400")
        )
        cmap = TTFont(fonts / f"{font}.woff2").getBestCmap()
        chars = [
            m[1]
            for c in classes
            if (m := re.search(rf'\.{c}:before[^{{]*\{{content:"\\([0-9a-f]+)"', theme_css))
        ]
        assert chars, classes
        assert all(int(ch, 16) in cmap for ch in chars), (classes, font)
        assert width > 4, classes
    # The theme's own icons, drawn by its rules from CSS variables: admonition titles.
    solid = TTFont(fonts / "fa-solid-900.woff2").getBestCmap()
    for kind, content in drawn:
        assert len(content) == 3 and ord(content[1]) in solid, (kind, content)


def test_text_paints_before_plotly_arrives_on_a_slow_line(site, browser):
    # About 4 Mbit/s and 40 ms a request: plotly.js (1.1 MB) takes seconds to arrive.
    with serving(site, SlowLine(rate=500_000, latency=0.04).handler()) as base:
        visit = Visit(browser, base, "book/05_transformers.html")
        try:
            timing = {
                "paint": visit.first_paint_ms(),
                "plotly": visit.page.evaluate(
                    "() => performance.getEntriesByType('resource')"
                    ".find(r => r.name.includes('lnbook/plotly.min.js')).responseEnd"
                ),
            }
        finally:
            visit.close()
    assert not visit.errors and not visit.outside, (visit.errors, visit.outside)
    assert timing["paint"] < timing["plotly"], timing
    assert timing["plotly"] > 1_000, f"the line was not slow: {timing}"
