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


# float16 and bfloat16 (issue 17): a result computed in float32 and rounded once is within
# half an ulp of the exact value, |err| <= (eps / 2) |ref|; two such results (ours and
# torch's) are within one ulp of each other. eps is the dtype's machine epsilon, 2**-10
# for float16 (10 fraction bits) and 2**-7 for bfloat16 (7), written out so that the
# tolerance does not come from the library under test.
HALF_EPS = {"float16": 2.0**-10, "bfloat16": 2.0**-7}


def half_atol(dtype_name: str, ref: torch.Tensor, ulps: float = 1.0) -> torch.Tensor:
    """Elementwise tolerance ``ulps * eps * (|ref| + floor)`` for a float16/bfloat16 result.

    The floor (eps times the largest |ref|) covers values near 0, where the float32
    arithmetic before the rounding (a cancellation in ``x - mean``, in the backward's
    ``g - c2 - x_hat * c1``) leaves an absolute error relative to the row's scale.
    """
    eps = HALF_EPS[dtype_name]
    ref = ref.double()
    floor = eps * float(ref.abs().max()) if ref.numel() else 0.0
    return ulps * eps * (ref.abs() + floor)
