// The partial plotly.js bundle the site serves (built by `npm run build`, see package.json):
// plotly's core (scatter traces included) plus the only other trace types the book's figures
// use, bar and heatmap. About a quarter of the full bundle's 4.8 MB.
var Plotly = require("plotly.js/lib/core");

Plotly.register([require("plotly.js/lib/bar"), require("plotly.js/lib/heatmap")]);

module.exports = Plotly;
