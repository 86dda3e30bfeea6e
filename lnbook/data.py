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


def digits(n: int | None = None, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Handwritten digits: 8x8 grey images with values 0-16, and their labels.

    The 1,797 images ship inside scikit-learn (``sklearn.datasets.load_digits``), so nothing
    is downloaded.

    Parameters
    ----------
    n : int, optional
        Return a random subset of ``n`` images (all of them if None).
    seed : int
        Chooses the subset.

    Returns
    -------
    images : (n, 64) float64 array, each row an image flattened row by row
    labels : (n,) int array
    """
    from sklearn.datasets import load_digits  # imported here: only these functions need it

    bunch = load_digits()
    images, labels = bunch.data.astype(np.float64), bunch.target.astype(int)
    if n is not None:
        if not 1 <= n <= len(images):
            raise ValueError(f"n must be between 1 and {len(images)}, got {n}")
        idx = np.random.default_rng(seed).choice(len(images), size=n, replace=False)
        images, labels = images[idx], labels[idx]
    return images, labels


def layer_activations(
    n_examples: int = 16, n_features: int = 32, *, seed: int = 0, return_labels: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Activations of a hidden layer (linear + ReLU) fed with handwritten digits.

    Each image is first given a random "pen pressure" (a positive scale, log-normal) and
    "paper brightness" (an offset), as real inputs vary in exposure and contrast; then a
    random linear layer (scaled like PyTorch's default initialisation) and a ReLU map the 64
    pixels to ``n_features`` activations. Different examples end up with visibly different
    means and spreads, which is what layer norm removes.

    Returns
    -------
    h : (n_examples, n_features) float64 array
    labels : (n_examples,) int array, the digits shown (only if ``return_labels``)
    """
    if not 1 <= n_examples <= 1797:
        raise ValueError(f"n_examples must be between 1 and 1797, got {n_examples}")
    if n_features < 1:
        raise ValueError(f"n_features must be >= 1, got {n_features}")
    rng = np.random.default_rng(seed)
    images, labels = digits(n_examples, seed=seed)
    pressure = rng.lognormal(mean=0.0, sigma=0.6, size=(n_examples, 1))
    brightness = rng.uniform(0.0, 4.0, size=(n_examples, 1))
    x = images / 16.0 * pressure + brightness  # (n_examples, 64)
    W = rng.uniform(-1, 1, size=(64, n_features)) / np.sqrt(64)  # (64, n_features)
    b = rng.uniform(-1, 1, size=n_features) / np.sqrt(64)
    h = np.maximum(x @ W + b, 0.0)
    return (h, labels) if return_labels else h
