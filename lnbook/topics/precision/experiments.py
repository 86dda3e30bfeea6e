"""Chapter 15, statistics in reduced precision: what float16 and bfloat16 do to layer
norm's mean and variance, and why the statistics are computed in float32.

Every experiment here is NumPy only (the browser edition runs it), and imitates the two
half-precision formats exactly: a value "in float16" or "in bfloat16" is held in a float32
array whose values are representable in that format, and every arithmetic step of a naive
computation is rounded back to it (:func:`round_to`). Rounding a float32 result once more
gives the correctly rounded half-precision result (float32 carries more than twice the
half formats' significant bits), so the imitation is bit-exact; the tests check it
against NumPy's float16 and ``ml_dtypes``' bfloat16. A sum "accumulated in the dtype"
adds one value at a time and rounds every partial sum (:func:`accumulate`): what a
kernel with a half-precision accumulator would do, and what no framework does.

The two functions that ask torch what it does (:func:`autocast_dtypes`,
:func:`rms_default_eps`) import it when called.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ... import numpy_ln
from ..._optional import ml_dtypes_bfloat16, require_torch
from ..._validate import check_floats, check_int, check_ints

HALF = ("float16", "bfloat16")
# Largest finite float16; the smallest normal and subnormal float16 (2**-14 and 2**-24).
FLOAT16_MAX, FLOAT16_TINY, FLOAT16_SUBNORMAL = 65504.0, 2.0**-14, 2.0**-24
# Machine epsilon (the gap after 1): 10 and 7 fraction bits.
EPS = {"float16": 2.0**-10, "bfloat16": 2.0**-7, "float32": 2.0**-23}
DS = (64, 256, 1024, 4096, 16384)  # hidden sizes of the sweep
OFFSETS = (0.0, 1.0, 10.0, 100.0, 1000.0)  # mean / std of the rows
SEEDS = (0, 1, 2)
METHODS = (
    "one-pass, in the dtype",
    "two-pass, in the dtype",
    "one-pass, float32",
    "two-pass, float32",
)


def _check_dtype(dtype: str, allowed: Sequence[str] = HALF) -> None:
    if dtype not in allowed:
        raise ValueError(f"dtype must be one of {tuple(allowed)}, got {dtype!r}")


def round_to(a, dtype: str) -> np.ndarray:
    """``a`` rounded to the nearest float16 or bfloat16 (ties to even), held in float32.

    Parameters
    ----------
    a : array-like of real numbers (rounded to float32 first)
    dtype : "float16", "bfloat16" or "float32" (no rounding beyond float32)

    Returns
    -------
    float32 array of a's shape; overflow gives +-inf, as the format does
    """
    _check_dtype(dtype, (*HALF, "float32"))
    a = np.asarray(a, dtype=np.float32)
    if dtype == "float16":
        with np.errstate(over="ignore"):
            return a.astype(np.float16).astype(np.float32)
    if dtype == "bfloat16":
        # bfloat16 is float32's top 16 bits: add half of the dropped part's range (plus
        # one where the kept part is odd: ties to even), then drop the low 16 bits.
        bits = a.view(np.uint32)
        with np.errstate(over="ignore"):
            kept = (bits + np.uint32(0x7FFF) + ((bits >> 16) & 1)) & np.uint32(0xFFFF0000)
        return np.where(np.isnan(a), a, kept.view(np.float32))
    return a.copy()


def accumulate(a: np.ndarray, dtype: str, *, compiled: bool = True) -> np.ndarray:
    """Running sums along the last axis, each partial sum rounded to ``dtype``.

    ``accumulate(a, dtype)[..., k]`` is the sum of the first k + 1 values added one at a
    time in that precision. NumPy's float16 ufunc (and ``ml_dtypes``' bfloat16, where it
    is installed) does this in compiled code; elsewhere a loop over the columns.

    Parameters
    ----------
    a : (..., D) float32 array of values representable in ``dtype``
    dtype : "float16" or "bfloat16"
    compiled : False forces the loop (the tests compare both paths)

    Returns
    -------
    (..., D) float32 array
    """
    _check_dtype(dtype)
    if not isinstance(a, np.ndarray) or a.ndim < 1:
        raise TypeError(f"a must be a NumPy array of shape (..., D), got {type(a).__name__}")
    native = np.dtype(np.float16) if dtype == "float16" else ml_dtypes_bfloat16()
    native = native if compiled else None
    if native is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            return np.add.accumulate(a.astype(native), axis=-1).astype(np.float32)
    out = np.empty(a.shape, np.float32)
    total = np.zeros(a.shape[:-1], np.float32)
    bits, carry = total.view(np.uint32), np.empty(total.shape, np.uint32)
    for k in range(a.shape[-1]):
        np.add(total, a[..., k], out=total)
        if dtype == "float16":
            total[...] = round_to(total, dtype)
        else:  # round_to's bfloat16 rounding, in place: the loop is the browser's path
            np.right_shift(bits, 16, out=carry)
            np.bitwise_and(carry, 1, out=carry)
            carry += 0x7FFF
            bits += carry
            bits &= 0xFFFF0000
        out[..., k] = total
    return out


def _naive_layer_norm(x: np.ndarray, dtype: str, eps: float, one_pass: bool):
    """Layer norm with every step rounded to ``dtype`` (sums accumulated in it too).

    Returns (mean, var, y): (..., 1), (..., 1) and x's shape, as float32 arrays of dtype
    values; NaN and inf where the format overflows or the variance goes negative.
    """
    d = x.shape[-1]
    with np.errstate(all="ignore"):
        mu = round_to(accumulate(x, dtype)[..., -1:] / d, dtype)
        if one_pass:  # E[x^2] - E[x]^2
            ms = round_to(accumulate(round_to(x * x, dtype), dtype)[..., -1:] / d, dtype)
            var = round_to(ms - round_to(mu * mu, dtype), dtype)
            xc = round_to(x - mu, dtype)
        else:
            xc = round_to(x - mu, dtype)
            var = round_to(accumulate(round_to(xc * xc, dtype), dtype)[..., -1:] / d, dtype)
        var_eps = round_to(var + round_to(eps, dtype), dtype)
        rstd = round_to(1 / np.sqrt(var_eps), dtype)
        y = round_to(xc * rstd, dtype)
    return mu, var, y


def _float32_layer_norm(x: np.ndarray, dtype: str, eps: float, one_pass: bool):
    """Layer norm of dtype values with float32 statistics, the output rounded to dtype
    once. Two-pass: :func:`lnbook.numpy_ln.layer_norm`, what the library does for float16
    and bfloat16 input. Returns (mean, var, y) as :func:`_naive_layer_norm`."""
    mu = x.mean(axis=-1, keepdims=True, dtype=np.float32)
    if one_pass:
        with np.errstate(all="ignore"):
            var = (x * x).mean(axis=-1, keepdims=True, dtype=np.float32) - mu * mu
            y = round_to((x - mu) / np.sqrt(var + np.float32(eps)), dtype)
    else:
        xc = x - mu
        var = (xc * xc).mean(axis=-1, keepdims=True, dtype=np.float32)
        y = round_to(numpy_ln.layer_norm(x, x.shape[-1], eps=eps), dtype)
    return mu, var, y


def _largest(err: np.ndarray) -> np.ndarray:
    """The largest error over each offset's rows (the first axis); inf for inf or NaN."""
    err = np.where(np.isfinite(err), err, np.inf)
    return err.reshape(err.shape[0], -1).max(axis=1)


