"""Chapter 1's findings, checked on seeds the chapter does not use (it uses seed 0).

Its measured statistics describe the batch it shows, and are worded so; what it asserts
in general are the invariances and the table of Ba et al. (2016), which must hold on any
draw. (tests/test_experiments.py checks the table on seeds 0, 1, 2.)
"""

from __future__ import annotations

import pytest

from lnbook.data import layer_activations
from lnbook.topics.statistics import experiments

# Ba, Kiros and Hinton (2016), Table 1, and Zhang and Sennrich (2019), Table 1: typed from
# the papers, the oracle.
PAPER_TABLE = {
    "batch norm": [True, False, True, True, True, False],
    "layer norm": [True, True, False, True, False, True],
    "RMSNorm": [True, False, False, True, False, True],
}


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_layer_norm_ignores_shift_positive_scale_and_the_other_examples(seed):
    x = layer_activations(n_examples=16, n_features=32, seed=seed)
    for example in (0, 7):
        inv = experiments.invariances(x, example=example, seed=seed)
        assert max(inv.values()) < 1e-12, inv


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_the_invariance_table_matches_the_papers_on_other_draws(seed):
    table = experiments.invariance_table(seed=seed)
    for method, expected in PAPER_TABLE.items():
        assert [table[method][c] for c in experiments.INVARIANCE_COLUMNS] == expected, method
