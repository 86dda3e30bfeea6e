"""Conditional layer norm: the condition predicts gamma and beta (FiLM, adaLN, adaLN-Zero).

FiLM (Perez et al., 2018) scales and shifts features by amounts predicted from a
conditioning input. The adaptive layer norm of DiT (Peebles and Xie, 2023) does it to a
layer norm without its own affine (``elementwise_affine=False``, eps 1e-6): a linear map of
the condition, after a SiLU, gives a shift and a scale per feature, applied as
``x_hat * (1 + scale) + shift``; adaLN-Zero adds a gate ``alpha`` per feature on the
residual branch and initializes that linear map to zero, so every block starts as the
identity. :class:`CondBlock` is one pre-norm residual MLP block in any of these modes,
:class:`Denoiser` a tiny class-conditional denoiser of 8x8 digits built from them.
"""

from __future__ import annotations

from ._optional import torch_missing
from ._validate import check_size

try:
    import torch
    from torch import Tensor, nn
except ImportError as e:  # the browser edition: say where this module runs instead
    raise torch_missing("lnbook.conditioning") from e

__all__ = ["MODES", "CondBlock", "Denoiser", "modulate"]

# How the class reaches the blocks: "adaLN-Zero", "adaLN" (DiT's two adaptive norms),
# "concat" (the class embedding joins the input; plain layer norms with their own
# gamma, beta), "none" (no class at all: the unconditional baseline).
MODES = ("adaLN-Zero", "adaLN", "concat", "none")


def modulate(x_hat: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """DiT's modulation: gamma = 1 + scale, beta = shift, per example and feature.

    Written ``1 + scale`` so that a scale of 0 (a zero-initialized predictor) leaves the
    normalized features as they are.

    Parameters
    ----------
    x_hat : (B, D) normalized features; shift, scale : (B, D) predicted from the condition
    """
    if not all(isinstance(t, Tensor) for t in (x_hat, shift, scale)):
        got = ", ".join(type(t).__name__ for t in (x_hat, shift, scale))
        raise TypeError(f"x_hat, shift and scale must be torch.Tensors, got {got}")
    if x_hat.ndim != 2:
        raise ValueError(f"x_hat must have shape (B, D), got {tuple(x_hat.shape)}")
    if shift.shape != x_hat.shape or scale.shape != x_hat.shape:
        # A (D,) shift or scale would broadcast: one gamma and beta for every example, plain
        # layer norm's affine, not one per example predicted from its condition.
        raise ValueError(
            f"shift and scale must have x_hat's shape (B, D) = {tuple(x_hat.shape)} (one per "
            f"example and feature), got {tuple(shift.shape)} and {tuple(scale.shape)}"
        )
    return x_hat * (1 + scale) + shift


class CondBlock(nn.Module):
    """``x + gate * mlp(norm(x))``, the norm's gamma and beta predicted from ``c`` or not.

    Parameters
    ----------
    d : width of x; d_cond : width of the condition c; d_hidden : the MLP's hidden width
    mode : one of :data:`MODES`. "adaLN-Zero": (shift, scale, gate) = Linear(SiLU(c)), that
        linear map zero-initialized; "adaLN": (shift, scale) predicted the same way, the
        linear map left at PyTorch's random initialization, no gate; "concat" and "none":
        a plain layer norm with its own gamma and beta, no gate (the class, if any, entered
        with the input).
    """

    def __init__(self, d: int, d_cond: int, d_hidden: int, mode: str = "adaLN-Zero") -> None:
        super().__init__()
        for name, value in (("d", d), ("d_cond", d_cond), ("d_hidden", d_hidden)):
            check_size(name, value)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        adaptive = mode.startswith("adaLN")
        # DiT's norms: no affine of their own when the condition supplies it, eps 1e-6.
        self.norm = nn.LayerNorm(d, elementwise_affine=not adaptive, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(d, d_hidden), nn.GELU(), nn.Linear(d_hidden, d))
        self.modulation = None
        if adaptive:
            n_out = 3 if mode == "adaLN-Zero" else 2  # (shift, scale[, gate]) per feature
            self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(d_cond, n_out * d))
            if mode == "adaLN-Zero":
                nn.init.zeros_(self.modulation[-1].weight)
                nn.init.zeros_(self.modulation[-1].bias)

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        """x : (B, d); c : (B, d_cond), needed by the adaptive modes."""
        d = self.norm.normalized_shape[0]
        if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != d:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x must be a (B, {d}) tensor, got {shape}")
        if self.modulation is None:
            return x + self.mlp(self.norm(x))
        if c is None:
            raise ValueError(f"mode {self.mode!r} needs the condition c, got None")
        d_cond = self.modulation[-1].in_features
        if not isinstance(c, Tensor) or c.shape != (x.shape[0], d_cond):
            shape = tuple(c.shape) if isinstance(c, Tensor) else type(c).__name__
            raise ValueError(
                f"c must be a ({x.shape[0]}, {d_cond}) tensor (B, d_cond), got {shape}"
            )
        parts = self.modulation(c).chunk(3 if self.mode == "adaLN-Zero" else 2, dim=-1)
        h = self.mlp(modulate(self.norm(x), parts[0], parts[1]))
        return x + parts[2] * h if self.mode == "adaLN-Zero" else x + h


class Denoiser(nn.Module):
    """A class-conditional denoiser of 8x8 digits: noisy pixels (and the class) in, the
    clean pixels out.

    ``x = Linear(pixels [+ class embedding for "concat"])``, then ``n_blocks``
    :class:`CondBlock`, a final layer norm and a linear read-out of the 64 pixels.

    Parameters
    ----------
    mode : one of :data:`MODES`; d : width; n_blocks : blocks; n_classes : classes
    """

    def __init__(
        self, mode: str, d: int = 64, n_blocks: int = 2, n_classes: int = 10, pixels: int = 64
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.embed = nn.Embedding(n_classes, d) if mode != "none" else None
        self.inp = nn.Linear(pixels + (d if mode == "concat" else 0), d)
        self.blocks = nn.ModuleList(CondBlock(d, d, 2 * d, mode) for _ in range(n_blocks))
        self.final = nn.LayerNorm(d)
        self.out = nn.Linear(d, pixels)

    def forward(self, noisy: Tensor, labels: Tensor) -> Tensor:
        """noisy : (B, pixels) float; labels : (B,) int classes. Returns (B, pixels)."""
        if not isinstance(labels, Tensor) or labels.dtype not in (torch.int64, torch.int32):
            kind = labels.dtype if isinstance(labels, Tensor) else type(labels).__name__
            raise TypeError(f"labels must be an integer tensor of classes, got {kind}")
        if noisy.ndim != 2 or labels.shape != noisy.shape[:1]:
            raise ValueError(
                f"noisy must be (B, pixels) and labels (B,), got {tuple(noisy.shape)} and "
                f"{tuple(labels.shape)}"
            )
        c = self.embed(labels) if self.embed is not None else None
        x = self.inp(torch.cat([noisy, c], dim=-1) if self.mode == "concat" else noisy)
        for block in self.blocks:
            x = block(x, c if self.mode.startswith("adaLN") else None)
        return self.out(self.final(x))
