"""Layer norm and RMSNorm in PyTorch with hand-written backward passes.

``layer_norm`` and ``rms_norm`` are built on ``torch.autograd.Function`` subclasses whose
``backward`` is the closed form derived in the book, so autograd never traces the forward.
``LayerNorm`` and ``RMSNorm`` are drop-in replacements for ``torch.nn.LayerNorm`` and
``torch.nn.RMSNorm``: same constructor, parameters, ``state_dict`` keys and ``extra_repr``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._optional import torch_missing

try:
    import torch
    from torch import Tensor, nn
    from torch.autograd.function import once_differentiable
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
    for name, p in (("weight", weight), ("bias", bias)):
        _check_tensor(name, p, optional=True)
        check_param_shape(name, None if p is None else tuple(p.shape), shape)
        if p is not None and p.dtype != x.dtype:
            raise TypeError(
                f"{name} has dtype {p.dtype} but x has dtype {x.dtype}; they must match"
            )
    check_eps(eps, allow_none=allow_none_eps)
    return tuple(range(x.ndim - len(shape), x.ndim))


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Half-precision inputs are normalized in float32 (as torch's kernels do)."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


class LayerNormFunction(torch.autograd.Function):
    """Layer norm forward and its closed-form backward (the same maths as ``numpy_ln``).

    The backward is written with saved tensors, so it is not itself differentiable:
    ``once_differentiable`` makes a second derivative (``create_graph=True``) an error
    instead of a silently wrong answer.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, dims, eps):
        ctx.dtypes = (x.dtype, None if weight is None else weight.dtype)
        x, weight, bias = (
            None if t is None else t.to(_compute_dtype(t.dtype)) for t in (x, weight, bias)
        )
        # Shift by each example's first value first: exact for a large common offset, and
        # for eps > 0 a constant example becomes exactly zero (see numpy_ln).
        x0 = x[(Ellipsis,) + (slice(0, 1),) * len(dims)]  # (..., 1, ..., 1)
        xc = x - x0  # a new tensor, so the steps below may work in place (chapter 8)
        xc -= xc.mean(dim=dims, keepdim=True)  # x - mu, two-pass
        var = (xc * xc).mean(dim=dims, keepdim=True)  # biased variance
        rstd = torch.rsqrt(var + eps)  # (..., 1, ..., 1)
        x_hat = xc.mul_(rstd)
        if weight is not None and bias is not None:
            y = torch.addcmul(bias, x_hat, weight)  # bias + x_hat * weight, in one pass
        elif weight is not None:
            y = x_hat * weight
        elif bias is not None:
            y = x_hat + bias
        else:
            y = x_hat
        ctx.save_for_backward(x_hat, rstd, weight)
        ctx.dims = dims
        ctx.has_bias = bias is not None
        return y.to(ctx.dtypes[0])

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        x_hat, rstd, weight = ctx.saved_tensors
        dims = ctx.dims
        dy = dy.to(x_hat.dtype)
        # Careful: Tensor.sum(dim=()) sums over *all* dims, so batch_dims must be non-empty
        # to be passed; an input with no batch dims needs no reduction at all.
        batch_dims = tuple(range(x_hat.ndim - len(dims)))
        dx = dweight = dbias = None
        g = dy if weight is None else dy * weight  # dL/dx_hat
        if ctx.needs_input_grad[0]:
            c1 = (x_hat * g).mean(dim=dims, keepdim=True)
            c2 = g.mean(dim=dims, keepdim=True)
            dx = (g - c2).addcmul_(x_hat, c1, value=-1).mul_(rstd)  # rstd*(g - c2 - x_hat*c1)
        if weight is not None and ctx.needs_input_grad[1]:
            dweight = _sum_batch(dy * x_hat, batch_dims)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            dbias = _sum_batch(dy, batch_dims)
        x_dtype, w_dtype = ctx.dtypes
        return (
            None if dx is None else dx.to(x_dtype),
            None if dweight is None else dweight.to(w_dtype),
            None if dbias is None else dbias.to(w_dtype),
            None,
            None,
        )


class RMSNormFunction(torch.autograd.Function):
    """RMSNorm forward and its closed-form backward.

    With ``r = 1 / sqrt(mean(x**2) + eps)``, ``x_hat = x * r`` and ``g = dy * weight``::

        dx = r * (g - x_hat * mean(g * x_hat))

    the layer norm backward without the mean term ``c2``. Like ``LayerNormFunction`` it
    computes half precision in float32 and cannot be differentiated twice.
    """

    @staticmethod
    def forward(ctx, x, weight, dims, eps):
        ctx.dtypes = (x.dtype, None if weight is None else weight.dtype)
        x, weight = (None if t is None else t.to(_compute_dtype(t.dtype)) for t in (x, weight))
        r = torch.rsqrt((x * x).mean(dim=dims, keepdim=True) + eps)  # (..., 1, ..., 1)
        x_hat = x * r
        y = x_hat if weight is None else x_hat * weight
        ctx.save_for_backward(x_hat, r, weight)
        ctx.dims = dims
        return y.to(ctx.dtypes[0])

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        x_hat, r, weight = ctx.saved_tensors
        dims = ctx.dims
        dy = dy.to(x_hat.dtype)
        dx = dweight = None
        g = dy if weight is None else dy * weight
        if ctx.needs_input_grad[0]:
            dx = r * (g - x_hat * (g * x_hat).mean(dim=dims, keepdim=True))
        if weight is not None and ctx.needs_input_grad[1]:
            dweight = _sum_batch(dy * x_hat, tuple(range(x_hat.ndim - len(dims))))
        x_dtype, w_dtype = ctx.dtypes
        return (
            None if dx is None else dx.to(x_dtype),
            None if dweight is None else dweight.to(w_dtype),
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
    x : (..., *normalized_shape) floating-point tensor
    normalized_shape : int or tuple of int
    weight, bias : (*normalized_shape) tensors of x's dtype, optional
    eps : float, finite and >= 0 (torch accepts a negative eps; here it is an error)

    Returns
    -------
    y : tensor of x's shape and dtype; differentiable through a hand-written backward.
    """
    dims = _check_inputs(x, normalized_shape, weight, bias, eps)
    return LayerNormFunction.apply(x, weight, bias, dims, float(eps))


def rms_norm(
    x: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """RMSNorm with the semantics of ``torch.nn.functional.rms_norm``.

    ``eps=None`` means ``torch.finfo(x.dtype).eps``. See :func:`layer_norm` for the rest.
    """
    dims = _check_inputs(x, normalized_shape, weight, None, eps, allow_none_eps=True)
    eps = torch.finfo(x.dtype).eps if eps is None else float(eps)
    return RMSNormFunction.apply(x, weight, dims, eps)


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
