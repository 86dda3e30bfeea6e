"""Tolerances shared by the tests that compare with torch in float64.

Both sides round differently, at the 1e-16 level; these helpers scale the tolerance with
how much a normalization amplifies that rounding on the data at hand.
"""

from __future__ import annotations

import torch

RTOL = 1e-10
ATOL = 1e-12


def condition_scale(x: torch.Tensor, inv_scale: torch.Tensor) -> float:
    """``rstd * max|x|`` (>= 1): how much a normalization amplifies rounding errors.

    Outputs are ``rstd * (x - mean)``, and ``x - mean`` carries an absolute rounding error of
    about ``1e-16 * max|x|``, so with eps = 0, few normalized values or a large offset the
    float64 error grows with this factor (the tolerances below scale with it).
    """
    if x.numel() == 0:
        return 1.0
    return max(1.0, float(inv_scale.max()) * max(1.0, float(x.abs().max())))


def forward_atol(cond: float) -> float:
    """atol for outputs: rounding error ~ 1e-16 * cond, with a margin of 1e4."""
    return ATOL * cond


def grad_atol(cond: float) -> float:
    """atol for gradients: the oracle itself is only accurate to ~1e-16 * cond**2.

    torch's CPU layer-norm backward forms ``dx = a * g + b * x + c`` from x and the mean
    (not from x_hat), so its rounding error grows like ``(rstd * max|x|)**2``. Seen with
    float64, N = 2, x ~ 10 +- 0.01 and eps = 0: the exact dx is 0 and torch returns 3e-8,
    while cond**2 * 1e-16 ~ 9e-8. The quadratic term is 1e-14 * cond**2 (a 100x margin);
    for well-conditioned data (cond ~ 3) it is 1e-13, far below ATOL * cond.
    """
    return ATOL * cond + 1e-14 * cond**2
