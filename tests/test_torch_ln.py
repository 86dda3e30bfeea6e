"""Tests of ``lnbook.torch_ln`` against torch's own implementations.

* ``torch.nn.functional.layer_norm`` / ``rms_norm`` and ``torch.nn.LayerNorm`` / ``RMSNorm`` in
  float64 are the oracle for outputs and autograd gradients;
* ``torch.autograd.gradcheck`` (finite differences) checks the hand-written backward passes;
* closed forms cover the special cases (a constant example normalizes to exactly ``bias``).

No expected value is computed with the code under test.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tolerances import ATOL, RTOL, condition_scale, forward_atol, grad_atol, half_atol
from torch import nn

from lnbook import torch_ln
from lnbook.torch_ln import LayerNorm, LayerNormFunction, RMSNorm, RMSNormFunction

# deadline=None: the first example pays for torch's lazy initialisation.
PROPERTY = settings(max_examples=60, deadline=None)
F64 = torch.float64


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def name(arg: str) -> str:
    """A regex requiring ``arg`` as a whole word (``x`` must not match inside ``max``)."""
    return rf"(?s)(?=.*\b{re.escape(arg)}\b)"


def mentions(*parts: str) -> str:
    """A regex requiring every part, in any order (used after :func:`name`)."""
    return "".join(f"(?=.*{re.escape(p)})" for p in parts)


def assert_close(actual, expected, *, rtol=RTOL, atol=ATOL) -> None:
    """Same shape, dtype and values; NaN is never equal to anything here."""
    assert isinstance(actual, torch.Tensor), type(actual)
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=False)


@dataclass(frozen=True)
class Case:
    batch: tuple[int, ...]
    norm: tuple[int, ...]
    form: str  # how normalized_shape is passed: "tuple", "list", "size" or "int"
    has_weight: bool
    has_bias: bool
    eps: float | None
    loc: float
    scale: float
    seed: int

    @property
    def normalized_shape(self):
        return {
            "tuple": self.norm,
            "list": list(self.norm),
            "size": torch.Size(self.norm),
            "int": self.norm[0],
        }[self.form]

    @property
    def dims(self) -> tuple[int, ...]:
        n = len(self.batch) + len(self.norm)
        return tuple(range(len(self.batch), n))

    def tensors(self):
        """x, weight, bias (None where absent) and dy; leaves that require grad."""
        g = torch.Generator().manual_seed(self.seed)
        x = self.loc + self.scale * torch.randn(self.batch + self.norm, generator=g, dtype=F64)
        w = torch.randn(self.norm, generator=g, dtype=F64) if self.has_weight else None
        b = torch.randn(self.norm, generator=g, dtype=F64) if self.has_bias else None
        dy = torch.randn(x.shape, generator=g, dtype=F64)
        return x, w, b, dy


@st.composite
def cases(draw, eps_values=(0.0, 1e-5, 1e-2, 1.0)):
    """Batch dims 0..3 (sizes 0..4, so zero-size batches too), normalized dims 1..3 (1..6)."""
    batch = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    norm = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    forms = ["tuple", "list", "size"] + (["int"] if len(norm) == 1 else [])
    eps = draw(st.sampled_from(eps_values))
    # eps = 0 with a single normalized value is 0/0 for layer norm: not meaningful.
    assume(not (eps == 0.0 and math.prod(norm) == 1))
    return Case(
        batch=batch,
        norm=norm,
        form=draw(st.sampled_from(forms)),
        has_weight=draw(st.booleans()),
        has_bias=draw(st.booleans()),
        eps=eps,
        loc=draw(st.sampled_from([0.0, 10.0])),
        scale=draw(st.sampled_from([1.0, 0.01])),
        seed=draw(st.integers(0, 2**63 - 1)),
    )


def forward_and_grads(fn, x, params, dy):
    """Run ``fn(x, *params)`` on fresh leaves; return y and the grads of x and each param."""
    leaves = [None if t is None else t.detach().clone().requires_grad_(True) for t in (x, *params)]
    y = fn(*leaves)
    inputs = [t for t in leaves if t is not None]
    grads = iter(torch.autograd.grad(y, inputs, dy))
    return y.detach(), [None if t is None else next(grads) for t in leaves]


def layer_norm_rstd(x: torch.Tensor, dims, eps: float) -> torch.Tensor:
    xc = x - x.mean(dim=dims, keepdim=True)
    return torch.rsqrt((xc * xc).mean(dim=dims, keepdim=True) + eps)


# --------------------------------------------------------------------------------------------
# 1. torch.nn.functional as the oracle: forward and backward over random shapes
# --------------------------------------------------------------------------------------------


@PROPERTY
@given(case=cases())
def test_layer_norm_matches_functional_forward_and_grads_random_shapes(case):
    """y and the grads of x, weight, bias equal F.layer_norm's for the same dy."""
    x, w, b, dy = case.tensors()
    y_ref, g_ref = forward_and_grads(
        lambda x_, w_, b_: F.layer_norm(x_, case.norm, w_, b_, case.eps), x, (w, b), dy
    )
    y, g = forward_and_grads(
        lambda x_, w_, b_: torch_ln.layer_norm(x_, case.normalized_shape, w_, b_, case.eps),
        x,
        (w, b),
        dy,
    )
    cond = condition_scale(x, layer_norm_rstd(x, case.dims, case.eps))
    assert_close(y, y_ref, atol=forward_atol(cond))
    for got, ref in zip(g, g_ref, strict=True):
        if ref is None:
            assert got is None
        else:
            assert_close(got, ref, atol=grad_atol(cond))


@PROPERTY
@given(case=cases(eps_values=(None, 0.0, 1e-5, 1e-2, 1.0)))
def test_rms_norm_matches_functional_forward_and_grads_random_shapes(case):
    """y and the grads of x and weight equal F.rms_norm's (eps=None: finfo(float64).eps)."""
    x, w, _, dy = case.tensors()
    y_ref, g_ref = forward_and_grads(
        lambda x_, w_: F.rms_norm(x_, case.norm, w_, case.eps), x, (w,), dy
    )
    y, g = forward_and_grads(
        lambda x_, w_: torch_ln.rms_norm(x_, case.normalized_shape, w_, case.eps), x, (w,), dy
    )
    eps = torch.finfo(F64).eps if case.eps is None else case.eps
    r = torch.rsqrt((x * x).mean(dim=case.dims, keepdim=True) + eps)
    cond = condition_scale(x, r)
    assert_close(y, y_ref, atol=forward_atol(cond))
    for got, ref in zip(g, g_ref, strict=True):
        if ref is None:
            assert got is None
        else:
            assert_close(got, ref, atol=grad_atol(cond))


