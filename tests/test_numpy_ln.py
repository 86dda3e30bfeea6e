"""Tests of ``lnbook.numpy_ln`` against independent oracles.

* torch in float64 (``torch.nn.functional`` forward, autograd backward) is the oracle for values
  and gradients;
* central finite differences are a second, torch-free oracle for the hand-written backward;
* closed forms cover the special cases (a constant example normalizes to exactly ``bias``).

No expected value is computed with the code under test.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import ml_dtypes
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tolerances import ATOL, RTOL, condition_scale, forward_atol, grad_atol, half_atol

from lnbook.numpy_ln import (
    LayerNormCache,
    batch_norm,
    layer_norm,
    layer_norm_backward,
    layer_norm_forward,
    rms_norm,
)

# deadline=None: the first example pays for torch's lazy initialisation.
PROPERTY = settings(max_examples=60, deadline=None)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def mentions(*parts: str) -> str:
    """A regex (for ``pytest.raises(match=...)``) that requires every part, in any order.

    Used after :func:`name`, which sets the dot-matches-newline flag.
    """
    return "".join(f"(?=.*{re.escape(p)})" for p in parts)


def name(arg: str) -> str:
    """A regex requiring ``arg`` as a whole word (``x`` must not match inside ``max``)."""
    return rf"(?s)(?=.*\b{re.escape(arg)}\b)"


def as_np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


def assert_close(actual, expected, *, rtol=RTOL, atol=ATOL) -> None:
    """Same shape, same values; NaN is never equal to anything here."""
    if isinstance(expected, torch.Tensor):
        expected = as_np(expected)
    assert isinstance(actual, np.ndarray), type(actual)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=False)


def max_abs_err(actual: np.ndarray, expected: np.ndarray) -> float:
    """Largest absolute error, with a NaN or inf anywhere counting as an infinite error."""
    diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    return float(np.max(np.where(np.isfinite(diff), diff, np.inf)))


@dataclass(frozen=True)
class LNCase:
    batch: tuple[int, ...]
    norm: tuple[int, ...]
    form: str  # how normalized_shape is passed: "tuple", "list" or "int"
    has_weight: bool
    has_bias: bool
    eps: float
    loc: float
    scale: float
    seed: int

    @property
    def normalized_shape(self):
        if self.form == "int":
            return self.norm[0]
        return list(self.norm) if self.form == "list" else self.norm

    def arrays(self, dtype=np.float64):
        rng = np.random.default_rng(self.seed)
        x = (self.loc + self.scale * rng.standard_normal(self.batch + self.norm)).astype(dtype)
        w = rng.standard_normal(self.norm).astype(dtype) if self.has_weight else None
        b = rng.standard_normal(self.norm).astype(dtype) if self.has_bias else None
        dy = rng.standard_normal(x.shape).astype(dtype)
        return x, w, b, dy


@st.composite
def ln_cases(draw, eps_values=(0.0, 1e-5, 1e-2, 1.0)):
    """Batch dims 0..3 (sizes 0..4, so zero-size batches too), normalized dims 1..3 (1..6)."""
    batch = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    norm = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    form = draw(st.sampled_from(["tuple", "list", "int"] if len(norm) == 1 else ["tuple", "list"]))
    eps = draw(st.sampled_from(eps_values))
    # eps = 0 with a single normalized value is 0/0 (torch gives NaN too): not meaningful.
    assume(not (eps == 0.0 and math.prod(norm) == 1))
    return LNCase(
        batch=batch,
        norm=norm,
        form=form,
        has_weight=draw(st.booleans()),
        has_bias=draw(st.booleans()),
        eps=eps,
        loc=draw(st.sampled_from([0.0, 10.0])),
        scale=draw(st.sampled_from([1.0, 0.01])),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def torch_layer_norm(x, norm, w, b, eps, dy):
    """Oracle: F.layer_norm forward and autograd gradients, in x's dtype."""
    xt = torch.tensor(x, requires_grad=True)
    wt = None if w is None else torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    y = F.layer_norm(xt, norm, wt, bt, eps)
    y.backward(torch.tensor(dy))
    return (
        y,
        xt.grad,
        None if wt is None else wt.grad,
        None if bt is None else bt.grad,
    )


def torch_rstd(x: torch.Tensor, k: int, eps: float) -> torch.Tensor:
    """1 / sqrt(biased var + eps) over the last k dims, computed in torch (two-pass).

    Not torch.var: it warns about zero degrees of freedom on zero-size batches.
    """
    dims = tuple(range(x.ndim - k, x.ndim))
    xc = x - x.mean(dim=dims, keepdim=True)
    return 1.0 / torch.sqrt((xc * xc).mean(dim=dims, keepdim=True) + eps)


# --------------------------------------------------------------------------------------------
# 1. torch as the oracle: forward and backward over random shapes
# --------------------------------------------------------------------------------------------


@PROPERTY
@given(case=ln_cases())
def test_layer_norm_matches_torch_forward_and_backward_random_shapes(case):
    """y, dx, dweight, dbias equal torch's F.layer_norm + autograd for the same dy."""
    x, w, b, dy = case.arrays()
    y_ref, dx_ref, dw_ref, db_ref = torch_layer_norm(x, case.norm, w, b, case.eps, dy)
    xt = torch.from_numpy(x)
    cond = condition_scale(xt, torch_rstd(xt, len(case.norm), case.eps))

    assert_close(
        layer_norm(x, case.normalized_shape, w, b, case.eps), y_ref, atol=forward_atol(cond)
    )
    y, cache = layer_norm_forward(x, case.normalized_shape, w, b, case.eps)
    assert_close(y, y_ref, atol=forward_atol(cond))

    dx, dw, db = layer_norm_backward(dy, cache)
    assert_close(dx, dx_ref, atol=grad_atol(cond))
    if w is None:
        assert dw is None
    else:
        assert_close(dw, dw_ref, atol=grad_atol(cond))
    if b is None:
        assert db is None
    else:
        assert_close(db, db_ref, atol=grad_atol(cond))


