"""DOCSTRING batch_norm:widgets"""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from ..._validate import check_batch
from ...live import Explorer, LiveFigure
from . import experiments, figures


def batch_dependence_explorer(
    pool: np.ndarray, labels: np.ndarray, example: int = 0, draws: int = 8
) -> Explorer:
    """Chapter 4: any batch size, random or same-class companions, a new draw on demand.

    Parameters
    ----------
    pool : (M, D) examples; labels : (M,) their classes; example : the one followed
    draws : batches drawn for each setting
    """
    pool = check_batch(pool)
    # Same-class batches are drawn without repeats: at most the class's size.
    largest = int((np.asarray(labels) == np.asarray(labels)[example]).sum())
    controls = {
        "batch_size": W.IntSlider(min(8, largest), 2, largest, description="batch size"),
        "composition": W.Dropdown(
            options=[("random companions", "random"), ("same digit", "same_class")],
            value="random",
            description="companions",
        ),
        "seed": W.IntSlider(0, 0, 99, description="draw"),
    }

    def compute() -> dict:
        c = {k: w.value for k, w in controls.items()}
        return experiments.batch_dependence(
            pool, labels, example, [c["batch_size"]], draws=draws, seed=c["seed"]
        )

    figure = LiveFigure(
        figures.live_batch_dependence_figure(compute(), controls["composition"].value)
    )

    def update(change=None) -> None:
        figures.update_batch_dependence(figure, compute(), controls["composition"].value)

    return Explorer(controls, figure, update)
