"""The scaffolding every live interactive of the book shares: a figure, its controls, a grid.

Each chapter's live face (``topics/<topic>/widgets.py``) is a few lines on top of this:
the controls it offers, the compute function of its experiments module, and the figure
builder and updater of its figures module. :func:`explorer` wires those the usual way
(every change of a control computes and redraws in place); :class:`Explorer` takes any
other wiring (a *run* button for training that takes seconds) and lays the controls out;
:class:`LiveFigure` is the plotly ``FigureWidget`` they draw into. Kept apart from the
figures so that the static site, which runs no kernel, never needs ipywidgets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import traitlets


class LiveFigure(go.FigureWidget):
    """A plotly ``FigureWidget`` that fills the width of its output area in Jupyter.

    plotly's own ``FigureWidget`` (an anywidget since plotly 6) draws before its element is
    in the page, so plotly.js reads no width there and keeps its 700 px default for good:
    a cramped figure in a 1200 px notebook. This one runs plotly's front-end module
    unchanged (sent in ``_plotly_esm``) from ``live_figure.js``, which draws each
    view once its element has a width and resizes it when that width changes. Build it as
    a ``FigureWidget`` (``LiveFigure(fig)``), without a layout ``width``, which would pin it.
    """

    _esm = Path(__file__).parent / "live_figure.js"
    # The source of plotly's widget module, as plotly's FigureWidget sends it in ``_esm``.
    _plotly_esm = traitlets.Unicode().tag(sync=True)

    @traitlets.default("_plotly_esm")
    def _plotly_module(self) -> str:
        return str(go.FigureWidget._esm)


@dataclass
class Explorer:
    """A live interactive: its controls, its figure, and the callback that links them.

    By default every change of a control redraws. With a ``run`` button (for updates that
    take seconds, like training a model) the controls only set up the next run and the
    button starts it; while it runs, every button is disabled and ``run`` reads ``busy``,
    so a second click cannot queue another run. ``buttons``: more buttons (wired by the
    caller, a *clear* say), shown after ``run``.

    The controls sit in a grid of equal columns above the figure (as many as the output's
    width holds), every description as wide as the longest, so the controls line up.
    """

    controls: dict[str, W.ValueWidget]
    figure: go.FigureWidget
    update: Callable[..., None]
    run: W.Button | None = None
    buttons: tuple[W.Button, ...] = ()
    busy: str = "running…"
    widget: W.Widget = field(init=False)

    def __post_init__(self) -> None:
        if self.run is None:
            for control in self.controls.values():
                control.observe(self.update, names="value")
        else:
            self.run.on_click(self._start)
        controls = list(self.controls.values())
        label = _description_em(controls)
        for control in controls:
            control.style.description_width = f"{label:g}em"
            control.layout.width = "auto"  # fill its grid cell
            if isinstance(control, W.ToggleButtons):
                # ipywidgets 8 puts toggle buttons on a line under their description (a
                # block after an inline label): a row instead, the buttons sharing the
                # room a slider gets.
                control.layout.display = "flex"
                control.layout.align_items = "center"
                n = len(control.options)
                control.style.button_width = f"{_CONTROL_EM / n - 0.5:.1f}em"
        # A column holds the label and a slider of useful length with its readout;
        # narrower than that (a phone) the grid falls to a single column.
        column = f"minmax(min(100%, {label + _CONTROL_EM + 1:g}em), 1fr)"
        grid = W.GridBox(
            controls,
            layout=W.Layout(
                grid_template_columns=f"repeat(auto-fill, {column})",
                grid_gap="2px 24px",
                width="100%",
            ),
        )
        actions = [self.run, *self.buttons] if self.run else list(self.buttons)
        self.widget = W.VBox([grid] + ([W.HBox(actions)] if actions else []) + [self.figure])

    def _start(self, _: W.Button) -> None:
        """Run ``update`` with every button disabled and ``run`` reading ``busy``; give them
        back even if it raises (ipywidgets then reports the error)."""
        idle, buttons = self.run.description, [self.run, *self.buttons]
        for b in buttons:
            b.disabled = True
        self.run.description = self.busy
        try:
            self.update(self.run)
        finally:
            self.run.description = idle
            for b in buttons:
                b.disabled = False

    def _ipython_display_(self) -> None:  # display(explorer) shows the widget
        from IPython.display import display

        display(self.widget)


def values(controls: dict[str, W.ValueWidget]) -> dict:
    """The controls' current values, by the controls' names."""
    return {name: control.value for name, control in controls.items()}


def explorer(
    controls: dict[str, W.ValueWidget],
    compute: Callable[..., object],
    draw: Callable[[object], go.Figure],
    redraw: Callable[[go.FigureWidget, object], None],
) -> Explorer:
    """The usual live interactive: each change of a control computes and redraws.

    Parameters
    ----------
    controls : name -> control; ``compute`` receives their values by these names
    compute : ``compute(**values)``, the experiment's result for the controls' values
    draw : ``draw(result)``, the figure of the first result (the live face's builder)
    redraw : ``redraw(figure, result)``, which puts a new result into the figure in place
    """

    def result():
        return compute(**values(controls))

    figure = LiveFigure(draw(result()))

    def update(change=None) -> None:
        redraw(figure, result())

    return Explorer(controls, figure, update)


_CONTROL_EM = 13  # the width of a control beside its description: slider and readout


def _description_em(controls: list[W.Widget]) -> float:
    """A description width, in em, that holds the longest description of ``controls``.

    An estimate from the character count (about 0.6 em a character in Jupyter's widget
    font), since the kernel cannot measure text; rounded up to a half em.
    """
    longest = max(
        (len(c.description) for c in controls if not isinstance(c, W.Checkbox)), default=0
    )
    return float(np.ceil(2 * (0.6 * longest + 0.5)) / 2)