@PROPERTY
@given(case=ln_cases())
def test_layer_norm_forward_cache_matches_torch_statistics_random_shapes(case):
    """cache.mean / cache.rstd have shape x.shape[:-k] + (1,)*k and torch's values."""
    x, w, b, _ = case.arrays()
    k = len(case.norm)
    _, cache = layer_norm_forward(x, case.normalized_shape, w, b, case.eps)
    stat_shape = x.shape[:-k] + (1,) * k
    assert isinstance(cache, LayerNormCache)
    assert cache.mean.shape == stat_shape
    assert cache.rstd.shape == stat_shape
    assert cache.x_hat.shape == x.shape

    xt = torch.from_numpy(x)
    dims = tuple(range(x.ndim - k, x.ndim))
    rstd_ref = torch_rstd(xt, k, case.eps)
    cond = condition_scale(xt, rstd_ref)
    assert_close(cache.mean, torch.mean(xt, dim=dims, keepdim=True))
    # rstd can be ~1e4 with eps = 0, so it is compared relatively only; the oracle's x - mean
    # has relative error ~1e-16 * cond, hence the cond term.
    assert_close(cache.rstd, rstd_ref, rtol=RTOL + 1e-15 * cond, atol=0.0)
    # x_hat is layer norm without the affine part.
    assert_close(cache.x_hat, F.layer_norm(xt, case.norm, eps=case.eps), atol=forward_atol(cond))


@PROPERTY
@given(case=ln_cases(eps_values=(None, 0.0, 1e-5, 1e-2, 1.0)))
def test_rms_norm_matches_torch_random_shapes(case):
    """rms_norm equals F.rms_norm, including eps=None meaning finfo(float64).eps."""
    x, w, _, _ = case.arrays()
    xt = torch.from_numpy(x)
    y_ref = F.rms_norm(xt, case.norm, None if w is None else torch.from_numpy(w), case.eps)
    dims = tuple(range(x.ndim - len(case.norm), x.ndim))
    eps = torch.finfo(torch.float64).eps if case.eps is None else case.eps
    r = torch.rsqrt((xt * xt).mean(dim=dims, keepdim=True) + eps)
    assert_close(
        rms_norm(x, case.normalized_shape, w, case.eps),
        y_ref,
        atol=forward_atol(condition_scale(xt, r)),
    )


@st.composite
def bn_cases(draw):
    """Inputs (N, C), (N, C, L) and (N, C, H, W) with all the optional arguments drawn."""
    n = draw(st.integers(1, 4))
    c = draw(st.integers(1, 4))
    spatial = tuple(draw(st.lists(st.integers(1, 4), max_size=2)))
    return {
        "shape": (n, c) + spatial,
        "has_weight": draw(st.booleans()),
        "has_bias": draw(st.booleans()),
        "has_running": draw(st.booleans()),
        "momentum": draw(st.sampled_from([0.0, 0.1, 0.5, 1.0])),
        "eps": draw(st.sampled_from([0.0, 1e-5, 1e-2, 1.0])),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def bn_arrays(case, dtype=np.float64):
    rng = np.random.default_rng(case["seed"])
    c = case["shape"][1]
    x = (1.5 + 2.0 * rng.standard_normal(case["shape"])).astype(dtype)
    w = rng.standard_normal(c).astype(dtype) if case["has_weight"] else None
    b = rng.standard_normal(c).astype(dtype) if case["has_bias"] else None
    rm = rng.standard_normal(c).astype(dtype)
    rv = rng.uniform(0.5, 2.0, c).astype(dtype)
    return x, w, b, rm, rv


def maybe_tensor(a):
    return None if a is None else torch.tensor(a)


@PROPERTY
@given(case=bn_cases())
def test_batch_norm_training_matches_torch_output_and_running_stats_random_shapes(case):
    """Training: same output, and running stats updated in place exactly as torch does."""
    shape = case["shape"]
    assume(shape[0] * math.prod(shape[2:]) > 1)  # torch needs > 1 value per channel
    assume(case["eps"] > 0)  # torch 2.13 refuses eps <= 0 in training: no oracle
    x, w, b, rm, rv = bn_arrays(case)
    if not case["has_running"]:
        rm = rv = None
    rm_t, rv_t = maybe_tensor(rm), maybe_tensor(rv)  # copies, updated in place by torch
    xt = torch.from_numpy(x)
    y_ref = F.batch_norm(
        xt, rm_t, rv_t, maybe_tensor(w), maybe_tensor(b), True, case["momentum"], case["eps"]
    )
    y = batch_norm(x, rm, rv, w, b, True, case["momentum"], case["eps"])

    dims = (0,) + tuple(range(2, x.ndim))
    var = torch.var(xt, dim=dims, unbiased=False)
    cond = condition_scale(xt, 1.0 / torch.sqrt(var + case["eps"]))
    assert_close(y, y_ref, atol=forward_atol(cond))
    if case["has_running"]:
        assert_close(rm, rm_t)  # the very arrays passed in, so this checks "in place"
        assert_close(rv, rv_t)


@PROPERTY
@given(case=bn_cases())
def test_batch_norm_eval_matches_torch_and_leaves_running_stats_random_shapes(case):
    """Evaluation: normalize with the running stats, which stay untouched."""
    x, w, b, rm, rv = bn_arrays(case)
    rm0, rv0 = rm.copy(), rv.copy()
    y_ref = F.batch_norm(
        torch.from_numpy(x),
        torch.tensor(rm),
        torch.tensor(rv),
        maybe_tensor(w),
        maybe_tensor(b),
        False,
        case["momentum"],
        case["eps"],
    )
    assert_close(batch_norm(x, rm, rv, w, b, False, case["momentum"], case["eps"]), y_ref)
    np.testing.assert_array_equal(rm, rm0)
    np.testing.assert_array_equal(rv, rv0)


def test_batch_norm_training_running_var_is_unbiased_closed_form():
    """Closed form, no torch: momentum 1 stores the batch mean and the n-1 variance."""
    x = np.array([[1.0, 10.0], [3.0, 20.0], [8.0, 60.0]])  # N=3, C=2
    rm, rv = np.zeros(2), np.ones(2)
    batch_norm(x, rm, rv, training=True, momentum=1.0, eps=0.0)
    np.testing.assert_allclose(rm, [4.0, 30.0], rtol=1e-15)
    np.testing.assert_allclose(rv, [13.0, 700.0], rtol=1e-15)  # sum sq. dev. / (3 - 1)


def test_layer_norm_does_not_modify_inputs():
    """The forward and backward must not write into x, weight, bias or dy."""
    rng = np.random.default_rng(3)
    x, w, b, dy = (rng.standard_normal(s) for s in [(4, 6), (6,), (6,), (4, 6)])
    copies = [a.copy() for a in (x, w, b, dy)]
    _, cache = layer_norm_forward(x, 6, w, b)
    layer_norm_backward(dy, cache)
    rms_norm(x, 6, w)
    for a, a0 in zip((x, w, b, dy), copies, strict=True):
        np.testing.assert_array_equal(a, a0)


# --------------------------------------------------------------------------------------------
# 2. finite differences: a torch-free oracle for the backward
# --------------------------------------------------------------------------------------------


def central_differences(f, a: np.ndarray, h: float) -> np.ndarray:
    """d f / d a by central differences, one coordinate at a time."""
    grad = np.empty_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + h
        f_plus = f()
        a[i] = old - h
        f_minus = f()
        a[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


@pytest.mark.parametrize(
    ("shape", "norm"),
    [((3, 5), (5,)), ((2, 3, 4), (3, 4)), ((4,), (4,)), ((2, 2, 3), (2, 2, 3))],
)
@pytest.mark.parametrize("has_weight", [False, True])
@pytest.mark.parametrize("has_bias", [False, True])
@pytest.mark.parametrize("eps", [1e-5, 0.5])
def test_layer_norm_backward_matches_finite_differences_small_input(
    shape, norm, has_weight, has_bias, eps
):
    """dx, dweight, dbias of L = sum(y * dy) against central differences in float64.

    With h = 1e-5 the truncation error is ~h^2 * f''' ~ 1e-9 and the rounding error
    ~1e-16 * |L| / h ~ 1e-10, hence rtol 1e-6 / atol 1e-7 (a wrong formula is off by O(1)).
    """
    rng = np.random.default_rng(42)
    x = rng.standard_normal(shape)
    w = rng.standard_normal(norm) if has_weight else None
    b = rng.standard_normal(norm) if has_bias else None
    dy = rng.standard_normal(shape)

    def loss() -> float:
        return float(np.sum(layer_norm(x, norm, w, b, eps) * dy))

    _, cache = layer_norm_forward(x, norm, w, b, eps)
    dx, dw, db = layer_norm_backward(dy, cache)
    h, tol = 1e-5, {"rtol": 1e-6, "atol": 1e-7}
    assert_close(dx, central_differences(loss, x, h), **tol)
    if has_weight:
        assert_close(dw, central_differences(loss, w, h), **tol)
    else:
        assert dw is None
    if has_bias:
        assert_close(db, central_differences(loss, b, h), **tol)
    else:
        assert db is None


# --------------------------------------------------------------------------------------------
# 5. bad input: errors that name the argument and show the shapes
# --------------------------------------------------------------------------------------------


def _ln(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    return layer_norm(x, normalized_shape, weight, bias, eps)


def _ln_forward(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    return layer_norm_forward(x, normalized_shape, weight, bias, eps)


def _rms(x, normalized_shape, weight=None, bias=None, eps=None):
    assert bias is None, "rms_norm has no bias"
    return rms_norm(x, normalized_shape, weight, eps)


NORM_FUNCS = pytest.mark.parametrize(
    "func", [_ln, _ln_forward, _rms], ids=["layer_norm", "layer_norm_forward", "rms_norm"]
)
BIAS_FUNCS = pytest.mark.parametrize(
    "func", [_ln, _ln_forward], ids=["layer_norm", "layer_norm_forward"]
)


@NORM_FUNCS
@pytest.mark.parametrize(
    ("x_shape", "normalized_shape"),
    [((2, 4), (5,)), ((2, 4), 3), ((2, 3, 4), (2, 4)), ((2, 3, 4), (4, 3)), ((4, 2), (4,))],
)
def test_rejects_normalized_shape_not_matching_x(func, x_shape, normalized_shape):
    """The message names normalized_shape and shows both shapes."""
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    with pytest.raises(
        ValueError, match=name("normalized_shape") + mentions(str(ns), str(x_shape))
    ):
        func(np.zeros(x_shape), normalized_shape)


@NORM_FUNCS
@pytest.mark.parametrize(("x_shape", "normalized_shape"), [((4,), (2, 4)), ((), (1,))])
def test_rejects_normalized_shape_longer_than_x_ndim(func, x_shape, normalized_shape):
    with pytest.raises(
        ValueError, match=name("normalized_shape") + mentions(str(normalized_shape), str(x_shape))
    ):
        func(np.zeros(x_shape), normalized_shape)


@NORM_FUNCS
@pytest.mark.parametrize("normalized_shape", [(), []])
def test_rejects_empty_normalized_shape(func, normalized_shape):
    with pytest.raises(ValueError, match=name("normalized_shape")):
        func(np.zeros((2, 3)), normalized_shape)


@NORM_FUNCS
@pytest.mark.parametrize(
    ("normalized_shape", "error"),
    [((0,), ValueError), ((-3,), ValueError), (True, TypeError), ("3", TypeError)]
    + [((3.0,), TypeError), (3.0, TypeError), ((np.int64(2), True), TypeError)],
)
def test_rejects_invalid_normalized_shape_values(func, normalized_shape, error):
    """Sizes must be ints >= 1; bools, floats and strings are refused, naming the argument."""
    with pytest.raises(error, match=name("normalized_shape")):
        func(np.zeros((2, 3)), normalized_shape)


# (1,), (1, D) and (D, 1) would all broadcast against x and hide the mistake.
BAD_PARAM_SHAPES_1D = [(1,), (1, 4), (4, 1), (5,), (3,), ()]
BAD_PARAM_SHAPES_2D = [(1,), (3,), (2,), (6,), (1, 3), (3, 2), (1, 2, 3), (2, 1)]


@NORM_FUNCS
@pytest.mark.parametrize(
    ("x_shape", "norm", "bad"),
    [((3, 4), (4,), s) for s in BAD_PARAM_SHAPES_1D]
    + [((5, 2, 3), (2, 3), s) for s in BAD_PARAM_SHAPES_2D],
)
def test_rejects_weight_of_wrong_shape_even_if_broadcastable(func, x_shape, norm, bad):
    with pytest.raises(ValueError, match=name("weight") + mentions(str(norm), str(bad))):
        func(np.zeros(x_shape), norm, weight=np.ones(bad))


@BIAS_FUNCS
@pytest.mark.parametrize(
    ("x_shape", "norm", "bad"),
    [((3, 4), (4,), s) for s in BAD_PARAM_SHAPES_1D]
    + [((5, 2, 3), (2, 3), s) for s in BAD_PARAM_SHAPES_2D],
)
def test_rejects_bias_of_wrong_shape_even_if_broadcastable(func, x_shape, norm, bad):
    with pytest.raises(ValueError, match=name("bias") + mentions(str(norm), str(bad))):
        func(np.zeros(x_shape), norm, weight=np.ones(norm), bias=np.zeros(bad))


@NORM_FUNCS
@pytest.mark.parametrize("eps", [-1e-5, -1.0, float("nan"), float("inf"), -float("inf")])
def test_rejects_negative_or_non_finite_eps(func, eps):
    with pytest.raises(ValueError, match=name("eps")):
        func(np.ones((2, 3)), 3, eps=eps)


@NORM_FUNCS
@pytest.mark.parametrize("eps", ["1e-5", True, 1j, [1e-5]])
def test_rejects_non_real_eps(func, eps):
    with pytest.raises(TypeError, match=name("eps")):
        func(np.ones((2, 3)), 3, eps=eps)


@BIAS_FUNCS
def test_rejects_eps_none_for_layer_norm(func):
    """Only rms_norm gives eps=None a meaning (finfo eps); layer_norm refuses it."""
    with pytest.raises(TypeError, match=name("eps")):
        func(np.ones((2, 3)), 3, eps=None)


NON_FLOAT_DTYPES = [np.int64, np.int32, np.uint8, np.bool_, np.complex64, np.complex128]
NON_FLOAT_DTYPES += [np.object_]


@NORM_FUNCS
@pytest.mark.parametrize("dtype", NON_FLOAT_DTYPES)
def test_rejects_non_float32_or_float64_input(func, dtype):
    """Integer, bool, complex and object x is a TypeError naming x and its dtype (float16
    and bfloat16 are accepted: tested in section 7)."""
    x = np.ones((2, 3), dtype=dtype)
    with pytest.raises(TypeError, match=name("x") + mentions(str(np.dtype(dtype)))):
        func(x, 3)


@NORM_FUNCS
@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.complex128, np.float32])
def test_rejects_weight_of_other_dtype(func, dtype):
    """Non-float weight, or a float weight of another precision than x (float64 here)."""
    with pytest.raises(TypeError, match=name("weight")):
        func(np.ones((2, 3)), 3, weight=np.ones(3, dtype=dtype))


@BIAS_FUNCS
@pytest.mark.parametrize("dtype", [np.int64, np.complex128, np.float32])
def test_rejects_bias_of_other_dtype(func, dtype):
    with pytest.raises(TypeError, match=name("bias")):
        func(np.ones((2, 3)), 3, bias=np.ones(3, dtype=dtype))


@pytest.mark.parametrize("dy_shape", [(2, 4), (3, 2), (6,), (1, 2, 3), (2, 1)])
def test_layer_norm_backward_rejects_dy_of_wrong_shape(dy_shape):
    _, cache = layer_norm_forward(np.ones((2, 3)), 3)
    with pytest.raises(ValueError, match=name("dy") + mentions("(2, 3)", str(dy_shape))):
        layer_norm_backward(np.ones(dy_shape), cache)


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.complex128])
def test_layer_norm_backward_rejects_non_float_dy(dtype):
    _, cache = layer_norm_forward(np.ones((2, 3)), 3)
    with pytest.raises(TypeError, match=name("dy") + mentions(str(np.dtype(dtype)))):
        layer_norm_backward(np.ones((2, 3), dtype=dtype), cache)


