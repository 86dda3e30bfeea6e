"""PyTorch is optional: the one place that says so, for the browser edition.

The book's browser edition runs in Pyodide (JupyterLite), which has NumPy and plotly but no
PyTorch. The NumPy half of ``lnbook`` works there; everything that needs torch imports it
through :func:`require_torch` (or, for the torch-only modules ``torch_ln``, ``models``,
``stacked``, ``recurrent`` and ``attention``, raises :func:`torch_missing`'s message at
import), so a reader who runs such a cell in the browser learns where it does run instead
of reading "No module named 'torch'".
"""

from __future__ import annotations

WHERE_IT_RUNS = (
    "PyTorch does not run in the browser edition of the book: run this chapter on Binder "
    'or on your computer (`make lab`); the chapter page\'s "Run this chapter" panel has both.'
)


def torch_missing(what: str = "This part of the book") -> ImportError:
    """The ImportError to raise when ``what`` needs torch and torch cannot be imported."""
    return ImportError(f"{what} needs PyTorch. {WHERE_IT_RUNS}", name="torch")


def require_torch(what: str = "This part of the book"):
    """Import and return ``torch``, or raise an ImportError saying where this part runs.

    Parameters
    ----------
    what : str
        Names the part that needs torch in the message (default: "This part of the book").

    Returns
    -------
    The ``torch`` module.

    Raises
    ------
    ImportError
        When torch cannot be imported (in the browser edition, always), chained to the
        original error.
    """
    try:
        import torch
    except ImportError as e:
        raise torch_missing(what) from e
    return torch


def ml_dtypes_bfloat16():
    """NumPy's bfloat16 dtype from ``ml_dtypes``, or None where that package is missing.

    NumPy has no bfloat16; ``ml_dtypes`` (JAX's) adds it. It is optional: the browser
    edition has none, and what uses bfloat16 there falls back on rounding float32 values
    itself (:func:`lnbook.topics.precision.experiments.round_to`).
    """
    try:
        import ml_dtypes
    except ImportError:
        return None
    import numpy as np

    return np.dtype(ml_dtypes.bfloat16)
