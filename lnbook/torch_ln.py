"""Layer norm and RMSNorm in PyTorch with hand-written backward passes.

``layer_norm`` and ``rms_norm`` are built on ``torch.autograd.Function`` subclasses whose
``backward`` is the closed form derived in the book, so autograd never traces the forward.
The backward can itself be differentiated: second derivatives (``create_graph=True``) and
the ``torch.func`` transforms (``grad``, ``vmap``, ``jacrev``) work. Forward-mode AD
(``jvp``, ``jacfwd``, ``torch.func.hessian``) does not: the Functions define no ``jvp``.
``LayerNorm`` and ``RMSNorm`` are drop-in replacements for ``torch.nn.LayerNorm`` and
``torch.nn.RMSNorm``: same constructor, parameters, ``state_dict`` keys and ``extra_repr``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._optional import torch_missing

try:
    import torch
    from torch import Tensor, nn
except ImportError as e:  # the browser edition: say where this module runs instead
    raise torch_missing("lnbook.torch_ln") from e

from ._validate import check_eps, check_normalized_shape, check_param_shape, normalized_shape_tuple

__all__ = ["LayerNorm", "LayerNormFunction", "RMSNorm", "RMSNormFunction", "layer_norm", "rms_norm"]


def _check_tensor(name: str, t, *, optional: bool = False) -> None:
    """Refuse non-tensors and integer, bool or complex tensors, with the argument's name."""
    if t is None and optional:
        return
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")