def test_layer_norm_backward_rejects_dy_of_another_dtype_than_the_forward():
    # Mixed dtypes would give a float32 dx beside float64 dweight/dbias.
    _, cache = layer_norm_forward(np.ones((2, 3), dtype=np.float32), 3, np.ones(3, np.float32))
    with pytest.raises(TypeError, match=name("dy") + mentions("float64", "float32")):
        layer_norm_backward(np.ones((2, 3)), cache)


@pytest.mark.parametrize("arg", ["running_mean", "running_var"])
def test_batch_norm_training_rejects_running_stats_it_cannot_update_in_place(arg):
    # A list would be copied by np.asarray and the update silently lost.
    stats = {"running_mean": np.zeros(2), "running_var": np.ones(2)}
    stats[arg] = stats[arg].tolist()
    with pytest.raises(TypeError, match=name(arg) + mentions("list")):
        batch_norm(np.random.default_rng(0).standard_normal((4, 2)), training=True, **stats)


@pytest.mark.parametrize("cache", [None, (np.ones((2, 3)), np.ones((2, 1))), {"x_hat": 1}])
def test_layer_norm_backward_rejects_anything_but_a_cache(cache):
    with pytest.raises(TypeError, match=name("cache")):
        layer_norm_backward(np.ones((2, 3)), cache)


@pytest.mark.parametrize("x_shape", [(3,), ()])
def test_batch_norm_rejects_x_with_fewer_than_2_dims(x_shape):
    with pytest.raises(ValueError, match=name("x") + mentions(str(x_shape))):
        batch_norm(np.ones(x_shape), np.zeros(3), np.ones(3))


@pytest.mark.parametrize("arg", ["weight", "bias", "running_mean", "running_var"])
@pytest.mark.parametrize("bad", [(1,), (1, 3), (3, 1), (4,), (2,), ()])
@pytest.mark.parametrize("training", [False, True])
def test_batch_norm_rejects_per_channel_array_of_wrong_shape(arg, bad, training):
    """Every per-channel array must be exactly (C,), even shapes that would broadcast."""
    kwargs = {"running_mean": np.zeros(3), "running_var": np.ones(3)}
    kwargs[arg] = np.ones(bad)
    with pytest.raises(ValueError, match=name(arg) + mentions("(3,)", str(bad))):
        batch_norm(np.ones((4, 3, 2)), training=training, **kwargs)


@pytest.mark.parametrize("x_shape", [(1, 3), (1, 3, 1), (1, 3, 1, 1)])
def test_batch_norm_training_rejects_one_value_per_channel(x_shape):
    """The batch variance of a single value is meaningless (torch refuses it too)."""
    with pytest.raises(ValueError, match=name("x") + mentions(str(x_shape))):
        batch_norm(np.ones(x_shape), np.zeros(3), np.ones(3), training=True)


@pytest.mark.parametrize("missing", ["running_mean", "running_var"])
def test_batch_norm_eval_requires_running_stats(missing):
    kwargs = {"running_mean": np.zeros(3), "running_var": np.ones(3), missing: None}
    with pytest.raises(ValueError, match=name(missing)):
        batch_norm(np.ones((4, 3)), training=False, **kwargs)


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize(
    ("eps", "error"),
    [(-1e-5, ValueError), (float("nan"), ValueError), (float("inf"), ValueError)]
    + [("1e-5", TypeError), (None, TypeError), (True, TypeError)],
)
def test_batch_norm_rejects_bad_eps(training, eps, error):
    with pytest.raises(error, match=name("eps")):
        batch_norm(np.ones((4, 3)), np.zeros(3), np.ones(3), training=training, eps=eps)


@pytest.mark.parametrize(
    ("momentum", "error"),
    [(-0.1, ValueError), (1.5, ValueError), (float("nan"), ValueError)]
    + [("0.1", TypeError), (None, TypeError), (True, TypeError)],
)
def test_batch_norm_rejects_bad_momentum(momentum, error):
    with pytest.raises(error, match=name("momentum")):
        batch_norm(np.ones((4, 3)), np.zeros(3), np.ones(3), training=True, momentum=momentum)