@pytest.mark.parametrize("fn", [torch_ln.layer_norm, torch_ln.rms_norm])
def test_grad_only_for_inputs_that_require_it(fn):
    """A frozen weight (requires_grad=False) gets no grad; x still gets the right one."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, dtype=F64, generator=g, requires_grad=True)
    w = torch.randn(5, dtype=F64, generator=g)
    ref_fn = F.layer_norm if fn is torch_ln.layer_norm else F.rms_norm
    (dx,) = torch.autograd.grad(fn(x, 5, w).sum(), x)
    (dx_ref,) = torch.autograd.grad(ref_fn(x, (5,), w).sum(), x)
    assert_close(dx, dx_ref)
    assert w.grad is None


# --------------------------------------------------------------------------------------------
# 3. gradcheck and the hand-written backward actually being used
# --------------------------------------------------------------------------------------------

GRADCHECK_SHAPES = [
    ((4,), (4,)),  # no batch dims: x.ndim == len(normalized_shape)
    ((2, 3), (2, 3)),  # no batch dims, two normalized dims
    ((3, 4), (4,)),
    ((2, 3, 4), (3, 4)),
    ((2, 1, 3), (3,)),
]


@pytest.mark.parametrize(("x_shape", "norm"), GRADCHECK_SHAPES)
@pytest.mark.parametrize(
    ("has_weight", "has_bias"), list(itertools.product([False, True], repeat=2))
)
@pytest.mark.parametrize("eps", [1e-5, 1.0])
def test_layer_norm_passes_gradcheck(x_shape, norm, has_weight, has_bias, eps):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(x_shape, dtype=F64, generator=g, requires_grad=True)
    w = torch.randn(norm, dtype=F64, generator=g, requires_grad=True) if has_weight else None
    b = torch.randn(norm, dtype=F64, generator=g, requires_grad=True) if has_bias else None
    inputs = tuple(t for t in (x, w, b) if t is not None)

    def fn(*args):
        it = iter(args)
        x_ = next(it)
        w_ = next(it) if has_weight else None
        b_ = next(it) if has_bias else None
        return torch_ln.layer_norm(x_, norm, w_, b_, eps)

    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize(("x_shape", "norm"), GRADCHECK_SHAPES)
@pytest.mark.parametrize("has_weight", [False, True])
@pytest.mark.parametrize("eps", [None, 1e-5, 1.0])
def test_rms_norm_passes_gradcheck(x_shape, norm, has_weight, eps):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(x_shape, dtype=F64, generator=g, requires_grad=True)
    w = torch.randn(norm, dtype=F64, generator=g, requires_grad=True) if has_weight else None
    if has_weight:
        assert torch.autograd.gradcheck(
            lambda x_, w_: torch_ln.rms_norm(x_, norm, w_, eps), (x, w), eps=1e-6, atol=1e-8
        )
    else:
        assert torch.autograd.gradcheck(
            lambda x_: torch_ln.rms_norm(x_, norm, None, eps), (x,), eps=1e-6, atol=1e-8
        )


@pytest.mark.parametrize("with_affine", [False, True])
def test_no_batch_dims_weight_grad_has_normalized_shape(with_affine):
    """x.ndim == len(normalized_shape): dweight is dy * x_hat itself, not its total sum.

    (Tensor.sum(dim=()) would sum over *every* dim.) Compared with F.layer_norm's grads.
    """
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, dtype=F64, generator=g)
    w, b = torch.randn(2, 3, dtype=F64, generator=g), torch.randn(2, 3, dtype=F64, generator=g)
    dy = torch.randn(2, 3, dtype=F64, generator=g)
    params = (w, b) if with_affine else (None, None)
    _, g_ref = forward_and_grads(lambda *a: F.layer_norm(a[0], (2, 3), *a[1:]), x, params, dy)
    _, g_got = forward_and_grads(
        lambda *a: torch_ln.layer_norm(a[0], (2, 3), *a[1:]), x, params, dy
    )
    for got, ref in zip(g_got, g_ref, strict=True):
        if ref is None:
            assert got is None
        else:
            assert got.shape == ref.shape
            assert_close(got, ref)
    # RMSNorm's weight grad, the same way.
    _, (_, dw_ref) = forward_and_grads(lambda x_, w_: F.rms_norm(x_, (2, 3), w_), x, (w,), dy)
    _, (_, dw) = forward_and_grads(lambda x_, w_: torch_ln.rms_norm(x_, (2, 3), w_), x, (w,), dy)
    assert_close(dw, dw_ref)


@pytest.mark.parametrize(
    ("fn", "function_cls"),
    [
        (lambda x, w: torch_ln.layer_norm(x, 4, w, torch.zeros_like(w)), LayerNormFunction),
        (lambda x, w: torch_ln.rms_norm(x, 4, w), RMSNormFunction),
        (lambda x, w: LayerNorm(4, dtype=F64)(x), LayerNormFunction),
        (lambda x, w: RMSNorm(4, dtype=F64)(x), RMSNormFunction),
    ],
    ids=["layer_norm", "rms_norm", "LayerNorm", "RMSNorm"],
)
def test_hand_written_backward_is_the_one_used(monkeypatch, fn, function_cls):
    """The graph node is our autograd.Function, and backward() runs its backward once."""
    calls = []
    original = function_cls.backward

    def spy(ctx, dy, *grads_of_saved_outputs):
        calls.append(dy.shape)
        return original(ctx, dy, *grads_of_saved_outputs)

    monkeypatch.setattr(function_cls, "backward", staticmethod(spy))
    x = torch.randn(3, 4, dtype=F64, requires_grad=True)
    w = torch.randn(4, dtype=F64, requires_grad=True)
    y = fn(x, w)
    assert function_cls.__name__ in type(y.grad_fn).__name__
    y.sum().backward()
    assert calls == [torch.Size([3, 4])]


# --------------------------------------------------------------------------------------------
# 4. modules: drop-in replacements for torch.nn.LayerNorm / torch.nn.RMSNorm
# --------------------------------------------------------------------------------------------

LN_CONFIGS = [
    {"normalized_shape": ns, "eps": eps, "elementwise_affine": aff, "bias": bias}
    for ns, eps in [(5, 1e-5), ((2, 3), 1e-3), ([4], 0.5)]
    for aff, bias in itertools.product([True, False], repeat=2)
]
RMS_CONFIGS = [
    {"normalized_shape": ns, "eps": eps, "elementwise_affine": aff}
    for ns, eps in [(5, None), ((2, 3), 1e-6), ([4], 0.5)]
    for aff in (True, False)
]
MODULE_PAIRS = [(LayerNorm, nn.LayerNorm, c) for c in LN_CONFIGS] + [
    (RMSNorm, nn.RMSNorm, c) for c in RMS_CONFIGS
]
MODULES = pytest.mark.parametrize(
    ("ours_cls", "torch_cls", "config"),
    MODULE_PAIRS,
    ids=["-".join([o.__name__, *(f"{k}={v}" for k, v in c.items())]) for o, _, c in MODULE_PAIRS],
)


def normalized(config) -> tuple[int, ...]:
    ns = config["normalized_shape"]
    return (ns,) if isinstance(ns, int) else tuple(ns)


def randomize_(module: nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))


@MODULES
def test_module_has_torch_parameters_attributes_and_initial_values(ours_cls, torch_cls, config):
    """Same parameter names, shapes, dtypes and values (1 and 0), same public attributes."""
    ours, ref = ours_cls(**config), torch_cls(**config)
    got = {k: v.detach() for k, v in ours.named_parameters()}
    want = {k: v.detach() for k, v in ref.named_parameters()}
    assert got.keys() == want.keys()
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=0, atol=0)
    assert dict(ours.named_buffers()).keys() == dict(ref.named_buffers()).keys()
    for attr in ("normalized_shape", "eps", "elementwise_affine", "weight", "bias"):
        if hasattr(ref, attr) and attr not in want:
            assert getattr(ours, attr) == getattr(ref, attr), attr  # tuples, floats, None
    assert ours.normalized_shape == ref.normalized_shape == normalized(config)


@MODULES
def test_module_extra_repr_equals_torch(ours_cls, torch_cls, config):
    ours, ref = ours_cls(**config), torch_cls(**config)
    assert ours.extra_repr() == ref.extra_repr()
    assert repr(ours) == repr(ref)  # same class name too, so print(model) reads the same


@MODULES
def test_module_state_dict_loads_both_ways_with_identical_outputs(ours_cls, torch_cls, config):
    """torch -> ours and ours -> torch, strict loading; then both give the same y."""
    x = torch.randn(3, *normalized(config), dtype=F64, generator=torch.Generator().manual_seed(9))
    for src, dst in [
        (torch_cls(**config, dtype=F64), ours_cls(**config, dtype=F64)),
        (ours_cls(**config, dtype=F64), torch_cls(**config, dtype=F64)),
    ]:
        randomize_(src, seed=10)
        dst.load_state_dict(src.state_dict())  # strict: same keys both ways
        loaded, original = dst.state_dict(), src.state_dict()
        assert loaded.keys() == original.keys()
        for k in original:
            assert torch.equal(loaded[k], original[k]), k
        assert_close(dst(x), src(x))


@MODULES
def test_module_reset_parameters_restores_ones_and_zeros(ours_cls, torch_cls, config):
    ours = ours_cls(**config)
    randomize_(ours, seed=12)
    assert all(not torch.all(p == p.detach().round()) for p in ours.parameters())  # modified
    ours.reset_parameters()
    for pname, p in ours.named_parameters():
        fill = torch.ones_like(p) if pname == "weight" else torch.zeros_like(p)
        torch.testing.assert_close(p.detach(), fill, rtol=0, atol=0)
    assert [n for n, _ in ours.named_parameters()] == [
        n for n, _ in torch_cls(**config).named_parameters()
    ]


@MODULES
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_module_dtype_argument_sets_parameter_and_output_dtype(ours_cls, torch_cls, config, dtype):
    ours = ours_cls(**config, dtype=dtype, device="cpu")
    assert all(p.dtype == dtype for p in ours.parameters())
    y = ours(torch.randn(2, *normalized(config), dtype=dtype))
    assert y.dtype == dtype


@MODULES
@pytest.mark.parametrize("batch", [(), (4,), (2, 3), (0, 2)])
def test_module_outputs_and_grads_match_torch_module(ours_cls, torch_cls, config, batch):
    """With the same (random) parameters: same y, same x.grad, same parameter grads."""
    ref = torch_cls(**config, dtype=F64)
    randomize_(ref, seed=13)
    ours = ours_cls(**config, dtype=F64)
    ours.load_state_dict(ref.state_dict())
    g = torch.Generator().manual_seed(14)
    x = torch.randn(*batch, *normalized(config), dtype=F64, generator=g)
    dy = torch.randn(x.shape, dtype=F64, generator=g)

    results = []
    for module in (ours, ref):
        xl = x.clone().requires_grad_(True)
        y = module(xl)
        y.backward(dy)
        results.append((y.detach(), xl.grad, {k: p.grad for k, p in module.named_parameters()}))
    (y, dx, pg), (y_ref, dx_ref, pg_ref) = results
    assert_close(y, y_ref)
    assert_close(dx, dx_ref)
    assert pg.keys() == pg_ref.keys()
    for k in pg_ref:
        assert_close(pg[k], pg_ref[k])


# --------------------------------------------------------------------------------------------
# 5. bad input: errors that name the argument and show the shapes
# --------------------------------------------------------------------------------------------


def _ln(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    return torch_ln.layer_norm(x, normalized_shape, weight, bias, eps)


def _rms(x, normalized_shape, weight=None, bias=None, eps=None):
    assert bias is None, "rms_norm has no bias"
    return torch_ln.rms_norm(x, normalized_shape, weight, eps)


def _ln_module(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Module forward on an x that does not fit the module's normalized_shape."""
    assert weight is None and bias is None
    return LayerNorm(normalized_shape, eps=eps)(x)


def _rms_module(x, normalized_shape, weight=None, bias=None, eps=None):
    assert weight is None and bias is None
    return RMSNorm(normalized_shape, eps=eps)(x)


FUNCS = pytest.mark.parametrize("func", [_ln, _rms], ids=["layer_norm", "rms_norm"])
FUNCS_AND_MODULES = pytest.mark.parametrize(
    "func",
    [_ln, _rms, _ln_module, _rms_module],
    ids=["layer_norm", "rms_norm", "LayerNorm", "RMSNorm"],
)


@FUNCS_AND_MODULES
@pytest.mark.parametrize(
    ("x_shape", "normalized_shape"),
    [((2, 4), (5,)), ((2, 4), 3), ((2, 3, 4), (2, 4)), ((2, 3, 4), (4, 3)), ((4, 2), (4,))],
)
def test_rejects_normalized_shape_not_matching_x(func, x_shape, normalized_shape):
    """The message names normalized_shape and shows both shapes (as tuples)."""
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    with pytest.raises(
        ValueError, match=name("normalized_shape") + mentions(str(ns), str(x_shape))
    ):
        func(torch.zeros(x_shape, dtype=F64), normalized_shape)


@FUNCS_AND_MODULES
@pytest.mark.parametrize(("x_shape", "normalized_shape"), [((4,), (2, 4)), ((), (1,))])
def test_rejects_normalized_shape_longer_than_x_ndim(func, x_shape, normalized_shape):
    with pytest.raises(
        ValueError, match=name("normalized_shape") + mentions(str(normalized_shape), str(x_shape))
    ):
        func(torch.zeros(x_shape, dtype=F64), normalized_shape)


@FUNCS_AND_MODULES
@pytest.mark.parametrize(
    ("normalized_shape", "error"),
    [((), ValueError), ([], ValueError), (torch.Size([]), ValueError), ((0,), ValueError)]
    + [((2, -1), ValueError), (True, TypeError), ("3", TypeError), (3.0, TypeError)]
    + [((3.0,), TypeError), ((3, False), TypeError)],
)
def test_rejects_empty_or_invalid_normalized_shape(func, normalized_shape, error):
    """Functions and module constructors alike: empty, non-positive, non-int shapes."""
    with pytest.raises(error, match=name("normalized_shape")):
        func(torch.zeros(2, 3, dtype=F64), normalized_shape)


# (1,), (1, D) and (D, 1) would all broadcast against x and hide the mistake.
BAD_SHAPES = [((3, 4), (4,), s) for s in [(1,), (1, 4), (4, 1), (5,), (3,), ()]] + [
    ((5, 2, 3), (2, 3), s) for s in [(1,), (3,), (6,), (1, 3), (3, 2), (1, 2, 3), (2, 1)]
]


@FUNCS
@pytest.mark.parametrize(("x_shape", "norm", "bad"), BAD_SHAPES)
def test_rejects_weight_of_wrong_shape_even_if_broadcastable(func, x_shape, norm, bad):
    with pytest.raises(ValueError, match=name("weight") + mentions(str(norm), str(bad))):
        func(torch.zeros(x_shape, dtype=F64), norm, weight=torch.ones(bad, dtype=F64))


@pytest.mark.parametrize(("x_shape", "norm", "bad"), BAD_SHAPES)
def test_layer_norm_rejects_bias_of_wrong_shape_even_if_broadcastable(x_shape, norm, bad):
    with pytest.raises(ValueError, match=name("bias") + mentions(str(norm), str(bad))):
        torch_ln.layer_norm(
            torch.zeros(x_shape, dtype=F64),
            norm,
            torch.ones(norm, dtype=F64),
            torch.ones(bad, dtype=F64),
        )


@FUNCS
@pytest.mark.parametrize("eps", [-1e-5, -1.0, float("nan"), float("inf"), -float("inf")])
def test_rejects_negative_or_non_finite_eps(func, eps):
    with pytest.raises(ValueError, match=name("eps")):
        func(torch.ones(2, 3, dtype=F64), 3, eps=eps)


@FUNCS
@pytest.mark.parametrize("eps", ["1e-5", True, 1j, [1e-5]])
def test_rejects_non_real_eps(func, eps):
    with pytest.raises(TypeError, match=name("eps")):
        func(torch.ones(2, 3, dtype=F64), 3, eps=eps)


def test_layer_norm_rejects_eps_none():
    """Only RMSNorm gives eps=None a meaning (finfo eps)."""
    with pytest.raises(TypeError, match=name("eps")):
        torch_ln.layer_norm(torch.ones(2, 3, dtype=F64), 3, eps=None)


@pytest.mark.parametrize("module_cls", [LayerNorm, RMSNorm])
@pytest.mark.parametrize(
    ("eps", "error"),
    [(-1e-5, ValueError), (float("nan"), ValueError), (float("inf"), ValueError)]
    + [("1e-5", TypeError), (True, TypeError)],
)
def test_module_constructor_rejects_bad_eps(module_cls, eps, error):
    with pytest.raises(error, match=name("eps")):
        module_cls(4, eps=eps)


def test_layer_norm_module_rejects_eps_none():
    with pytest.raises(TypeError, match=name("eps")):
        LayerNorm(4, eps=None)


NON_FLOAT_DTYPES = [torch.int64, torch.int32, torch.uint8, torch.bool]
NON_FLOAT_DTYPES += [torch.complex64, torch.complex128]


@FUNCS_AND_MODULES
@pytest.mark.parametrize("dtype", NON_FLOAT_DTYPES)
def test_rejects_integer_bool_and_complex_input(func, dtype):
    """TypeError naming x and its dtype (not an error from deep inside a reduction)."""
    x = torch.ones(2, 3, dtype=dtype)
    with pytest.raises(TypeError, match=name("x") + mentions(str(dtype))):
        func(x, 3)


@FUNCS
@pytest.mark.parametrize("x", [np.ones((2, 3)), [[1.0, 2.0, 3.0]], 1.0])
def test_rejects_non_tensor_input(func, x):
    with pytest.raises(TypeError, match=name("x")):
        func(x, 3)


@FUNCS
@pytest.mark.parametrize(
    "weight",
    [np.ones(3), torch.ones(3, dtype=torch.int64), torch.ones(3, dtype=torch.complex128)]
    + [torch.ones(3, dtype=torch.float32)],
    ids=["ndarray", "int64", "complex128", "float32-vs-float64"],
)
def test_rejects_weight_of_wrong_type_or_dtype(func, weight):
    with pytest.raises(TypeError, match=name("weight")):
        func(torch.ones(2, 3, dtype=F64), 3, weight=weight)


@pytest.mark.parametrize(
    "bias",
    [np.zeros(3), torch.zeros(3, dtype=torch.int64), torch.zeros(3, dtype=torch.float32)],
    ids=["ndarray", "int64", "float32-vs-float64"],
)
def test_layer_norm_rejects_bias_of_wrong_type_or_dtype(bias):
    with pytest.raises(TypeError, match=name("bias")):
        torch_ln.layer_norm(torch.ones(2, 3, dtype=F64), 3, None, bias)


# --------------------------------------------------------------------------------------------
# numerics documented by the implementation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("const", [0.0, 0.1, -3.7, 1e4, 123456.789])
def test_layer_norm_constant_example_gives_exactly_bias(dtype, const):
    """x_hat of a constant example is exactly 0, so y = bias bit for bit (never NaN)."""
    g = torch.Generator().manual_seed(15)
    x = torch.randn(3, 2, 8, dtype=dtype, generator=g)
    x[1] = const
    w, b = torch.randn(2, 8, dtype=dtype, generator=g), torch.randn(2, 8, dtype=dtype, generator=g)
    y = torch_ln.layer_norm(x, (2, 8), w, b)
    assert y.dtype == dtype
    assert torch.equal(y[1], b)
    assert torch.equal(torch_ln.layer_norm(x, (2, 8))[1], torch.zeros(2, 8, dtype=dtype))


def test_layer_norm_float32_large_offset_matches_float64_reference():
    """1e4 + noise in float32 stays float32-accurate (the shifted two-pass forward).

    The reference is F.layer_norm in float64 on the same float32 values.
    """
    g = torch.Generator().manual_seed(16)
    x = (1e4 + torch.randn(8, 1024, dtype=F64, generator=g)).float()
    ref = F.layer_norm(x.double(), (1024,))
    y = torch_ln.layer_norm(x, 1024)
    assert y.dtype == torch.float32
    assert float((y.double() - ref).abs().max()) < 1e-5


@pytest.mark.parametrize("fn", [torch_ln.layer_norm, torch_ln.rms_norm])
def test_zero_size_batch_gives_empty_output_and_zero_weight_grad(fn):
    x = torch.ones(0, 3, 5, dtype=F64, requires_grad=True)
    w = torch.ones(5, dtype=F64, requires_grad=True)
    y = fn(x, 5, w)
    assert y.shape == (0, 3, 5)
    y.sum().backward()
    assert x.grad.shape == (0, 3, 5)
    assert torch.equal(w.grad, torch.zeros(5, dtype=F64))


# ---------------------------------------------------------------- review additions -----


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_as_accurate_as_torch(dtype):
    # Statistics in float32, as torch's kernels do; compare both with float64 on the same input.
    gen = torch.Generator().manual_seed(0)
    x = (3 + torch.randn(16, 64, generator=gen)).to(dtype).requires_grad_()
    w = (1 + 0.1 * torch.randn(64, generator=gen)).to(dtype).requires_grad_()
    b = (0.1 * torch.randn(64, generator=gen)).to(dtype).requires_grad_()
    dy = torch.randn(16, 64, generator=gen).to(dtype)
    ref_args = [t.detach().double().requires_grad_() for t in (x, w, b)]
    ref = F.layer_norm(ref_args[0], (64,), ref_args[1], ref_args[2])
    ref.backward(dy.double())
    ours = torch_ln.layer_norm(x, 64, w, b)
    ours.backward(dy)
    theirs_args = [t.detach().clone().requires_grad_() for t in (x, w, b)]
    theirs = F.layer_norm(theirs_args[0], (64,), theirs_args[1], theirs_args[2])
    theirs.backward(dy)
    assert ours.dtype == dtype and x.grad.dtype == dtype and w.grad.dtype == dtype
    err_ours = (ours.double() - ref).abs().max()
    err_theirs = (theirs.double() - ref).abs().max()
    assert err_ours <= 1.5 * err_theirs
    for mine, torchs, exact in zip((x, w, b), theirs_args, ref_args, strict=True):
        assert (mine.grad.double() - exact.grad).abs().max() <= 1.5 * (
            torchs.grad.double() - exact.grad
        ).abs().max() + 1e-3 * exact.grad.abs().max()


# --------------------------------------------------------------------------------------------
# 6. second derivatives and torch.func: the backward is itself differentiable
# --------------------------------------------------------------------------------------------

# (x_shape, normalized_shape): one and two normalized dims, with no, one and two batch dims.
SECOND_ORDER_SHAPES = [
    ((4,), (4,)),
    ((3, 4), (4,)),
    ((2, 2, 3), (3,)),
    ((2, 3), (2, 3)),
    ((2, 2, 3), (2, 3)),
    ((2, 1, 2, 3), (2, 3)),
]
AFFINE = [(False, False), (True, False), (False, True), (True, True)]  # (weight, bias)


