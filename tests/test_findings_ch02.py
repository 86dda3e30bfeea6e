"""Chapter 2's findings about trained gamma and weight decay, checked on seeds the chapter
does not use (it trains each set-up from seeds 0, 1, 2).

Each test checks the direction the prose asserts, not the chapter's numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

from lnbook import training

NEW_SEEDS = (3, 4, 5)
SETUPS = {
    "no weight decay": {"weight_decay": 0.0},
    "decay on everything": {"weight_decay": 0.5},
    "decay on weights only": {"weight_decay": 0.5, "decay_norm_params": False},
}


@pytest.fixture(scope="module")
def runs():
    """The chapter's three set-ups (400 steps of AdamW on the digits), on new seeds."""
    return {
        name: [training.train_digits_mlp(seed=s, **setup) for s in NEW_SEEDS]
        for name, setup in SETUPS.items()
    }


def _mean_gammas(rs):
    return np.array([np.concatenate(r["gammas"]).mean() for r in rs])


def test_without_decay_training_moves_gamma_upwards(runs):
    assert _mean_gammas(runs["no weight decay"]).min() > 1.0


def test_decaying_gamma_pulls_it_towards_zero_and_exempting_it_does_not(runs):
    decayed = _mean_gammas(runs["decay on everything"])
    exempt = _mean_gammas(runs["decay on weights only"])
    assert decayed.max() < exempt.min() - 0.2  # every seed
    assert decayed.max() < 1.0 < exempt.min()


def test_the_exemption_changes_accuracy_less_than_the_seed_does(runs):
    acc = {name: np.array([r["test_accuracy"] for r in rs]) for name, rs in runs.items()}
    assert max(a.min() for a in acc.values()) <= min(a.max() for a in acc.values())
    assert min(a.min() for a in acc.values()) > 0.9  # all of them learned the task
