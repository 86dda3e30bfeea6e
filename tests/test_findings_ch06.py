"""Chapter 6's findings, on seeds the chapter does not use.

The chapter measures every finding on seeds 0, 1 and 2 and asserts it there; these tests
run the same experiments on seeds 3, 4 and 5 and check the finding's direction (which
network is larger, by what rough factor), not its numbers. A finding that fails here is
not one: the chapter must word it as what it is.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from lnbook.topics.covariate_shift import experiments  # noqa: E402

SEEDS = (3, 4, 5)  # the chapter uses 0, 1, 2
STEPS = 600  # the chapter's runs, as there


@pytest.fixture(scope="module")
def shift():
    """The chapter's covariate-shift runs: per network, each seed's shift, relative shift
    (S, L) and final loss (S,), and the runs."""
    out = {}
    for label, net in experiments.COVARIATE_SHIFT_NETS.items():
        # The noisy layer norm's finding is about its loss only: no checkpoints needed.
        checkpoints = 0 if label == "layer norm + noise" else 25
        runs = experiments.covariate_shift_runs(
            **net, lr=1.0, steps=STEPS, checkpoints=checkpoints, seeds=SEEDS
        )
        out[label] = {
            "runs": runs,
            "loss": np.array([r["loss"][-20:].mean() for r in runs]),
        }
        if checkpoints:
            p = [r["all_percentiles"] for r in runs]
            out[label]["shift"] = np.array([experiments.distribution_shift(q) for q in p])
            out[label]["rel"] = np.array(
                [experiments.distribution_shift(q, relative=True) for q in p]
            )
    return out


def test_batch_norm_holds_units_still_layer_norm_does_not(shift):
    none, ln, bn = shift["no norm"], shift["layer norm"], shift["batch norm"]
    for key in ("shift", "rel"):  # every seed, every layer
        assert (bn[key] < none[key]).all()
        assert (ln[key] > none[key]).all()


def test_batch_norms_unit_widens(shift):
    for r in shift["batch norm"]["runs"]:
        w = r["percentiles"][:, -1]  # (C, 3): unit 0 of layer 3
        assert w[-1, 2] - w[-1, 0] > 1.3 * (w[0, 2] - w[0, 0])


def test_layer_norm_trains_far_better_batch_norm_better_still(shift):
    loss = {label: v["loss"] for label, v in shift.items()}
    assert (loss["batch norm"] < loss["layer norm"]).all()
    # In the median: one run may end on a loss spike (the chapter's pitfall says so).
    assert np.median(loss["layer norm"]) < np.median(loss["no norm"]) / 2


def test_noise_after_the_norm_moves_units_and_leaves_the_benefit(shift):
    noisy, none, bn = shift["batch norm + noise"], shift["no norm"], shift["batch norm"]
    assert (noisy["shift"] > 2 * none["shift"]).all()
    assert (noisy["rel"] > 5 * bn["rel"]).all()
    loss = {label: v["loss"] for label, v in shift.items()}
    assert (loss["batch norm"] < loss["batch norm + noise"]).all()
    assert (loss["batch norm + noise"] < loss["layer norm"]).all()
    assert (loss["layer norm + noise"] < loss["no norm"] / 2).all()
    assert np.median(loss["layer norm + noise"]) < 2 * np.median(loss["layer norm"])


@pytest.fixture(scope="module")
def sweep():
    """The chapter's grid of rates, on the other seeds."""
    nets = {label: experiments.COVARIATE_SHIFT_NETS[label]
            for label in ("no norm", "layer norm", "batch norm")}  # fmt: skip
    nets["default init"] = {"norm": None, "init": "default"}
    nets["ReLU, no norm"] = {"norm": None, "activation": "relu", "init": "he"}
    nets["ReLU, layer norm"] = {"norm": "layer", "activation": "relu", "init": "he"}
    result = experiments.lr_sensitivity(
        nets, lrs=(0.03, 0.1, 0.3, 1.0, 3.0, 10.0), seeds=SEEDS, steps=500, target=0.5
    )
    return result, experiments.lr_summary(result)


def test_layer_norm_widens_the_range_of_rates_and_shortens_training(sweep):
    result, summary = sweep
    none, ln = summary["no norm"], summary["layer norm"]
    # Without normalization the target is on the edge of reach (the chapter's seeds reach
    # it at one rate): the finding is layer norm's margin over it, whatever that one is.
    assert len(ln["reached"]) >= len(none["reached"]) + 2
    assert set(none["reached"]) <= set(ln["reached"]) and 1.0 not in none["reached"]
    k1 = list(result["lrs"]).index(1.0)
    assert (result["final"]["no norm"][k1] < 1.0).all()
    # Every seed with layer norm, at its fastest rate, is there before any seed without
    # normalization at any rate (never: later than every step).
    k_ln = list(result["lrs"]).index(ln["best_lr"])
    fastest_none = np.nan_to_num(result["steps"]["no norm"], nan=np.inf).min()
    assert result["steps"]["layer norm"][k_ln].max() * 1.5 < fastest_none


