"""Seeded inputs for the chapters. Everything is generated; nothing is downloaded."""

from __future__ import annotations

import numpy as np


def activations(
    n_examples: int,
    n_features: int,
    *,
    offset: float = 0.0,
    scale: float = 1.0,
    dtype=np.float64,
    seed: int = 0,
) -> np.ndarray:
    """A batch of layer activations: ``offset + scale * N(0, 1)`` noise.

    Parameters
    ----------
    n_examples, n_features : int
    offset, scale : float
        Every value shares the offset; a large offset is what breaks one-pass variance.
    dtype : numpy float dtype of the result (the noise is drawn in float64, then cast)
    seed : int

    Returns
    -------
    x : (n_examples, n_features) array of ``dtype``
    """
    rng = np.random.default_rng(seed)
    return (offset + scale * rng.standard_normal((n_examples, n_features))).astype(dtype)
