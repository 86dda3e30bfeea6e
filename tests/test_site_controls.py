"""Every control of every figure on the site, used the way a reader uses it, with no kernel.

Each page with figures is opened once in a new desktop tab, and three things are tried
in turn, each its own test: Tab from the top of the page reaches a labelled control of
every interactive figure and its keys change the plot; each button (or menu choice)
changes the plotted data; each slider, pressed on its track, does too. (They used to
open every page once each; the module runs whole on one xdist worker: see
``ONE_WORKER_MODULES`` in conftest.py.)
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sitekit import DESKTOP, PLOTTED, Visit, figure_pages, figure_specs, wait_drawn

pytestmark = pytest.mark.site

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


def _try_each(visit: Visit, specs: list[dict], rel: str, found: dict) -> None:
    """Run every trial on the open page; a trial's problems are its failure and the console
    errors and outside requests of the page's load and of the trial itself."""
    loading = _visit_problems(visit, 0, 0)
    for name, trial in TRIALS.items():
        errors, outside = len(visit.errors), len(visit.outside)
        problems = list(loading)
        try:
            found[name]["checked"] += trial(visit, specs)
        except Exception as e:  # noqa: BLE001 - the trial's test reports it
            problems.append(f"{type(e).__name__}: {e}")
        problems += _visit_problems(visit, errors, outside)
        if problems:
            found[name]["problems"][rel] = problems


def _visit_problems(visit: Visit, errors: int, outside: int) -> list[str]:
    """The console errors and outside requests of ``visit`` after the first ones counted."""
    return visit.errors[errors:] + [
        f"request outside 127.0.0.1: {u}" for u in visit.outside[outside:]
    ]


@pytest.fixture(scope="module")
def tried(site, server, browser) -> dict[str, dict]:
    """For each trial: the controls it tried, and what went wrong on which page (its
    assertion, and any console error or outside request as the page loaded or it ran)."""
    found = {name: {"checked": 0, "problems": {}} for name in TRIALS}
    # One browser context: a reader going from page to page, each page a fresh tab.
    context = browser.new_context(**DESKTOP)
    try:
        for rel in figure_pages(site):
            visit = Visit(browser, server, rel, context=context)
            try:
                wait_drawn(visit.page)
                _try_each(visit, figure_specs(site / rel), rel, found)
            finally:
                visit.close()
    finally:
        context.close()
    return found


def _assert_tried(tried: dict, name: str) -> None:
    assert not tried[name]["problems"], json.dumps(tried[name]["problems"], indent=1)
    assert tried[name]["checked"], f"no control tried by {name} on the site"


def test_tab_reaches_a_labelled_control_of_every_figure_and_keys_change_the_plot(tried):
    _assert_tried(tried, "keys")


def test_pressing_each_button_changes_the_plotted_data(tried):
    _assert_tried(tried, "buttons")


def test_moving_each_slider_changes_the_plotted_data(tried):
    _assert_tried(tried, "sliders")
