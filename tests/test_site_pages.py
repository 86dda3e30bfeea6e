"""Every page of the site, opened once in a desktop tab, as a reader with no network.

One visit a page answers six questions, each its own test: does it work offline (nothing
asked of any other host, no console error, all math and every figure drawn), does it load
within its budget of bytes; on a page with figures, does Tab from the top reach a labelled
control of every interactive figure, whose keys change the plot, does each button (or
menu choice) change the plotted data, does each slider, pressed on its track; and does
axe-core find any serious or critical WCAG 2.1 AA violation, in the light theme and then
the dark (after the controls were used: axe judges the figures as a reader left them).
A page costs a second or two to open, so the six tests share one visit of it. The module
runs whole on one xdist worker (``ONE_WORKER_MODULES`` in conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from sitekit import (
    PLOTTED,
    ROOT,
    Visit,
    figure_specs,
    new_tab,
    pages,
    paper_luminance,
    parse,
    weight,
)

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


# ------------------------------------------------ the controls, by keyboard and pointer

_FOCUSED = """() => {
  const el = document.activeElement;
  const fig = el && el.closest('figure.lnbook-figure');
  const figs = [...document.querySelectorAll('figure.lnbook-figure')];
  const style = el ? getComputedStyle(el) : null;
  return {
    figure: fig ? figs.indexOf(fig) : -1,
    inControls: !!(el && el.closest('.lnbook-controls')),
    inModebar: !!(el && el.closest('.modebar')),
    tag: el ? el.tagName : null,
    step: !!(el && el.classList.contains('lnbook-step')),
    type: el ? el.type : null,
    pressed: el ? el.getAttribute('aria-pressed') : null,
    outline: style ? style.outlineStyle + ' ' + style.outlineWidth : null,
    atEnd: el && el.type === 'range' ? +el.value === +el.max : null,
  };
}"""


def _wait_for_new_data(visit: Visit, gd, before: str) -> None:
    """Wait (5 s at most) until the figure ``gd`` plots something other than ``before``."""
    visit.page.wait_for_function(
        f"([gd, before]) => ({PLOTTED})(gd) !== before",
        arg=[gd.element_handle(), before],
        timeout=5000,
    )


def _tab_and_keys(visit: Visit, specs: list[dict]) -> int:
    """From the top of a fresh page, by Tab alone: a labelled control of every interactive
    figure is reached, shows a focus ring, and its key changes the plot. Returns the
    controls tried."""
    page, checked = visit.page, 0
    interactive = page.evaluate(
        "() => [...document.querySelectorAll('figure.lnbook-figure')]"
        ".map((f, i) => f.querySelector('.lnbook-controls') ? i : -1).filter(i => i >= 0)"
    )
    # Every control says what it controls: a <label> or the group's aria-label, and not a
    # fallback word ("view", "step") the figure builder left unnamed.
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll(
          '.lnbook-controls :is(input, select, [role=group])')]
        .filter(c => {
          const label = c.labels && c.labels.length
            ? c.labels[0].textContent : c.getAttribute('aria-label');
          return !label || !label.trim() || /^(view|step)\\b/.test(label.trim());
        }).map(c => c.outerHTML.slice(0, 120))"""
    )
    assert not unnamed, f"controls without a label: {unnamed}"
    reached: dict[int, dict] = {}
    for _ in range(600):  # the whole page, from the top, by Tab alone
        page.keyboard.press("Tab")
        f = page.evaluate(_FOCUSED)
        assert not f["inModebar"], "Tab stops on plotly's modebar"
        if f["step"]:  # a slider's -/+ button: the keys are tried on the slider
            continue
        if f["inControls"] and f["figure"] not in reached:
            assert f["outline"].split()[0] != "none", "no visible focus ring"
            reached[f["figure"]] = f
            gd = page.locator("div.lnbook-plotly").nth(f["figure"])
            before = gd.evaluate(PLOTTED)
            if f["type"] == "range":
                page.keyboard.press("ArrowLeft" if f["atEnd"] else "ArrowRight")
            elif f["tag"] == "SELECT":
                page.keyboard.press("ArrowDown")
            else:  # a button group: the pressed button is the view shown
                if f["pressed"] == "true":  # the arrow moves on (wrapping round)
                    page.keyboard.press("ArrowRight")
                    moved = page.evaluate(_FOCUSED)
                    assert moved["pressed"] == "false", f"arrow stayed: {moved}"
                page.keyboard.press("Enter")
            try:
                _wait_for_new_data(visit, gd, before)
            except Exception as err:  # say which control did nothing
                raise AssertionError(f"the key on {f} changed nothing") from err
            checked += 1
        if set(interactive) <= set(reached):
            break
    missing = sorted(set(interactive) - set(reached))
    assert not missing, f"Tab never reached figures {missing}"
    return checked