@pytest.mark.parametrize("training", [False, True])
def test_batch_norm_rejects_empty_1d_x_that_torch_accepts(training):
    """A deliberate difference (see the docstring): torch returns an empty result for x of
    shape (0,), unchecked even against running statistics of another length; here it is
    the same error as for any x without a channel axis."""
    stats = [np.zeros(3), np.ones(3)]
    y_torch = F.batch_norm(torch.zeros(0), *map(torch.from_numpy, stats), training=training)
    assert y_torch.shape == (0,)  # torch's behaviour, the one we do not follow
    with pytest.raises(ValueError, match=name("x") + mentions("(N, C, *)", "(0,)")):
        batch_norm(np.zeros(0), *stats, training=training)


@pytest.mark.parametrize("momentum", [-0.5, 1.5, 2.0, float("inf"), -float("inf")])
def test_batch_norm_rejects_momentum_outside_0_1_that_torch_accepts(momentum):
    """A deliberate difference (see the docstring), like a negative eps: torch accepts it."""
    x = np.array([[0.0], [0.1]])  # batch variance 0.005, far below the running 1
    rm, rv = torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    F.batch_norm(torch.from_numpy(x), rm, rv, training=True, momentum=momentum)
    if momentum == 2.0:
        # Why we refuse: the "average" extrapolates to a negative variance, and evaluation
        # with it is NaN.
        assert float(rv[0]) < 0
        assert torch.isnan(F.batch_norm(torch.from_numpy(x), rm, rv, training=False)).all()
    with pytest.raises(ValueError, match=name("momentum") + mentions("[0, 1]")):
        batch_norm(x, np.zeros(1), np.ones(1), training=True, momentum=momentum)


@pytest.mark.parametrize("momentum", [0.0, 1.0])
def test_batch_norm_momentum_at_the_ends_of_0_1_matches_torch(momentum):
    """The interval is closed: 0 keeps the running statistics, 1 replaces them."""
    g = np.random.default_rng(31)
    x = g.standard_normal((5, 3))
    rm, rv = g.standard_normal(3), 1 + g.random(3)
    rm_t, rv_t = torch.tensor(rm), torch.tensor(rv)  # copies
    y_ref = F.batch_norm(torch.from_numpy(x), rm_t, rv_t, training=True, momentum=momentum)
    y = batch_norm(x, rm, rv, training=True, momentum=momentum)
    assert_close(y, y_ref.numpy())
    assert_close(rm, rm_t.numpy())
    assert_close(rv, rv_t.numpy())


@pytest.mark.parametrize("dtype", [*NON_FLOAT_DTYPES, np.float16, ml_dtypes.bfloat16])
def test_batch_norm_rejects_non_float32_or_float64_input(dtype):
    with pytest.raises(TypeError, match=name("x") + mentions(str(np.dtype(dtype)))):
        batch_norm(np.ones((4, 3), dtype=dtype), np.zeros(3), np.ones(3))


@pytest.mark.parametrize("arg", ["weight", "bias", "running_mean", "running_var"])
def test_batch_norm_rejects_per_channel_array_of_other_dtype(arg):
    kwargs = {"running_mean": np.zeros(3), "running_var": np.ones(3)}
    kwargs[arg] = np.ones(3, dtype=np.float32)
    with pytest.raises(TypeError, match=name(arg)):
        batch_norm(np.ones((4, 3)), **kwargs)


# --------------------------------------------------------------------------------------------
# 6. float32 numerics, special values, empty batches, dtypes
# --------------------------------------------------------------------------------------------


def test_layer_norm_float32_large_offset_accurate_where_naive_formula_fails():
    """1e4 + noise in float32: float32-accurate, while E[x^2] - E[x]^2 is not.

    The reference is torch in float64 on the *same* float32 values, so the rounding of the
    data itself does not count. The naive one-pass variance is computed in the test (not by
    the code under test) to show that this data really separates the two algorithms.
    """
    rng = np.random.default_rng(2024)
    x = (1e4 + rng.standard_normal((8, 1024))).astype(np.float32)
    ref = as_np(F.layer_norm(torch.from_numpy(x).double(), (1024,), eps=1e-5))

    y = layer_norm(x, 1024)
    assert y.dtype == np.float32
    assert max_abs_err(y, ref) < 1e-5

    mean = x.mean(axis=-1, keepdims=True, dtype=np.float32)
    var = (x * x).mean(axis=-1, keepdims=True, dtype=np.float32) - mean * mean
    with np.errstate(invalid="ignore", divide="ignore"):
        naive = (x - mean) / np.sqrt(var + np.float32(1e-5))
    assert max_abs_err(naive, ref) > 1e-2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("const", [0.0, 0.1, -3.7, 1e4, 1e-30, 123456.789])
