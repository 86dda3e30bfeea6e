"""Argument checks shared by the NumPy and the PyTorch implementations, and the experiments.

These work on plain shapes and numbers only, so both back ends give the same messages for
the same mistake. Each message names the argument and the shapes involved: a learner who
passes a weight of the wrong shape should read *which* shape was expected, not an
``IndexError`` from deep inside a reduction. The last few (an index, a bounded int, a
rate, an (N, D) batch, a sequence of ints, numbers or names such as ``seeds``) are the
experiments' and widgets' arguments, checked the same way before any training starts;
:func:`float_array` is the one line the chapters' teaching code starts with.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np


def normalized_shape_tuple(normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    """Turn ``normalized_shape`` (an int or a sequence of ints) into a tuple of ints."""
    if isinstance(normalized_shape, bool):
        raise TypeError("normalized_shape must be an int or a tuple of ints, got a bool")
    if isinstance(normalized_shape, numbers.Integral):
        shape = (int(normalized_shape),)
    elif isinstance(normalized_shape, Sequence) and not isinstance(normalized_shape, str):
        if not all(
            isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in normalized_shape
        ):
            raise TypeError(
                f"normalized_shape must contain only ints, got {tuple(normalized_shape)!r}"
            )
        shape = tuple(int(d) for d in normalized_shape)
    else:
        # torch.Size is a tuple subclass, so it is accepted above.
        raise TypeError(
            "normalized_shape must be an int or a tuple of ints, "
            f"got {type(normalized_shape).__name__}"
        )
    if len(shape) == 0:
        raise ValueError("normalized_shape must have at least one dimension, got ()")
    if any(d < 1 for d in shape):
        # torch accepts a zero size, but the mean of no features is undefined.
        raise ValueError(f"normalized_shape must contain only sizes >= 1, got {shape}")
    return shape


def check_normalized_shape(
    x_shape: tuple[int, ...], normalized_shape: int | Sequence[int]
) -> tuple[int, ...]:
    """Check that ``normalized_shape`` equals the trailing dimensions of ``x``.

    Returns the normalized shape as a tuple; the statistics are taken over the last
    ``len(normalized_shape)`` axes of ``x``.
    """
    shape = normalized_shape_tuple(normalized_shape)
    x_shape = tuple(x_shape)
    if len(shape) > len(x_shape):
        raise ValueError(
            f"normalized_shape {shape} has {len(shape)} dimensions but x has only "
            f"{len(x_shape)} (x.shape = {x_shape})"
        )
    if x_shape[len(x_shape) - len(shape) :] != shape:
        raise ValueError(
            f"normalized_shape {shape} must equal the last {len(shape)} dimension(s) of x, "
            f"but x.shape = {x_shape}"
        )
    return shape


def check_param_shape(name: str, shape: tuple[int, ...] | None, expected: tuple[int, ...]) -> None:
    """Check a per-feature parameter (weight, bias, running stats) has exactly ``expected``.

    Exact equality on purpose: a weight of shape ``(1,)`` or ``(1, D)`` would broadcast
    silently and hide a bug.
    """
    if shape is None:
        return
    if tuple(shape) != tuple(expected):
        raise ValueError(f"{name} must have shape {tuple(expected)}, got {tuple(shape)}")


def check_eps(eps: float, *, allow_none: bool = False) -> None:
    """Check ``eps`` is a finite, non-negative real number (or None when allowed).

    torch accepts a negative eps, which can turn ``var + eps`` negative and the output into
    NaN; here it is an error.
    """
    if eps is None and allow_none:
        return
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"eps must be a real number, got {type(eps).__name__}")
    if not math.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be finite and >= 0, got {eps!r}")


def check_momentum(momentum: float) -> None:
    """Check a batch-norm ``momentum`` is a real number in [0, 1]."""
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real):
        raise TypeError(f"momentum must be a real number, got {type(momentum).__name__}")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")


def check_index(name: str, i: int, n: int) -> None:
    """A ValueError naming ``name`` unless ``i`` is an int index into ``n`` items."""
    if isinstance(i, bool) or not isinstance(i, int | np.integer) or not 0 <= i < n:
        raise ValueError(f"{name} must be an int in [0, {n}), got {i!r}")


def check_int(name: str, value, minimum: int, maximum: int | None = None) -> None:
    """A ValueError naming ``name`` unless ``value`` is an int in [minimum, maximum]."""
    ok = not isinstance(value, bool) and isinstance(value, int | np.integer)
    if not ok or value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an int {bound}, got {value!r}")


def check_size(name: str, value) -> int:
    """A layer size or a count of layers: an int of at least 1 (a bool, a float or a
    string is a TypeError naming ``name``, a smaller int a ValueError); returned as int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def check_number(
    name: str, value, low: float = -math.inf, high: float = math.inf, *, integer: bool = False
) -> float | int:
    """A finite real number (a whole one if ``integer``) in [low, high], returned as a float
    (an int): a TypeError naming ``name`` for what is not a number, a ValueError saying the
    range for one outside it, inf or NaN. A widget's start value goes through here too: a
    slider would move a value outside its range to its end without a word."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "a whole number" if integer else "a number"
        raise TypeError(f"{name} must be {what}, got {type(value).__name__} {value!r}")
    if not (math.isfinite(value) and low <= value <= high):
        if high < math.inf:
            says = f"in [{low:g}, {high:g}]"
        else:
            says = f">= {low:g}" if integer else f"finite and >= {low:g}"
        raise ValueError(f"{name} must be {says}, got {_plain(value)!r}")
    return int(value) if integer else float(value)


def check_nd_shape(name: str, shape, min_d: int = 1) -> tuple[int, int]:
    """An (N, D) shape (rows of D features) as a tuple of ints: a ValueError naming ``name``
    unless it is two sizes, N >= 1 and D >= ``min_d``; a TypeError for a size not an int."""
    if isinstance(shape, str) or not isinstance(shape, Sequence) or len(shape) != 2:
        raise ValueError(f"{name} must be (N, D), two sizes, got {shape!r}")
    n, d = check_size(f"{name}[0]", shape[0]), check_size(f"{name}[1]", shape[1])
    if d < min_d:
        raise ValueError(f"{name}[1] must be >= {min_d}, got {d}")
    return n, d


def check_rate(name: str, value) -> None:
    """A ValueError naming ``name`` unless ``value`` is a positive finite number (a rate)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < np.inf:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def check_batch(x) -> np.ndarray:
    """``x`` as a float64 (N, D) array, or a ValueError that says its shape."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x must be a non-empty (N, D) batch, got shape {x.shape}")
    return x


def float_array(x, name: str = "x") -> np.ndarray:
    """``x`` as a NumPy array of one or more features on its last axis, for the teaching
    code that reads ``x.mean(axis=-1)``: a float array as it is (float32 stays float32, the
    lesson of the pitfalls), a list or integers as float64. A ragged list, a scalar, an
    empty last axis or non-numbers are a ValueError or TypeError naming ``name``."""
    try:
        arr = np.asarray(x)
    except ValueError:  # NumPy refuses rows of different lengths
        kind = type(x).__name__
        raise ValueError(
            f"{name} must be a (..., D) array, got a ragged {kind} (rows of different lengths)"
        ) from None
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be a (..., D) array of real numbers, got dtype {arr.dtype}")
    if arr.ndim == 0 or arr.shape[-1] < 1:
        raise ValueError(f"{name} must be a (..., D) array with D >= 1, got shape {arr.shape}")
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


# The QK-norms of chapter 13 (lnbook.attention, its experiments): none, layer norm or RMSNorm
# on the queries and keys. Kept here, torch-free, so that the experiments check their
# arguments in the browser edition too.
QK_NORMS = (None, "layer", "rms")


def check_qk_norm(qk_norm) -> None:
    """A ValueError naming ``qk_norm`` unless it is one of :data:`QK_NORMS`."""
    if qk_norm not in QK_NORMS:
        raise ValueError(f"qk_norm must be one of {QK_NORMS}, got {qk_norm!r}")


# A sequence argument (seeds, depths, rates, offsets): a list, tuple, range or 1-D array.
# A bare number is refused, not wrapped: f(seeds=3) may mean one seed or three.
def check_sequence(name: str, values, kind: str = "values", example: str = "(0,)") -> tuple:
    """``values`` as a tuple, or an error naming ``name``: a TypeError unless it is a
    list, tuple, range, 1-D array or other sequence (not a string), a ValueError if it is
    empty or an array of another shape. ``kind`` and ``example`` say what it should hold."""
    want = f"{name} must be a non-empty sequence of {kind}, e.g. {example}"
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise ValueError(f"{want}, got an array of shape {values.shape}")
    elif not isinstance(values, Sequence) or isinstance(values, str | bytes):
        got = "None" if values is None else f"{type(values).__name__} {_plain(values)!r}"
        raise TypeError(f"{want}, got {got}")
    if len(values) == 0:
        raise ValueError(f"{want}, got an empty {type(values).__name__}")
    return tuple(values)


def check_choices(
    name: str, values, allowed: Sequence, *, kind: str = "names", example: str | None = None
) -> tuple:
    """A non-empty sequence (as :func:`check_sequence`) whose items are each one of
    ``allowed`` (placements, norms, modes: the names the training code takes), as a tuple
    of the items unchanged; a ValueError naming ``name``, the first unknown item and
    ``allowed`` otherwise. Checked up front, so that a typo in the last name fails before
    the first one trains. ``kind`` and ``example`` say what it should hold."""
    allowed = tuple(allowed)
    if example is None:
        example = f"({allowed[0]!r},)"
    if isinstance(values, str) and _is_one_of(values, allowed):
        example = f"({values!r},)"  # a lone name: the message shows it wrapped, the fix
    items = check_sequence(name, values, kind, example)
    for v in items:
        if not _is_one_of(v, allowed):
            raise ValueError(
                f"{name} must be a non-empty sequence of {kind}, each one of {allowed}, "
                f"got {[_plain(u) for u in items]!r}: {_plain(v)!r} is not one of them"
            )
    return items


def _is_one_of(value, allowed: tuple) -> bool:
    """``value in allowed`` (by ==, as the training code compares), False where comparing
    fails (an array of several items)."""
    try:
        return bool(value in allowed)
    except (TypeError, ValueError):
        return False


def _plain(value):
    """A NumPy scalar as the Python number it holds, so that messages show ``0.5``, not
    ``np.float64(0.5)``."""
    return value.item() if isinstance(value, np.generic) else value


def _checked_items(name: str, values, kind: str, example: str, number: type, ok) -> tuple:
    """The shared body of :func:`check_ints` and :func:`check_floats`: ``values`` as a
    tuple of ``number`` (int or float), every item of that kind and passing ``ok``."""
    kind_of_item = numbers.Integral if number is int else numbers.Real

    def is_item(v) -> bool:
        return isinstance(v, kind_of_item) and not isinstance(v, bool)

    # A lone number that would be a valid item: the message shows it wrapped, the fix.
    if is_item(values) and ok(values):
        example = f"({_plain(values)!r},)"
    items = check_sequence(name, values, kind, example)
    shown = [_plain(v) for v in items]
    for v in items:
        if not is_item(v):
            raise TypeError(
                f"{name} must be a non-empty sequence of {kind}, got {shown}: "
                f"{_plain(v)!r} is a {type(v).__name__}"
            )
    if not all(ok(v) for v in items):
        raise ValueError(f"{name} must be a non-empty sequence of {kind}, got {shown}")
    return tuple(number(v) for v in items)


def check_ints(name: str, values, minimum: int | None = None) -> tuple[int, ...]:
    """A non-empty sequence of ints, each >= ``minimum`` if given, as a tuple of ints; a
    TypeError (not a sequence, an item not an int: a bool or a float is not) or a
    ValueError (empty, an item too small) naming ``name`` and what it got otherwise."""
    if minimum is None:
        return _checked_items(name, values, "ints", "(0,)", int, lambda v: True)
    kind, example = f"ints >= {minimum}", f"({max(minimum, 0)},)"
    return _checked_items(name, values, kind, example, int, lambda v: v >= minimum)


def check_floats(
    name: str, values, minimum: float | None = None, *, positive: bool = False
) -> tuple[float, ...]:
    """A non-empty sequence of finite real numbers, each >= ``minimum`` if given and > 0
    if ``positive``, as a tuple of floats; a TypeError (not a sequence, an item not a
    number) or a ValueError (empty, an item out of range, inf or NaN) naming ``name``."""
    low = -math.inf if minimum is None else minimum
    if positive:
        kind = "positive finite numbers"
    else:
        kind = "finite numbers" if minimum is None else f"finite numbers >= {minimum}"

    def ok(v) -> bool:
        return math.isfinite(v) and v >= low and (v > 0 or not positive)

    return _checked_items(name, values, kind, "(1.0,)", float, ok)


def check_pairs(name: str, values, kind: str, example: str) -> tuple[tuple, ...]:
    """A non-empty sequence of pairs (``configs``: (placement, rate) and the like), as a
    tuple of 2-tuples; a TypeError or ValueError naming ``name`` otherwise. What each pair
    holds is the caller's to check. ``kind`` and ``example`` say what it should hold."""
    items = check_sequence(name, values, kind, example)
    for v in items:
        if isinstance(v, str | bytes) or not isinstance(v, Sequence | np.ndarray) or len(v) != 2:
            raise TypeError(
                f"{name} must be a non-empty sequence of {kind}, e.g. {example}, "
                f"got {list(items)!r}: {v!r} is not a pair"
            )
    return tuple(tuple(v) for v in items)