def _buttons(visit: Visit, specs: list[dict]) -> int:
    """Each button of each figure's menus (or each choice of its drop-down) pressed in
    turn, ending on the one shown at first: every press is a change of view."""
    checked = 0
    figures = visit.page.locator("figure.lnbook-figure")
    for i, spec in enumerate(specs):
        gd = figures.nth(i).locator("div.lnbook-plotly")
        menus = spec["layout"].get("updatemenus", [])
        controls = figures.nth(i).locator(".lnbook-buttons, .lnbook-select select")
        assert controls.count() == len(menus), (i, controls.count(), len(menus))
        for m, menu in enumerate(menus):
            n, control = len(menu["buttons"]), controls.nth(m)
            dropdown = menu.get("type") == "dropdown"
            if dropdown:
                shown = int(control.input_value())
            else:  # an earlier test (the keys) may have chosen another view
                pressed = control.locator("button[aria-pressed=true]")
                assert pressed.count() == 1, f"figure {i}: {pressed.count()} buttons pressed"
                shown = control.locator("button").evaluate_all(
                    "bs => bs.findIndex(b => b.getAttribute('aria-pressed') === 'true')"
                )
            for b in [(shown + k) % n for k in range(1, n + 1)]:
                before = gd.evaluate(PLOTTED)
                if dropdown:
                    control.select_option(str(b))
                else:
                    button = control.locator("button").nth(b)
                    button.scroll_into_view_if_needed()
                    button.click()
                    assert button.get_attribute("aria-pressed") == "true", (i, b)
                _wait_for_new_data(visit, gd, before)
                checked += 1
    return checked


def _sliders(visit: Visit, specs: list[dict]) -> int:
    """Each slider (a range input the page puts above the plot, plotly-init.js: one for
    each slider of the figure's own layout) pressed on its track at the far end from its
    handle, as a reader would."""
    checked = 0
    figures = visit.page.locator("figure.lnbook-figure")
    for i, spec in enumerate(specs):
        ranges = figures.nth(i).locator(".lnbook-controls input[type=range]")
        assert ranges.count() == len(spec["layout"].get("sliders", [])), i
        gd = figures.nth(i).locator("div.lnbook-plotly")
        for s in range(ranges.count()):
            before = gd.evaluate(PLOTTED)
            rng = ranges.nth(s)
            rng.scroll_into_view_if_needed()
            at_start = rng.evaluate("r => +r.value < (+r.max) / 2")
            box = rng.bounding_box()
            frac = 0.98 if at_start else 0.02
            visit.page.mouse.click(box["x"] + frac * box["width"], box["y"] + box["height"] / 2)
            _wait_for_new_data(visit, gd, before)
            moved = rng.evaluate("r => +r.value")
            # Towards the end pressed (the exact step depends on the step count).
            assert (moved > (int(rng.get_attribute("max")) / 2)) == at_start, (i, s)
            checked += 1
    return checked


# In this order: the walk by Tab needs the page as it opened (focus at the top).
TRIALS: dict[str, Callable[[Visit, list[dict]], int]] = {
    "keys": _tab_and_keys,
    "buttons": _buttons,
    "sliders": _sliders,
}


