"""Chapter 4's live face: one example's batch-norm output in batches of any size and make-up.

The controls call :func:`experiments.batch_dependence` and redraw with this topic's
figures; this module only says which controls there are (see :func:`lnbook.live.explorer`).
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from ..._validate import check_batch
from ...live import Explorer, explorer
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

    def compute(batch_size: int, composition: str, seed: int) -> tuple[dict, str]:
        # Both compositions are computed; the figure shows the one chosen.
        result = experiments.batch_dependence(
            pool, labels, example, [batch_size], draws=draws, seed=seed
        )
        return result, composition

    return explorer(
        controls,
        compute,
        lambda shown: figures.live_batch_dependence_figure(*shown),
        lambda figure, shown: figures.update_batch_dependence(figure, *shown),
    )