def _check_inputs(x, normalized_shape, weight, bias, eps, *, allow_none_eps=False):
    """Shared checks; returns the normalized dims (the trailing axes of x) as a tuple."""
    _check_tensor("x", x)
    shape = check_normalized_shape(tuple(x.shape), normalized_shape)
    half = x.dtype in (torch.float16, torch.bfloat16)
    for name, p in (("weight", weight), ("bias", bias)):
        _check_tensor(name, p, optional=True)
        check_param_shape(name, None if p is None else tuple(p.shape), shape)
        # F.layer_norm's rule: the parameters have x's dtype, or are float32 beside a
        # float16 or bfloat16 x (its "mixed" kernels); gradients come back in their dtype.
        if p is not None and p.dtype != x.dtype and not (half and p.dtype == torch.float32):
            raise TypeError(
                f"{name} has dtype {p.dtype} but x has dtype {x.dtype}; they must match"
            )
    if weight is not None and bias is not None and weight.dtype != bias.dtype:
        raise TypeError(f"weight ({weight.dtype}) and bias ({bias.dtype}) must have one dtype")
    check_eps(eps, allow_none=allow_none_eps)
    return tuple(range(x.ndim - len(shape), x.ndim))


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Half-precision inputs are normalized in float32 (as torch's kernels do)."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def _normalize(x: Tensor, dims: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor]:
    """``x_hat`` and ``rstd`` of ``x`` over ``dims``: layer norm without weight and bias.

    In place on its own intermediates while autograd is not recording (the forward), out of
    place while it is (a backward being differentiated), where an in-place step would
    overwrite a tensor autograd saved. Both give the same bits.

    Parameters
    ----------
    x : (..., *normalized_shape) tensor, in the compute dtype
    dims : the normalized (trailing) axes of x
    eps : float

    Returns
    -------
    x_hat : x's shape
    rstd : (..., 1, ..., 1)
    """
    record = torch.is_grad_enabled()
    # Shift by each example's first value first: exact for a large common offset, and
    # for eps > 0 a constant example becomes exactly zero (see numpy_ln).
    x0 = x[(Ellipsis,) + (slice(0, 1),) * len(dims)]  # (..., 1, ..., 1)
    xc = x - x0  # a new tensor, so the steps below may work in place (chapter 8)
    mu = xc.mean(dim=dims, keepdim=True)
    xc = xc - mu if record else xc.sub_(mu)  # x - mu, two-pass
    var = (xc * xc).mean(dim=dims, keepdim=True)  # biased variance
    rstd = torch.rsqrt(var + eps)  # (..., 1, ..., 1)
    return (xc * rstd if record else xc.mul_(rstd)), rstd


def _rms_normalize(x: Tensor, dims: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor]:
    """``x_hat = x * r`` and ``r = 1 / sqrt(mean(x**2) + eps)`` over ``dims`` (shapes as
    for :func:`_normalize`)."""
    r = torch.rsqrt((x * x).mean(dim=dims, keepdim=True) + eps)  # (..., 1, ..., 1)
    return x * r, r


class LayerNormFunction(torch.autograd.Function):
    """Layer norm forward and its closed-form backward (the same maths as ``numpy_ln``).

    ``apply(x, weight, bias, dims, eps)`` returns ``(y, x_hat, rstd)``; :func:`layer_norm`
    keeps only ``y``. ``torch.func`` needs a ``forward`` without ``ctx``, and extra outputs
    are how such a forward hands its intermediates to ``setup_context``, so that a backward
    reuses them instead of normalizing ``x`` again (that made forward+backward nearly twice
    as slow). They are marked non-differentiable; ``x_hat`` is ``None`` where it is ``y``
    itself (no weight or bias), as one tensor cannot be both differentiable and not.

    The saved ``x_hat`` has no history: a backward built on it gives the right first
    derivatives, but differentiating it would silently miss every path through ``x``. So
    ``backward`` reads the grad mode, which autograd turns on only when the backward itself
    is differentiated (``create_graph=True``, the ``torch.func`` transforms), and then
    recomputes ``x_hat`` and ``rstd`` from the saved ``x`` (kept alive for this, as torch's
    own layer norm keeps it), out of place so that autograd can follow every step. Both
    paths do the same arithmetic, so the first derivatives are the same bits either way,
    and a plain ``backward()`` does exactly what it did before second derivatives existed.
    """

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(x, weight, bias, dims, eps):
        x_dtype = x.dtype
        x, weight, bias = (
            None if t is None else t.to(_compute_dtype(t.dtype)) for t in (x, weight, bias)
        )
        x_hat, rstd = _normalize(x, dims, eps)
        if weight is not None and bias is not None:
            y = torch.addcmul(bias, x_hat, weight)  # bias + x_hat * weight, in one pass
        elif weight is not None:
            y = x_hat * weight
        elif bias is not None:
            y = x_hat + bias
        else:
            y = x_hat
        y = y.to(x_dtype)
        return y, (None if y is x_hat else x_hat), rstd

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, weight, bias, dims, eps = inputs
        y, x_hat, rstd = output
        x_hat = y if x_hat is None else x_hat
        ctx.mark_non_differentiable(rstd, *(() if x_hat is y else (x_hat,)))
        # Outputs without a gradient pass None to backward, not a tensor of zeros to allocate.
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(x, weight, x_hat, rstd)
        ctx.dims, ctx.eps, ctx.has_bias = dims, eps, bias is not None
        ctx.param_dtype = next((p.dtype for p in (weight, bias) if p is not None), None)

    @staticmethod
    def backward(ctx, dy, _dx_hat, _drstd):
        if dy is None:  # an undefined gradient of y (see set_materialize_grads): zero
            return None, None, None, None, None
        x, weight, x_hat, rstd = ctx.saved_tensors
        dims = ctx.dims
        record = torch.is_grad_enabled()  # is this backward being differentiated?
        if record:
            x_hat, rstd = _normalize(x.to(x_hat.dtype), dims, ctx.eps)
        weight = None if weight is None else weight.to(x_hat.dtype)
        dy = dy.to(x_hat.dtype)
        # Careful: Tensor.sum(dim=()) sums over *all* dims, so batch_dims must be non-empty
        # to be passed; an input with no batch dims needs no reduction at all.
        batch_dims = tuple(range(x_hat.ndim - len(dims)))
        dx = dweight = dbias = None
        g = dy if weight is None else dy * weight  # dL/dx_hat
        if ctx.needs_input_grad[0]:
            c1 = (x_hat * g).mean(dim=dims, keepdim=True)
            c2 = g.mean(dim=dims, keepdim=True)
            # dx = rstd * (g - c2 - x_hat * c1), in place unless autograd records the steps
            if record:
                dx = (g - c2).addcmul(x_hat, c1, value=-1) * rstd
            else:
                dx = (g - c2).addcmul_(x_hat, c1, value=-1).mul_(rstd)
        if weight is not None and ctx.needs_input_grad[1]:
            dweight = _sum_batch(dy * x_hat, batch_dims)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            dbias = _sum_batch(dy, batch_dims)
        # Each gradient in its input's dtype: dx in x's, dweight and dbias in the
        # parameters' (float32 beside a half x, else x's: checked in _check_inputs).
        p_dtype = x.dtype if ctx.param_dtype is None else ctx.param_dtype
        return (
            None if dx is None else dx.to(x.dtype),
            None if dweight is None else dweight.to(p_dtype),
            None if dbias is None else dbias.to(p_dtype),
            None,
            None,
        )


class RMSNormFunction(torch.autograd.Function):
    """RMSNorm forward and its closed-form backward.

    With ``r = 1 / sqrt(mean(x**2) + eps)``, ``x_hat = x * r`` and ``g = dy * weight``::

        dx = r * (g - x_hat * mean(g * x_hat))

    the layer norm backward without the mean term ``c2``. Like ``LayerNormFunction`` it
    computes half precision in float32, returns ``(y, x_hat, r)`` from ``apply`` for a
    first-order backward to reuse, and recomputes ``x_hat`` and ``r`` from ``x`` when the
    backward is differentiated (see there why).
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(x, weight, dims, eps):
        x_dtype = x.dtype
        x, weight = (None if t is None else t.to(_compute_dtype(t.dtype)) for t in (x, weight))
        x_hat, r = _rms_normalize(x, dims, eps)
        y = (x_hat if weight is None else x_hat * weight).to(x_dtype)
        return y, (None if y is x_hat else x_hat), r

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, weight, dims, eps = inputs
        y, x_hat, r = output
        x_hat = y if x_hat is None else x_hat
        ctx.mark_non_differentiable(r, *(() if x_hat is y else (x_hat,)))
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(x, weight, x_hat, r)
        ctx.dims, ctx.eps = dims, eps
        ctx.param_dtype = None if weight is None else weight.dtype

    @staticmethod
    def backward(ctx, dy, _dx_hat, _dr):
        if dy is None:
            return None, None, None, None
        x, weight, x_hat, r = ctx.saved_tensors
        dims = ctx.dims
        if torch.is_grad_enabled():  # the backward is being differentiated
            x_hat, r = _rms_normalize(x.to(x_hat.dtype), dims, ctx.eps)
        weight = None if weight is None else weight.to(x_hat.dtype)
        dy = dy.to(x_hat.dtype)
        dx = dweight = None
        g = dy if weight is None else dy * weight
        if ctx.needs_input_grad[0]:
            dx = r * (g - x_hat * (g * x_hat).mean(dim=dims, keepdim=True))
        if weight is not None and ctx.needs_input_grad[1]:
            dweight = _sum_batch(dy * x_hat, tuple(range(x_hat.ndim - len(dims))))
        return (
            None if dx is None else dx.to(x.dtype),
            None if dweight is None else dweight.to(ctx.param_dtype),
            None,
            None,
        )


def _sum_batch(t: Tensor, batch_dims: tuple[int, ...]) -> Tensor:
    """Sum over the batch dims; with none, return ``t`` (``sum(dim=())`` would sum all)."""
    return t.sum(dim=batch_dims) if batch_dims else t


def layer_norm(
    x: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer norm with the semantics of ``torch.nn.functional.layer_norm``.

    Parameters
    ----------
    x : (..., *normalized_shape) floating-point tensor; float16 and bfloat16 are
        normalized in float32 (statistics, and the backward's sums) and rounded back once
    normalized_shape : int or tuple of int
    weight, bias : (*normalized_shape) tensors of x's dtype (or both float32 beside a
        float16 or bfloat16 x, as F.layer_norm allows), optional
    eps : float, finite and >= 0 (torch accepts a negative eps; here it is an error)

    Returns
    -------
    y : tensor of x's shape and dtype; differentiable through a hand-written backward.
    """
    dims = _check_inputs(x, normalized_shape, weight, bias, eps)
    return LayerNormFunction.apply(x, weight, bias, dims, float(eps))[0]


def rms_norm(
    x: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """RMSNorm with the semantics of ``torch.nn.functional.rms_norm``.

    ``eps=None`` means the machine epsilon of the compute dtype, as in torch:
    ``torch.finfo(x.dtype).eps`` for float32 and float64, float32's (about 1.2e-7) for
    float16 and bfloat16. See :func:`layer_norm` for the rest.
    """
    dims = _check_inputs(x, normalized_shape, weight, None, eps, allow_none_eps=True)
    # None: the machine epsilon of the dtype the statistics are computed in, float32's for
    # a float16 or bfloat16 x (measured on torch 2.13: not finfo(bfloat16).eps = 2**-7).
    eps = torch.finfo(_compute_dtype(x.dtype)).eps if eps is None else float(eps)
    return RMSNormFunction.apply(x, weight, dims, eps)[0]


class LayerNorm(nn.Module):
    """Drop-in for ``torch.nn.LayerNorm`` built on :func:`layer_norm`.

    Parameters
    ----------
    normalized_shape : int or tuple of int
    eps : float
    elementwise_affine : bool
        Learn a per-feature ``weight`` (gamma, initialised to 1) and, if ``bias``, a
        per-feature ``bias`` (beta, initialised to 0).
    bias : bool
    device, dtype : optional, as for any torch module
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.normalized_shape = normalized_shape_tuple(normalized_shape)
        check_eps(eps)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        factory = {"device": device, "dtype": dtype}
        if elementwise_affine:
            self.weight = nn.Parameter(torch.empty(self.normalized_shape, **factory))
            if bias:
                self.bias = nn.Parameter(torch.empty(self.normalized_shape, **factory))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """gamma = 1 and beta = 0: the layer starts as plain normalization."""
        if self.weight is not None:
            nn.init.ones_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


class RMSNorm(nn.Module):
    """Drop-in for ``torch.nn.RMSNorm`` built on :func:`rms_norm`."""

    # nn.RMSNorm's constructor, parallel to LayerNorm's above on purpose (drop-in modules).
    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float | None = None,
        elementwise_affine: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.normalized_shape = normalized_shape_tuple(normalized_shape)
        check_eps(eps, allow_none=True)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = nn.Parameter(
                torch.empty(self.normalized_shape, device=device, dtype=dtype)
            )
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            nn.init.ones_(self.weight)

    def forward(self, x: Tensor) -> Tensor:
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )
