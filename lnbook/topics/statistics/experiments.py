"""Chapter 1's experiments: what layer norm does to each example, measured.

Per-example statistics before and after layer norm (:func:`row_statistics`), one example
moved and normalized (:func:`explore_example`, the compute behind both faces of the
chapter's explorer, and :data:`EXPLORER_SCENES`, the walk its slider figure takes), the
invariances (:func:`invariances`, :func:`invariance_table` after Ba et al., 2016), layer
norm's axis against batch norm's (:func:`axis_contrast`) and the glossary's picture
(:func:`handwriting`). NumPy only, so the chapter runs in the browser edition too; plain
arrays and dicts out, for the figures and the prose to use.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ... import numpy_ln
from ..._validate import check_batch, check_index, check_int, check_ints, check_sequence


def row_statistics(x: np.ndarray, eps: float = 1e-5) -> dict[str, np.ndarray]:
    """Each example's mean and standard deviation before and after layer norm.

    Parameters
    ----------
    x : (N, D) batch, one example per row

    Returns
    -------
    dict with ``y`` (N, D), the layer-normed batch, and ``mean_before``, ``std_before``,
    ``mean_after``, ``std_after``, each (N,)
    """
    x = check_batch(x)
    y = numpy_ln.layer_norm(x, x.shape[-1], eps=eps)
    return {
        "y": y,
        "mean_before": x.mean(axis=-1),
        "std_before": x.std(axis=-1),
        "mean_after": y.mean(axis=-1),
        "std_after": y.std(axis=-1),
    }


def explore_example(
    x: np.ndarray,
    example: int = 0,
    *,
    shift: float = 0.0,
    scale: float = 1.0,
    n_features: int | None = None,
    eps: float = 1e-5,
) -> dict[str, np.ndarray | float]:
    """One example, transformed by ``scale * x + shift``, then layer-normed.

    The compute behind the chapter 1 explorer (both the slider figure and the live widget).

    Parameters
    ----------
    x : (N, D) batch
    example : row of ``x`` to use
    shift, scale : applied to every feature of the example
    n_features : keep only the first ``n_features`` features (all if None)
    eps : layer norm's epsilon

    Returns
    -------
    dict with ``x`` (the transformed features, (n_features,)), ``x_hat`` (layer norm of
    them), and the floats ``mean``, ``std``, ``mean_after``, ``std_after``
    """
    x = check_batch(x)
    check_index("example", example, x.shape[0])
    d = x.shape[1] if n_features is None else n_features
    if not 1 <= d <= x.shape[1]:
        raise ValueError(f"n_features must be in [1, {x.shape[1]}] for x of shape {x.shape}")
    row = scale * x[example, :d] + shift  # (d,)
    x_hat = numpy_ln.layer_norm(row, d, eps=eps)
    return {
        "x": row,
        "x_hat": x_hat,
        "mean": float(row.mean()),
        "std": float(row.std()),
        "mean_after": float(x_hat.mean()),
        "std_after": float(x_hat.std()),
    }


# The explorer's precomputed settings for the static site: a walk through the controls,
# each step changing one thing from the step before it.
# Labels are short so the slider can show them all.
EXPLORER_SCENES: list[dict] = [
    {"label": "original", "shift": 0.0, "scale": 1.0, "n_features": None, "eps": 1e-5},
    {"label": "+3", "shift": 3.0, "scale": 1.0, "n_features": None, "eps": 1e-5},
    {"label": "−3", "shift": -3.0, "scale": 1.0, "n_features": None, "eps": 1e-5},
    {"label": "×3", "shift": 0.0, "scale": 3.0, "n_features": None, "eps": 1e-5},
    {"label": "×0.2", "shift": 0.0, "scale": 0.2, "n_features": None, "eps": 1e-5},
    {"label": "×3 +3", "shift": 3.0, "scale": 3.0, "n_features": None, "eps": 1e-5},
    {"label": "×−1", "shift": 0.0, "scale": -1.0, "n_features": None, "eps": 1e-5},
    {"label": "D=8", "shift": 0.0, "scale": 1.0, "n_features": 8, "eps": 1e-5},
    {"label": "ε=0.1", "shift": 0.0, "scale": 1.0, "n_features": None, "eps": 0.1},
    {"label": "ε=1", "shift": 0.0, "scale": 1.0, "n_features": None, "eps": 1.0},
    {"label": "ε=10", "shift": 0.0, "scale": 1.0, "n_features": None, "eps": 10.0},
]


# What explore_scenes reads from each scene (its "label" is the figure's).
SCENE_KEYS = {"shift", "scale", "n_features", "eps"}


def explore_scenes(
    x: np.ndarray, examples: Sequence[int], scenes: Sequence[dict] = EXPLORER_SCENES
) -> list[list[dict]]:
    """:func:`explore_example` for every (scene, example): ``result[scene][example]``."""
    x, examples = check_batch(x), check_ints("examples", examples, 0)
    scenes = check_sequence("scenes", scenes, "scene dicts", "EXPLORER_SCENES[:1]")
    for s in scenes:
        if not isinstance(s, dict) or not SCENE_KEYS <= set(s):
            raise ValueError(
                f"each of scenes must be a dict with keys {sorted(SCENE_KEYS)}, got {s!r}"
            )
    return [
        [
            explore_example(
                x,
                e,
                shift=s["shift"],
                scale=s["scale"],
                n_features=s["n_features"],
                eps=s["eps"],
            )
            for e in examples
        ]
        for s in scenes
    ]


def invariances(x: np.ndarray, example: int = 0, *, seed: int = 0) -> dict[str, float]:
    """Measure layer norm's invariances on one example of a batch (eps = 0, float64).

    Returns the largest absolute change of that example's output when
    ``shift``: a constant is added to all its features; ``scale``: its features are
    multiplied by a positive constant; ``negative_scale_flip``: multiplied by a negative
    constant, compared with the *negated* original output (so 0 means "the sign flips");
    ``other_example``: another example of the batch is replaced by random values.
    """
    rng = np.random.default_rng(seed)
    x = check_batch(x)
    if x.shape[0] < 2:
        raise ValueError(f"x needs at least 2 examples (one to change), got shape {x.shape}")
    check_index("example", example, x.shape[0])
    d = x.shape[-1]

    def ln(batch):
        return numpy_ln.layer_norm(batch, d, eps=0.0)

    y = ln(x)[example]
    changed = {}
    for name, new_row, sign in [
        ("shift", x[example] + rng.uniform(-10, 10), 1.0),
        ("scale", x[example] * rng.uniform(0.1, 10), 1.0),
        ("negative_scale_flip", x[example] * -rng.uniform(0.1, 10), -1.0),
    ]:
        x2 = x.copy()
        x2[example] = new_row
        changed[name] = float(np.abs(ln(x2)[example] - sign * y).max())
    x2 = x.copy()
    other = (example + 1) % x.shape[0]
    x2[other] = rng.normal(50, 20, size=d)
    changed["other_example"] = float(np.abs(ln(x2)[example] - y).max())
    return changed


INVARIANCE_COLUMNS = [
    "weight matrix re-scaling",
    "weight matrix re-centering",
    "weight vector re-scaling",
    "dataset re-scaling",
    "dataset re-centering",
    "single example re-scaling",
]


def invariance_table(
    n_examples: int = 32, d_in: int = 10, d_out: int = 8, *, seed: int = 0, tol: float = 1e-9
) -> dict[str, dict[str, bool]]:
    """Compute Ba, Kiros and Hinton's (2016) Table 1 for batch norm, layer norm and RMSNorm.

    Each normalization is applied to the summed inputs ``a = x @ W.T`` of a layer (no bias,
    eps = 0, batch norm with batch statistics, as in the paper), and each entry asks: is the
    normalized output unchanged by the transformation? The transformations:

    - weight matrix re-scaling: ``W -> 2.5 W``
    - weight matrix re-centering: ``W -> W + 1 g.T`` (the same vector added to every row, so
      every unit's input shifts by the same amount ``g . x`` within an example)
    - weight vector re-scaling: one row of ``W`` (one unit's weights) scaled by 3
    - dataset re-scaling: ``x -> 2.5 x`` for every example
    - dataset re-centering: ``x -> x + c`` for every example
    - single example re-scaling: one example ``x_n -> 4 x_n``

    Returns
    -------
    ``table[method][column] -> bool`` for methods "batch norm", "layer norm", "RMSNorm"
    """
    # Batch norm needs two examples; layer norm of one unit is 0 / 0 (eps = 0).
    check_int("n_examples", n_examples, 2)
    check_int("d_in", d_in, 1)
    check_int("d_out", d_out, 2)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_examples, d_in))
    W = rng.standard_normal((d_out, d_in))
    g = rng.standard_normal(d_in)
    c = rng.standard_normal(d_in)

    def bn(a):
        return numpy_ln.batch_norm(a, None, None, training=True, eps=0.0)

    methods = {
        "batch norm": bn,
        "layer norm": lambda a: numpy_ln.layer_norm(a, d_out, eps=0.0),
        "RMSNorm": lambda a: numpy_ln.rms_norm(a, d_out, eps=0.0),
    }
    W_vec = W.copy()
    W_vec[0] *= 3.0
    x_one = x.copy()
    x_one[0] *= 4.0
    variants = {  # column -> (inputs, weights) after the transformation
        "weight matrix re-scaling": (x, 2.5 * W),
        "weight matrix re-centering": (x, W + g[None, :]),
        "weight vector re-scaling": (x, W_vec),
        "dataset re-scaling": (2.5 * x, W),
        "dataset re-centering": (x + c, W),
        "single example re-scaling": (x_one, W),
    }
    table = {}
    for name, norm in methods.items():
        base = norm(x @ W.T)
        table[name] = {
            col: bool(np.allclose(norm(x2 @ W2.T), base, rtol=0, atol=tol))
            for col, (x2, W2) in variants.items()
        }
    return table


def axis_contrast(x: np.ndarray, eps: float = 1e-5) -> dict[str, np.ndarray]:
    """Layer norm (statistics of each row) vs batch norm (statistics of each column).

    Parameters
    ----------
    x : (N, D) batch: N examples (rows), D features (columns)

    Returns
    -------
    dict with ``layer`` and ``batch`` (N, D) normalized batches, ``row_mean``, ``row_std``
    (N,) and ``col_mean``, ``col_std`` (D,) of the input
    """
    x = check_batch(x)
    if x.shape[0] < 2:
        raise ValueError(f"x must be a (N, D) batch with N >= 2, got shape {x.shape}")
    return {
        "layer": numpy_ln.layer_norm(x, x.shape[1], eps=eps),
        "batch": numpy_ln.batch_norm(x, None, None, training=True, eps=eps),
        "row_mean": x.mean(axis=1),
        "row_std": x.std(axis=1),
        "col_mean": x.mean(axis=0),
        "col_std": x.std(axis=0),
    }


def handwriting(
    image: np.ndarray, pens: Sequence[tuple[float, float]], eps: float = 1e-5
) -> dict[str, np.ndarray]:
    """The glossary's picture: one handwritten digit, written with different pens.

    Each pen ``(pressure, paper)`` turns the image into ``pressure * image + paper``: a
    faint or heavy stroke on darker or lighter paper. Layer norm over the 64 pixels brings
    every version to the same "size" (mean 0, variance 1): the message is unchanged.

    Parameters
    ----------
    image : (64,) pixel values (an 8x8 image flattened)
    pens : sequence of (pressure, paper) pairs, pressure > 0

    Returns
    -------
    dict with ``written`` and ``normalized``, each (len(pens), 8, 8), and ``pens`` (P, 2)
    """
    image = np.asarray(image, dtype=np.float64)
    if image.shape != (64,):
        raise ValueError(f"image must be a flattened 8x8 image of shape (64,), got {image.shape}")
    pens = _check_pens(pens)
    written = pens[:, :1] * image[None, :] + pens[:, 1:]  # (P, 64)
    normalized = numpy_ln.layer_norm(written, 64, eps=eps)
    return {
        "written": written.reshape(-1, 8, 8),
        "normalized": normalized.reshape(-1, 8, 8),
        "pens": pens,
    }


def _check_pens(pens) -> np.ndarray:
    """``pens`` as a float64 (P, 2) array of (pressure, paper), pressure > 0, or a
    ValueError that says what it got: never re-paired by a reshape."""
    want = "pens must be (pressure, paper) pairs, shape (P, 2), with pressure > 0"
    try:
        array = np.asarray(pens, dtype=np.float64)
    except (TypeError, ValueError):  # ragged pairs, or not numbers
        raise ValueError(f"{want}, got {pens!r}") from None
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] != 2:
        raise ValueError(f"{want}, got shape {array.shape}")
    if not np.isfinite(array).all() or not (array[:, 0] > 0).all():
        raise ValueError(f"{want} and both finite, got {array.tolist()}")
    return array