def _reference(x: np.ndarray, dtype: str, eps: float) -> tuple:
    """float64 mean, standard deviation, variance and output of ``x`` (offsets, rows, D),
    and the output's floor: the largest error of the exact output rounded to dtype, the
    least that format allows."""
    x64 = x.astype(np.float64)
    mu64 = x64.mean(axis=-1, keepdims=True)
    var64 = ((x64 - mu64) ** 2).mean(axis=-1, keepdims=True)
    y64 = (x64 - mu64) / np.sqrt(var64 + eps)
    return mu64, np.sqrt(var64), var64, y64, _largest(np.abs(round_to(y64, dtype) - y64))


def _errors(ref: tuple, mu, var, y) -> tuple:
    """Errors of (mu, var, y) against :func:`_reference`: the mean's in units of the
    row's spread, the variance's relative, the output's absolute; each the largest over
    an offset's rows."""
    mu64, sd64, var64, y64, _ = ref
    with np.errstate(all="ignore"):
        return (
            _largest(np.abs(mu - mu64) / sd64),
            _largest(np.abs(var - var64) / var64),
            _largest(np.abs(y - y64)),
        )


def statistics_error(
    dtype: str,
    ds: Sequence[int] = DS,
    offsets: Sequence[float] = OFFSETS,
    seeds: Sequence[int] = SEEDS,
    rows: int = 2,
    eps: float = 1e-5,
) -> dict:
    """Error of layer norm's statistics and output for float16 / bfloat16 input, four ways.

    Rows of ``D`` values ``offset + z`` (z standard normal, the same z at every offset),
    rounded to ``dtype``; their mean, variance and layer norm computed by each of
    :data:`METHODS` (one-pass ``E[x^2] - E[x]^2`` or two-pass ``E[(x - mu)^2]``, with
    every step in the dtype or with float32 statistics) and compared with float64 on the
    same rounded values.

    Returns
    -------
    dict with ``dtype``, ``ds``, ``offsets``, ``seeds``, ``methods``, and errors of shape
    (methods, seeds, offsets, ds): ``mean_err`` (|mu - mu64| / std64), ``var_err``
    (|var - var64| / var64), ``out_err`` (max |y - y64|); ``floor`` (seeds, offsets, ds):
    the output error of the exact answer rounded to dtype. inf marks inf or NaN.
    """
    _check_dtype(dtype)
    ds, seeds = check_ints("ds", ds, 2), check_ints("seeds", seeds, 0)
    offsets = np.asarray(check_floats("offsets", offsets), np.float64)
    check_int("rows", rows, 1)
    shape = (len(METHODS), len(seeds), len(offsets), len(ds))
    out = {k: np.empty(shape) for k in ("mean_err", "var_err", "out_err")}
    floor = np.empty(shape[1:])
    n = len(seeds) * len(offsets)
    for j, d in enumerate(ds):
        # Every seed at once (the same numbers as one seed at a time): (seeds, rows, D).
        z = np.stack(
            [np.random.default_rng((seed, d)).standard_normal((rows, d)) for seed in seeds]
        )
        x = round_to(offsets[None, :, None, None] + z[:, None], dtype).reshape(n, rows, d)
        ref = _reference(x, dtype, eps)  # errors per (seed, offset): the first axis
        floor[:, :, j] = ref[-1].reshape(shape[1:3])
        for m, name in enumerate(METHODS):
            run = _naive_layer_norm if "dtype" in name else _float32_layer_norm
            stats = run(x, dtype, eps, one_pass=name.startswith("one"))
            for key, err in zip(out, _errors(ref, *stats), strict=True):
                out[key][m, :, :, j] = err.reshape(shape[1:3])
    return {
        "dtype": dtype,
        "ds": np.array(ds),
        "offsets": offsets,
        "seeds": np.array(seeds),
        "methods": METHODS,
        **out,
        "floor": floor,
    }


