// Draw every plotly figure that lnbook's Sphinx extension wrote into the page.
// Each figure is a <div class="lnbook-plotly"> followed by a <script type="application/json">
// holding {data, layout, frames, config}; plotly.js (served from _static) does the drawing.
"use strict";
(function () {
  function draw(div) {
    try {
      var spec = JSON.parse(div.nextElementSibling.textContent);
      // No "share to the cloud" button: the site talks to no server but its own.
      var config = Object.assign(
        {
          responsive: true,
          displaylogo: false,
          plotlyServerURL: "",
          modeBarButtonsToRemove: ["sendDataToCloud", "sendChartToCloud"],
        },
        spec.config || {}
      );
      Plotly.newPlot(div, spec.data || [], spec.layout || {}, config)
        .then(function (gd) {
          return spec.frames ? Plotly.addFrames(gd, spec.frames) : gd;
        })
        .catch(function (err) {
          console.error("lnbook: a figure could not be drawn", err);
        });
    } catch (err) {
      // One broken figure must not stop the others.
      console.error("lnbook: a figure could not be read", err);
    }
  }
  function drawAll() {
    document.querySelectorAll("div.lnbook-plotly").forEach(draw);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
