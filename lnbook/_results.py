"""Results of the long experiments, kept for a second run of the same call (test runs).

Off unless the environment variable ``LNBOOK_RESULTS`` names a folder. ``make test``
executes every chapter twice, as the book and as the student notebook, and the training
runs are the same calls both times; so the chapter tests run with ``store:DIR``, which
computes every call and keeps its result (the book's numbers are always computed), and
the student notebooks, executed later in the same test run, with ``reuse:DIR``, which
returns the kept result of the very same call (same function, same arguments) and computes,
without keeping, whatever is not there. A folder serves one test run, so one package
source: the key is the function's name and its arguments by name, defaults filled in and
dicts in their order (joblib's hash of them).
"""

from __future__ import annotations

import functools
import inspect
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np


def _ordered(value):
    """Dicts as lists of items, in their order: joblib's hash ignores a dict's order, and
    an experiment's result may follow it (a figure's labels, a table's rows)."""
    if isinstance(value, dict):
        return [("dict", [(k, _ordered(v)) for k, v in value.items()])]
    if isinstance(value, list | tuple):
        return type(value)(_ordered(v) for v in value)
    return value


def _call_key(fn, args, kwargs):
    """The call's arguments by name, defaults filled in: f(1) and f(x=1) are one call."""
    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    return [(name, _ordered(value)) for name, value in bound.arguments.items()]


def remembered(fn):
    """Decorator: ``fn`` keeps or reuses its results as ``LNBOOK_RESULTS`` says."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        setting = os.environ.get("LNBOOK_RESULTS", "")
        if not setting:
            return fn(*args, **kwargs)
        mode, _, folder = setting.partition(":")
        if mode not in ("store", "reuse") or not folder:
            raise ValueError(f"LNBOOK_RESULTS must be 'store:DIR' or 'reuse:DIR', got {setting!r}")
        import joblib

        key = joblib.hash((fn.__module__, fn.__qualname__, _call_key(fn, args, kwargs)))
        path = Path(folder) / f"{fn.__qualname__}-{key}.pkl"
        if mode == "reuse":
            if path.is_file():
                return pickle.loads(path.read_bytes())
            return fn(*args, **kwargs)
        result = fn(*args, **kwargs)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then renamed: a reader on the other worker never sees half a file.
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
            pickle.dump(result, tmp)
        os.replace(tmp.name, path)
        return result

    return wrapper


def binned(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of ``values`` per bin, values beyond the edges counted in the end bins.

    A figure then shows every value (the end bins read "this or beyond") instead of
    silently dropping the ones outside its range.
    """
    edges = np.asarray(edges, dtype=float)
    ok = edges.ndim == 1 and len(edges) >= 2 and np.isfinite(edges).all()
    if not ok or (np.diff(edges) < 0).any():  # as np.histogram: repeated edges are allowed
        shown = f"{edges.tolist()!r:.80}"
        raise ValueError(f"edges must be 2 or more finite numbers in increasing order, got {shown}")
    values = np.clip(np.ravel(values), edges[0], edges[-1])
    return np.histogram(values, edges)[0]
