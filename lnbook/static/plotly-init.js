// Draw every plotly figure that lnbook's Sphinx extension wrote into the page.
// Each figure is a <div class="lnbook-plotly"> followed by a <script type="application/json">
// holding {data, layout, frames, config}; plotly.js (served from _static) does the drawing.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("div.lnbook-plotly").forEach(function (div) {
    var spec = JSON.parse(div.nextElementSibling.textContent);
    var config = Object.assign({ responsive: true, displaylogo: false }, spec.config || {});
    Plotly.newPlot(div, spec.data || [], spec.layout || {}, config).then(function (gd) {
      if (spec.frames) {
        return Plotly.addFrames(gd, spec.frames);
      }
    });
  });
});