@pytest.mark.parametrize("norm", [(16,), (3, 5)])
def test_layer_norm_constant_example_gives_exactly_bias(dtype, const, norm):
    """x_hat of a constant example is 0/sqrt(eps) = 0 exactly, so y = bias bit for bit.

    The batch mixes constant and random examples; only the constant ones are checked.
    """
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, *norm)).astype(dtype)
    x[1] = dtype(const)
    x[3] = dtype(const)
    w = rng.standard_normal(norm).astype(dtype)
    b = rng.standard_normal(norm).astype(dtype)

    y = layer_norm(x, norm, w, b)
    assert y.dtype == dtype
    assert np.all(np.isfinite(y))
    np.testing.assert_array_equal(y[1], b)
    np.testing.assert_array_equal(y[3], b)
    y_no_affine = layer_norm(x, norm)
    np.testing.assert_array_equal(y_no_affine[1], np.zeros(norm, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_nan_stays_in_its_own_example(dtype):
    """A NaN poisons its example (row 2) only; the other rows equal torch's float64 result."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((5, 8)).astype(dtype)
    x[2, 3] = np.nan
    w, b = (rng.standard_normal(8).astype(dtype) for _ in range(2))
    y = layer_norm(x, 8, w, b)
    ref = as_np(
        F.layer_norm(
            torch.from_numpy(x).double(), (8,), torch.tensor(w).double(), torch.tensor(b).double()
        )
    )
    assert np.all(np.isnan(y[2]))
    keep = [0, 1, 3, 4]
    tol = {"rtol": RTOL, "atol": ATOL} if dtype == np.float64 else {"rtol": 0, "atol": 1e-5}
    assert_close(y[keep].astype(np.float64), ref[keep], **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape", [(0, 5), (3, 0, 5), (0, 2, 5)])
def test_zero_size_batch_gives_empty_results_of_right_shape_and_dtype(dtype, x_shape):
    """No examples: empty y and dx, zero dweight/dbias (an empty sum), as torch returns."""
    x = np.ones(x_shape, dtype=dtype)
    w, b = np.ones(5, dtype=dtype), np.zeros(5, dtype=dtype)

    y, cache = layer_norm_forward(x, 5, w, b)
    assert (y.shape, y.dtype) == (x_shape, dtype)
    assert cache.mean.shape == cache.rstd.shape == x_shape[:-1] + (1,)
    dx, dw, db = layer_norm_backward(np.ones(x_shape, dtype=dtype), cache)
    assert (dx.shape, dx.dtype) == (x_shape, dtype)
    for g in (dw, db):
        assert (g.shape, g.dtype) == ((5,), dtype)
        np.testing.assert_array_equal(g, np.zeros(5, dtype))

    y = rms_norm(x, 5, w)
    assert (y.shape, y.dtype) == (x_shape, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_eval_zero_size_batch_gives_empty_result(dtype):
    x = np.ones((0, 3, 2), dtype=dtype)
    y = batch_norm(x, np.zeros(3, dtype), np.ones(3, dtype))
    assert (y.shape, y.dtype) == ((0, 3, 2), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [False, True])
def test_output_dtype_equals_input_dtype(dtype, affine):
    """Every function returns x's dtype: float32 must not be promoted to float64."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3, 2)).astype(dtype)
    ones, zeros = np.ones((3, 2), dtype), np.zeros((3, 2), dtype)
    w, b = (ones, zeros) if affine else (None, None)

    assert layer_norm(x, (3, 2), w, b).dtype == dtype
    y, cache = layer_norm_forward(x, (3, 2), w, b, eps=0.1)
    assert y.dtype == cache.x_hat.dtype == cache.mean.dtype == cache.rstd.dtype == dtype
    dx, dw, db = layer_norm_backward(np.ones_like(x), cache)
    assert dx.dtype == dtype
    assert all(g is None or g.dtype == dtype for g in (dw, db))
    assert rms_norm(x, (3, 2), w).dtype == dtype
    assert rms_norm(x, (3, 2), w, eps=1e-3).dtype == dtype

    c = np.ones(3, dtype) if affine else None
    rm, rv = np.zeros(3, dtype), np.ones(3, dtype)
    assert batch_norm(x, rm, rv, c, c, training=True).dtype == dtype
    assert rm.dtype == rv.dtype == dtype
    assert batch_norm(x, rm, rv, c, c, training=False).dtype == dtype


@pytest.mark.parametrize("eps", [None, 1e-5])
def test_rms_norm_float32_matches_torch_float64(eps):
    """float32 rms_norm within ~1e-5 of torch in float64 on the same float32 data.

    eps=None means finfo(float32).eps for the float32 input, so the float64 oracle gets
    that value explicitly.
    """
    rng = np.random.default_rng(8)
    x = (3.0 + 2.0 * rng.standard_normal((6, 4, 32))).astype(np.float32)
    w = rng.standard_normal((4, 32)).astype(np.float32)
    y = rms_norm(x, (4, 32), w, eps)
    assert y.dtype == np.float32
    ref_eps = float(np.finfo(np.float32).eps) if eps is None else eps
    ref = F.rms_norm(torch.from_numpy(x).double(), (4, 32), torch.from_numpy(w).double(), ref_eps)
    assert max_abs_err(y, as_np(ref)) < 1e-5


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("shape", [(16, 3), (8, 3, 10), (4, 3, 5, 6)])
def test_batch_norm_float32_matches_torch_float64(training, shape):
    """float32 batch_norm (output and updated running stats) within ~1e-5 of float64 torch."""
    rng = np.random.default_rng(9)
    x = (5.0 + 2.0 * rng.standard_normal(shape)).astype(np.float32)
    w, b, rm = (rng.standard_normal(3).astype(np.float32) for _ in range(3))
    rv = rng.uniform(0.5, 2.0, 3).astype(np.float32)
    rm_t, rv_t = torch.from_numpy(rm).double(), torch.from_numpy(rv).double()  # copies

    y = batch_norm(x, rm, rv, w, b, training, 0.3, 1e-5)
    assert y.dtype == np.float32
    y_ref = F.batch_norm(
        torch.from_numpy(x).double(),
        rm_t,
        rv_t,
        torch.from_numpy(w).double(),
        torch.from_numpy(b).double(),
        training,
        0.3,
        1e-5,
    )
    assert max_abs_err(y, as_np(y_ref)) < 1e-5
    assert max_abs_err(rm, as_np(rm_t)) < 1e-5
    assert max_abs_err(rv, as_np(rv_t)) < 1e-5


def test_batch_norm_float32_large_offset_keeps_full_accuracy():
    # Same shift as layer norm: 1e4 + noise in float32 is normalized to float32 precision.
    x = (1e4 + np.random.default_rng(0).standard_normal((64, 8))).astype(np.float32)
    ref = F.batch_norm(torch.tensor(x, dtype=torch.float64), None, None, training=True).numpy()
    rm, rv = np.zeros(8, np.float32), np.ones(8, np.float32)
    y = batch_norm(x, rm, rv, training=True)
    assert np.abs(y - ref).max() < 1e-5
    np.testing.assert_allclose(rm, 0.1 * x.astype(np.float64).mean(0), rtol=1e-6)


# ---------------------------------------------------------------- group and instance norm --

from lnbook.numpy_ln import group_norm, instance_norm  # noqa: E402


@st.composite
def group_norm_cases(draw):
    n = draw(st.integers(0, 3))
    groups = draw(st.integers(1, 3))
    c = groups * draw(st.integers(1, 3))
    spatial = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=2)))
    assume((c // groups) * math.prod(spatial) > 1)  # one value per group: refused (below)
    affine = draw(st.booleans())
    eps = draw(st.sampled_from([1e-5, 1e-2, 1.0]))
    return (n, c) + spatial, groups, affine, eps


@PROPERTY
@given(group_norm_cases())
def test_group_norm_matches_torch_random_shapes(case):
    shape, groups, affine, eps = case
    rng = np.random.default_rng(len(shape) + groups)
    x = rng.normal(2.0, 3.0, size=shape)
    w = rng.standard_normal(shape[1]) if affine else None
    b = rng.standard_normal(shape[1]) if affine else None

    def t(a):
        return None if a is None else torch.tensor(a)

    expected = F.group_norm(torch.tensor(x), groups, t(w), t(b), eps=eps).numpy()
    np.testing.assert_allclose(group_norm(x, groups, w, b, eps), expected, rtol=RTOL, atol=1e-10)


def test_group_norm_extremes_are_layer_norm_and_instance_norm():
    # Wu and He (2018): one group is layer norm over (C, H, W); C groups is instance norm.
    x = np.random.default_rng(3).standard_normal((4, 6, 3, 5))
    one = F.layer_norm(torch.tensor(x), (6, 3, 5)).numpy()
    np.testing.assert_allclose(group_norm(x, 1), one, atol=1e-12)
    each = F.instance_norm(torch.tensor(x)).numpy()
    np.testing.assert_allclose(group_norm(x, 6), each, atol=1e-12)
    np.testing.assert_allclose(instance_norm(x), each, atol=1e-12)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda x: group_norm(x, 4), ValueError, r"num_groups.*6 channels.*\(2, 6, 3\).*4"),
        (lambda x: group_norm(x, 0), ValueError, "num_groups"),
        (lambda x: group_norm(x, 2.0), TypeError, "num_groups must be an int"),
        (lambda x: group_norm(x[0, 0], 1), ValueError, r"\(N, C, \*\).*\(3,\)"),
        (lambda x: group_norm(x, 2, np.ones(3)), ValueError, r"weight must have shape \(6,\)"),
        (lambda x: group_norm(x, 2, eps=-1.0), ValueError, "eps"),
        (lambda x: group_norm(x.astype(int), 2), TypeError, "x must be a float32"),
        (lambda x: instance_norm(x[:, :, 0]), ValueError, r"at least 3 dimensions.*\(2, 6\)"),
        (lambda x: instance_norm(x[:, :, :1]), ValueError, r"more than 1 value per group"),
    ],
)
def test_group_and_instance_norm_reject_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call(np.ones((2, 6, 3)))


