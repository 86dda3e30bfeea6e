"""Chapter 8's experiments: accuracy of the float32 layer norms (their speed is
:mod:`lnbook.bench`'s).

:func:`offset_accuracy` measures each implementation against a float64 reference on data
with a growing common offset, where the way the statistics are computed decides the error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ... import numpy_ln
from ..._optional import require_torch
from ..._validate import check_floats, check_nd_shape
from ..batch_norm.experiments import normalize_over

ACCURACY_OFFSETS = (0.0, 1e1, 1e2, 1e3, 1e4, 1e5)


def offset_accuracy(
    offsets: Sequence[float] = ACCURACY_OFFSETS,
    shape: tuple[int, int] = (256, 1024),
    *,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """How accurate each float32 layer norm is on data with a common offset.

    Rows are ``offset + randn`` rounded to float32; the reference normalizes those same
    float32 numbers in float64. Any error beyond float32's own rounding (about 1e-7 in
    x_hat) comes from how the statistics are computed.

    Returns
    -------
    dict with ``offsets`` (K,) and, for each implementation, (K,) the largest absolute
    error of x_hat: ``lnbook NumPy`` (the package's ``layer_norm``), ``lnbook NumPy, no
    correction`` (its kernel without the residual-mean correction), ``NumPy, textbook``
    (mean, then the mean of squared deviations), ``PyTorch F.layer_norm`` and ``lnbook
    PyTorch`` (``torch_ln.layer_norm``)
    """
    torch = require_torch()

    from ... import torch_ln

    check_floats("offsets", offsets)
    check_nd_shape("shape", shape, min_d=2)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(shape)
    d = shape[1]

    def no_correction(x):
        y = np.empty_like(x)
        numpy_ln._layer_norm_rows(x, y, None, None, np.float32(1e-5), correct=False)
        return y

    impls = {
        "lnbook NumPy": lambda x: numpy_ln.layer_norm(x, d),
        "lnbook NumPy, no correction": no_correction,
        "NumPy, textbook": lambda x: normalize_over(x, (-1,)),
        "PyTorch F.layer_norm": lambda x: torch.nn.functional.layer_norm(
            torch.from_numpy(x), (d,)
        ).numpy(),
        "lnbook PyTorch": lambda x: torch_ln.layer_norm(torch.from_numpy(x), d).numpy(),
    }
    out = {"offsets": np.asarray(offsets, dtype=np.float64)}
    errors = {name: [] for name in impls}
    for offset in offsets:
        x = (offset + z).astype(np.float32)
        ref = normalize_over(x.astype(np.float64), (-1,))
        for name, fn in impls.items():
            errors[name].append(float(np.abs(fn(x) - ref).max()))
    out.update({name: np.array(e) for name, e in errors.items()})
    return out