def overflow(
    scales: Sequence[float] = (1.0, 2.0, 3.8, 4.2, 8.0, 64.0, 300.0),
    d: int = 4096,
    seeds: Sequence[int] = SEEDS,
    rows: int = 4,
    eps: float = 1e-5,
) -> dict:
    """float16 layer norm of rows of standard deviation ``scale``: where the naive one
    (every step in float16) overflows, what it returns, and float32 statistics beside it.

    The sum of squares of ``d`` values of spread s is about d s^2: past 65504 (s > 4 for
    d = 4096) it overflows even though every value is small; past s ~ 256 each square does.

    Returns
    -------
    dict with ``scales`` (K,), ``seeds`` and, of shape (seeds, K): ``sumsq_inf`` (fraction
    of rows whose float16 sum of squares is inf), ``naive_nonfinite`` and ``naive_zero``
    (fractions of the naive output that are inf/NaN, and exactly 0), ``f32_nonfinite``
    and ``f32_err`` (the float32-statistics output: fraction not finite, and its largest
    error against float64, in ulps of float16 at 1: units of 2**-10)
    """
    scales = np.asarray(check_floats("scales", scales, positive=True), np.float64)
    seeds = check_ints("seeds", seeds, 0)
    check_int("d", d, 2)
    check_int("rows", rows, 1)
    keys = ("sumsq_inf", "naive_nonfinite", "naive_zero", "f32_nonfinite", "f32_err")
    res = {k: np.empty((len(seeds), len(scales))) for k in keys}
    for s, seed in enumerate(seeds):
        z = np.random.default_rng(seed).standard_normal((rows, d))
        x = round_to(scales[:, None, None] * z, "float16")  # (K, rows, d)
        with np.errstate(all="ignore"):
            sumsq = accumulate(round_to(x * x, "float16"), "float16")[..., -1]
        _, _, y = _naive_layer_norm(x, "float16", eps, one_pass=False)
        y32 = numpy_ln.layer_norm(x.astype(np.float16), d, eps=eps).astype(np.float32)
        x64 = x.astype(np.float64)
        y64 = numpy_ln.layer_norm(x64, d, eps=eps)
        res["sumsq_inf"][s] = np.isinf(sumsq).mean(axis=1)
        res["naive_nonfinite"][s] = (~np.isfinite(y)).mean(axis=(1, 2))
        res["naive_zero"][s] = (y == 0).mean(axis=(1, 2))
        res["f32_nonfinite"][s] = (~np.isfinite(y32)).mean(axis=(1, 2))
        res["f32_err"][s] = np.abs(y32 - y64).max(axis=(1, 2)) / EPS["float16"]
    return {"scales": scales, "seeds": np.array(seeds), "d": d, **res}


