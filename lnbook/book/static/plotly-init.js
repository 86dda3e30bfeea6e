// Draw every plotly figure that lnbook's Sphinx extension wrote into the page, for every
// reader: HTML controls instead of plotly's SVG sliders and buttons (reachable by Tab;
// sliders move with the arrow keys, buttons press with Enter or Space; large enough for
// a finger), stacked panels and a
// legend below the plot on a narrow screen, page scroll instead of zoom on touch, and the
// theme's light or dark colours, switched live (the layouts and colours themselves come
// from plotly-layout.js, which the page loads first).
//
// Markup (lnbook/book/sphinxext.py): <figure class="lnbook-figure"> holding an optional
// <figcaption> (the figure's title), <div class="lnbook-plotly"> and, right after it,
// <script type="application/json" class="lnbook-plotly-spec"> with {data, layout, frames}.
// In Jupyter the same figures keep plotly's own controls; only the website swaps them.
"use strict";
(function () {
  // Dark colours and the narrow layout: plotly-layout.js, loaded just before this file.
  var L = window.lnbookLayout;
  var NARROW_PX = L.NARROW_PX;
  var darkMode = L.darkMode;
  var themeBackground = L.themeBackground;
  var recolour = L.recolour;
  var toDark = L.toDark;
  var wrap = L.wrap;
  var narrowLayout = L.narrowLayout;

  // ---------------------------------------------------------------- controls -----------
  var counter = 0;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      e.setAttribute(k, attrs[k]);
    });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // A layout update without its title, which goes to the figure's HTML caption instead.
  function captionTitle(fig, update) {
    if (!fig.caption || !update) return update;
    var rest = {};
    Object.keys(update).forEach(function (k) {
      var v = update[k];
      if (k === "title" || k === "title.text") {
        var text = typeof v === "string" ? v : v && v.text;
        if (text !== undefined) fig.caption.innerHTML = captionHTML(text);
      } else {
        rest[k] = v;
      }
    });
    return rest;
  }

  function captionHTML(text) {
    // Plotly's mini-HTML, kept to the tags a caption may hold; the rest is text.
    var safe = String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    return safe.replace(/&lt;(\/?)(br|b|i|sub|sup)\s*\/?&gt;/g, "<$1$2>");
  }

  // A control's update as drawn now: recoloured in dark mode, titles wrapped on a phone.
  function asDrawn(fig, update) {
    if (!update || typeof update !== "object" || Array.isArray(update)) return update;
    var out = update;
    if (fig.drawn && fig.drawn.narrow) {
      out = Object.assign({}, out);
      Object.keys(out).forEach(function (k) {
        var axisTitle = /^[xy]axis\d*\.title(\.text)?$/.test(k);
        if (axisTitle && typeof out[k] === "string") out[k] = wrap(out[k], 30);
      });
    }
    return fig.drawn && fig.drawn.dark ? recolour(out, toDark(themeBackground()), false) : out;
  }

  // Run one plotly button or slider step: its method with its args, as plotly would.
  function run(fig, item) {
    var gd = fig.gd;
    var a = (item.args || []).map(function (arg, i) {
      return i < 2 ? asDrawn(fig, arg) : arg; // restyle/update: data, layout; not indices
    });
    switch (item.method) {
      case "animate":
        var name = Array.isArray(a[0]) ? a[0][0] : a[0];
        if (fig.caption && fig.frameTitles && fig.frameTitles[name] !== undefined) {
          fig.caption.innerHTML = captionHTML(fig.frameTitles[name]);
        }
        return Plotly.animate(gd, a[0], a[1]);
      case "restyle":
        return Plotly.restyle(gd, a[0], a[1]);
      case "relayout":
        return Plotly.relayout(gd, captionTitle(fig, a[0]));
      case "update":
        return Plotly.update(gd, a[0], captionTitle(fig, a[1]), a[2]);
      default:
        return Promise.resolve(gd);
    }
  }

  function plain(label) {
    // plotly labels may hold its mini-HTML (<br>, <b>, <sub>): the controls show text.
    // DOMParser's document runs no scripts or handlers, unlike innerHTML on the page's.
    var doc = new DOMParser().parseFromString(String(label).replace(/<br\s*\/?>/gi, " "), "text/html");
    return doc.body.textContent;
  }

  function buttonGroup(fig, menu, m) {
    var name = menu.name || "view";
    var active = menu.active || 0;
    var buttons = menu.buttons || [];
    if (menu.type === "dropdown") {
      var id = "lnbook-control-" + ++counter;
      var box = el("div", { class: "lnbook-select" });
      box.appendChild(el("label", { for: id }, name));
      var select = el("select", { id: id });
      buttons.forEach(function (b, i) {
        var o = el("option", { value: String(i) }, plain(b.label));
        if (i === active) o.selected = true;
        select.appendChild(o);
      });
      select.addEventListener("change", function () {
        choose(fig, "menu" + m, buttons[+select.value], +select.value);
      });
      box.appendChild(select);
      return box;
    }
    var group = el("div", { class: "lnbook-buttons", role: "group", "aria-label": name });
    group.appendChild(el("span", { class: "lnbook-control-label", "aria-hidden": "true" }, name));
    buttons.forEach(function (b, i) {
      var button = el("button", { type: "button", "aria-pressed": String(i === active) });
      button.textContent = plain(b.label);
      button.addEventListener("click", function () {
        group.querySelectorAll("button").forEach(function (other) {
          other.setAttribute("aria-pressed", String(other === button));
        });
        choose(fig, "menu" + m, b, i);
      });
      group.appendChild(button);
    });
    // Left and right arrows (Home, End) move between a group's buttons, as in a toolbar;
    // Enter or Space presses the one in focus. Tab still stops at each button.
    group.addEventListener("keydown", function (event) {
      var all = Array.prototype.slice.call(group.querySelectorAll("button"));
      var at = all.indexOf(document.activeElement);
      var to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: all.length - 1 }[event.key];
      if (at < 0 || to === undefined || event.altKey || event.ctrlKey || event.metaKey) return;
      event.preventDefault();
      all[(to + all.length) % all.length].focus();
    });
    return group;
  }

  function slider(fig, s, k) {
    var steps = s.steps || [];
    if (!steps.length) return null; // nothing to choose
    var prefix = ((s.currentvalue && s.currentvalue.prefix) || "").trim();
    var name = s.name || prefix.replace(/:$/, "") || "step";
    var id = "lnbook-control-" + ++counter;
    var box = el("div", { class: "lnbook-slider" });
    var label = el("label", { for: id });
    var output = el("output", { for: id });
    label.appendChild(document.createTextNode(name + ": "));
    label.appendChild(output);
    var range = el("input", {
      type: "range",
      id: id,
      min: "0",
      max: String(steps.length - 1),
      step: "1",
    });
    range.value = String(s.active || 0);
    var nudges = [];
    function show() {
      var text = plain(steps[+range.value].label);
      output.textContent = text;
      range.setAttribute("aria-valuetext", text);
      // At an end, the button that would go past it says it is off (aria-disabled, not
      // disabled: a disabled button would drop the keyboard focus it holds).
      nudges.forEach(function (n) {
        var v = +range.value + n.delta;
        n.button.setAttribute("aria-disabled", String(v < 0 || v > steps.length - 1));
      });
    }
    function go() {
      show();
      choose(fig, "slider" + k, steps[+range.value], +range.value);
    }
    range.addEventListener("input", go);
    function nudge(delta, title) {
      var b = el("button", { type: "button", class: "lnbook-step", "aria-label": title });
      b.textContent = delta < 0 ? "\u2212" : "+";
      nudges.push({ button: b, delta: delta });
      b.addEventListener("click", function () {
        var v = Math.min(steps.length - 1, Math.max(0, +range.value + delta));
        if (v !== +range.value) {
          range.value = String(v);
          go();
        }
      });
      return b;
    }
    box.appendChild(label);
    var row = el("div", { class: "lnbook-slider-row" });
    row.appendChild(nudge(-1, "previous " + name));
    row.appendChild(range);
    row.appendChild(nudge(1, "next " + name));
    box.appendChild(row);
    show();
    return box;
  }

  // Remember the last choice of every control, in the order they were made, so a redraw
  // (theme switch, resize across the narrow width) can replay the reader's view.
  function choose(fig, control, item, index) {
    fig.choices = fig.choices.filter(function (c) {
      return c.control !== control;
    });
    fig.choices.push({ control: control, item: item, index: index });
    return run(fig, item);
  }

  // ---------------------------------------------------------------- drawing ------------
  function touchDevice() {
    // The primary pointer: a touch laptop with a mouse keeps drag-zoom and the modebar.
    return window.matchMedia("(pointer: coarse)").matches;
  }

  function build(fig) {
    var spec = fig.spec;
    var narrow = fig.gd.clientWidth > 0 && fig.gd.clientWidth < NARROW_PX;
    var data = JSON.parse(JSON.stringify(spec.data || []));
    var layout = JSON.parse(JSON.stringify(spec.layout || {}));
    var frames = JSON.parse(JSON.stringify(spec.frames || []));
    // The page sends the shared template once (sphinxext.lighter_spec), by name.
    if (typeof layout.template === "string" && window.LNBOOK_TEMPLATES) {
      layout.template = JSON.parse(JSON.stringify(window.LNBOOK_TEMPLATES[layout.template]));
    }
    // The HTML caption and controls replace plotly's title, sliders and buttons.
    if (fig.caption) delete layout.title;
    delete layout.sliders;
    delete layout.updatemenus;
    delete layout.width; // the page decides the width
    if (fig.caption) {
      // The title's room at the top is no longer needed (plotly's default margin is 100).
      var top = layout.margin && layout.margin.t !== undefined ? layout.margin.t : 100;
      layout.margin = Object.assign({}, layout.margin, { t: Math.min(top, 40) });
    }
    // A frame's title, too, belongs in the caption: remembered by frame name.
    fig.frameTitles = {};
    frames.forEach(function (f) {
      if (fig.caption && f.name !== undefined && f.layout && f.layout.title !== undefined) {
        var t = f.layout.title;
        fig.frameTitles[f.name] = typeof t === "string" ? t : t && t.text;
        delete f.layout.title;
      }
    });
    if (touchDevice()) layout.dragmode = false; // a swipe scrolls the page
    if (narrow) narrowLayout(layout, data, frames);
    if (darkMode()) {
      var swap = toDark(themeBackground());
      data = recolour(data, swap, false);
      layout = recolour(layout, swap, false);
      frames = recolour(frames, swap, false);
    }
    return { data: data, layout: layout, frames: frames, narrow: narrow, dark: darkMode() };
  }

  function config(spec) {
    return Object.assign(
      {
        responsive: true,
        displaylogo: false,
        plotlyServerURL: "",
        // No "share to the cloud" button: the site talks to no server but its own.
        modeBarButtonsToRemove: ["sendDataToCloud", "sendChartToCloud"],
        scrollZoom: false,
        showTips: false, // no "double-click to zoom back out" box over the text
        displayModeBar: touchDevice() ? false : "hover",
      },
      spec.config || {}
    );
  }

  // The modebar is for mouse users: keep its icons out of the keyboard's tab order.
  function untabModebar(gd) {
    gd.querySelectorAll(".modebar-btn, .modebar a, .modebar button").forEach(function (b) {
      b.setAttribute("tabindex", "-1");
      b.setAttribute("aria-hidden", "true");
    });
  }

  function draw(fig) {
    var b;
    try {
      b = build(fig);
    } catch (err) {
      console.error("lnbook: a figure could not be laid out", err); // one, not all
      return Promise.resolve();
    }
    fig.drawn = { narrow: b.narrow, dark: b.dark };
    fig.width = fig.gd.clientWidth;
    var first = !fig.gd._fullLayout;
    var p = (first ? Plotly.newPlot : Plotly.react)(fig.gd, {
      data: b.data,
      layout: b.layout,
      frames: b.frames,
      config: config(fig.spec),
    });
    return p
      .then(function (gd) {
        if (first) gd.on("plotly_afterplot", untabModebar.bind(null, gd));
        untabModebar(gd);
        // Replay the reader's choices on the redrawn figure, in the order made.
        return fig.choices.reduce(function (chain, c) {
          return chain.then(function () {
            return run(fig, c.item);
          });
        }, Promise.resolve(gd));
      })
      .catch(function (err) {
        console.error("lnbook: a figure could not be drawn", err);
      });
  }

  function setUp(gd) {
    var spec;
    try {
      spec = JSON.parse(gd.nextElementSibling.textContent);
    } catch (err) {
      console.error("lnbook: a figure could not be read", err); // one bad figure, not all
      return null;
    }
    var figure = gd.closest("figure");
    var fig = {
      gd: gd,
      spec: spec,
      choices: [],
      caption: figure && figure.querySelector("figcaption"),
    };
    var layout = spec.layout || {};
    var menus = layout.updatemenus || [];
    var sliders = layout.sliders || [];
    if (menus.length || sliders.length) {
      var bar = el("div", { class: "lnbook-controls" });
      menus.forEach(function (menu, m) {
        bar.appendChild(buttonGroup(fig, menu, m));
      });
      sliders.forEach(function (s, k) {
        var control = slider(fig, s, k);
        if (control) bar.appendChild(control);
      });
      gd.parentNode.insertBefore(bar, gd);
    }
    return fig;
  }

  function drawAll() {
    var figs = [];
    document.querySelectorAll("div.lnbook-plotly").forEach(function (gd) {
      try {
        var fig = setUp(gd);
        if (fig) figs.push(fig);
      } catch (err) {
        console.error("lnbook: a figure's controls could not be made", err); // one, not all
      }
    });
    figs.forEach(draw);
    // Redraw on a theme switch, and when a figure's width crosses the narrow breakpoint.
    new MutationObserver(function () {
      figs.forEach(function (f) {
        if (f.drawn && f.drawn.dark !== darkMode()) draw(f);
      });
    }).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
    if (window.ResizeObserver) {
      var resized = new ResizeObserver(function () {
        figs.forEach(function (f) {
          var width = f.gd.clientWidth;
          if (!f.drawn || width === f.width) return;
          f.width = width;
          var narrow = width > 0 && width < NARROW_PX;
          // Across the breakpoint a new layout; otherwise the same one at the new width (a
          // figure in a folded solution is first drawn at width 0).
          if (f.drawn.narrow !== narrow) draw(f);
          else if (width > 0 && f.gd._fullLayout) Plotly.Plots.resize(f.gd);
        });
      });
      figs.forEach(function (f) {
        resized.observe(f.gd);
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
