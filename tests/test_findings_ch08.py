"""Chapter 8's accuracy findings, checked on seeds the chapter does not use (its data come
from seed 0). Its timings are measurements of one machine, not findings about random
draws, and are not repeated here.
"""

from __future__ import annotations

import pytest

from lnbook.topics.performance import experiments


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_residual_mean_correction_makes_the_numpy_kernel_accurate_on_offset_data(seed):
    acc = experiments.offset_accuracy(seed=seed)
    k = list(acc["offsets"]).index(1e4)
    assert acc["lnbook NumPy"][k] < 5e-6 and acc["lnbook PyTorch"][k] < 5e-6
    assert acc["PyTorch F.layer_norm"][k] > 100 * acc["lnbook NumPy"][k]
    assert acc["lnbook NumPy, no correction"][k] > 100 * acc["lnbook NumPy"][k]
    assert acc["lnbook NumPy, no correction"][k] > acc["NumPy, textbook"][k]
    # the error grows with the offset for the kernels that round their mean
    assert acc["PyTorch F.layer_norm"][-1] > 100 * acc["PyTorch F.layer_norm"][0]
