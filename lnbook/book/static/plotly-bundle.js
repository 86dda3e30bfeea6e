// The partial plotly.js bundle the site serves (built by `npm run build`, see package.json).
//
// plotly.js's own partial bundles ("lib/core" plus trace modules) always carry every layout
// component. This is plotly.js 4.1.1's src/core.js with the same API, the scatter, bar and
// heatmap traces the book's figures use, and the components they use: not plotly's SVG
// sliders and buttons (plotly-init.js draws HTML controls instead and removes them from the
// layout), nor range sliders and selectors, layout images or 3-D annotations, which no
// figure has. About a quarter of the full bundle's 4.8 MB. After a plotly.js upgrade,
// compare this file with node_modules/plotly.js/src/core.js.
"use strict";

require("native-promise-only");
require("plotly.js/build/plotcss");

var Registry = require("plotly.js/src/registry");
var plotApi = require("plotly.js/src/plot_api");

var Plotly = { version: require("plotly.js/src/version").version, register: Registry.register };
Object.keys(plotApi).forEach(function (name) {
  if (name.charAt(0) !== "_") Plotly[name] = plotApi[name];
  Registry.register({ moduleType: "apiMethod", name: name, fn: plotApi[name] });
});

Registry.register(require("plotly.js/src/traces/scatter"));
// In src/core.js's order: legend after shapes, fx after legend (their defaults read them).
Registry.register([
  require("plotly.js/src/components/annotations"),
  require("plotly.js/src/components/selections"),
  require("plotly.js/src/components/shapes"),
  require("plotly.js/src/components/grid"),
  require("plotly.js/src/components/errorbars"),
  require("plotly.js/src/components/colorscale"),
  require("plotly.js/src/components/colorbar"),
  require("plotly.js/src/components/legend"),
  require("plotly.js/src/components/fx"),
  require("plotly.js/src/components/modebar"),
]);
Registry.register([require("plotly.js/src/locale-en"), require("plotly.js/src/locale-en-us")]);
Registry.register([require("plotly.js/lib/bar"), require("plotly.js/lib/heatmap")]);

var Plots = require("plotly.js/src/plots/plots");
Plotly.Plots = { resize: Plots.resize, graphJson: Plots.graphJson };
Plotly.Icons = require("plotly.js/src/fonts/ploticon");
Plotly.Snapshot = require("plotly.js/src/snapshot");

module.exports = Plotly;