# --------------------------------------------------------------------------------------------
# The fast layer_norm: blocks of rows, out=, accuracy on offset float32 data
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, normalized_shape",
    [
        ((1000, 130), (130,)),  # several blocks of rows, the last one partial
        ((3, 40000), (40000,)),  # one row is larger than a block
        ((7, 5, 4, 9), (4, 9)),  # two normalized axes, two batch axes
        ((0, 16), (16,)),  # no rows at all
    ],
)
def test_layer_norm_blocks_match_torch(shape, normalized_shape):
    rng = np.random.default_rng(5)
    x = rng.normal(3.0, 2.0, size=shape)
    w, b = rng.normal(size=normalized_shape), rng.normal(size=normalized_shape)
    expected = F.layer_norm(torch.tensor(x), normalized_shape, torch.tensor(w), torch.tensor(b))
    np.testing.assert_allclose(
        layer_norm(x, normalized_shape, w, b), expected.numpy(), rtol=0, atol=1e-12
    )


def test_layer_norm_writes_into_out_and_in_place():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((50, 12)).astype(np.float32)
    expected = layer_norm(x, 12)
    out = np.full_like(x, np.nan)
    assert layer_norm(x, 12, out=out) is out
    np.testing.assert_array_equal(out, expected)
    y = x.copy()
    assert layer_norm(y, 12, out=y) is y  # in place
    np.testing.assert_array_equal(y, expected)
    # A non-contiguous input is copied, the output still goes where asked.
    xt = np.asfortranarray(x)
    np.testing.assert_array_equal(layer_norm(xt, 12, out=out), expected)


@pytest.mark.parametrize(
    "out, error, match",
    [
        (np.empty((50, 11), np.float32), ValueError, r"x's shape \(50, 12\) and dtype float32"),
        (np.empty((50, 12), np.float64), ValueError, "dtype float64"),
        (np.empty((12, 50), np.float32).T, ValueError, "C-contiguous"),
        ([[0.0] * 12] * 50, TypeError, "NumPy array, got list"),
    ],
)
def test_layer_norm_rejects_a_bad_out(out, error, match):
    x = np.ones((50, 12), np.float32)
    with pytest.raises(error, match=match):
        layer_norm(x, 12, out=out)


def test_layer_norm_rejects_an_out_that_overlaps_x_partly():
    buf = np.zeros(13 * 12, np.float32)
    x = buf[:144].reshape(12, 12)
    with pytest.raises(ValueError, match="overlaps x only partly"):
        layer_norm(x, 12, out=buf[12:].reshape(12, 12))


def test_layer_norm_is_accurate_on_offset_float32_where_torch_is_not():
    # Unit-variance rows on an offset of 1e4: float32 keeps ~3 decimals of each value, and a
    # kernel that rounds the mean to float32 errs by ~1e-3 in x_hat. The reference is the
    # same float32 numbers normalized in float64.
    rng = np.random.default_rng(7)
    x = (1e4 + rng.standard_normal((512, 1024))).astype(np.float32)
    ref = F.layer_norm(torch.tensor(x, dtype=torch.float64), (1024,)).numpy()
    ours = np.abs(layer_norm(x, 1024) - ref).max()
    theirs = np.abs(F.layer_norm(torch.tensor(x), (1024,)).numpy() - ref).max()
    assert ours < 5e-6
    assert theirs > 100 * ours  # the chapter's claim: at least 100 times more accurate
    # With a first value far from the mean (the case a shift by x[0] would not help).
    x[:, 0] = 0.0
    ref = F.layer_norm(torch.tensor(x, dtype=torch.float64), (1024,)).numpy()
    assert np.abs(layer_norm(x, 1024) - ref).max() < 1e-4


def test_layer_norm_of_constant_rows_is_the_bias():
    x = np.full((3, 8), 1e4, np.float32)
    b = np.arange(8, dtype=np.float32)
    np.testing.assert_array_equal(layer_norm(x, 8, bias=b), np.broadcast_to(b, (3, 8)))


def test_layer_norm_of_a_row_does_not_depend_on_the_other_rows_bit_for_bit():
    # Batch invariance: the same row gives the same bits alone, in a small batch or in a
    # large one, at any position (what generation one token at a time relies on).
    rng = np.random.default_rng(8)
    x = (5.0 + rng.standard_normal((300, 1000))).astype(np.float32)
    full = layer_norm(x, 1000)
    for start, size in [(0, 1), (7, 1), (5, 3), (64, 65), (299, 1), (10, 290)]:
        np.testing.assert_array_equal(
            layer_norm(x[start : start + size], 1000), full[start : start + size]
        )


# --------------------------------------------------------------------------------------------
# 7. float16 and bfloat16 (issue 17): float32 statistics, results in the input's dtype
# --------------------------------------------------------------------------------------------

