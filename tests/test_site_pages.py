"""Every page of the site, opened once in a fresh desktop tab, as a reader with no network.

One visit a page answers three questions, each its own test: does it work offline (nothing
asked of any other host, no console error, all math and every figure drawn), does it load
within its budget of bytes, and does axe-core find any serious or critical WCAG 2.1 AA
violation, in the light theme and then the dark. (Seven tests each used to open every
page; a page costs a second or two to open, so they share the visit. The module runs whole
on one xdist worker: ``ONE_WORKER_MODULES`` in conftest.py.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from sitekit import ROOT, Visit, pages, paper_luminance, parse, weight

pytestmark = pytest.mark.site

CHAPTER_BUDGET_BYTES = 2_000_000  # a chapter page, everything it loads, uncompressed
PLAIN_BUDGET_BYTES = 1_000_000  # a page without figures
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"

_MATH = """() => {
  const maths = [...document.querySelectorAll('.math')];
  return {total: maths.length,
          rendered: maths.filter(m => m.querySelector('.katex')).length,
          errors: document.querySelectorAll('.katex-error').length};
}"""

_FIGURES = """() => [...document.querySelectorAll('div.lnbook-plotly')].map(gd => ({
  drawn: !!gd._fullLayout && !!gd.querySelector('.main-svg'),
  cloud: gd.querySelectorAll('.modebar-btn[data-title*="Share"], [data-title*="loud"]').length,
  traces: gd.querySelectorAll('.scatterlayer .trace, .heatmaplayer .hm, .barlayer .trace').length,
}))"""

# resultTypes: only the violations are wanted whole (axe's own switch for speed).
_AXE_RUN = """async () => (await axe.run(document, {
  runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
  resultTypes: ['violations'],
})).violations.filter(v => ['serious', 'critical'].includes(v.impact))
  .map(v => `${v.id} (${v.impact}): ` + v.nodes.slice(0, 3)
    .map(n => n.target.join(' ')).join(' | ') + ` [${v.nodes.length}]`)"""


@dataclass
class Seen:
    """What one visit of a page found."""

    has_figures: bool
    weight: dict = field(default_factory=dict)  # sitekit.weight: bytes, requests, first paint
    offline: list[str] = field(default_factory=list)  # what did not work with no network
    axe: list[str] = field(default_factory=list)  # violations, and dark figures left light


def _offline(visit: Visit) -> list[str]:
    found = []
    math = visit.page.evaluate(_MATH)
    if math and (math["rendered"] != math["total"] or math["errors"]):
        found.append(f"math not rendered: {math}")
    for i, fig in enumerate(visit.page.evaluate(_FIGURES)):
        if not fig["drawn"] or not fig["traces"]:
            found.append(f"figure {i} not drawn: {fig}")
        if fig["cloud"]:  # a button that offers to upload the figure elsewhere
            found.append(f"figure {i} has a cloud button")
    return found


def _axe_light_and_dark(visit: Visit, script: str, has_figures: bool) -> list[str]:
    # axe in the light theme, then the theme switched to dark the way its own script does it
    # (data-theme on <html>), the figures redrawn dark, and axe again.
    found = []
    page = visit.page
    page.evaluate(script)
    # The folded "Run this chapter" panel, opened: axe judges only what is shown.
    page.evaluate(
        "() => document.querySelectorAll('details.lnbook-launch').forEach(d => { d.open = true; })"
    )
    for mode in ("light", "dark"):
        page.evaluate(
            f"() => {{ document.documentElement.dataset.theme = '{mode}';"
            f" document.documentElement.dataset.mode = '{mode}'; }}"
        )
        # The theme fades colours over 0.15 s: judge the colours a reader is left with.
        page.wait_for_function(
            "() => !document.getAnimations()"
            ".some(a => a instanceof CSSTransition && a.playState === 'running')",
            timeout=5000,
        )
        if has_figures and mode == "dark":  # the figures follow, and open dark
            page.wait_for_function(
                "() => [...document.querySelectorAll('div.lnbook-plotly')]"
                ".every(gd => !['white', '#ffffff'].includes(gd._fullLayout.paper_bgcolor))",
                timeout=5000,
            )
            lum = paper_luminance(page)
            if max(lum) >= 0.2:
                found.append(f"dark: figure paper luminance {lum}")
        found.extend(f"{mode}: {r}" for r in page.evaluate(_AXE_RUN))
    return found


@pytest.fixture(scope="module")
def seen(site, server, browser) -> dict[str, Seen]:
    """Each page (by its path in the site), opened once: in this order, its weight (before
    anything else can load), whether it works offline, and axe's verdicts."""
    script = AXE.read_text(encoding="utf-8")
    found = {}
    for page in pages(site):
        rel = page.relative_to(site).as_posix()
        s = found[rel] = Seen(has_figures=bool(parse(page).figures))
        visit = Visit(browser, server, rel)
        try:
            try:
                s.weight = weight(visit)  # waits for the figures: a timeout says they are not
            except Exception as e:  # noqa: BLE001 - reported by the tests, page by page
                s.offline.append(f"not drawn: {e}")
            s.offline += _offline(visit)
            try:
                s.axe = _axe_light_and_dark(visit, script, s.has_figures)
            except Exception as e:  # noqa: BLE001
                s.axe.append(f"axe could not run: {e}")
        finally:
            visit.close()
        if visit.outside:
            s.offline.append(f"requests outside 127.0.0.1: {visit.outside}")
        if visit.errors:
            s.offline.append(f"console errors: {visit.errors}")
    return found


def test_every_page_works_offline_in_the_browser(seen):
    problems = {rel: s.offline for rel, s in seen.items() if s.offline}
    assert not problems, json.dumps(problems, indent=2)


def test_pages_load_at_most_their_budget(seen):
    # Budgets of everything a page loads: 8.6-9.0 MB a chapter before issue 11.
    over = {}
    for rel, s in seen.items():
        budget = CHAPTER_BUDGET_BYTES if s.has_figures else PLAIN_BUDGET_BYTES
        if not s.weight or s.weight["bytes"] > budget:
            over[rel] = s.weight.get("bytes", "not weighed")
    assert not over, over


def test_axe_finds_no_serious_or_critical_violation_light_or_dark(seen):
    found = {rel: s.axe for rel, s in seen.items() if s.axe}
    assert not found, json.dumps(found, indent=1)
