// The look of lnbook's figures on the website that does not depend on their controls:
// the theme's dark colours (a copy of a figure's JSON with ink and paper swapped) and the
// layout for a narrow screen (panels stacked, legend below, long titles wrapped).
// Pure functions of a figure's {data, layout, frames}; plotly-init.js, loaded after this
// file, calls them (window.lnbookLayout) when it draws a figure.
"use strict";
window.lnbookLayout = (function () {
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
    // Below the plot, 60 px under its bottom edge (clear of the last x-axis title), more
    // under slanted tick labels: about 7 px a character, times the sine of their angle.
    var below = 60;
    axisKeys(layout, "x").forEach(function (k) {
      var ax = layout[k];
      if (!ax.tickangle || typeof ax.tickangle !== "number") return;
      var longest = 0;
      (ax.categoryarray || ax.ticktext || []).forEach(function (label) {
        longest = Math.max(longest, String(label).replace(/<[^>]+>/g, "").length);
      });
      below = Math.max(below, 60 + longest * 7 * Math.abs(Math.sin((ax.tickangle * Math.PI) / 180)));
    });
    var plotHeight = (layout.height || height) - mt - mb;
    layout.legend = Object.assign({}, layout.legend, {
      orientation: "h",
      x: 0,
      xanchor: "left",
      y: -below / Math.max(plotHeight, 1),
      yanchor: "top",
      yref: "paper",
    });
    layout.margin = Object.assign({}, layout.margin, { l: 56, r: 16 });
    return layout;
  }

  return {
    NARROW_PX: NARROW_PX,
    darkMode: darkMode,
    themeBackground: themeBackground,
    recolour: recolour,
    toDark: toDark,
    wrap: wrap,
    narrowLayout: narrowLayout,
  };
})();
