// Draw every plotly figure that lnbook's Sphinx extension wrote into the page, for every
// reader: HTML controls instead of plotly's SVG sliders and buttons (reachable by Tab;
// sliders move with the arrow keys, buttons press with Enter or Space; large enough for
// a finger), stacked panels and a
// legend below the plot on a narrow screen, page scroll instead of zoom on touch, and the
// theme's light or dark colours, switched live.
//
// Markup (lnbook/book/sphinxext.py): <figure class="lnbook-figure"> holding an optional
// <figcaption> (the figure's title), <div class="lnbook-plotly"> and, right after it,
// <script type="application/json" class="lnbook-plotly-spec"> with {data, layout, frames}.
// In Jupyter the same figures keep plotly's own controls; only the website swaps them.
"use strict";
(function () {
  var NARROW_PX = 600; // below this width a figure's columns stack and its legend moves
  var MIN_PANEL_PX = 220; // the least height of one stacked panel

  // ---------------------------------------------------------------- colours ------------
  // The figures use plotly_white and the Okabe-Ito palette; in dark mode the colours that
  // mean "ink" or "paper" swap, everything else (the palette, colour scales) stays.
  var LIGHT_TO_DARK = {
    "#000000": "#e6e6e6", // PALETTE["black"]: lines, markers, text
    black: "#e6e6e6",
    "#2a3f5f": "#d4d9e1", // plotly_white's font and arrow colour
    "#ebf0f8": "#353b45", // plotly_white's grid and axis lines
    "#dfe8f3": "#353b45",
    "#c8d4e3": "#4a5260",
    "#e5ecf6": "#232830",
  };
  var PAPER_LIGHT = ["white", "#ffffff", "#fff"];

  function darkMode() {
    // The theme writes "auto" before its script resolves it from the reader's system.
    var theme = document.documentElement.dataset.theme;
    if (theme === "dark" || theme === "light") return theme === "dark";
    return window.matchMedia("(prefers-color-scheme: dark)").matches;
  }

  function themeBackground() {
    var css = getComputedStyle(document.documentElement);
    return (css.getPropertyValue("--pst-color-background") || "").trim() || "#14181e";
  }

  // A copy of `value` with every colour under a colour-named key mapped by `swap`.
  // Typed arrays (plotly's decoded data) are shared, not copied: only strings change.
  function recolour(value, swap, colourKey) {
    if (typeof value === "string") return colourKey ? swap(value) : value;
    if (Array.isArray(value)) {
      return value.map(function (v) {
        return recolour(v, swap, colourKey);
      });
    }
    if (value && typeof value === "object" && !ArrayBuffer.isView(value)) {
      var out = {};
      Object.keys(value).forEach(function (k) {
        out[k] = recolour(value[k], swap, colourKey || /colou?r/i.test(k));
      });
      return out;
    }
    return value;
  }

  function toDark(bg) {
    return function (c) {
      var key = c.toLowerCase().replace(/\s+/g, "");
      if (PAPER_LIGHT.indexOf(key) >= 0) return bg;
      if (LIGHT_TO_DARK[key]) return LIGHT_TO_DARK[key];
      // Translucent black (bands, shading) becomes translucent light.
      var m = /^rgba\(0,0,0,([\d.]+)\)$/.exec(key);
      return m ? "rgba(230,230,230," + m[1] + ")" : c;
    };
  }

  // ---------------------------------------------------------------- narrow screens -----
  function axisKeys(layout, letter) {
    return Object.keys(layout).filter(function (k) {
      return new RegExp("^" + letter + "axis\\d*$").test(k);
    });
  }

  function domainOf(axis) {
    return (axis && axis.domain) || [0, 1];
  }

  // The grid of subplots: distinct x domains are columns, distinct y domains rows.
  function grid(layout) {
    var cols = [];
    var rows = [];
    function note(list, d) {
      for (var i = 0; i < list.length; i++) {
        if (Math.abs(list[i][0] - d[0]) < 1e-6 && Math.abs(list[i][1] - d[1]) < 1e-6) return;
      }
      list.push(d);
    }
    axisKeys(layout, "x").forEach(function (k) {
      if (!layout[k].overlaying) note(cols, domainOf(layout[k]));
    });
    axisKeys(layout, "y").forEach(function (k) {
      if (!layout[k].overlaying) note(rows, domainOf(layout[k]));
    });
    cols.sort(function (a, b) {
      return a[0] - b[0];
    });
    rows.sort(function (a, b) {
      return b[0] - a[0]; // top row first
    });
    return { cols: cols, rows: rows };
  }

  function bandOf(list, value, pad) {
    for (var i = 0; i < list.length; i++) {
      if (value >= list[i][0] - pad && value <= list[i][1] + pad) return i;
    }
    return -1;
  }

  // The band nearest to `value` (0 inside it), within `pad`; a heading in the gap above a
  // panel is nearer to that panel's top than to the bottom of the panel above it.
  function nearestBand(list, value, pad) {
    var best = -1;
    var bestDistance = pad;
    for (var i = 0; i < list.length; i++) {
      var d = Math.max(list[i][0] - value, 0, value - list[i][1]);
      if (d <= bestDistance) {
        best = i;
        bestDistance = d;
      }
    }
    return best;
  }

  // A function mapping a paper point of the original grid to the stacked one, full width.
  // Panels go row by row (column c of row r is panel r * ncols + c), or column by column
  // when there are more columns than rows: a grid of 2 views x 4 models then reads as
  // each model's two views together.
  function stacker(g, gapFraction) {
    var byColumn = g.cols.length > g.rows.length && g.rows.length > 1;
    function order(r, c) {
      return byColumn ? c * g.rows.length + r : r * g.cols.length + c;
    }
    var n = g.rows.length * g.cols.length;
    var h = (1 - gapFraction * (n - 1)) / n;
    function cell(k) {
      var top = 1 - k * (h + gapFraction);
      return [Math.max(0, top - h), top];
    }
    return {
      n: n,
      cell: cell,
      order: order,
      point: function (x, y) {
        var c = nearestBand(g.cols, x, 0.05);
        var r = nearestBand(g.rows, y, 0.12);
        if (c < 0 || r < 0) return null;
        return this.inCell(r, c, x, y);
      },
      // (x, y) of the paper, known to belong to the panel of row r and column c.
      inCell: function (r, c, x, y) {
        var col = g.cols[c];
        var row = g.rows[r];
        var d = cell(order(r, c));
        return {
          x: (x - col[0]) / (col[1] - col[0]),
          y: d[0] + ((y - row[0]) / (row[1] - row[0])) * (d[1] - d[0]),
          scale: (d[1] - d[0]) / (row[1] - row[0]),
        };
      },
    };
  }

  function movePaperItems(items, stack) {
    (items || []).forEach(function (a) {
      if (a.xref === "paper" && a.yref === "paper" && a.x !== undefined && a.y !== undefined) {
        var p = stack.point(a.x, a.y);
        if (p) {
          a.x = p.x;
          a.y = p.y;
        }
      }
    });
  }

  // Greedy line breaks (plotly's <br>) so that no line of `text` is longer than `width`
  // characters; existing breaks stay, and a word longer than the width keeps its line.
  function wrap(text, width) {
    return String(text)
      .split(/<br\s*\/?>/i)
      .map(function (line) {
        var out = [];
        var current = "";
        line.split(" ").forEach(function (word) {
          var visible = (current + " " + word).replace(/<[^>]+>/g, "").trim();
          if (current && visible.length > width) {
            out.push(current);
            current = word;
          } else {
            current = current ? current + " " + word : word;
          }
        });
        out.push(current);
        return out.join("<br>");
      })
      .join("<br>");
  }

  // Stack a figure's columns, put its legend below, shrink nothing below 12 px.
  function narrowLayout(layout, data, frames) {
    var g = grid(layout);
    var height = layout.height || 450;
    var mt = (layout.margin && layout.margin.t) || 40;
    var mb = (layout.margin && layout.margin.b) || 80;
    if (g.cols.length > 1) {
      // Panels of at least MIN_PANEL_PX, 90 px apart (room for a two-line x-axis title and
      // next panel's heading); the figure grows to hold them.
      var n = g.rows.length * g.cols.length;
      var panel = Math.max(MIN_PANEL_PX, (height - mt - mb) / g.rows.length);
      var gapPx = 90;
      var plotPx = n * panel + (n - 1) * gapPx;
      var stack = stacker(g, gapPx / plotPx);
      layout.height = Math.round(mt + mb + plotPx);
      // Each axis's cell, read from the original domains before any is changed.
      var cells = {};
      ["x", "y"].forEach(function (letter) {
        axisKeys(layout, letter).forEach(function (k) {
          var ax = layout[k];
          if (ax.overlaying) return;
          if (ax.anchor === "free") return;
          var yKey = letter === "x" ? "yaxis" + (ax.anchor || "y").slice(1) : k;
          var xKey = letter === "y" ? "xaxis" + (ax.anchor || "x").slice(1) : k;
          var xd = domainOf(layout[xKey]);
          var yd = domainOf(layout[yKey]);
          var c = bandOf(g.cols, (xd[0] + xd[1]) / 2, 0);
          var r = bandOf(g.rows, (yd[0] + yd[1]) / 2, 0);
          if (c >= 0 && r >= 0) cells[k] = stack.order(r, c);
        });
      });
      Object.keys(cells).forEach(function (k) {
        layout[k].domain = k.charAt(0) === "x" ? [0, 1] : stack.cell(cells[k]);
      });
      movePaperItems(layout.annotations, stack);
      movePaperItems(layout.images, stack);
      // A colour bar sits beside its panel: give it the panel's new place, at the right.
      function moveBar(bar, xKey, yKey) {
        var xd = domainOf(layout[xKey]);
        var yd = domainOf(layout[yKey]);
        var c = bandOf(g.cols, (xd[0] + xd[1]) / 2, 0);
        var r = bandOf(g.rows, (yd[0] + yd[1]) / 2, 0);
        if (c < 0 || r < 0) return;
        var y = bar.y !== undefined ? bar.y : (yd[0] + yd[1]) / 2;
        var p = stack.inCell(r, c, 1, Math.min(Math.max(y, g.rows[r][0]), g.rows[r][1]));
        bar.y = p.y;
        bar.len = Math.min(bar.len || 1, g.rows[r][1] - g.rows[r][0]) * p.scale;
        bar.yanchor = bar.yanchor || "middle";
        bar.x = 1.02;
        bar.xanchor = "left";
      }
      var barsMoved = {}; // a shared colour axis goes beside the first panel using it
      data.forEach(function (t) {
        var xKey = "xaxis" + (t.xaxis || "x").slice(1);
        var yKey = "yaxis" + (t.yaxis || "y").slice(1);
        if (t.colorbar) moveBar(t.colorbar, xKey, yKey);
        var ca = t.coloraxis;
        if (typeof ca === "string" && layout[ca] && !barsMoved[ca]) {
          layout[ca].colorbar = Object.assign({}, layout[ca].colorbar);
          moveBar(layout[ca].colorbar, xKey, yKey);
          barsMoved[ca] = true;
        }
      });
      frames.forEach(function (f) {
        if (f.layout) movePaperItems(f.layout.annotations, stack);
      });
    }
    // Axis titles and notes longer than a phone's plot wrap onto more lines.
    ["x", "y"].forEach(function (letter) {
      axisKeys(layout, letter).forEach(function (k) {
        var title = layout[k].title;
        if (typeof title === "string") layout[k].title = wrap(title, 30);
        else if (title && title.text) layout[k].title = Object.assign({}, title, { text: wrap(title.text, 30) });
      });
    });
    (layout.annotations || []).forEach(function (a) {
      if (a.text) a.text = wrap(a.text, 36);
    });
    frames.forEach(function (f) {
      ((f.layout && f.layout.annotations) || []).forEach(function (a) {
        if (a.text) a.text = wrap(a.text, 36);
      });
    });
    // Below the plot, 60 px under its bottom edge (clear of the last x-axis title).
    var plotHeight = (layout.height || height) - mt - mb;
    layout.legend = Object.assign({}, layout.legend, {
      orientation: "h",
      x: 0,
      xanchor: "left",
      y: -60 / Math.max(plotHeight, 1),
      yanchor: "top",
      yref: "paper",
    });
    layout.margin = Object.assign({}, layout.margin, { l: 56, r: 16 });
    return layout;
  }

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
