"""Seeded inputs for the chapters. Everything is generated or shipped; nothing is downloaded.

The handwritten digits ship with scikit-learn. The browser edition (Pyodide) may have no
scikit-learn, so its build packs the same data into the package with :func:`save_digits`,
and :func:`digits` reads that file when scikit-learn cannot be imported.
"""

from __future__ import annotations

import importlib.util
import io
import zipfile
from pathlib import Path

import numpy as np

from ._validate import check_size

# Where the browser edition's build puts the digits, relative to this package's folder
# (``save_digits(package / DIGITS_FILE)``). Not in the repository: scikit-learn has them.
DIGITS_FILE = "_data/digits.npz"


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
    shape = (check_size("n_examples", n_examples), check_size("n_features", n_features))
    rng = np.random.default_rng(seed)
    return (offset + scale * rng.standard_normal(shape)).astype(dtype)


def digits(n: int | None = None, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Handwritten digits: 8x8 grey images with values 0-16, and their labels.

    The 1,797 images ship inside scikit-learn (``sklearn.datasets.load_digits``), so nothing
    is downloaded. Without scikit-learn (the browser edition), the copy that
    :func:`save_digits` packed into the package (:data:`DIGITS_FILE`) is read instead: the
    same values.

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
    images, labels = _all_digits()
    if n is not None:
        if not 1 <= n <= len(images):
            raise ValueError(f"n must be between 1 and {len(images)}, got {n}")
        idx = np.random.default_rng(seed).choice(len(images), size=n, replace=False)
        images, labels = images[idx], labels[idx]
    return images, labels


def _sklearn_digits_file() -> Path | None:
    """The file scikit-learn's ``load_digits`` reads, found without importing scikit-learn
    (an import of about 1.5 s, in every kernel and worker that needs the digits); None
    where scikit-learn is missing (find_spec says None for it also where the tests of the
    browser edition block it, ``sys.modules["sklearn"] = None``)."""
    try:
        spec = importlib.util.find_spec("sklearn")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    return path if path.is_file() else None


def _all_digits() -> tuple[np.ndarray, np.ndarray]:
    """All the digits as ``digits()`` returns them: scikit-learn's copy (read as its
    ``load_digits`` reads it: 64 pixels and the label a row), else the packed file."""
    shipped = _sklearn_digits_file()
    if shipped is not None:
        table = np.loadtxt(shipped, delimiter=",")  # (1797, 65); numpy reads .gz itself
        return table[:, :-1].astype(np.float64), table[:, -1].astype(int)
    try:
        from sklearn.datasets import load_digits  # imported here: only the digits need it
    except ImportError as e:
        path = Path(__file__).parent / DIGITS_FILE
        if not path.is_file():
            raise ImportError(
                "The handwritten digits need scikit-learn (pip install scikit-learn), or the "
                f"copy of them that the browser edition's package carries ({path} is "
                "missing; lnbook.data.save_digits writes it).",
                name="sklearn",
            ) from e
        with np.load(path) as packed:
            images, labels = packed["images"], packed["labels"]
    else:
        bunch = load_digits()
        images, labels = bunch.data, bunch.target
    return images.astype(np.float64), labels.astype(int)


def save_digits(path: str | Path) -> Path:
    """Pack scikit-learn's digits into ``path`` (a compressed ``.npz``), for a package
    without scikit-learn; :func:`digits` reads it back when scikit-learn is missing.

    The pixels (integers 0-16) and labels are stored as uint8, which holds them exactly
    (about 25 kB), and the archive's entries carry a fixed date, so the same data always
    gives the same bytes (a reproducible wheel).

    Parameters
    ----------
    path : where to write, usually ``<package folder> / DIGITS_FILE``; folders are created.

    Returns
    -------
    path : the file written, as a Path

    Raises
    ------
    ImportError
        Without scikit-learn, where the data comes from.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    arrays = {"images": bunch.data, "labels": bunch.target}
    for name, a in arrays.items():
        # uint8 must hold every value exactly, or the copy would not be the same data.
        if not (np.all(a == np.round(a)) and a.min() >= 0 and a.max() <= 255):
            raise ValueError(f"scikit-learn's digit {name} are not integers 0-255 any more")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # np.savez_compressed stamps each entry with the current time; write the same .npz
    # layout (one .npy per array) with a fixed date instead.
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, a in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, a.astype(np.uint8), allow_pickle=False)
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, buffer.getvalue())
    return path


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