def tiny_variance(
    stds: Sequence[float] = tuple(10.0 ** np.arange(-6.0, 0.5, 0.5)),
    eps_values: Sequence[float] = (1e-5, 1e-8),
    d: int = 256,
    seeds: Sequence[int] = SEEDS,
) -> dict:
    """float16 layer norm of rows of tiny spread s (nearly dead features), and of a
    constant row, with eps added in float16 (naive) or in float32 (float32 statistics).

    Exactly, the output's spread is ``s / sqrt(s^2 + eps)``: 1 for s >> sqrt(eps),
    s / sqrt(eps) below. In float16 a square under 2**-25 rounds to 0, so a row's naive
    variance underflows for s below ~2e-4; eps = 1e-5 is larger than such variances and
    hides it, but eps = 1e-8 rounds to 0 in float16, and then nothing does.

    Returns
    -------
    dict with ``stds`` (K,), ``eps_values`` (E,), ``seeds``, and the output's standard
    deviation (E, seeds, K): ``exact`` (float64 on the rounded float16 input),
    ``naive`` (every step in float16), ``float32_stats`` (:func:`numpy_ln.layer_norm` on
    float16); and for a constant row (all 0.5) the naive output's first value
    ``constant_naive`` (E,) and float32 statistics' ``constant_float32`` (E,)
    """
    stds = np.asarray(check_floats("stds", stds, positive=True), np.float64)
    eps_values = check_floats("eps_values", eps_values, 0)
    seeds = check_ints("seeds", seeds, 0)
    check_int("d", d, 2)  # one feature has no spread to measure
    shape = (len(eps_values), len(seeds), len(stds))
    res = {k: np.empty(shape) for k in ("exact", "naive", "float32_stats")}
    for s, seed in enumerate(seeds):
        z = np.random.default_rng(seed).standard_normal(d)
        z = (z - z.mean()) / z.std()
        x = round_to(stds[:, None] * z, "float16")  # (K, d): spread s before rounding
        for e, eps in enumerate(eps_values):
            y64 = numpy_ln.layer_norm(x.astype(np.float64), d, eps=eps)
            res["exact"][e, s] = y64.std(axis=-1)
            with np.errstate(invalid="ignore"):  # NaN rows (eps lost) stay NaN
                res["naive"][e, s] = _naive_layer_norm(x, "float16", eps, False)[2].std(axis=-1)
            y32 = numpy_ln.layer_norm(x.astype(np.float16), d, eps=eps)
            res["float32_stats"][e, s] = y32.astype(np.float64).std(axis=-1)
    const = np.full((1, d), 0.5, np.float32)
    naive_const = [
        float(_naive_layer_norm(const, "float16", e, False)[2][0, 0]) for e in eps_values
    ]
    f32_const = [
        float(numpy_ln.layer_norm(const.astype(np.float16), d, eps=e)[0, 0]) for e in eps_values
    ]
    return {
        "stds": stds,
        "eps_values": np.asarray(eps_values, np.float64),
        "seeds": np.array(seeds),
        **res,
        "constant_naive": np.array(naive_const),
        "constant_float32": np.array(f32_const),
    }