def test_layer_norm_does_not_allow_a_higher_nominal_rate(sweep):
    result, summary = sweep
    none, ln = summary["no norm"], summary["layer norm"]
    lowest = result["lrs"][np.argmin(np.median(result["final"]["no norm"], axis=1))]
    assert ln["best_lr"] < lowest
    assert 10.0 in none["above_chance"] and 10.0 in ln["above_chance"]


def test_batch_norm_does_better_and_the_baseline_matters(sweep):
    _, summary = sweep
    ln, bn = summary["layer norm"], summary["batch norm"]
    assert len(bn["reached"]) > len(ln["reached"]) and bn["best_steps"] < ln["best_steps"] / 2
    assert 10.0 not in bn["above_chance"]
    assert summary["default init"]["reached"] == []


def test_with_relu_units_layer_norm_adds_little(sweep):
    _, summary = sweep
    none, ln = summary["ReLU, no norm"], summary["ReLU, layer norm"]
    assert set(none["reached"]) <= set(ln["reached"]) and len(none["reached"]) >= 3
    assert len(ln["reached"]) - len(none["reached"]) <= 1
    assert ln["best_steps"] > none["best_steps"] / 1.5


def test_the_effective_rate_falls_as_the_weights_that_feed_a_norm_grow(sweep):
    result, summary = sweep
    lrs = result["lrs"]
    for label in ("layer norm", "ReLU, layer norm"):
        norms = result["weight_norm"][label][lrs >= 0.3]  # (R', S, 2, L)
        assert (norms[..., 1, :] > norms[..., 0, :]).all()
    eff = (lrs[:, None, None, None] / result["weight_norm"]["layer norm"] ** 2).mean(-1)
    assert (eff[..., 1] < eff[..., 0]).all()
    reached = summary["layer norm"]["reached"]
    lo, hi = list(lrs).index(min(reached)), list(lrs).index(max(reached))
    # Nominal rates far apart end as effective rates much closer together.
    assert (eff[hi, :, 1] / eff[lo, :, 1] < lrs[hi] / lrs[lo] / 3).all()


SETUPS = ("sigmoid, rate 1", "sigmoid, rate 0.3", "ReLU, rate 0.3")
NORMS = {"no norm": None, "layer norm": "layer", "batch norm": "batch"}


@pytest.fixture(scope="module")
def smooth():
    """Each seed's median of each look-ahead measure: net -> norm -> measure -> (S,)."""
    out = {net: {} for net in SETUPS}
    for units, init, lrs in (("sigmoid", "xavier", (1.0, 0.3)), ("ReLU", "he", (0.3,))):
        for label, norm in NORMS.items():
            by_rate = experiments.landscape_smoothness(
                norm, lrs=lrs, activation=units.lower(), init=init, steps=500, seeds=SEEDS
            )
            for lr, r in zip(lrs, by_rate, strict=True):
                measures = ("loss_range", "grad_change", "beta")
                out[f"{units}, rate {lr:g}"][label] = {
                    m: np.median(r[m], axis=1) for m in measures
                } | {"final": r["loss"][:, -20:].mean(axis=1)}
    return out


def test_batch_norm_smooths_by_the_first_two_measures(smooth):
    for net in SETUPS:
        for m in ("loss_range", "grad_change"):
            assert (smooth[net]["batch norm"][m] < smooth[net]["no norm"][m]).all()
            assert (smooth[net]["batch norm"][m] < smooth[net]["layer norm"][m]).all()


def test_batch_norms_beta_smoothness_depends_on_the_units(smooth):
    for net in ("sigmoid, rate 1", "sigmoid, rate 0.3"):
        assert (smooth[net]["batch norm"]["beta"] > smooth[net]["no norm"]["beta"]).all()
    relu = smooth["ReLU, rate 0.3"]
    assert (relu["batch norm"]["beta"] < relu["no norm"]["beta"]).all()


def test_layer_norm_is_rougher_in_the_sigmoid_network(smooth):
    for net in ("sigmoid, rate 1", "sigmoid, rate 0.3"):
        for m in ("loss_range", "grad_change", "beta"):
            assert (smooth[net]["layer norm"][m] > smooth[net]["no norm"][m]).all()


def test_layer_norm_in_the_relu_network_is_no_finding(smooth):
    # The chapter's seeds show it smoother than no normalization by the first two
    # measures; the prose says other seeds do not, and this is where it looks.
    relu = smooth["ReLU, rate 0.3"]
    assert not all(
        (relu["layer norm"][m] < relu["no norm"][m]).all() for m in ("loss_range", "grad_change")
    )


def test_a_plateau_is_smooth(smooth):
    assert (smooth["sigmoid, rate 0.3"]["no norm"]["final"] > 1.5).all()