def affine_inputs(x_shape, norm, has_weight, has_bias, seed):
    """float64 leaves x, weight, bias (None where absent) that require grad."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(x_shape, dtype=F64, generator=g).requires_grad_()
    w = torch.randn(norm, dtype=F64, generator=g).requires_grad_() if has_weight else None
    b = torch.randn(norm, dtype=F64, generator=g).requires_grad_() if has_bias else None
    return x, w, b


def present(*ts):
    return tuple(t for t in ts if t is not None)


def with_params(fn, norm, w, b, eps):
    """fn(x, *params) -> norm of x, taking weight and bias positionally where present."""

    def call(x_, *params):
        it = iter(params)
        w_ = None if w is None else next(it)
        b_ = None if b is None else next(it)
        return fn(x_, norm, w_, b_, eps)

    return call


@pytest.mark.parametrize(("x_shape", "norm"), SECOND_ORDER_SHAPES)
@pytest.mark.parametrize(("has_weight", "has_bias"), AFFINE)
@pytest.mark.parametrize("eps", [1e-5, 0.5])
def test_layer_norm_passes_gradgradcheck(x_shape, norm, has_weight, has_bias, eps):
    """Second derivatives (create_graph=True) against finite differences of the first."""
    x, w, b = affine_inputs(x_shape, norm, has_weight, has_bias, seed=20)
    fn = with_params(_ln, norm, w, b, eps)
    assert torch.autograd.gradgradcheck(fn, present(x, w, b), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize(("x_shape", "norm"), SECOND_ORDER_SHAPES)
@pytest.mark.parametrize("has_weight", [False, True])
@pytest.mark.parametrize("eps", [None, 0.5])
def test_rms_norm_passes_gradgradcheck(x_shape, norm, has_weight, eps):
    x, w, _ = affine_inputs(x_shape, norm, has_weight, False, seed=21)
    fn = with_params(_rms, norm, w, None, eps)
    assert torch.autograd.gradgradcheck(fn, present(x, w), eps=1e-6, atol=1e-7)


def hvp(fn, inputs, dy, v):
    """Hessian-vector product of L = sum(tanh(fn(*inputs)) * dy) with v, by double backward.

    The tanh makes the upstream gradient depend on y, so every second-order path is used.
    """
    loss = (torch.tanh(fn(*inputs)) * dy).sum()
    grads = torch.autograd.grad(loss, inputs, create_graph=True)
    dot = sum((g_ * v_).sum() for g_, v_ in zip(grads, v, strict=True))
    return torch.autograd.grad(dot, inputs)


HVP_CASES = [
    (kind, x_shape, norm, has_weight, has_bias)
    for kind in ("layer", "rms")
    for x_shape, norm in SECOND_ORDER_SHAPES
    for has_weight, has_bias in AFFINE
    if not (kind == "rms" and has_bias)  # rms_norm has no bias
]


@pytest.mark.parametrize(("kind", "x_shape", "norm", "has_weight", "has_bias"), HVP_CASES)
def test_hessian_vector_product_matches_torch(kind, x_shape, norm, has_weight, has_bias):
    """d/d(x, weight, bias) of (grad . v) equals the same through F.layer_norm / F.rms_norm.

    Before the backward was differentiable, dx had no path to x here: the result was an
    error or zeros.
    """
    x, w, b = affine_inputs(x_shape, norm, has_weight, has_bias, seed=22)
    g = torch.Generator().manual_seed(23)
    inputs = present(x, w, b)
    dy = torch.randn(x_shape, dtype=F64, generator=g)
    v = [torch.randn(t.shape, dtype=F64, generator=g) for t in inputs]
    if kind == "layer":
        ours, ref = with_params(_ln, norm, w, b, 1e-5), with_params(F.layer_norm, norm, w, b, 1e-5)
        if b is not None and w is None:
            # torch's own double backward fails with a bias and no weight ("Expected a proper
            # Tensor but got None ... 'other'", torch 2.13); a constant weight of ones is the
            # same function, and there it works.
            ones = torch.ones(norm, dtype=F64)
            ref = with_params(
                lambda x_, ns, _, b_, eps: F.layer_norm(x_, ns, ones, b_, eps), norm, None, b, 1e-5
            )
    else:
        ours = with_params(_rms, norm, w, None, None)
        ref = with_params(lambda x_, ns, w_, b_, eps: F.rms_norm(x_, ns, w_, eps), norm, w, b, None)
    got, want = hvp(ours, inputs, dy, v), hvp(ref, inputs, dy, v)
    assert any(float(t.abs().max()) > 1e-3 for t in want)  # a real check, not 0 == 0
    for a, e in zip(got, want, strict=True):
        assert_close(a, e, rtol=1e-9, atol=1e-11)


FUNC_CASES = [
    pytest.param(kind, norm, has_weight, has_bias, id=f"{kind}-{norm}-w{has_weight:d}b{has_bias:d}")
    for kind in ("layer", "rms")
    for norm in ((5,), (2, 3))
    for has_weight, has_bias in AFFINE
    if not (kind == "rms" and has_bias)
]


def func_pair(kind, norm, w, b):
    """(ours, torch's) as functions of x alone, with fixed weight and bias."""
    if kind == "layer":
        return (
            lambda x_: torch_ln.layer_norm(x_, norm, w, b, 1e-5),
            lambda x_: F.layer_norm(x_, norm, w, b, 1e-5),
        )
    return lambda x_: torch_ln.rms_norm(x_, norm, w), lambda x_: F.rms_norm(x_, norm, w)


@pytest.mark.parametrize(("kind", "norm", "has_weight", "has_bias"), FUNC_CASES)
def test_torch_func_vmap_grad_jacrev_match_torch(kind, norm, has_weight, has_bias):
    """torch.func.vmap, grad and jacrev (and jacrev of grad: the Hessian) agree with torch."""
    _, w, b = affine_inputs(norm, norm, has_weight, has_bias, seed=24)
    w, b = (None if t is None else t.detach() for t in (w, b))
    xs = torch.randn((4, 3, *norm), dtype=F64, generator=torch.Generator().manual_seed(25))
    ours, ref = func_pair(kind, norm, w, b)
    # vmap over a batch dim that the function does not see
    assert_close(torch.func.vmap(ours)(xs), ref(xs))
    assert_close(torch.func.vmap(ours, in_dims=1)(xs), ref(xs.movedim(1, 0)))

    def loss(f):
        return lambda x_: (torch.tanh(f(x_)) * x_).sum()

    x = xs[0]
    assert_close(torch.func.grad(loss(ours))(x), torch.func.grad(loss(ref))(x))
    assert_close(torch.func.jacrev(ours)(x), torch.func.jacrev(ref)(x))
    assert_close(
        torch.func.jacrev(torch.func.grad(loss(ours)))(x[0]),
        torch.func.jacrev(torch.func.grad(loss(ref)))(x[0]),
        rtol=1e-9,
        atol=1e-11,
    )
    # per-example gradients: vmap of grad
    assert_close(
        torch.func.vmap(torch.func.grad(loss(ours)))(xs),
        torch.func.vmap(torch.func.grad(loss(ref)))(xs),
    )


@pytest.mark.parametrize("kind", ["layer", "rms"])
def test_torch_func_grad_and_vmap_over_weight_match_torch(kind):
    """Derivatives and batching with respect to the parameters, not only x."""
    g = torch.Generator().manual_seed(26)
    x = torch.randn(3, 5, dtype=F64, generator=g)
    ws = torch.randn(4, 5, dtype=F64, generator=g)  # four weight vectors, vmapped over
    b = torch.randn(5, dtype=F64, generator=g) if kind == "layer" else None

    def make(fn):
        if kind == "layer":
            return lambda w_: (torch.tanh(fn(x, (5,), w_, b)) ** 2).sum()
        return lambda w_: (torch.tanh(fn(x, (5,), w_)) ** 2).sum()

    ours = make(torch_ln.layer_norm if kind == "layer" else torch_ln.rms_norm)
    ref = make(F.layer_norm if kind == "layer" else F.rms_norm)
    assert_close(torch.func.vmap(ours)(ws), torch.func.vmap(ref)(ws))
    assert_close(
        torch.func.vmap(torch.func.grad(ours))(ws), torch.func.vmap(torch.func.grad(ref))(ws)
    )
    # jacrev of grad, not torch.func.hessian: that is jacfwd (forward mode), which needs a jvp.
    hess, hess_ref = (torch.func.jacrev(torch.func.grad(f))(ws[0]) for f in (ours, ref))
    assert_close(hess, hess_ref, atol=1e-11)


LN_AND_RMS = [
    pytest.param(lambda x, w, b: torch_ln.layer_norm(x, (2, 8), w, b), id="layer_norm"),
    pytest.param(lambda x, w, b: torch_ln.rms_norm(x, (2, 8), w), id="rms_norm"),
]


@pytest.mark.parametrize("fn", LN_AND_RMS)
@pytest.mark.parametrize("dtype", [torch.float32, F64, torch.float16, torch.bfloat16])
def test_differentiable_backward_gives_the_first_order_backward_bits(fn, dtype):
    """With create_graph=True the backward recomputes x_hat out of place; its first
    derivatives must still be the fast path's bit for bit (training results do not depend on
    whether someone asks for second derivatives), in half precision too."""
    g = torch.Generator().manual_seed(27)
    x, w, b = (
        (torch.randn(shape, generator=g) * 3 + 5).to(dtype).requires_grad_()
        for shape in ((5, 3, 2, 8), (2, 8), (2, 8))
    )
    dy = torch.randn(5, 3, 2, 8, generator=g).to(dtype)
    fast = torch.autograd.grad(fn(x, w, b), (x, w), dy)
    slow = torch.autograd.grad(fn(x, w, b), (x, w), dy, create_graph=True)
    assert not fast[0].requires_grad and slow[0].requires_grad
    for a, e in zip(fast, slow, strict=True):
        assert a.dtype == dtype and torch.equal(a, e)


@pytest.mark.parametrize(
    ("normalize", "fn"),
    [
        ("_normalize", lambda x, w: torch_ln.layer_norm(x, 8, w, w)),
        ("_normalize", lambda x, w: torch_ln.layer_norm(x, 8)),
        ("_rms_normalize", lambda x, w: torch_ln.rms_norm(x, 8, w)),
        ("_rms_normalize", lambda x, w: torch_ln.rms_norm(x, 8)),
    ],
    ids=["layer_norm", "layer_norm-no-affine", "rms_norm", "rms_norm-no-affine"],
)
def test_first_order_backward_reuses_the_forward_statistics(monkeypatch, normalize, fn):
    """Speed: a plain backward() normalizes nothing again (the forward's x_hat and rstd come
    as extra, non-differentiable outputs of apply); only a differentiated backward does."""
    calls = []
    original = getattr(torch_ln, normalize)

    def spy(*args):
        calls.append(torch.is_grad_enabled())
        return original(*args)

    monkeypatch.setattr(torch_ln, normalize, spy)
    x = torch.randn(3, 8, dtype=F64, requires_grad=True)
    w = torch.randn(8, dtype=F64, requires_grad=True)
    fn(x, w).pow(2).sum().backward()
    assert calls == [False]  # the forward only
    calls.clear()
    torch.autograd.grad(fn(x, w).pow(2).sum(), x, create_graph=True)
    assert calls == [False, True]  # the forward, then the backward with autograd recording


def test_apply_returns_y_and_the_statistics_without_gradient():
    """apply's extra outputs (how forward hands x_hat and rstd to setup_context) are
    non-differentiable, and x_hat is None where it would be y itself."""
    g = torch.Generator().manual_seed(28)
    x = torch.randn(3, 8, dtype=F64, generator=g, requires_grad=True)
    w = torch.randn(8, dtype=F64, generator=g, requires_grad=True)
    x_hat_ref = F.layer_norm(x, (8,)).detach()
    rstd_ref = 1 / torch.sqrt(x.detach().var(-1, correction=0, keepdim=True) + 1e-5)
    y, x_hat, rstd = LayerNormFunction.apply(x, w, w, (1,), 1e-5)
    assert y.requires_grad and not x_hat.requires_grad and not rstd.requires_grad
    assert_close(x_hat, x_hat_ref)
    assert_close(rstd, rstd_ref)
    y, x_hat, rstd = LayerNormFunction.apply(x, None, None, (1,), 1e-5)
    assert x_hat is None and y.requires_grad and not rstd.requires_grad
    r_ref = 1 / torch.sqrt(x.detach().pow(2).mean(-1, keepdim=True) + 1e-5)
    y, x_hat, r = RMSNormFunction.apply(x, w, (1,), 1e-5)
    assert y.requires_grad and not x_hat.requires_grad and not r.requires_grad
    assert_close(x_hat, x.detach() * r_ref)
    assert_close(r, r_ref)


# --------------------------------------------------------------------------------------------
# float16 and bfloat16 (issue 17): float32 statistics, output and gradients in x's dtype
# --------------------------------------------------------------------------------------------

HALF = [torch.float16, torch.bfloat16]


def _half_case(kind, dtype, param_dtype, seed, loc=3.0, scale=1.0, d=64):
    """x (rows of offset ``loc``), weight, bias (None for rms) and dy, rounded to the dtypes."""
    g = torch.Generator().manual_seed(seed)
    x = (loc + scale * torch.randn(8, d, generator=g, dtype=F64)).to(dtype)
    w = (1 + 0.3 * torch.randn(d, generator=g, dtype=F64)).to(param_dtype)
    b = None if kind == "rms" else (0.2 * torch.randn(d, generator=g, dtype=F64)).to(param_dtype)
    dy = torch.randn(8, d, generator=g, dtype=F64).to(dtype)
    return x, w, b, dy


def _half_run(fn, kind, x, w, b, dy, cast=None):
    """y and the grads of (x, weight, bias) through fn (ours or F's) on fresh leaves, eps
    1e-5 for both norms; with ``cast``, run on the inputs cast to it (float32: torch's
    kernels with every step in float32), results rounded back to the inputs' dtypes."""
    params = (w,) if kind == "rms" else (w, b)
    leaves = [None if t is None else t.to(cast or t.dtype) for t in (x, *params)]
    if kind == "rms":
        call = lambda x_, w_: fn(x_, (x.shape[-1],), w_, 1e-5)  # noqa: E731
    else:
        call = lambda x_, w_, b_: fn(x_, (x.shape[-1],), w_, b_, 1e-5)  # noqa: E731
    y, grads = forward_and_grads(call, leaves[0], leaves[1:], dy.to(cast or dy.dtype))
    back = zip(grads, (x, *params), strict=True)
    return y.to(x.dtype), [None if g_ is None else g_.to(t.dtype) for g_, t in back]


def _ulps(actual, exact, dtype):
    """The largest error of ``actual`` in units of :func:`half_atol` (1: one ulp)."""
    tol = half_atol(str(dtype).removeprefix("torch."), exact, 1.0)
    return float(((actual.double() - exact.double()).abs() / tol).max())


def _assert_half_close(actual, expected, dtype, ulps):
    assert actual.dtype == expected.dtype or expected.dtype == F64
    assert _ulps(actual, expected, dtype) <= ulps


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("mixed", [False, True], ids=["params-in-x-dtype", "params-float32"])
@pytest.mark.parametrize("kind", ["layer", "rms"])
def test_half_precision_matches_torch_and_float64(dtype, mixed, kind):
    """y, dx, dweight (and dbias) in float16/bfloat16, three oracles:

    * float64 (F.layer_norm / F.rms_norm on the same rounded inputs): within about half an
      ulp, as a float32 computation rounded once is;
    * torch in float32 on the same inputs, rounded back: within one ulp;
    * torch in the half dtype itself: its forward within one ulp; its CPU backward is less
      accurate (dweight up to ~80 ulps off in float16: it does not keep the sums in
      float32), so ours must be at least as close to float64 as it is.

    Every gradient comes in its input's dtype (float32 parameters get float32 gradients).
    """
    param_dtype = torch.float32 if mixed else dtype
    x, w, b, dy = _half_case(kind, dtype, param_dtype, seed=40)
    ours_fn, torch_fn = (
        (torch_ln.layer_norm, F.layer_norm) if kind == "layer" else (torch_ln.rms_norm, F.rms_norm)
    )
    y, grads = _half_run(ours_fn, kind, x, w, b, dy)
    y_t, grads_t = _half_run(torch_fn, kind, x, w, b, dy)
    y_32, grads_32 = _half_run(torch_fn, kind, x, w, b, dy, cast=torch.float32)
    assert y.dtype == dtype
    assert [g_.dtype for g_ in grads if g_ is not None] == [dtype] + [param_dtype] * (
        1 if kind == "rms" else 2
    )
    exact = F.layer_norm if kind == "layer" else F.rms_norm
    as64 = (None if t is None else t.double() for t in (x, w, b, dy))
    y_exact, grads_exact = _half_run(exact, kind, *as64)  # float64 in, float64 out
    _assert_half_close(y, y_exact, dtype, ulps=0.55)
    _assert_half_close(y, y_32, dtype, ulps=1)
    _assert_half_close(y, y_t, dtype, ulps=1)
    for mine, theirs, in32, ex in zip(grads, grads_t, grads_32, grads_exact, strict=True):
        if mine is None:
            continue
        _assert_half_close(mine, ex, dtype, ulps=0.6)
        _assert_half_close(mine, in32, dtype, ulps=1)
        assert _ulps(mine, ex, dtype) <= max(_ulps(theirs, ex, dtype), 0.6)


@pytest.mark.parametrize("dtype", HALF)
def test_half_rms_norm_default_eps_is_float32s_machine_epsilon(dtype):
    """eps=None on a float16/bfloat16 x means float32's eps (2**-23), as F.rms_norm does,
    not the input dtype's (2**-7 for bfloat16, 8x these rows' mean square of 1e-3).

    The float64 oracle with eps = 2**-23 is within an ulp; with 2**-7 it would be far off.
    """
    g = torch.Generator().manual_seed(41)
    x = (0.03 * torch.randn(4, 32, generator=g, dtype=F64)).to(dtype)
    ours, theirs = torch_ln.rms_norm(x, 32), F.rms_norm(x, (32,))
    _assert_half_close(ours, theirs, dtype, ulps=1)
    _assert_half_close(ours, F.rms_norm(x.double(), (32,), eps=2.0**-23), dtype, ulps=0.55)
    assert _ulps(theirs, F.rms_norm(x.double(), (32,), eps=2.0**-7), dtype) > 10


def test_float16_input_whose_square_overflows_is_normalized_finitely():
    """|x| ~ 300: x*x overflows float16 (max 65504), the float32 statistics do not."""
    g = torch.Generator().manual_seed(42)
    x = (300 * torch.randn(4, 64, generator=g, dtype=F64)).to(torch.float16)
    assert torch.isinf(x * x).any()  # the data does overflow when squared in float16
    for ours, exact in (
        (torch_ln.layer_norm(x, 64), F.layer_norm(x.double(), (64,))),
        (torch_ln.rms_norm(x, 64), F.rms_norm(x.double(), (64,), eps=2.0**-23)),
    ):
        assert torch.isfinite(ours).all()
        _assert_half_close(ours, exact, torch.float16, ulps=0.55)


@pytest.mark.parametrize(
    ("x_dtype", "w_dtype", "b_dtype", "bad"),
    [
        (torch.float16, torch.float64, None, "weight"),
        (torch.bfloat16, torch.float16, None, "weight"),
        (torch.float32, torch.float16, None, "weight"),
        (torch.float16, torch.float32, torch.float16, "bias"),
        (torch.float16, torch.float16, torch.float32, "bias"),
    ],
)
def test_half_rejects_parameters_of_another_dtype(x_dtype, w_dtype, b_dtype, bad):
    """Parameters in x's dtype, or both float32 beside a half x (F.layer_norm refuses the
    rest too); a TypeError that names the argument."""
    x = torch.ones(2, 3, dtype=x_dtype)
    b = None if b_dtype is None else torch.zeros(3, dtype=b_dtype)
    with pytest.raises(TypeError, match=name(bad)):
        torch_ln.layer_norm(x, 3, torch.ones(3, dtype=w_dtype), b)
    with pytest.raises(RuntimeError):  # torch refuses the same combination
        F.layer_norm(x, (3,), torch.ones(3, dtype=w_dtype), b)