def eps_table(eps_values: Sequence[float] = (1e-5, 1e-6, 1e-8, 1e-12)) -> list[dict]:
    """What common eps become when written in float16 and bfloat16.

    Returns
    -------
    list of dicts, one per (eps, dtype): ``eps``, ``dtype``, ``value`` (the rounded eps),
    ``rel_change`` (|value - eps| / eps), ``kind`` ("normal", "subnormal" or "zero"),
    ``absorbed`` (whether var + eps == var in that dtype for var = 1: eps below half the
    gap after 1 changes nothing there)
    """
    check_floats("eps_values", eps_values, positive=True)  # each eps as given in the rows
    rows = []
    for eps in eps_values:
        for dtype in HALF:
            value = float(round_to(eps, dtype))
            tiny = FLOAT16_TINY if dtype == "float16" else float(np.finfo(np.float32).tiny)
            kind = "zero" if value == 0 else ("subnormal" if value < tiny else "normal")
            absorbed = bool(round_to(1.0 + value, dtype) == 1.0)
            rows.append(
                {
                    "eps": eps,
                    "dtype": dtype,
                    "value": value,
                    "rel_change": abs(value - eps) / eps,
                    "kind": kind,
                    "absorbed": absorbed,
                }
            )
    return rows


def rms_eps_effect(
    mean_squares: Sequence[float] = (1e-8, 1e-6, 1e-4, 1e-2, 1.0),
    eps_values: Sequence[float] = (1e-6, 2.0**-7),
) -> dict:
    """RMSNorm's output scale ``sqrt(m / (m + eps))`` for rows of mean square m (closed
    form, float64), and whether eps survives being added to m in bfloat16.

    Llama's RMSNorm uses eps = 1e-6; bfloat16's machine epsilon is 2**-7 = 0.0078 (what
    an ``eps=None`` read as "finfo of the input's dtype" would give).

    Returns
    -------
    dict with ``mean_squares`` (K,), ``eps_values`` (E,), ``scale`` (E, K) and
    ``lost_in_bfloat16`` (E, K): m + eps rounded to bfloat16 equals m rounded
    """
    m = np.asarray(check_floats("mean_squares", mean_squares, 0), np.float64)
    e = np.asarray(check_floats("eps_values", eps_values, 0), np.float64)[:, None]
    scale = np.sqrt(m / (m + e))
    lost = round_to(round_to(m, "bfloat16") + round_to(e, "bfloat16"), "bfloat16") == round_to(
        m, "bfloat16"
    )
    return {"mean_squares": m, "eps_values": e[:, 0], "scale": scale, "lost_in_bfloat16": lost}


