// The front end of lnbook's live figures (lnbook.live.LiveFigure): plotly's own
// FigureWidget module, unchanged, except that each view draws once its element has a width
// and follows that width afterwards, and that the figure it draws from stays whole.
//
// Why: plotly >= 6 ships FigureWidget as an anywidget. anywidget calls the module's render()
// with an element that is not in the page yet, and plotly's view draws right there: plotly.js
// sizes an autosized figure from the element's computed width, reads "" for a detached
// element and falls back to its default, 700 px. Nothing measures again: plotly's view still
// has the Lumino handlers that used to draw it after-attach and resize it on resize
// (_processLuminoMessage), but anywidget never calls them. A ResizeObserver gives the same
// two moments back: the first width (draw) and every later change (plotly's own
// autosizeFigure, which resizes through the same plotly.js and tells Python).
//
// Whole: in a batch update plotly.py marks "this trace keeps its value" with the string
// "_undefined_". plotly's FigureModel applies each update to the figure it keeps (the one
// a new view draws) before decoding it, so that string replaces the kept value, and a view
// drawn after such an update loses it: the chapter 1 statistics lost their height and
// dropped onto the axis. Drawing when sized makes that common (an update that arrives
// before the element is in the page), so the model reads updates decoded.
//
// The kernel sends plotly's module source in the model's `_plotly_esm` (the widgetbundle.js
// of the installed plotly); it is imported once per page and source.

function drawWhenSized(FigureView) {
  const draw = FigureView.prototype.perform_render;
  const remove = FigureView.prototype.remove;
  FigureView.prototype.perform_render = function () {
    let drawnAt = 0; // the element's width when plotly last sized the figure
    this.lnbookSizer = new ResizeObserver(() => {
      // 0 while detached, hidden or scrolled out of a windowed notebook: wait.
      const width = Math.round(this.el.getBoundingClientRect().width);
      if (width === 0 || width === drawnAt) return;
      const first = drawnAt === 0;
      drawnAt = width;
      if (first) draw.call(this);
      else this.autosizeFigure();
    });
    this.lnbookSizer.observe(this.el);
  };
  FigureView.prototype.remove = function () {
    this.lnbookSizer?.disconnect();
    remove.call(this);
  };
}

function withoutUndefined(value) {
  if (value === "_undefined_") return undefined;
  if (Array.isArray(value)) return value.map(withoutUndefined);
  // Plain objects only: a binary array arrives as {dtype, shape, value: DataView}.
  if (value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutUndefined(v)]));
  }
  return value;
}

// The model plotly's FigureModel wraps, reading Python's update messages (_py2js_*) with
// their "_undefined_" marks decoded; everything else (the kept figure, which plotly edits
// in place) passes through untouched.
function decodedUpdates(model) {
  return new Proxy(model, {
    get(target, key) {
      if (key === "get") {
        return (name) => {
          const value = target.get(name);
          return name.startsWith("_py2js_") ? withoutUndefined(value) : value;
        };
      }
      const member = Reflect.get(target, key);
      return typeof member === "function" ? member.bind(target) : member;
    },
  });
}

async function importPlotly(source) {
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  try {
    const module = await import(url);
    drawWhenSized(module.FigureView);
    return module;
  } finally {
    URL.revokeObjectURL(url);
  }
}

// One import per page and plotly source: every live figure (and re-run cell) shares it,
// where plotly's own FigureWidget parses its 5 MB module again for each figure.
const loaded = (globalThis.lnbookLiveFigure ??= new Map());

function plotlyWidget(source) {
  if (!loaded.has(source)) loaded.set(source, importPlotly(source));
  return loaded.get(source);
}

export default () => {
  let widget; // plotly's widget ({initialize, render}) for this model
  return {
    async initialize(ctx) {
      widget = (await plotlyWidget(ctx.model.get("_plotly_esm"))).default();
      return widget.initialize({ ...ctx, model: decodedUpdates(ctx.model) });
    },
    render(ctx) {
      return widget.render(ctx);
    },
  };
};