def _try_each(visit: Visit, specs: list[dict], seen: Seen) -> None:
    """Run every trial on the open page; a trial's problems are its failure and the console
    errors and outside requests while it ran (those of the load are the offline test's)."""
    for name, trial in TRIALS.items():
        errors, outside = len(visit.errors), len(visit.outside)
        problems = []
        try:
            seen.checked[name] = trial(visit, specs)
        except Exception as e:  # noqa: BLE001 - the trial's test reports it
            problems.append(f"{type(e).__name__}: {e}")
        problems += _visit_problems(visit, errors, outside)
        if problems:
            seen.trial_problems[name] = problems


def _visit_problems(visit: Visit, errors: int, outside: int) -> list[str]:
    """The console errors and outside requests of ``visit`` after the first ones counted."""
    return visit.errors[errors:] + [
        f"request outside 127.0.0.1: {u}" for u in visit.outside[outside:]
    ]


@dataclass
class Seen:
    """What one visit of a page found."""

    has_figures: bool
    weight: dict = field(default_factory=dict)  # sitekit.weight: bytes, requests, first paint
    offline: list[str] = field(default_factory=list)  # what did not work with no network
    axe: list[str] = field(default_factory=list)  # violations, and dark figures left light
    # for each trial of TRIALS: the controls it tried, and what went wrong (its assertion,
    # and any console error or outside request while it ran)
    checked: dict[str, int] = field(default_factory=dict)
    trial_problems: dict[str, list[str]] = field(default_factory=dict)


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
    anything else can load), whether it works offline, each trial of its controls, and
    axe's verdicts."""
    script = AXE.read_text(encoding="utf-8")
    tab = new_tab(browser)  # one desktop tab, going from page to page
    try:
        return _visit_every_page(site, server, browser, tab, script)
    finally:
        tab.context.close()


def _visit_every_page(site, server, browser, tab, script: str) -> dict[str, Seen]:
    found = {}
    for page in pages(site):
        rel = page.relative_to(site).as_posix()
        s = found[rel] = Seen(has_figures=bool(parse(page).figures))
        visit = Visit(browser, server, rel, tab=tab)
        loaded = trials = (0, 0)  # console errors and outside requests so far
        try:
            try:
                s.weight = weight(visit)  # waits for the figures: a timeout says they are not
            except Exception as e:  # noqa: BLE001 - reported by the tests, page by page
                s.offline.append(f"not drawn: {e}")
            s.offline += _offline(visit)
            loaded = len(visit.errors), len(visit.outside)  # the load's: the offline test's
            if s.has_figures and s.weight:  # drawn; before axe opens the panels: Tab walks
                _try_each(visit, figure_specs(page), s)  # the page as it opened
            trials = len(visit.errors), len(visit.outside)
            try:
                s.axe = _axe_light_and_dark(visit, script, s.has_figures)
            except Exception as e:  # noqa: BLE001
                s.axe.append(f"axe could not run: {e}")
        finally:
            visit.close()
        # What the trials met is theirs to report; the load's and axe's are the offline test's.
        errors = visit.errors[: loaded[0]] + visit.errors[trials[0] :]
        outside = visit.outside[: loaded[1]] + visit.outside[trials[1] :]
        if outside:
            s.offline.append(f"requests outside 127.0.0.1: {outside}")
        if errors:
            s.offline.append(f"console errors: {errors}")
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


def _assert_tried(seen: dict[str, Seen], name: str) -> None:
    problems = {
        rel: s.trial_problems[name] for rel, s in seen.items() if s.trial_problems.get(name)
    }
    assert not problems, json.dumps(problems, indent=1)
    assert sum(s.checked.get(name, 0) for s in seen.values()), f"{name}: no control on the site"


def test_tab_reaches_a_labelled_control_of_every_figure_and_keys_change_the_plot(seen):
    _assert_tried(seen, "keys")


def test_pressing_each_button_changes_the_plotted_data(seen):
    _assert_tried(seen, "buttons")


def test_moving_each_slider_changes_the_plotted_data(seen):
    _assert_tried(seen, "sliders")


def test_axe_finds_no_serious_or_critical_violation_light_or_dark(seen):
    found = {rel: s.axe for rel, s in seen.items() if s.axe}
    assert not found, json.dumps(found, indent=1)