def autocast_dtypes() -> dict:
    """What ``F.layer_norm`` returns under ``torch.autocast``, measured with this torch.

    On the CPU with bfloat16: the dtype of a linear layer's output, of layer norm of it,
    and of layer norm of a float32 tensor. On CUDA with float16 the same, if a GPU is
    present; else None (not measured).

    Returns
    -------
    dict: ``torch`` (version), ``cpu`` {"linear", "layer_norm_of_linear",
    "layer_norm_of_float32"} as dtype names, ``cuda`` (the same dict, or None)
    """
    torch = require_torch()
    F = torch.nn.functional

    def measure(device: str, dtype) -> dict:
        gen = torch.Generator(device="cpu").manual_seed(0)
        x = torch.randn(4, 8, generator=gen).to(device)
        lin = torch.nn.Linear(8, 8).to(device)
        with torch.autocast(device, dtype=dtype):
            h = lin(x)
            return {
                "linear": str(h.dtype).removeprefix("torch."),
                "layer_norm_of_linear": str(F.layer_norm(h, (8,)).dtype).removeprefix("torch."),
                "layer_norm_of_float32": str(F.layer_norm(x, (8,)).dtype).removeprefix("torch."),
            }

    cuda = measure("cuda", torch.float16) if torch.cuda.is_available() else None
    return {"torch": torch.__version__, "cpu": measure("cpu", torch.bfloat16), "cuda": cuda}


def torch_half_error(
    seeds: Sequence[int] = SEEDS, d: int = 1024, offset: float = 10.0, rows: int = 8
) -> dict:
    """How far torch's own ``F.layer_norm`` in float16 and bfloat16 (CPU) is from float64,
    beside ``numpy_ln.layer_norm`` (float32 statistics) and the naive two-pass in the dtype.

    Returns
    -------
    dict with ``seeds`` and, per dtype name, a dict of (seeds,) largest output errors in
    units of the dtype's eps: ``torch``, ``numpy_ln``, ``naive``, ``floor`` (the exact
    output rounded to the dtype)
    """
    seeds = check_ints("seeds", seeds, 0)
    check_int("d", d, 2)
    check_int("rows", rows, 1)
    torch = require_torch()
    out: dict = {"seeds": np.array(seeds)}
    for dtype in HALF:
        errs = {k: np.empty(len(seeds)) for k in ("torch", "numpy_ln", "naive", "floor")}
        for s, seed in enumerate(seeds):
            z = np.random.default_rng(seed).standard_normal((rows, d))
            x = round_to(offset + z, dtype)
            y64 = numpy_ln.layer_norm(x.astype(np.float64), d)
            xt = torch.from_numpy(x).to(getattr(torch, dtype))
            half = (
                x.astype(np.float16)
                if dtype == "float16"
                else x.astype(ml_dtypes_bfloat16() or np.float32)
            )
            candidates = {
                "torch": torch.nn.functional.layer_norm(xt, (d,)).float().numpy(),
                "numpy_ln": round_to(numpy_ln.layer_norm(half, d).astype(np.float32), dtype),
                "naive": _naive_layer_norm(x, dtype, 1e-5, False)[2],
                "floor": round_to(y64, dtype),
            }
            for k, y in candidates.items():
                errs[k][s] = np.abs(y.astype(np.float64) - y64).max() / EPS[dtype]
        out[dtype] = errs
    return out


def rms_default_eps(dtype: str, seed: int = 0) -> float:
    """The eps torch's ``F.rms_norm(x, shape)`` (``eps=None``) uses for a ``dtype`` input,
    found by measurement: the candidate (finfo eps of bfloat16, float16, float32 or
    float64) whose float64 RMSNorm is closest to torch's output on rows small enough
    (mean square ~1e-6, where float32's eps moves the output by about 6%) that eps shows.
    """
    _check_dtype(dtype, (*HALF, "float32"))
    torch = require_torch()
    gen = torch.Generator().manual_seed(seed)
    x = (1e-3 * torch.randn(8, 64, generator=gen, dtype=torch.float64)).to(getattr(torch, dtype))
    y = torch.nn.functional.rms_norm(x, (64,)).double()
    candidates = [2.0**-7, 2.0**-10, 2.0**-23, 2.0**-52]
    errs = [
        float((torch.nn.functional.rms_norm(x.double(), (64,), eps=c) - y).abs().max())
        for c in candidates
    ]
    return candidates[int(np.argmin(errs))]
