"""Chapter 9, sections 1-3 (geometry): experiments against independent oracles (torch's
norms and autograd, scipy's convex hull, limits of the closed form), the figures' content,
and the live explorer driven without a kernel."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial import ConvexHull

from lnbook.topics.geometry import experiments, figures, widgets


def torch_ln(x, eps=0.0):
    t = torch.tensor(np.asarray(x, dtype=np.float64))
    return torch.nn.functional.layer_norm(t, (t.shape[-1],), eps=eps).numpy()


def torch_rms(x, eps=0.0):
    t = torch.tensor(np.asarray(x, dtype=np.float64))
    return torch.nn.functional.rms_norm(t, (t.shape[-1],), eps=eps).numpy()


# ------------------------------------------------------------ projection and sphere --------


@pytest.mark.parametrize("d", [1, 2, 5, 16])
def test_centring_matrix_subtracts_the_mean(d):
    x = np.random.default_rng(d).normal(3.0, 2.0, size=(4, d))
    p = experiments.centring_matrix(d)
    np.testing.assert_allclose(x @ p.T, x - x.mean(axis=1, keepdims=True), atol=1e-12)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_centring_matrix_rejects_a_bad_size(bad):
    with pytest.raises(ValueError, match="d must be an int"):
        experiments.centring_matrix(bad)


@pytest.mark.parametrize("d, eps", [(3, 0.0), (8, 0.0), (8, 1e-5), (32, 1e-2)])
def test_projection_facts_lengths_match_torch(d, eps):
    x = np.random.default_rng(d).normal(0.5, 0.3, size=(16, d))
    f = experiments.projection_facts(x, eps=eps)
    np.testing.assert_allclose(f["ln_length"], np.linalg.norm(torch_ln(x, eps), axis=1))
    np.testing.assert_allclose(f["rms_length"], np.linalg.norm(torch_rms(x, eps), axis=1))
    np.testing.assert_allclose(f["ln_length"], f["ln_length_predicted"], rtol=1e-12)
    if eps == 0:
        np.testing.assert_allclose(f["ln_length"], np.sqrt(d), rtol=1e-12)
    else:
        assert (f["ln_length"] < np.sqrt(d)).all() and (f["rms_length"] < np.sqrt(d)).all()
    assert max(f[k] for k in ("idempotent", "symmetric", "kills_ones", "ln_sum")) < 1e-12


@pytest.mark.parametrize("bad", [np.ones(5), np.ones((2, 3, 4)), np.ones((0, 3))])
def test_projection_facts_rejects_a_non_batch(bad):
    with pytest.raises(ValueError, match="x must be a non-empty"):
        experiments.projection_facts(bad)


def test_projection_facts_rejects_a_negative_eps():
    with pytest.raises(ValueError, match="eps"):
        experiments.projection_facts(np.ones((2, 3)), eps=-1.0)


@pytest.mark.parametrize("eps", [0.0, 1e-3])
def test_projection_against_torch_is_rounding_and_checks_its_batch(eps):
    x = np.random.default_rng(9).normal(-1.0, 3.0, size=(10, 6))
    r = experiments.projection_against_torch(x, eps=eps)
    assert max(r.values()) < 1e-12
    # The route it checks, against torch's own functions too.
    x_hat = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + eps)
    np.testing.assert_allclose(x_hat, torch_ln(x, eps), atol=1e-12)
    with pytest.raises(ValueError, match="x must be a non-empty"):
        experiments.projection_against_torch(np.ones(6))


def test_sphere_point_matches_torch_and_centring():
    x = np.array([2.4, 0.2, 1.6])
    r = experiments.sphere_point(x, eps=0.3)
    np.testing.assert_allclose(r["px"], x - x.mean(), atol=1e-12)
    np.testing.assert_allclose(r["ln"], torch_ln(x, 0.3), atol=1e-12)
    np.testing.assert_allclose(r["rms"], torch_rms(x, 0.3), atol=1e-12)


@pytest.mark.parametrize("bad", [np.ones((2, 3)), [1.0], [1.0, np.nan, 2.0]])
def test_sphere_point_rejects_bad_examples(bad):
    with pytest.raises(ValueError, match="x must be one finite example"):
        experiments.sphere_point(bad)


def test_sphere_path_moves_do_what_the_chapter_says():
    path = experiments.sphere_path([1.0, -2.0, 0.5])
    start = path["start"]
    for label, r in path.items():
        np.testing.assert_allclose(r["ln"], torch_ln(r["x"]), atol=1e-12)
        if label.startswith("shift"):
            np.testing.assert_allclose(r["ln"], start["ln"], atol=1e-12)
            assert np.abs(r["rms"] - start["rms"]).max() > 0.05
        if label.startswith("turn"):
            # A turn about 1 keeps the mean and the spread, and moves the output.
            assert np.isclose(r["mean"], start["mean"]) and np.isclose(r["std"], start["std"])
            assert np.abs(r["ln"] - start["ln"]).max() > 0.05
    np.testing.assert_allclose(path["scale ×-1"]["rms"], -start["rms"], atol=1e-12)


def test_sphere_path_needs_three_features():
    with pytest.raises(ValueError, match=r"x0 must have shape \(3,\)"):
        experiments.sphere_path([1.0, 2.0])


# ------------------------------------------------------------ the Jacobians ---------------


@pytest.mark.parametrize("d, eps, seed", [(3, 0.0, 0), (8, 0.0, 1), (8, 1e-5, 2), (17, 0.1, 3)])
def test_jacobians_match_torch_autograd(d, eps, seed):
    x = np.random.default_rng(seed).normal(1.0, 0.5, size=d)
    xt = torch.tensor(x)
    ln_t = torch.func.jacrev(lambda v: torch.nn.functional.layer_norm(v, (d,), eps=eps))(xt)
    rms_t = torch.func.jacrev(lambda v: torch.nn.functional.rms_norm(v, (d,), eps=eps))(xt)
    np.testing.assert_allclose(experiments.layer_norm_jacobian(x, eps), ln_t.numpy(), atol=1e-12)
    np.testing.assert_allclose(experiments.rms_norm_jacobian(x, eps), rms_t.numpy(), atol=1e-12)


@pytest.mark.parametrize("d", [4, 8, 12])
def test_jacobian_ranks_and_null_space(d):
    x = np.random.default_rng(d).normal(0.3, 1.5, size=d)
    f = experiments.jacobian_facts(x, eps=0.0)
    assert (f["ln_rank"], f["rms_rank"]) == (d - 2, d - 1)
    assert f["ln_null"] < 1e-12 and f["ln_projector"] < 1e-12
    assert f["ln_fd_err"] < 1e-7 and f["rms_fd_err"] < 1e-7
    # Singular values by torch's SVD of torch's own Jacobian: D - 2 at 1/sigma, two zeros.
    xt = torch.tensor(x)
    sv = torch.linalg.svdvals(
        torch.func.jacrev(lambda v: torch.nn.functional.layer_norm(v, (d,), eps=0.0))(xt)
    ).numpy()
    np.testing.assert_allclose(sv[: d - 2], 1 / x.std(), rtol=1e-10)
    assert sv[-2:].max() < 1e-12
    np.testing.assert_allclose(f["ln_sv"], sv, atol=1e-12)


def test_eps_gives_the_x_hat_direction_back_its_singular_value():
    x = np.random.default_rng(4).normal(0.0, 0.003, size=8)
    eps = 1e-5
    f = experiments.jacobian_facts(x, eps=eps)
    assert (f["ln_rank"], f["rms_rank"]) == (7, 8)
    np.testing.assert_allclose(f["ln_sv"][-2] / f["rstd"], eps / (x.var() + eps), rtol=1e-6)


def test_jacobian_against_torch_reports_rounding_only():
    r = experiments.jacobian_against_torch(np.random.default_rng(5).normal(0, 2, 6), eps=1e-3)
    assert max(r.values()) < 1e-12


@pytest.mark.parametrize("fn", [experiments.layer_norm_jacobian, experiments.rms_norm_jacobian])
def test_jacobians_reject_a_batch(fn):
    with pytest.raises(ValueError, match="x must be one example"):
        fn(np.ones((2, 3)))


@pytest.mark.parametrize("fn", [experiments.jacobian_facts, experiments.jacobian_against_torch])
def test_jacobian_checks_reject_a_batch_before_torch(fn):
    # jacobian_against_torch used to give torch's RuntimeError here.
    with pytest.raises(
        ValueError, match=r"x must be one example of shape \(D,\), D >= 2, got \(2, 3\)"
    ):
        fn(np.ones((2, 3)))
    with pytest.raises(ValueError, match="eps must be finite and >= 0"):
        fn(np.ones(3), eps=-1.0)


# ------------------------------------------------------------ attention --------------------


def hull_inside(points):
    """The oracle: scipy's (Qhull's) convex hull; True for points that are not vertices."""
    inside = np.ones(len(points), dtype=bool)
    inside[ConvexHull(points).vertices] = False
    return inside


@pytest.mark.parametrize("d, seed", [(2, 0), (3, 1), (3, 2), (4, 3), (5, 4)])
def test_unselectable_agrees_with_scipys_convex_hull(d, seed):
    keys = np.random.default_rng(seed).standard_normal((40, d)) + 0.7
    np.testing.assert_array_equal(experiments.unselectable(keys), hull_inside(keys))


def test_keys_on_a_sphere_are_all_selectable():
    k = np.random.default_rng(6).standard_normal((50, 4))
    k /= np.linalg.norm(k, axis=1, keepdims=True)
    assert not experiments.unselectable(k).any()
    assert not hull_inside(k).any()


def test_a_key_inside_the_others_is_unselectable_for_every_query():
    keys = np.array([[1.0, 0.0], [-1.0, 1.0], [-1.0, -1.0], [-0.2, 0.1]])
    inside = experiments.unselectable(keys)
    np.testing.assert_array_equal(inside, [False, False, False, True])
    q = np.random.default_rng(7).standard_normal((1000, 2))
    assert (np.argmax(q @ keys.T, axis=1) != 3).all()  # no query ever picks it


def test_selectable_keys_results():
    r = experiments.selectable_keys(n_keys=24, d=3, seeds=(7,))
    rng = np.random.default_rng(7)
    keys = rng.standard_normal((24, 3)) + rng.standard_normal(3)
    assert r["raw"][0] == pytest.approx(hull_inside(keys).mean())
    assert r["ln"][0] == r["rms"][0] == r["ln_linear"][0] == 0
    assert r["uniform"][0] < 1e-12


def test_selectable_keys_rejects_bad_sizes():
    with pytest.raises(ValueError, match="n_keys"):
        experiments.selectable_keys(n_keys=2)
    with pytest.raises(ValueError, match="d must"):
        experiments.selectable_keys(d=1)
    with pytest.raises(TypeError, match=r"seeds must be .* ints >= 0, e\.g\. \(0,\), got int 0"):
        experiments.selectable_keys(seeds=0)
    with pytest.raises(ValueError, match="seeds must be a non-empty sequence"):
        experiments.selectable_keys(seeds=())  # was an empty result


# ------------------------------------------------------------ gamma = 1 + w --------------


def test_gamma_decay_limits():
    # No decay: both parameterizations are the same function and train to the same gamma.
    plain = experiments.gamma_decay([0.0, 1e3], zero_centred=False, seed=3)
    one_p = experiments.gamma_decay([0.0, 1e3], zero_centred=True, seed=3)
    assert plain["gamma_mean"][0] == pytest.approx(one_p["gamma_mean"][0])
    # Overwhelming decay: gamma goes to 0, gamma = 1 + w goes to 1.
    assert abs(plain["gamma_mean"][1]) < 0.01
    assert abs(one_p["gamma_mean"][1] - 1) < 0.01
    assert max(plain["err"].max(), one_p["err"].max()) < 1e-9


def test_gamma_decay_rejects_a_negative_decay():
    # Named as decays, not as the eps of the check it used to borrow.
    with pytest.raises(ValueError, match=r"decays must be .* finite numbers >= 0, got \[-0\.1\]"):
        experiments.gamma_decay([-0.1], zero_centred=True)
    with pytest.raises(TypeError, match=r"decays must be a non-empty sequence .* e\.g\. \(0\.1,\)"):
        experiments.gamma_decay(0.1, zero_centred=True)
    with pytest.raises(ValueError, match="decays must be a non-empty sequence .* empty list"):
        experiments.gamma_decay([], zero_centred=True)


# ------------------------------------------------------------ figures ---------------------


# The figure's traces: the side view's backdrop (7) and moving traces (7), then the same
# for the view down the ones axis; layer norm's output is the 5th moving trace.
LN_SIDE, LN_DOWN = 7 + 4, 21 + 4


def _marker_xy(trace):
    return np.array([trace.x[0], trace.y[0]])


def test_sphere_figure_frames_move_what_they_should():
    path = experiments.sphere_path([2.4, 0.2, 1.6])
    fig = figures.sphere_figure(path)
    assert len(fig.frames) == len(path)
    assert fig.layout.sliders[0].name == "move the input"
    moving = list(fig.frames[0].traces)
    assert len(moving) == 14 and len(fig.data) == 2 * 7 + 14
    # Per view: 0 x, 1 segment, 2 P x, 3 ray, 4 layer norm, 5 ray, 6 RMSNorm.
    by_name = {f.name: f for f in fig.frames}
    start, shifted, turned = by_name["start"], by_name["shift +2"], by_name["turn 90°"]
    for view in (0, 7):
        assert np.allclose(_marker_xy(start.data[view + 4]), _marker_xy(shifted.data[view + 4]))
        assert not np.allclose(_marker_xy(start.data[view + 6]), _marker_xy(shifted.data[view + 6]))
        assert not np.allclose(_marker_xy(start.data[view + 4]), _marker_xy(turned.data[view + 4]))
    # Seen down the ones axis a shift is invisible: x stays put on the screen.
    assert np.allclose(_marker_xy(start.data[7]), _marker_xy(shifted.data[7]))
    assert not np.allclose(_marker_xy(start.data[0]), _marker_xy(shifted.data[0]))
    # Every frame's points fit the fixed ranges (frames do not re-run autorange).
    for frame in fig.frames:
        for k, trace in zip(frame.traces, frame.data, strict=True):
            axes = "" if k < len(fig.data) // 2 else "2"
            xr = fig.layout[f"xaxis{axes}"].range
            yr = fig.layout[f"yaxis{axes}"].range
            assert xr[0] <= min(trace.x) and max(trace.x) <= xr[1]
            assert yr[0] <= min(trace.y) and max(trace.y) <= yr[1]


def test_sphere_figure_draws_the_circle_at_radius_sqrt3_face_on():
    fig = figures.sphere_figure(experiments.sphere_path([1.0, 0.0, -1.0]))
    circle = fig.data[14 + 2]  # the face-on view's layer norm circle (after 7 + 7 traces)
    r = np.hypot(np.array(circle.x), np.array(circle.y))
    np.testing.assert_allclose(r, np.sqrt(3), rtol=1e-12)


def test_live_sphere_figure_redraws():
    fig = figures.live_sphere_figure(experiments.sphere_point([1.0, 2.0, 3.0]))
    before = _marker_xy(fig.data[LN_SIDE])
    figures.update_sphere(fig, experiments.sphere_point([3.0, 2.0, 1.0]))
    assert not np.allclose(before, _marker_xy(fig.data[LN_SIDE]))


def test_jacobian_spectrum_figure_shows_the_zeros():
    f = experiments.jacobian_facts(np.random.default_rng(1).normal(0.5, 2.0, 8))
    fig = figures.jacobian_spectrum_figure(f)
    ln, rms = fig.data
    np.testing.assert_allclose(ln.y[:6], 1.0)
    np.testing.assert_allclose(rms.y[:7], 1.0)
    assert max(ln.y[6:]) < 1e-12 and rms.y[7] < 1e-12


def test_gamma_decay_figure_has_a_line_per_seed_and_the_closed_form():
    decays = np.array([0.1, 1.0])
    runs = {
        label: [experiments.gamma_decay(decays, zero_centred=zc, seed=s) for s in (0, 1)]
        for label, zc in (("decay on γ", False), ("decay on w, γ = 1 + w", True))
    }
    fig = figures.gamma_decay_figure(decays, runs)
    lines = [t for t in fig.data if t.mode == "lines"]
    assert len(lines) == 4 and len(fig.data) == 6
    np.testing.assert_allclose(lines[0].y, runs["decay on γ"][0]["gamma_mean"])


# ------------------------------------------------------------ the live face ---------------


def test_sphere_explorer_follows_its_controls():
    e = widgets.sphere_explorer()
    fig = e.figure
    e.controls["x0"].value = -1.0
    e.controls["x1"].value = 3.0
    e.controls["x2"].value = 0.5
    e.controls["eps"].value = 0.5
    x = np.array([-1.0, 3.0, 0.5])
    expected = figures.sphere_traces(experiments.sphere_point(x, eps=0.5), "side", legend=True)
    np.testing.assert_allclose(_marker_xy(fig.data[LN_SIDE]), _marker_xy(expected[4]))
    # With eps the output is inside the circle: its screen point is nearer the centre than
    # the same example's output without eps.
    no_eps = figures.sphere_traces(experiments.sphere_point(x), "down the ones axis", True)
    inside = np.hypot(*_marker_xy(fig.data[LN_DOWN]))
    assert inside < np.hypot(*_marker_xy(no_eps[4]))