HALF = {"float16": (np.float16, torch.float16), "bfloat16": (ml_dtypes.bfloat16, torch.bfloat16)}


def to_torch(a: np.ndarray | None, dtype: torch.dtype | None = None) -> torch.Tensor | None:
    """A half array as a torch tensor of the same values (through float32: exact)."""
    if a is None:
        return None
    t = torch.from_numpy(np.asarray(a, dtype=np.float32).copy())
    same = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
    return t.to(dtype or same[a.dtype.name])


def half_ulps(actual: np.ndarray, exact: torch.Tensor, name_: str) -> float:
    """The largest error of ``actual`` in ulps of its dtype (tolerances.half_atol units)."""
    err = (torch.from_numpy(actual.astype(np.float64)) - exact.double()).abs()
    return float((err / half_atol(name_, exact)).max())


def half_inputs(name_, mixed, seed, loc=3.0, d=48):
    np_dtype = HALF[name_][0]
    p_dtype = np.float32 if mixed else np_dtype
    rng = np.random.default_rng(seed)
    x = (loc + rng.standard_normal((2, 5, d))).astype(np_dtype)
    w = (1 + 0.3 * rng.standard_normal(d)).astype(p_dtype)
    b = (0.2 * rng.standard_normal(d)).astype(p_dtype)
    dy = rng.standard_normal(x.shape).astype(np_dtype)
    return x, w, b, dy


@pytest.mark.parametrize("name_", list(HALF))
@pytest.mark.parametrize("mixed", [False, True], ids=["params-in-x-dtype", "params-float32"])
def test_half_layer_norm_matches_torch_and_float64(name_, mixed):
    """layer_norm, layer_norm_forward/backward and rms_norm on float16/bfloat16 arrays:

    within about half an ulp of float64 (F.layer_norm on the same rounded values), and
    within one ulp of torch run in float32 on them (its kernels' arithmetic) and, for the
    forward, of torch run in the half dtype. Outputs and dx in x's dtype, dweight and
    dbias in the parameters' (float32 beside a half x when they are float32).
    """
    x, w, b, dy = half_inputs(name_, mixed, seed=50)
    leaves = [to_torch(a, torch.float64).requires_grad_() for a in (x, w, b)]
    exact = F.layer_norm(leaves[0], (48,), leaves[1], leaves[2])
    exact.backward(to_torch(dy, torch.float64))
    in32 = [to_torch(a, torch.float32).requires_grad_() for a in (x, w, b)]
    y32 = F.layer_norm(in32[0], (48,), in32[1], in32[2])
    y32.backward(to_torch(dy, torch.float32))
    y_half = F.layer_norm(to_torch(x), (48,), to_torch(w), to_torch(b))

    y_fast = layer_norm(x, 48, w, b)
    y, cache = layer_norm_forward(x, 48, w, b)
    dx, dw, db = layer_norm_backward(dy, cache)
    assert y_fast.dtype == y.dtype == dx.dtype == x.dtype
    assert dw.dtype == db.dtype == w.dtype
    for ours in (y_fast, y):
        assert half_ulps(ours, exact.detach(), name_) <= 0.55
        assert half_ulps(ours, y32.detach(), name_) <= 1
        assert half_ulps(ours, y_half.float(), name_) <= 1
    for ours, ex, t32 in zip((dx, dw, db), leaves, in32, strict=True):
        assert half_ulps(ours, ex.grad, name_) <= 0.6
        assert half_ulps(ours, t32.grad, name_) <= 1

    # RMSNorm: eps=None is float32's eps for a half x, as in torch.
    r = rms_norm(x, 48, w)
    assert r.dtype == x.dtype
    r_exact = F.rms_norm(leaves[0].detach(), (48,), leaves[1].detach(), eps=2.0**-23)
    assert half_ulps(r, r_exact, name_) <= 0.55
    assert half_ulps(r, F.rms_norm(to_torch(x), (48,), to_torch(w)).float(), name_) <= 1


@pytest.mark.parametrize("name_", list(HALF))
def test_half_layer_norm_writes_into_out_of_the_half_dtype(name_):
    x, w, b, _ = half_inputs(name_, False, seed=51)
    out = np.empty_like(x)
    assert layer_norm(x, 48, w, b, out=out) is out
    np.testing.assert_array_equal(out, layer_norm(x, 48, w, b))
    with pytest.raises(ValueError, match=name("out")):
        layer_norm(x, 48, out=np.empty(x.shape, np.float32))


def test_float16_input_whose_square_overflows_is_normalized_finitely():
    """|x| ~ 300: x*x overflows float16 (max 65504); the float32 statistics do not."""
    rng = np.random.default_rng(52)
    x = (300 * rng.standard_normal((4, 64))).astype(np.float16)
    with np.errstate(over="ignore"):
        assert np.isinf(x * x).any()  # the data does overflow when squared in float16
    exact = F.layer_norm(to_torch(x, torch.float64), (64,))
    for y in (layer_norm(x, 64), layer_norm_forward(x, 64)[0]):
        assert np.isfinite(y).all()
        assert half_ulps(y, exact, "float16") <= 0.55
    r_exact = F.rms_norm(to_torch(x, torch.float64), (64,), eps=2.0**-23)
    assert half_ulps(rms_norm(x, 64), r_exact, "float16") <= 0.55


@pytest.mark.parametrize(
    ("x_dtype", "w_dtype", "b_dtype", "bad"),
    [
        (np.float16, np.float64, None, "weight"),
        (ml_dtypes.bfloat16, np.float16, None, "weight"),
        (np.float32, np.float16, None, "weight"),
        (np.float16, np.float32, np.float16, "bias"),
        (np.float16, np.float16, np.float32, "bias"),
    ],
)
def test_half_rejects_parameters_of_another_dtype(x_dtype, w_dtype, b_dtype, bad):
    """Parameters in x's dtype, or both float32 beside a half x (F.layer_norm's rule)."""
    x = np.ones((2, 3), x_dtype)
    b = None if b_dtype is None else np.zeros(3, b_dtype)
    with pytest.raises(TypeError, match=name(bad)):
        layer_norm(x, 3, np.ones(3, w_dtype), b)
    with pytest.raises(TypeError, match=name(bad)):
        layer_norm_forward(x, 3, np.ones(3, w_dtype), b)


def test_half_backward_refuses_dy_of_another_dtype():
    _, cache = layer_norm_forward(np.ones((2, 3), np.float16), 3)
    with pytest.raises(TypeError, match=name("dy") + mentions("float32", "float16")):
        layer_norm_backward(np.ones((2, 3), np.float32), cache)
