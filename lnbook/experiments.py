"""The experiments the chapters run. Plain results (arrays, dicts) out; no plotting here."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from . import numpy_ln
from ._optional import require_torch
from ._results import remembered
from .data import activations


def layer_norm_one_pass(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Layer norm over the last axis with the *one-pass* variance ``E[x^2] - E[x]^2``.

    Shown in the book as a pitfall, never used elsewhere: in float32 the two terms are
    huge and nearly equal when the data has a large offset, and their difference loses
    every significant digit (it can even come out negative, giving NaN).

    Parameters
    ----------
    x : (..., D) array
    eps : float

    Returns
    -------
    y : array of x's shape and dtype
    """
    mu = x.mean(axis=-1, keepdims=True)  # (..., 1)
    var = (x * x).mean(axis=-1, keepdims=True) - mu * mu  # (..., 1), catastrophic cancellation
    with np.errstate(invalid="ignore"):  # a negative var gives NaN: that is the lesson
        return (x - mu) / np.sqrt(var + x.dtype.type(eps))


def variance_pitfall(
    offsets: Sequence[float],
    *,
    n_examples: int = 64,
    n_features: int = 256,
    shown_features: int = 32,
    eps: float = 1e-5,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """One-pass vs two-pass layer norm in float32, as the data's offset grows.

    For each offset the same unit-variance noise is shifted by the offset and rounded to
    float32. The reference is layer norm in float64 *of that float32 input*, so the errors
    measure the algorithm, not the rounding of the input.

    Returns
    -------
    dict with
        offsets : (K,)
        err_one_pass, err_two_pass : (K,) worst absolute error of the normalized values
            (a NaN counts as an infinite error)
        err_one_pass_finite : (K,) worst one-pass error over the examples that are not NaN
        nan_one_pass : (K,) fraction of examples whose one-pass output is NaN
        x_hat_ref, x_hat_one_pass, x_hat_two_pass : (K, shown_features) first example's
            normalized features, for plotting
    """
    offsets = np.asarray(offsets, dtype=np.float64)
    ref_rows, one_rows, two_rows = [], [], []
    err_one, err_one_finite, err_two, nan_one = [], [], [], []
    for offset in offsets:
        x32 = activations(n_examples, n_features, offset=offset, dtype=np.float32, seed=seed)
        ref = numpy_ln.layer_norm(x32.astype(np.float64), n_features, eps=eps)
        one = layer_norm_one_pass(x32, eps)
        two = numpy_ln.layer_norm(x32, n_features, eps=eps)
        # NaN counts as an infinitely wrong answer, not as a skipped one.
        err_one.append(np.nan_to_num(np.abs(one - ref), nan=np.inf).max())
        err_two.append(np.abs(two - ref).max())
        finite = ~np.isnan(one).any(axis=-1)  # (n_examples,)
        err_one_finite.append(np.abs(one[finite] - ref[finite]).max() if finite.any() else np.nan)
        nan_one.append(1.0 - finite.mean())
        ref_rows.append(ref[0, :shown_features])
        one_rows.append(one[0, :shown_features])
        two_rows.append(two[0, :shown_features])
    return {
        "offsets": offsets,
        "err_one_pass": np.array(err_one),
        "err_one_pass_finite": np.array(err_one_finite),
        "err_two_pass": np.array(err_two),
        "nan_one_pass": np.array(nan_one),
        "x_hat_ref": np.array(ref_rows),
        "x_hat_one_pass": np.array(one_rows),
        "x_hat_two_pass": np.array(two_rows),
    }


def finite_difference_grad(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar function ``f`` at ``x`` (float64).

    ``dL/dx[i] ~ (f(x + h e_i) - f(x - h e_i)) / (2 h)``, one coordinate at a time: slow
    (two calls of ``f`` per element) but independent of any derivation, which is what makes
    it a good check of a hand-written backward pass.

    Parameters
    ----------
    f : callable taking an array of x's shape and returning a float
    x : float64 array
    h : float, the step

    Returns
    -------
    grad : array of x's shape
    """
    x = np.array(x, dtype=np.float64)  # a copy we may perturb in place
    grad = np.empty_like(x)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + h
        f_plus = f(x)
        x[i] = saved - h
        f_minus = f(x)
        x[i] = saved
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


# ---------------------------------------------------------------- chapter 1 -------------


def _batch(x) -> np.ndarray:
    """``x`` as a float64 (N, D) batch, or a ValueError naming its shape."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must be a (N, D) batch, got shape {x.shape}")
    return x


def _check_index(name: str, i: int, n: int) -> None:
    if isinstance(i, bool) or not isinstance(i, int | np.integer) or not 0 <= i < n:
        raise ValueError(f"{name} must be an int in [0, {n}), got {i!r}")


def binned(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of ``values`` per bin, values beyond the edges counted in the end bins.

    A figure then shows every value (the end bins read "this or beyond") instead of
    silently dropping the ones outside its range.
    """
    values = np.clip(np.ravel(values), edges[0], edges[-1])
    return np.histogram(values, edges)[0]


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
    x = _batch(x)
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
    x = _batch(x)
    _check_index("example", example, x.shape[0])
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


def explore_scenes(
    x: np.ndarray, examples: Sequence[int], scenes: Sequence[dict] = EXPLORER_SCENES
) -> list[list[dict]]:
    """:func:`explore_example` for every (scene, example): ``result[scene][example]``."""
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
    x = _batch(x)
    if x.shape[0] < 2:
        raise ValueError(f"x needs at least 2 examples (one to change), got shape {x.shape}")
    _check_index("example", example, x.shape[0])
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
    x = _batch(x)
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
    pens = np.asarray(pens, dtype=np.float64).reshape(-1, 2)
    written = pens[:, :1] * image[None, :] + pens[:, 1:]  # (P, 64)
    normalized = numpy_ln.layer_norm(written, 64, eps=eps)
    return {
        "written": written.reshape(-1, 8, 8),
        "normalized": normalized.reshape(-1, 8, 8),
        "pens": pens,
    }


# ---------------------------------------------------------------- chapter 2 -------------


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Run torch on one thread, then restore the setting.

    The chapters' models are tiny: splitting their matrix products over threads costs more
    in synchronisation than it saves, and on a busy 2-core machine it was 30x slower.
    """
    torch = require_torch()
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def affine_histograms(
    x: np.ndarray,
    example: int,
    settings: Sequence[dict],
    *,
    bins: np.ndarray | None = None,
    eps: float = 1e-5,
) -> dict[str, np.ndarray]:
    """Output distribution of layer norm's ``y = gamma * x_hat + beta`` for several settings.

    Histograms are binned here, so a figure carries counts, not raw samples.

    Parameters
    ----------
    x : (N, D) batch
    example : the row whose own distribution is shown beside the batch's
    settings : each a dict with ``gamma`` and ``beta``: floats (the same for every feature)
        or (D,) arrays (one per feature)
    bins : bin edges (default: 81 edges from -8 to 12); values beyond them are counted in the
        first or last bin, so every row of the result sums to 1

    Returns
    -------
    dict with ``edges`` (B+1,), ``centers`` (B,), ``example`` and ``batch`` (S, B): the
    fraction of values in each bin, ``mean`` and ``std`` (S,) of the example's output
    """
    x = _batch(x)
    n, d = x.shape
    _check_index("example", example, n)
    edges = np.linspace(-8, 12, 81) if bins is None else np.asarray(bins, dtype=np.float64)
    x_hat = numpy_ln.layer_norm(x, d, eps=eps)
    ex_hist, batch_hist, means, stds = [], [], [], []
    for i, s in enumerate(settings):
        gamma, beta = (np.asarray(s[k], dtype=np.float64) for k in ("gamma", "beta"))
        for name, v in (("gamma", gamma), ("beta", beta)):
            if v.shape not in ((), (d,)):
                raise ValueError(
                    f"settings[{i}]['{name}'] must be a number or have shape "
                    f"({d},) for x of shape {x.shape}, got {v.shape}"
                )
        y = x_hat * gamma + beta  # (N, D)
        ex_hist.append(binned(y[example], edges) / d)
        batch_hist.append(binned(y, edges) / y.size)
        means.append(y[example].mean())
        stds.append(y[example].std())
    return {
        "edges": edges,
        "centers": (edges[:-1] + edges[1:]) / 2,
        "example": np.array(ex_hist),
        "batch": np.array(batch_hist),
        "mean": np.array(means),
        "std": np.array(stds),
    }


def recover_example(x: np.ndarray, k: int, eps: float = 1e-5) -> dict[str, np.ndarray]:
    """Choose gamma and beta that undo layer norm for example ``k``, and apply them to all.

    ``gamma = sqrt(var_k + eps)`` and ``beta = mu_k`` (the same for every feature) give back
    example ``k`` exactly; every other example comes back with *k's* mean and spread,
    because its own statistics were divided out and no parameter shared by the batch can
    know them.

    Returns
    -------
    dict with ``gamma``, ``beta`` (floats), ``y`` (N, D) the outputs, ``error`` (N,) the
    largest |y - x| of each example, and ``mean_in``, ``std_in``, ``mean_out``, ``std_out`` (N,)
    """
    x = _batch(x)
    _check_index("k", k, x.shape[0])
    d = x.shape[-1]
    mu, var = x[k].mean(), x[k].var()
    gamma, beta = np.sqrt(var + eps), mu
    y = numpy_ln.layer_norm(x, d, np.full(d, gamma), np.full(d, beta), eps=eps)
    return {
        "gamma": float(gamma),
        "beta": float(beta),
        "y": y,
        "error": np.abs(y - x).max(axis=-1),
        "mean_in": x.mean(axis=-1),
        "std_in": x.std(axis=-1),
        "mean_out": y.mean(axis=-1),
        "std_out": y.std(axis=-1),
    }


def _digits_split(seed: int):
    """The digits as float32 tensors in [0, 1]: 70% for training, 30% held out.

    Returns ``X_train, Y_train, X_test, Y_test`` and the NumPy generator that drew the
    split, which the caller goes on using for its mini-batches.
    """
    torch = require_torch()

    from .data import digits

    images, labels = digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    n_train = int(0.7 * len(images))
    X = torch.tensor(images[order] / 16.0, dtype=torch.float32)
    Y = torch.tensor(labels[order])
    return X[:n_train], Y[:n_train], X[n_train:], Y[n_train:], rng


def train_digits_mlp(
    *,
    norm: str | None = "layer",
    weight_decay: float = 0.0,
    decay_norm_params: bool = True,
    d_hidden: int = 64,
    depth: int = 2,
    steps: int = 400,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    eval_every: int = 0,
) -> dict:
    """Train a small MLP on the handwritten digits with AdamW; return what the chapter plots.

    Parameters
    ----------
    norm : normalization after each hidden linear layer ("layer", "batch", "rms", None)
    weight_decay : AdamW's decoupled weight decay
    decay_norm_params : apply the decay to gamma, beta and biases too (True), or only to the
        weight matrices (False, the common practice; see ``models.param_groups``)
    steps, batch_size, lr, seed : the training run
    eval_every : also measure the test accuracy every this many steps (0: only at the end)

    Returns
    -------
    dict with ``loss`` (steps,) training loss per step, ``test_accuracy`` (float, on 30% of
    the images held out, in inference mode), ``curve_steps`` and ``curve_accuracy`` (the
    test accuracy during training, if ``eval_every``), ``gammas`` and ``betas`` (lists of
    (d_hidden,) arrays, one per norm layer), ``n_params`` and ``n_norm_params`` (ints)
    """
    torch = require_torch()

    from . import models

    if batch_size < 1 or steps < 1 or eval_every < 0:
        raise ValueError(
            f"need batch_size >= 1, steps >= 1 and eval_every >= 0, got "
            f"{batch_size}, {steps}, {eval_every}"
        )
    torch.manual_seed(seed)
    X_train, Y_train, X_test, Y_test, rng = _digits_split(seed)
    n_train = len(X_train)

    model = models.MLP(64, d_hidden, 10, depth=depth, norm=norm, placement="post")
    groups = (
        [{"params": list(model.parameters()), "weight_decay": weight_decay}]
        if decay_norm_params
        else models.param_groups(model, weight_decay)
    )
    opt = torch.optim.AdamW(groups, lr=lr)
    losses, curve_steps, curve_acc = [], [], []

    def test_accuracy() -> float:
        model.eval()  # inference mode: batch norm uses its running statistics
        with torch.no_grad():
            acc = (model(X_test).argmax(-1) == Y_test).float().mean().item()
        model.train()
        return acc

    with _one_torch_thread():
        for step in range(1, steps + 1):
            idx = torch.from_numpy(rng.integers(0, n_train, size=batch_size))
            loss = torch.nn.functional.cross_entropy(model(X_train[idx]), Y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if eval_every and step % eval_every == 0:
                curve_steps.append(step)
                curve_acc.append(test_accuracy())
        acc = test_accuracy()
    norms = models.norm_layers(model)
    return {
        "loss": np.array(losses),
        "test_accuracy": acc,
        "curve_steps": np.array(curve_steps),
        "curve_accuracy": np.array(curve_acc),
        "gammas": [m.weight.detach().numpy().copy() for m in norms if m.weight is not None],
        "betas": [
            m.bias.detach().numpy().copy() for m in norms if getattr(m, "bias", None) is not None
        ],
        "n_params": sum(p.numel() for p in model.parameters()),
        "n_norm_params": sum(p.numel() for p in models.norm_parameters(model)),
    }


def norm_parameter_histograms(
    runs: dict[str, dict], edges: np.ndarray | None = None
) -> dict[str, np.ndarray | dict]:
    """Histograms of the learned gamma and beta of several training runs.

    Parameters
    ----------
    runs : label -> result of :func:`train_digits_mlp`
    edges : ``{"gamma": edges, "beta": edges}`` (default: 0 to 2 and -0.6 to 0.6, 41
        edges each); values beyond them are counted in the end bins

    Returns
    -------
    dict with ``centers``: {"gamma": (B,), "beta": (B,)} and ``gamma``, ``beta``:
    label -> (B,) counts
    """
    if edges is None:
        edges = {"gamma": np.linspace(0.0, 2.0, 41), "beta": np.linspace(-0.6, 0.6, 41)}
    return {
        "centers": {k: (e[:-1] + e[1:]) / 2 for k, e in edges.items()},
        "gamma": {k: binned(np.concatenate(r["gammas"]), edges["gamma"]) for k, r in runs.items()},
        "beta": {k: binned(np.concatenate(r["betas"]), edges["beta"]) for k, r in runs.items()},
    }


# ---------------------------------------------------------------- chapter 4 -------------

NORM_METHODS = ("batch norm", "layer norm", "instance norm", "group norm")


def norm_sets(shape: tuple[int, int, int], method: str, groups: int = 2) -> np.ndarray:
    """Which statistics each element of an (N, C, P) tensor shares, for each normalization.

    P stands for the positions (H x W flattened). Elements with the same label are averaged
    together: batch norm shares per channel across examples and positions, layer norm per
    example across channels and positions, instance norm per (example, channel), group norm
    per (example, group of C/groups channels) (Wu and He, 2018, Fig. 2).

    Returns
    -------
    labels : (N, C, P) int array
    """
    if len(shape) != 3 or any(not isinstance(v, int | np.integer) or v < 1 for v in shape):
        raise ValueError(f"shape must be three positive ints (N, C, P), got {shape!r}")
    n, c, p = shape
    if method not in NORM_METHODS:
        raise ValueError(f"method must be one of {NORM_METHODS}, got {method!r}")
    if (
        isinstance(groups, bool)
        or not isinstance(groups, int | np.integer)
        or groups < 1
        or c % groups
    ):
        raise ValueError(f"groups must be a positive divisor of the {c} channels, got {groups!r}")
    ex, ch = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")  # (N, C) each
    label = {
        "batch norm": ch,
        "layer norm": ex,
        "instance norm": ex * c + ch,
        "group norm": ex * groups + ch // (c // groups),
    }[method]
    return np.repeat(label[:, :, None], p, axis=2)


def normalize_over(x: np.ndarray, axes: tuple[int, ...], eps: float = 1e-5) -> np.ndarray:
    """The textbook definition: subtract the mean and divide by the standard deviation taken
    over ``axes``. Written out here, independently of ``numpy_ln``, as a reference."""
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(var + eps)


def group_norm_equivalences(x: np.ndarray) -> dict[str, float]:
    """Largest differences showing group norm's two extremes, on an (N, C, H, W) batch.

    ``numpy_ln.group_norm`` is compared with the definitions written out by axes
    (:func:`normalize_over`): ``one_group_vs_layer``: 1 group vs the statistics over
    (C, H, W); ``c_groups_vs_instance``: C groups vs the statistics over (H, W).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 4:
        raise ValueError(f"x must be an (N, C, H, W) batch, got shape {x.shape}")
    c = x.shape[1]
    return {
        "one_group_vs_layer": float(
            np.abs(numpy_ln.group_norm(x, 1) - normalize_over(x, (1, 2, 3))).max()
        ),
        "c_groups_vs_instance": float(
            np.abs(numpy_ln.group_norm(x, c) - normalize_over(x, (2, 3))).max()
        ),
    }


def live_features(h: np.ndarray, min_active: float = 0.5) -> np.ndarray:
    """Mask of the features (columns of ``h``) that are non-zero in at least ``min_active``
    of the examples. After a ReLU some units are almost always 0; their statistics are
    degenerate and would dilute any average over features."""
    h = _batch(h)
    return (h != 0).mean(axis=0) >= min_active


def batch_dependence(
    pool: np.ndarray,
    labels: np.ndarray,
    example: int,
    batch_sizes: Sequence[int],
    *,
    draws: int = 8,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """How one example's normalized features depend on the rest of its batch.

    For each batch size B, ``draws`` batches are formed: the example plus B - 1 companions,
    either drawn at random from the pool or drawn from examples of the *same class* (a
    batch that is not a fair sample). Batch norm (training mode, batch statistics) and
    layer norm are applied; we keep the example's output.

    Parameters
    ----------
    pool : (M, D) examples to draw companions from
    labels : (M,) class of each pool example
    example : index in the pool of the example we follow
    batch_sizes : each >= 2 (batch norm needs 2 values per feature)

    Returns
    -------
    dict with ``batch_sizes`` (K,), ``bn_random`` and ``bn_same_class`` (K, draws, D): the
    example's batch-norm output in each batch, ``ln`` (D,): its layer-norm output (the same
    in every batch), ``spread_random``, ``spread_same_class``, ``spread_ln`` (K,): the
    standard deviation across batches, averaged over features, ``composition_shift``
    (K,): the mean |difference| between the example's average output in same-class and in
    random batches, and ``composition_floor`` (K,): the same statistic between two halves of
    the random batches, the level chance alone reaches
    """
    pool = _batch(pool)
    m, d = pool.shape
    labels = np.asarray(labels)
    if labels.shape != (m,):
        raise ValueError(
            f"labels must have shape ({m},) for pool of shape {pool.shape}, got {labels.shape}"
        )
    _check_index("example", example, m)
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 2:
        raise ValueError(f"draws must be an int >= 2, got {draws!r}")
    sizes = np.asarray(batch_sizes)
    others = np.delete(np.arange(m), example)
    same = others[labels[others] == labels[example]]
    if (
        sizes.ndim != 1
        or len(sizes) == 0
        or not np.issubdtype(sizes.dtype, np.integer)
        or (sizes < 2).any()
        or (sizes > len(same) + 1).any()
    ):
        raise ValueError(
            f"batch_sizes must be ints in [2, {len(same) + 1}] (the example's class has "
            f"{len(same)} other members), got {list(batch_sizes)!r}"
        )
    rng = np.random.default_rng(seed)
    out = {"random": [], "same_class": []}
    ln_rows = []  # layer norm of the example in every batch: measured, not assumed equal
    for b in sizes:
        for name, candidates in (("random", others), ("same_class", same)):
            rows = []
            for _ in range(draws):
                pick = rng.choice(candidates, size=b - 1, replace=False)
                batch = np.vstack([pool[example], pool[pick]])  # the example is row 0
                rows.append(numpy_ln.batch_norm(batch, None, None, training=True)[0])
                ln_rows.append((b, numpy_ln.layer_norm(batch, d)[0]))
            out[name].append(rows)
    ln = numpy_ln.layer_norm(pool[example], d)
    ln_spread = np.array(
        [np.std([r for bb, r in ln_rows if bb == b], axis=0).mean() for b in sizes]
    )
    bn_random, bn_same = np.array(out["random"]), np.array(out["same_class"])
    half = draws // 2
    return {
        # How far a biased batch moves the example's output on average: not noise, a bias.
        "composition_shift": np.abs(bn_same.mean(axis=1) - bn_random.mean(axis=1)).mean(-1),
        # The same statistic between two halves of the *random* draws: what chance alone
        # gives with this many draws (halves are smaller, so this overestimates a little).
        "composition_floor": np.abs(
            bn_random[:, :half].mean(axis=1) - bn_random[:, half:].mean(axis=1)
        ).mean(-1),
        "batch_sizes": sizes,
        "bn_random": bn_random,
        "bn_same_class": bn_same,
        "ln": ln,
        "spread_random": bn_random.std(axis=1).mean(axis=-1),
        "spread_same_class": bn_same.std(axis=1).mean(axis=-1),
        "spread_ln": ln_spread,
    }


def _module_mode_gap(module, batch: np.ndarray) -> float:
    """Mean |output in train() mode - output in eval() mode| of a torch module."""
    torch = require_torch()
    t = torch.tensor(batch)
    with torch.no_grad():
        module.train()
        a = module(t)
        module.eval()
        b = module(t)
    return float((a - b).abs().mean())


def train_inference_gap(
    pool: np.ndarray,
    *,
    batch_size: int = 32,
    steps: int = 200,
    shift: float = 0.5,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Batch norm's two modes, and layer norm's one, on the same test batches.

    Running statistics are first accumulated over ``steps`` training batches (momentum 0.1,
    as torch). Then, over 20 test batches, the mean absolute difference between the
    training-mode output (batch statistics) and the inference-mode output (running
    statistics) is measured in three situations: test data like the training data; test data after a
    shift of every feature by ``shift`` standard deviations (a change of sensor, of
    lighting...); and test batches of 2 examples. For layer norm the same comparison is
    made on lnbook's ``LayerNorm`` module in ``train()`` and ``eval()`` mode.

    Returns
    -------
    ``{situation: {"batch norm": gap, "layer norm": gap}}`` for situations
    "same data", "shifted data", "batches of 2", the gaps in standard deviations
    """
    pool = _batch(pool)
    m, d = pool.shape
    if not 2 <= batch_size <= m or steps < 1:
        raise ValueError(
            f"need 2 <= batch_size <= {m} and steps >= 1, got batch_size="
            f"{batch_size}, steps={steps}"
        )
    from .torch_ln import LayerNorm

    ln_module = LayerNorm(d, elementwise_affine=False)  # a module, with train() and eval()
    rng = np.random.default_rng(seed)
    running_mean, running_var = np.zeros(d), np.ones(d)
    for _ in range(steps):
        batch = pool[rng.choice(m, size=batch_size, replace=False)]
        numpy_ln.batch_norm(batch, running_mean, running_var, training=True)
    std = pool.std(axis=0)
    situations = {
        "same data": lambda b: b,
        "shifted data": lambda b: b + shift * std,
        "batches of 2": lambda b: b[:2],
    }
    result = {}
    for name, make in situations.items():
        bn_gaps, ln_gaps = [], []
        for _ in range(20):
            batch = make(pool[rng.choice(m, size=batch_size, replace=False)])
            train = numpy_ln.batch_norm(batch, None, None, training=True)
            infer = numpy_ln.batch_norm(batch, running_mean, running_var, training=False)
            bn_gaps.append(np.abs(train - infer).mean())
            ln_gaps.append(_module_mode_gap(ln_module, batch))
        result[name] = {
            "batch norm": float(np.mean(bn_gaps)),
            "layer norm": float(np.mean(ln_gaps)),
        }
    return result


@remembered
def small_batch_training(
    batch_sizes: Sequence[int] = (128, 4, 2),
    norms: Sequence[str] = ("batch", "layer"),
    *,
    steps: int = 1000,
    eval_every: int = 100,
    seeds: Sequence[int] = (0, 1, 2),
    lr: float = 1e-3,
) -> dict:
    """A miniature of Ba, Kiros and Hinton's (2016) Fig. 6: batch norm vs layer norm in an
    MLP trained with a large and a small batch, on the handwritten digits.

    Every run takes the same number of steps; the test accuracy is measured in inference
    mode (batch norm with its running statistics), averaged over ``seeds``.

    Returns
    -------
    dict with ``steps`` (E,) and, for each ``(norm, batch_size)``, ``curves[key]`` (S, E)
    accuracy curves, ``final_mean[key]`` and ``final_std[key]`` over seeds
    """
    if eval_every < 1 or not seeds:
        raise ValueError(
            f"need eval_every >= 1 and at least one seed, got {eval_every}, {list(seeds)}"
        )
    curves, final_mean, final_std = {}, {}, {}
    for norm in norms:
        for b in batch_sizes:
            runs = [
                train_digits_mlp(
                    norm=norm, batch_size=b, steps=steps, eval_every=eval_every, lr=lr, seed=s
                )
                for s in seeds
            ]
            key = (norm, int(b))
            curves[key] = np.array([r["curve_accuracy"] for r in runs])
            finals = np.array([r["test_accuracy"] for r in runs])
            final_mean[key], final_std[key] = float(finals.mean()), float(finals.std())
    return {
        "steps": np.arange(eval_every, steps + 1, eval_every),
        "curves": curves,
        "final_mean": final_mean,
        "final_std": final_std,
    }


# ---------------------------------------------------------------- chapter 5 -------------


def _masked_batch_norm(x: np.ndarray, valid: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Batch norm over the valid (non-padding) tokens only: x (B, T, D), valid (B, T)."""
    v = valid[..., None]  # (B, T, 1)
    n = v.sum()
    mu = (x * v).sum(axis=(0, 1)) / n  # (D,)
    var = (((x - mu) ** 2) * v).sum(axis=(0, 1)) / n  # (D,)
    return (x - mu) / np.sqrt(var + eps)


def padding_pollution(
    lengths: Sequence[int], d: int = 16, *, seed: int = 0
) -> dict[str, np.ndarray | float]:
    """Sequences of different lengths, padded into one batch: what do the norms see?

    Token vectors are drawn once per sequence; the batch is padded with zeros to the
    longest length. We follow sequence 0 and compare its normalized tokens when it is
    batched alone with those in the padded batch, for batch norm over every position
    (padding included, the naive way), batch norm over the valid tokens only (masked), and
    layer norm (per token).

    Returns
    -------
    dict with ``lengths`` (B,), ``valid`` (B, T_max) mask, and the largest change of
    sequence 0's outputs: ``bn_padded``, ``bn_masked``, ``ln`` (floats); plus
    ``pad_fraction`` (float), the share of padding in the batch
    """
    lengths = np.asarray(lengths, dtype=int)
    if lengths.ndim != 1 or len(lengths) < 2 or (lengths < 1).any():
        raise ValueError(f"lengths must list >= 2 positive sequence lengths, got {lengths}")
    rng = np.random.default_rng(seed)
    t_max = int(lengths.max())
    # Each sequence has its own offset and scale, as real sentences differ.
    seqs = [rng.normal(rng.normal(0, 1), rng.uniform(0.5, 2), size=(n, d)) for n in lengths]
    x = np.zeros((len(lengths), t_max, d))
    valid = np.zeros((len(lengths), t_max), dtype=bool)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = s
        valid[i, : len(s)] = True
    alone = seqs[0][None]  # (1, T0, D)
    n0 = lengths[0]

    def bn_all(batch):  # batch norm over every (sequence, position), padding included
        flat = batch.reshape(-1, d)
        return numpy_ln.batch_norm(flat, None, None, training=True).reshape(batch.shape)

    return {
        "lengths": lengths,
        "valid": valid,
        "bn_padded": float(np.abs(bn_all(x)[0, :n0] - bn_all(alone)[0]).max()),
        "bn_masked": float(np.abs(_masked_batch_norm(x, valid)[0, :n0] - bn_all(alone)[0]).max()),
        "ln": float(
            np.abs(numpy_ln.layer_norm(x, d)[0, :n0] - numpy_ln.layer_norm(alone, d)[0]).max()
        ),
        "pad_fraction": float(1 - valid.mean()),
    }


def incremental_decoding(t: int = 24, d: int = 16, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Generation one token at a time: normalize each new token with what exists so far.

    The token vectors drift over the sequence (as the content of a text changes). At step
    ``k`` only tokens ``0..k`` exist. Layer norm of token ``k`` uses token ``k`` alone, so
    it is the same at step ``k`` as after the whole sequence. Batch norm, with batch size
    1 at generation time, can only take statistics over the tokens seen so far: token ``k``
    is normalized differently at step ``k`` and at the end.

    Returns
    -------
    dict with ``ln_change`` and ``bn_change`` (t,): for each token, the largest difference
    between its output when generated and its output computed over the full sequence
    """
    rng = np.random.default_rng(seed)
    drift = np.cumsum(rng.normal(0, 0.3, size=(t, d)), axis=0)  # slowly changing content
    x = drift + rng.normal(0, 1, size=(t, d))  # (T, D)
    ln_full = numpy_ln.layer_norm(x, d)
    bn_full = numpy_ln.batch_norm(x, None, None, training=True)  # statistics over all tokens
    ln_change, bn_change = np.zeros(t), np.full(t, np.nan)
    for k in range(t):
        ln_change[k] = np.abs(numpy_ln.layer_norm(x[k], d) - ln_full[k]).max()
        if k >= 1:  # batch norm needs two tokens
            prefix = numpy_ln.batch_norm(x[: k + 1], None, None, training=True)
            bn_change[k] = np.abs(prefix[k] - bn_full[k]).max()
    return {"ln_change": ln_change, "bn_change": bn_change}


_COPY_VOCAB, _COPY_K = 16, 8  # the copy task: 8 tokens from 15, after a separator 0


def _copy_task_model(placement: str, n_layers: int, d: int, **kwargs):
    """A TinyTransformer sized for the copy task (4 heads, feed-forward width 4 d)."""
    from . import models

    return models.TinyTransformer(
        vocab=_COPY_VOCAB,
        d=d,
        n_layers=n_layers,
        n_heads=4,
        d_ff=4 * d,
        max_len=2 * _COPY_K + 1,
        placement=placement,
        **kwargs,
    )


def _copy_batch(rng: np.random.Generator, batch: int, k: int, vocab: int):
    """Toy task: ``a SEP a``: the model must copy the k tokens after the separator 0."""
    torch = require_torch()
    a = rng.integers(1, vocab, size=(batch, k))
    return torch.tensor(np.concatenate([a, np.zeros((batch, 1), int), a], axis=1))


@remembered
def transformer_init_gradients(
    placements: Sequence[str] = ("post", "pre"),
    *,
    depths: Sequence[int] = (2, 4, 6, 8, 12),
    d: int = 64,
    encoder_decoder: bool = True,
    seeds: Sequence[int] = (0, 1, 2, 3),
    init: str = "xavier",
) -> dict:
    """Xiong et al. (2020) at initialization, in miniature.

    Weights are initialised as in the paper (``init="xavier"``, see ``models``). For each
    placement: the gradient norm of every decoder layer's second feed-forward weight
    matrix (on one batch of the copy task, at initialization, averaged over seeds),
    the norm of the residual stream after each block, and the last layer's gradient norm as
    the depth grows.

    Returns
    -------
    dict with ``depths`` (K,) and, for each placement p and depth index k,
    ``layer_grad[p][k]`` and ``residual_norm[p][k]`` (depths[k],) per layer, and
    ``last_grad[p]`` (K,): the last layer's gradient norm at each depth
    """
    torch = require_torch()
    vocab, k = _COPY_VOCAB, _COPY_K

    def measure(placement: str, layers: int, seed: int):
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        m = _copy_task_model(placement, layers, d, encoder_decoder=encoder_decoder, init=init)
        x = _copy_batch(rng, 16, k, vocab)
        inp, target = x[:, :-1], x[:, 1:]
        src = _copy_batch(rng, 16, k, vocab)[:, :-1]  # the encoder reads its own sequence
        logits, res = (
            m(src, inp, return_residuals=True) if encoder_decoder else m(inp, return_residuals=True)
        )
        torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), target.reshape(-1)).backward()
        grads = [b.ff[2].weight.grad.norm().item() for b in m.decoder]
        norms = [r.norm(dim=-1).mean().item() for r in res]
        return grads, norms

    out = {"layer_grad": {}, "residual_norm": {}, "last_grad": {}, "depths": np.array(depths)}
    with _one_torch_thread():
        for p in placements:
            per_depth = [[measure(p, L, s) for s in seeds] for L in depths]
            out["layer_grad"][p] = [np.mean([g for g, _ in runs], axis=0) for runs in per_depth]
            out["residual_norm"][p] = [np.mean([n for _, n in runs], axis=0) for runs in per_depth]
            out["last_grad"][p] = np.array([lg[-1] for lg in out["layer_grad"][p]])
    return out


@remembered
def warmup_training(
    placement: str = "pre",
    *,
    lr: float = 1e-2,
    warmup: int = 0,
    n_layers: int = 6,
    d: int = 32,
    steps: int = 150,
    batch: int = 32,
    norm: str = "layer",
    seed: int = 0,
) -> np.ndarray:
    """Train a small causal transformer on the copy task; return its loss at every step.

    Adam (betas 0.9, 0.98, as the original Transformer), with a linear learning-rate
    warm-up over ``warmup`` steps (0: the full rate from the first step). The loss is the
    cross-entropy on the copied half of ``a SEP a``, so chance is ln(vocab - 1) = ln 15.
    ``norm`` is the normalization of every sublayer (see :func:`lnbook.models.make_norm`).

    Returns
    -------
    loss : (steps,) array
    """
    torch = require_torch()

    from . import models

    if placement not in models.PLACEMENTS:
        raise ValueError(f"placement must be one of {models.PLACEMENTS}, got {placement!r}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    m = _copy_task_model(placement, n_layers, d, norm=norm)
    return _train_copy(m, rng, steps=steps, lr=lr, warmup=warmup, batch=batch)


def _train_copy(m, rng, *, steps: int, lr: float, warmup: int = 0, batch: int = 32):
    """Adam on the copy task, with a linear warm-up over ``warmup`` steps; (steps,) losses."""
    torch = require_torch()
    vocab, k = _COPY_VOCAB, _COPY_K
    opt = torch.optim.Adam(m.parameters(), lr=lr, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) if warmup else 1.0
    )
    losses = np.empty(steps)
    with _one_torch_thread():
        for s in range(steps):
            x = _copy_batch(rng, batch, k, vocab)
            logits = m(x[:, :-1])[:, k:]  # predictions for the copied half
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, vocab), x[:, k + 1 :].reshape(-1)
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses[s] = loss.item()
    return losses


@remembered
def warmup_grid(
    lrs: Sequence[float] = (3e-3, 1e-2, 3e-2),
    configs: Sequence[tuple[str, int]] = (("post", 0), ("post", 40), ("pre", 0)),
    seeds: Sequence[int] = (0, 1),
    **kwargs,
) -> dict:
    """:func:`warmup_training` for every learning rate and (placement, warm-up steps), over
    seeds.

    Returns
    -------
    dict with ``lrs``, ``configs`` and, for each key ``(lr, placement, warmup)``:
    ``loss[key]`` (S, steps) one curve per seed, and ``final[key]`` (S,): each seed's mean
    loss over its last 20 steps
    """
    if not seeds:
        raise ValueError("seeds must not be empty")
    loss = {
        (lr, p, w): np.array([warmup_training(p, lr=lr, warmup=w, seed=s, **kwargs) for s in seeds])
        for lr in lrs
        for p, w in configs
    }
    return {
        "lrs": list(lrs),
        "configs": [tuple(c) for c in configs],
        "loss": loss,
        "final": {k: v[:, -20:].mean(axis=1) for k, v in loss.items()},
    }


# ---------------------------------------------------------------- chapter 6 -------------


# The network of chapter 6, after Ioffe and Szegedy's (2015) Fig. 1: 64 -> 3 hidden layers
# -> 10, sigmoid units by default, plain SGD. Xavier's initialisation keeps a sigmoid
# network's signal alive without any norm, so the comparison is with a network that can
# train, not with a broken one.
CH06_NET = {"d_hidden": 64, "depth": 3}


def _ch06_model(norm: str | None, noise: float, init: str, activation: str):
    from . import models

    return models.MLP(
        64, d_out=10, **CH06_NET, norm=norm, noise=noise, init=init, activation=activation
    )


# The networks of chapter 6's figures. The noise is NoisyNorm's: after batch norm it is
# Santurkar et al.'s (2018) experiment; after layer norm, the same test for layer norm.
COVARIATE_SHIFT_NETS = {
    "no norm": {"norm": None},
    "layer norm": {"norm": "layer"},
    "batch norm": {"norm": "batch"},
    "batch norm + noise": {"norm": "batch", "noise": 1.0},
    "layer norm + noise": {"norm": "layer", "noise": 1.0},
}


def _check_int(name: str, value, minimum: int, maximum: int | None = None) -> None:
    """A ValueError naming ``name`` unless ``value`` is an int in [minimum, maximum]."""
    ok = not isinstance(value, bool) and isinstance(value, int | np.integer)
    if not ok or value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an int {bound}, got {value!r}")


def _check_rate(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < np.inf:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def _unit_inputs(model, x) -> np.ndarray:
    """What the activation functions of ``model`` receive for the batch ``x``.

    Measured on a copy in training mode, as during training (batch norm uses the batch's
    statistics, the noisy norm adds its noise), without touching the model (batch norm's
    running statistics would move) or the random stream its training draws from (the noise
    would otherwise differ with the number of probes).

    Returns
    -------
    (L, N, D) array: for each hidden layer, each example's input to each unit
    """
    import copy

    torch = require_torch()

    from .models import ACTIVATIONS

    probe = copy.deepcopy(model).train()
    seen: list[np.ndarray] = []
    hooks = [
        m.register_forward_hook(lambda _m, inp, _out: seen.append(inp[0].numpy().copy()))
        for m in probe.modules()
        if isinstance(m, tuple(ACTIVATIONS.values()))
    ]
    with torch.no_grad(), torch.random.fork_rng():
        probe(x)
    for h in hooks:
        h.remove()
    return np.array(seen)


@remembered
def covariate_shift_run(
    norm: str | None = None,
    *,
    noise: float = 0.0,
    lr: float = 1.0,
    steps: int = 600,
    checkpoints: int = 25,
    n_probe: int = 300,
    unit: int = 0,
    batch_size: int = 64,
    init: str = "xavier",
    activation: str = "sigmoid",
    edges: np.ndarray | None = None,
    seed: int = 0,
) -> dict:
    """Train the chapter's network with SGD and watch its units' input distributions.

    A miniature of Ioffe and Szegedy (2015), Fig. 1: at ``checkpoints`` evenly spaced steps
    (step 0 included; 0: none) the input of every hidden unit (what its sigmoid receives,
    after the norm) is recorded for ``n_probe`` held-out images.

    Parameters
    ----------
    norm : "layer", "batch", "rms" or None, after each hidden linear layer
    noise : if > 0, the norm is followed by :class:`lnbook.models.NoisyNorm`'s noise
    lr, steps, batch_size, seed : plain SGD on the digits
    unit : the unit whose inputs are kept in full (for histograms)
    init, activation : the weights' initialisation and the units' non-linearity (see
        :class:`lnbook.models.MLP`)
    edges : bin edges of the histograms (default: 41 edges from -8 to 8, where a sigmoid is
        saturated); values beyond them are counted in the end bins

    Returns
    -------
    dict with ``steps`` (C,) the checkpoints; for unit ``unit``: ``inputs`` (C, L, P) its
    input per checkpoint, layer and probe image, ``percentiles`` (C, L, 3) their 15th, 50th
    and 85th percentiles, ``edges`` (B+1,) and ``hist`` (C, L, B) the share of images per
    bin; ``all_percentiles`` (C, L, D, 3) the same percentiles for every unit; ``loss``
    (steps,) the training loss and ``test_accuracy`` (float, in inference mode on the
    held-out images)
    """
    torch = require_torch()
    d_hidden, depth = CH06_NET["d_hidden"], CH06_NET["depth"]
    _check_int("steps", steps, 1)
    _check_int("batch_size", batch_size, 1)
    _check_int("unit", unit, 0, d_hidden - 1)
    _check_rate("lr", lr)
    if checkpoints != 0:
        _check_int("checkpoints (0 for none)", checkpoints, 2)
    X_train, Y_train, X_test, Y_test, rng = _digits_split(seed)
    # Batch norm needs two images to take statistics over; the rest is held out.
    _check_int("n_probe", n_probe, 2, len(X_test))
    torch.manual_seed(seed)
    probe = X_test[:n_probe]
    model = _ch06_model(norm, noise, init, activation)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    at = np.unique(np.linspace(0, steps, checkpoints).round().astype(int)) if checkpoints else []
    losses, inputs = np.empty(steps), []
    with _one_torch_thread():
        for step in range(steps + 1):
            if step in at:
                inputs.append(_unit_inputs(model, probe))
            if step == steps:
                break
            idx = torch.from_numpy(rng.integers(0, len(X_train), size=batch_size))
            loss = torch.nn.functional.cross_entropy(model(X_train[idx]), Y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[step] = loss.item()
        model.eval()
        with torch.no_grad():
            acc = (model(X_test).argmax(-1) == Y_test).float().mean().item()
    every = np.array(inputs).reshape(len(at), depth, n_probe, d_hidden)  # (C, L, P, D)
    pct = np.moveaxis(np.percentile(every, (15, 50, 85), axis=2), 0, -1)  # (C, L, D, 3)
    one = every[..., unit]  # (C, L, P)
    edges = np.linspace(-8, 8, 41) if edges is None else np.asarray(edges, dtype=np.float64)
    return {
        "steps": np.asarray(at, dtype=int),
        "inputs": one,
        "percentiles": pct[:, :, unit],
        "all_percentiles": pct,
        "edges": edges,
        "hist": np.array([[binned(v, edges) / len(v) for v in layers] for layers in one]),
        "loss": losses,
        "test_accuracy": acc,
    }


def distribution_shift(percentiles: np.ndarray, relative: bool = False) -> np.ndarray:
    """How much units' input distributions move between consecutive checkpoints.

    Parameters
    ----------
    percentiles : (C, L, Q) percentiles of one unit's input at C checkpoints for L layers,
        or (C, L, D, Q) for D units each
    relative : divide each unit's move by its width (last percentile minus first, averaged
        over the checkpoints): a move of 0.5 means half the distribution's width. Without
        it the move is in the units of the input itself (the sigmoid's: 1 is a large move)

    Returns
    -------
    (L,) the mean |change| of the percentiles from one checkpoint to the next, averaged
    over the percentiles and the units
    """
    p = np.asarray(percentiles, dtype=np.float64)
    if p.ndim not in (3, 4) or p.shape[0] < 2:
        raise ValueError(
            f"percentiles must have shape (C >= 2, L, Q) or (C >= 2, L, D, Q), got {p.shape}"
        )
    move = np.abs(np.diff(p, axis=0)).mean(axis=(0, -1))  # (L,) or (L, D)
    if relative:
        move = move / (p[..., -1] - p[..., 0]).mean(axis=0)
    return move if move.ndim == 1 else move.mean(axis=-1)


def steps_to_target(loss: np.ndarray, target: float, window: int = 20) -> float:
    """The first step at which the loss, averaged over the last ``window`` steps, is at or
    below ``target``; NaN if it never is.

    Averaging matters: a single mini-batch's loss is noisy and dips below a target long
    before the model is reliably there.

    Parameters
    ----------
    loss : (T,) training loss per step (step 1 first)

    Returns
    -------
    float: a step number in [window, T], or NaN
    """
    loss = np.asarray(loss, dtype=np.float64)
    if loss.ndim != 1 or not 1 <= window <= len(loss):
        raise ValueError(
            f"need loss of shape (T,) and 1 <= window <= T, got shape {loss.shape}, window {window}"
        )
    # Running mean over the last `window` steps; NaN (diverged) never counts as reached.
    smooth = np.convolve(loss, np.ones(window) / window, mode="valid")  # (T - window + 1,)
    hit = np.flatnonzero(smooth <= target)
    return float(hit[0] + window) if len(hit) else float("nan")


@remembered
def lr_sensitivity(
    configs: dict[str, dict],
    lrs: Sequence[float] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0),
    *,
    seeds: Sequence[int] = (0, 1),
    steps: int = 300,
    target: float = 0.5,
    window: int = 20,
) -> dict:
    """Final loss and steps to a target loss over a grid of learning rates (plain SGD).

    Parameters
    ----------
    configs : label -> keyword arguments of :func:`covariate_shift_run` (``norm``,
        ``noise``, ``init``)
    lrs : the learning rates, each run for every seed

    Returns
    -------
    dict with ``lrs`` (R,), ``labels``, ``target``, and for each label: ``final[label]``
    (R, S) the mean
    loss of the last ``window`` steps (NaN or inf where training diverged),
    ``steps[label]`` (R, S) the steps to reach ``target`` (NaN: never), ``accuracy[label]``
    (R, S) the held-out accuracy
    """
    if len(seeds) == 0 or len(lrs) == 0:
        raise ValueError(f"need at least one seed and one rate, got {list(seeds)}, {list(lrs)}")
    for lr in lrs:
        _check_rate("every rate in lrs", float(lr))
    out = {"lrs": np.asarray(lrs, dtype=float), "labels": list(configs), "target": target}
    for key in ("final", "steps", "accuracy"):
        out[key] = {}
    for label, kwargs in configs.items():
        if _stackable(kwargs):  # every rate and seed at once: the same runs, faster
            loss, acc = stacked_sgd_runs(kwargs, lrs, seeds, steps=steps)
        else:
            runs = [
                [
                    covariate_shift_run(**kwargs, lr=lr, steps=steps, checkpoints=0, seed=s)
                    for s in seeds
                ]
                for lr in lrs
            ]
            loss = np.array([[r["loss"] for r in row] for row in runs])
            acc = np.array([[r["test_accuracy"] for r in row] for row in runs])
        out["final"][label] = loss[..., -window:].mean(axis=-1)
        out["steps"][label] = np.array(
            [[steps_to_target(run, target, window) for run in row] for row in loss]
        )
        out["accuracy"][label] = acc
    return out


_STACKED_KEYS = {"norm", "noise", "init", "activation"}


def _stackable(kwargs: dict) -> bool:
    """Whether these covariate_shift_run arguments can be trained stacked (same runs)."""
    return (
        set(kwargs) <= _STACKED_KEYS
        and not kwargs.get("noise")
        and kwargs.get("norm") in (None, "layer", "batch", "rms")
    )


def stacked_sgd_runs(
    kwargs: dict,
    lrs: Sequence[float],
    seeds: Sequence[int],
    *,
    steps: int,
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`covariate_shift_run` for every rate and seed, trained side by side.

    Each run is the one ``covariate_shift_run(**kwargs, lr=lr, seed=seed,
    checkpoints=0)`` makes, with the same initialisation, data split and mini-batches; the
    runs are stacked into one :class:`lnbook.models.StackedMLP`, so one step of all of them
    costs a few steps of one. The losses agree with the separate runs' to float rounding
    (about 1e-7; tests/test_experiments.py compares them), which a run on the edge of
    divergence, at a high rate, amplifies over hundreds of steps like any rounding change.

    Parameters
    ----------
    kwargs : ``norm`` (None, "layer", "batch" or "rms"), ``init``, ``activation``; no noise

    Returns
    -------
    loss : (R, S, steps) training loss of rate r and seed s at every step
    accuracy : (R, S) held-out accuracy, in inference mode
    """
    torch = require_torch()

    from .models import StackedMLP

    if not isinstance(kwargs, dict):
        raise TypeError(f"kwargs must be a dict of network settings, got {type(kwargs).__name__}")
    unknown = set(kwargs) - _STACKED_KEYS
    if unknown:
        raise ValueError(
            f"kwargs may hold only {sorted(_STACKED_KEYS)}, got also {sorted(unknown)}"
        )
    if not _stackable(kwargs):
        raise ValueError(
            f"only runs without noise and with norm None, layer, batch or rms stack, got {kwargs}"
        )
    _check_int("steps", steps, 1)
    _check_int("batch_size", batch_size, 1)
    if len(lrs) == 0 or len(seeds) == 0:
        raise ValueError(f"need at least one rate and one seed, got {list(lrs)}, {list(seeds)}")
    for lr in lrs:
        _check_rate("every rate in lrs", lr.item() if isinstance(lr, np.generic) else lr)
    for seed in seeds:
        _check_int("every seed in seeds", seed, 0)
    norm = kwargs.get("norm")
    init, activation = kwargs.get("init", "xavier"), kwargs.get("activation", "sigmoid")
    import copy

    splits = {seed: _digits_split(seed) for seed in set(seeds)}
    members, rngs, X, Y, X_test, Y_test, rates = [], [], [], [], [], [], []
    for lr in lrs:
        for seed in seeds:
            # As covariate_shift_run: the split (NumPy), then the weights (torch's seed);
            # each run draws its mini-batches from its own copy of the split's generator.
            X_train, Y_train, Xt, Yt, rng = splits[seed]
            torch.manual_seed(seed)
            members.append(_ch06_model(norm, 0.0, init, activation))
            rngs.append(copy.deepcopy(rng))
            X.append(X_train), Y.append(Y_train), X_test.append(Xt), Y_test.append(Yt)
            rates.append(float(lr))
    model = StackedMLP(members)
    X, Y = torch.stack(X), torch.stack(Y)  # (E, N, 64), (E, N)
    rate = torch.tensor(rates)
    e, n = Y.shape
    losses = np.empty((e, steps))
    with _one_torch_thread():
        for step in range(steps):
            idx = torch.from_numpy(np.stack([r.integers(0, n, size=batch_size) for r in rngs]))
            x = torch.gather(X, 1, idx[..., None].expand(-1, -1, X.shape[-1]))  # (E, B, 64)
            y = torch.gather(Y, 1, idx)  # (E, B)
            logits = model(x)
            loss = (
                torch.nn.functional.cross_entropy(
                    logits.reshape(e * batch_size, -1), y.reshape(-1), reduction="none"
                )
                .view(e, batch_size)
                .mean(dim=1)
            )  # (E,): each member's own mean loss
            model.zero_grad(set_to_none=True)
            loss.sum().backward()  # the members share no weight: each gets its own gradient
            model.sgd_step(rate)
            losses[:, step] = loss.detach().numpy()
        model.eval()
        with torch.no_grad():
            pred = model(torch.stack(X_test)).argmax(-1)
            acc = (pred == torch.stack(Y_test)).float().mean(dim=1).numpy()
    r, s = len(lrs), len(seeds)
    return losses.reshape(r, s, steps), acc.reshape(r, s).astype(float)


def _loss_and_grad(model, params, x, y):
    """Cross-entropy of ``model`` on (x, y) and its gradient as one flat vector."""
    torch = require_torch()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, params)
    return loss.item(), torch.cat([g.reshape(-1) for g in grads])


@remembered
def landscape_smoothness(
    norm: str | None = None,
    *,
    lr: float = 1.0,
    etas: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0),
    steps: int = 500,
    every: int = 10,
    batch_size: int = 64,
    init: str = "xavier",
    activation: str = "sigmoid",
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """How far the loss and its gradient can be trusted along the gradient, during training.

    A miniature of Santurkar et al. (2018), Fig. 4. Every ``every`` steps of SGD, on the
    current mini-batch with gradient ``g`` at weights ``w``, we look ahead along the step
    direction at ``w - eta * lr * g`` for each ``eta`` in ``etas`` (multiples of the step
    actually taken) and record:

    - ``loss_range``: the largest minus the smallest loss seen there ("loss landscape":
      small means the loss changes gently along the step);
    - ``grad_change``: the largest ``|grad(w - eta lr g) - g|`` ("gradient
      predictiveness": small means the gradient stays a good guide along the step);
    - ``beta``: the largest ``|grad(w - eta lr g) - g| / |eta lr g|``, an "effective
      beta-smoothness" (a local Lipschitz constant of the gradient).

    The network is the chapter's (``init`` and ``activation`` as for
    :func:`covariate_shift_run`), trained with plain SGD at rate ``lr``.

    Returns
    -------
    dict with ``steps`` (M,) the steps measured, ``loss_range``, ``grad_change``, ``beta``
    and ``grad_norm`` (M,), and ``loss`` (steps,) the training loss
    """
    import copy

    torch = require_torch()
    etas = np.asarray(etas, dtype=np.float64)
    if etas.ndim != 1 or len(etas) == 0 or not ((etas > 0) & np.isfinite(etas)).all():
        raise ValueError(f"etas must be a non-empty list of positive numbers, got {etas.tolist()}")
    _check_int("every", every, 1)
    _check_int("steps", steps, 1)
    _check_int("batch_size", batch_size, 1)
    _check_rate("lr", lr)
    torch.manual_seed(seed)
    X_train, Y_train, _, _, rng = _digits_split(seed)
    model = _ch06_model(norm, 0.0, init, activation)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses, rows, measured = np.empty(steps), [], []
    with _one_torch_thread():
        for step in range(steps):
            idx = torch.from_numpy(rng.integers(0, len(X_train), size=batch_size))
            x, y = X_train[idx], Y_train[idx]
            if step % every == 0:
                # Look ahead on a copy: the training run itself must not be disturbed.
                ahead = copy.deepcopy(model)
                params = list(ahead.parameters())
                w = torch.cat([p.detach().reshape(-1) for p in params])
                loss0, g = _loss_and_grad(ahead, params, x, y)
                seen_loss, change, beta = [loss0], [], []
                for eta in etas:
                    torch.nn.utils.vector_to_parameters(w - eta * lr * g, params)
                    loss_e, g_e = _loss_and_grad(ahead, params, x, y)
                    seen_loss.append(loss_e)
                    change.append((g_e - g).norm().item())
                    beta.append(change[-1] / (eta * lr * g.norm().item()))
                rows.append([np.ptp(seen_loss), max(change), max(beta), g.norm().item()])
                measured.append(step)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[step] = loss.item()
    rows = np.array(rows)  # (M, 4)
    return {
        "steps": np.array(measured),
        "loss_range": rows[:, 0],
        "grad_change": rows[:, 1],
        "beta": rows[:, 2],
        "grad_norm": rows[:, 3],
        "loss": losses,
    }


def lr_summary(result: dict) -> dict[str, dict]:
    """What :func:`lr_sensitivity` shows, per network, in a few numbers.

    Returns
    -------
    label -> dict with ``reached`` (the rates at which every seed reached the target),
    ``best_lr`` (the rate with the fewest median steps to the target; NaN if none) and
    ``best_steps`` (those steps), ``above_chance`` (the rates at which some seed's final
    loss is not finite or above chance, ln 10: it diverged or oscillates)
    """
    lrs = result["lrs"]
    out = {}
    for label in result["labels"]:
        steps, final = result["steps"][label], result["final"][label]  # (R, S)
        all_reached = np.isfinite(steps).all(axis=1)
        median = np.where(all_reached, np.median(steps, axis=1), np.inf)
        best = int(np.argmin(median))
        out[label] = {
            "reached": [float(lr) for lr in lrs[all_reached]],
            "best_lr": float(lrs[best]) if all_reached.any() else float("nan"),
            "best_steps": float(median[best]) if all_reached.any() else float("nan"),
            "above_chance": [
                float(lr)
                for lr, f in zip(lrs, final, strict=True)
                if not (np.isfinite(f) & (f < np.log(10))).all()
            ],
        }
    return out


# ---------------------------------------------------------------- chapter 7 -------------


def recentering(
    x: np.ndarray, shift: float = 3.0, scale: float = 2.0, eps: float = 1e-5
) -> dict[str, float]:
    """What RMSNorm gives up: invariance to a shift of an example's features.

    Each example of ``x`` gets ``shift`` added to all its features, or is multiplied by
    ``scale``; returned is the largest change of the output of layer norm and of RMSNorm
    (both with ``eps``). Both ignore the scale, up to eps; only layer norm, which subtracts
    the mean, ignores the shift.

    Returns
    -------
    dict with ``ln_shift``, ``rms_shift``, ``ln_scale``, ``rms_scale`` (floats)
    """
    x = _batch(x)
    d = x.shape[1]

    def change(norm, moved) -> float:
        return float(np.abs(norm(moved, d, eps=eps) - norm(x, d, eps=eps)).max())

    return {
        "ln_shift": change(numpy_ln.layer_norm, x + shift),
        "rms_shift": change(numpy_ln.rms_norm, x + shift),
        "ln_scale": change(numpy_ln.layer_norm, x * scale),
        "rms_scale": change(numpy_ln.rms_norm, x * scale),
    }


@remembered
def norm_comparison(
    norms: Sequence[str] = ("layer", "rms", "dyt", "layer_detached"),
    *,
    seeds: Sequence[int] = (0, 1, 2),
    steps: int = 400,
    lr: float = 3e-3,
) -> dict[str, dict[str, np.ndarray]]:
    """Train the digits MLP (AdamW, as in chapter 2) with each normalization, over seeds.

    Returns
    -------
    norm -> dict with ``loss`` (S, steps) the training loss and ``accuracy`` (S,) the
    held-out accuracy of each seed
    """
    if len(seeds) == 0:
        raise ValueError("seeds must not be empty")
    out = {}
    for norm in norms:
        runs = [train_digits_mlp(norm=norm, steps=steps, lr=lr, seed=s) for s in seeds]
        out[norm] = {
            "loss": np.array([r["loss"] for r in runs]),
            "accuracy": np.array([r["test_accuracy"] for r in runs]),
        }
    return out


@remembered
def norm_input_output(
    norm_index: int = -1,
    *,
    steps: int = 300,
    n_layers: int = 4,
    d: int = 32,
    lr: float = 3e-3,
    n_points: int = 2000,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """What one layer norm of a trained transformer does to each value: input against output.

    Zhu et al. (2025) noticed that, in trained transformers, many layer norms map input to
    output along an S-shaped, tanh-like curve: per token the map is linear, but tokens with
    large activations are divided by a large standard deviation, which squashes the
    extremes. We train the chapter-5 pre-norm transformer on the copy task, run one batch,
    and record the input of one layer norm (``norm_index`` in the model's order) and its
    output before the learned affine step (as Zhu et al. plot it).

    Returns
    -------
    dict with ``x`` and ``y`` (n_points,) sampled input/output pairs, ``token_scale``
    (n_points,) the standard deviation of each value's token, ``loss`` (steps,), and the
    fits of :func:`fit_tanh`
    """
    torch = require_torch()

    from . import models

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    m = _copy_task_model("pre", n_layers, d)
    losses = _train_copy(m, rng, steps=steps, lr=lr)
    vocab, k = _COPY_VOCAB, _COPY_K
    with _one_torch_thread():
        norm = models.norm_layers(m)[norm_index]
        seen = {}
        hook = norm.register_forward_hook(lambda _m, inp, out: seen.update(x=inp[0].detach()))
        with torch.no_grad():
            m(_copy_batch(rng, 64, k, vocab)[:, :-1])
        hook.remove()
    x = seen["x"].numpy().astype(np.float64)  # (B, T, d)
    y = numpy_ln.layer_norm(x, d, eps=norm.eps)  # the norm's output before gamma and beta
    # The per-token standard deviation, repeated for each of the token's d values.
    token_std = np.broadcast_to(x.std(axis=-1, keepdims=True), x.shape).ravel()
    xs, ys = x.ravel(), y.ravel()
    pick = rng.choice(len(xs), size=min(n_points, len(xs)), replace=False)
    return {
        "x": xs[pick],
        "y": ys[pick],
        "token_scale": token_std[pick],
        "loss": losses,
        **fit_tanh(xs[pick], ys[pick]),
    }


def fit_tanh(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Least-squares fits of ``y ~ gamma * tanh(alpha * x)`` and of ``y ~ slope * x``.

    For each alpha on a grid, the best gamma is ``<y, t> / <t, t>`` with
    ``t = tanh(alpha x)``; the best line through 0 likewise. A tanh whose error is well
    below the line's means the point cloud bends: an S-shape.

    Parameters
    ----------
    x, y : (P,) paired values

    Returns
    -------
    dict with ``alpha``, ``gamma``, ``tanh_err`` (mean squared error of the tanh),
    ``slope`` and ``linear_err`` (of the line)
    """
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    if x.shape != y.shape or x.size < 2:
        raise ValueError(
            f"x and y must hold the same number (>= 2) of values, got {x.shape}, {y.shape}"
        )
    best = (np.inf, 0.0, 0.0)
    for alpha in np.geomspace(0.01, 100, 300):
        t = np.tanh(alpha * x)
        gamma = float((y * t).sum() / (t * t).sum())
        err = float(((y - gamma * t) ** 2).mean())
        best = min(best, (err, float(alpha), gamma))
    slope = float((x * y).sum() / (x * x).sum())
    return {
        "alpha": best[1],
        "gamma": best[2],
        "tanh_err": best[0],
        "slope": slope,
        "linear_err": float(((y - slope * x) ** 2).mean()),
    }


S_CURVE_SPREADS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)


def s_curve(spread: float, *, n_tokens: int = 32, d: int = 16, seed: int = 0) -> dict:
    """Layer norm's input/output map over tokens whose scales differ, which bends it.

    Token ``t`` is ``s_t * z_t`` with ``z_t`` standard normal features and a scale
    ``s_t = exp(spread * u_t)``, ``u_t`` standard normal. Each token's map is a straight
    line of slope ``1 / std(x_t)``; pooled over tokens, the large-scale tokens reach far
    out along shallow lines, the small ones stay near 0 on steep lines: together an S.
    The same ``z`` and ``u`` are drawn for every ``spread`` (given ``seed``), so only the
    spread changes between calls.

    Returns
    -------
    dict with ``x``, ``y`` (n_tokens * d,) input and output values, ``token_scale`` (same
    length) each value's token standard deviation, and the fits of :func:`fit_tanh`
    """
    if not (isinstance(spread, int | float) and np.isfinite(spread) and spread >= 0):
        raise ValueError(f"spread must be a finite number >= 0, got {spread!r}")
    _check_int("n_tokens", n_tokens, 1)
    _check_int("d", d, 2)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_tokens, d))  # (T, d)
    u = rng.standard_normal((n_tokens, 1))  # (T, 1)
    x = z * np.exp(spread * u)
    y = numpy_ln.layer_norm(x, d)
    token_std = np.broadcast_to(x.std(axis=-1, keepdims=True), x.shape)
    return {
        "x": x.ravel(),
        "y": y.ravel(),
        "token_scale": token_std.ravel(),
        **fit_tanh(x, y),
    }


def layer_norm_tutorial_style(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Layer norm as some well-known tutorial code writes it: ``(x - mean) / (std + eps)``
    with the *unbiased* standard deviation (``torch.std``'s default). Shown as a pitfall;
    it is another function than ``torch.nn.LayerNorm``'s."""
    mu = x.mean(axis=-1, keepdims=True)  # (..., 1)
    std = x.std(axis=-1, keepdims=True, ddof=1)  # (..., 1), unbiased: divides by D - 1
    return (x - mu) / (std + eps)


def pitfalls(d: int = 16, *, seed: int = 0) -> dict[str, float]:
    """The pitfalls card of chapter 7, each measured on small random inputs.

    Returns
    -------
    dict of floats:

    - ``tutorial_gap``: largest |difference| between the tutorial-style layer norm
      (unbiased std + eps) and the real one, on ordinary examples (about 1/(2D) relative);
    - ``tutorial_gap_flat``: the same on a nearly constant example (std ~ 1e-4), where eps
      inside or outside the square root decides the result;
    - ``one_pass_min_var``: the smallest variance the one-pass formula computes in float32
      for unit-variance rows on an offset of 1e4 (negative: NaN outputs);
    - ``one_pass_nan_share``: the share of those rows whose output is NaN;
    - ``sign_flip``: largest |LN(-x) + LN(x)| (0: a negative scale flips the output);
    - ``wrong_axis_gap``: largest |difference| between normalizing a (N, D) batch over the
      features (layer norm) and over the examples (axis 0, batch-norm-like statistics)
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, size=(64, d))
    flat = 5.0 + 1e-4 * rng.standard_normal((1, d))
    offset = (1e4 + rng.standard_normal((256, d))).astype(np.float32)
    mu = offset.mean(axis=-1, keepdims=True)
    one_pass_var = (offset * offset).mean(axis=-1) - (mu * mu)[:, 0]
    ln = numpy_ln.layer_norm
    return {
        "tutorial_gap": float(np.abs(layer_norm_tutorial_style(x) - ln(x, d)).max()),
        "tutorial_gap_flat": float(np.abs(layer_norm_tutorial_style(flat) - ln(flat, d)).max()),
        "one_pass_min_var": float(one_pass_var.min()),
        "one_pass_nan_share": float(np.isnan(layer_norm_one_pass(offset)).any(axis=-1).mean()),
        "sign_flip": float(np.abs(ln(-x, d) + ln(x, d)).max()),
        "wrong_axis_gap": float(np.abs(ln(x, d) - normalize_over(x, (0,))).max()),
    }


def shifted_norms(x: np.ndarray, shift: float = 0.0, scale: float = 1.0, eps: float = 1e-5):
    """One example moved by ``x * scale + shift``, then layer norm and RMSNorm of it.

    The live and static faces of chapter 7's re-centering interactive draw this.

    Parameters
    ----------
    x : (D,) one example

    Returns
    -------
    dict with ``x`` (D,) the moved example, ``ln`` and ``rms`` (D,) its two normalizations,
    ``mean`` and ``rms_value`` (floats) the statistic each of them divides or subtracts
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"x must be one example of shape (D,) with D >= 2, got {x.shape}")
    for name, value in (("shift", shift), ("scale", scale), ("eps", eps)):
        if not (isinstance(value, int | float) and np.isfinite(value)):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    moved = x * scale + shift
    d = moved.size
    return {
        "x": moved,
        "ln": numpy_ln.layer_norm(moved, d, eps=eps),
        "rms": numpy_ln.rms_norm(moved, d, eps=eps),
        "mean": float(moved.mean()),
        "rms_value": float(np.sqrt((moved * moved).mean())),
    }


def gradient_properties(n: int = 256, d: int = 16, *, seed: int = 0) -> dict[str, float]:
    """Xu et al. (2019): layer norm's input gradient has zero mean and is orthogonal to the
    normalized input; RMSNorm's gradient is orthogonal to its input only.

    Random examples (offset, not centred), random upstream gradients ``dy`` and a random
    ``gamma``; layer norm's ``dx`` from the package's hand-derived backward, RMSNorm's from
    torch's autograd. Each measure is the worst over the examples, relative to the sizes
    involved, so 1e-16 means "zero up to rounding". Orthogonality to ``x_hat`` is exact
    only for ``eps = 0``: with eps the cosine is about ``eps / var``.

    Returns
    -------
    dict of floats: ``ln_mean`` (|mean(dx)| / mean(|dx|)), ``ln_cos_xhat`` (|cos(dx, x_hat)|),
    ``ln_cos_x`` (|cos(dx, x)|), ``rms_mean`` and ``rms_cos_x`` for RMSNorm
    """
    torch = require_torch()
    _check_int("n", n, 1)
    _check_int("d", d, 2)
    rng = np.random.default_rng(seed)
    x = rng.normal(2.0, 3.0, size=(n, d))
    dy = rng.standard_normal((n, d))
    gamma = rng.normal(1.0, 0.5, size=d)
    _, cache = numpy_ln.layer_norm_forward(x, d, gamma, np.zeros(d))
    dx = numpy_ln.layer_norm_backward(dy, cache)[0]  # (N, D)

    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.rms_norm(xt, (d,), torch.tensor(gamma), 1e-6).backward(torch.tensor(dy))
    dx_rms = xt.grad.numpy()

    def mean_ratio(g) -> float:
        return float((np.abs(g.mean(-1)) / np.abs(g).mean(-1)).max())

    def cos(a, b) -> float:
        dot = np.abs((a * b).sum(-1))
        return float((dot / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))).max())

    return {
        "ln_mean": mean_ratio(dx),
        "ln_cos_xhat": cos(dx, cache.x_hat),
        "ln_cos_x": cos(dx, x),
        "rms_mean": mean_ratio(dx_rms),
        "rms_cos_x": cos(dx_rms, x),
    }


# Default eps of other libraries, from their source (chapter 7 cites each); torch's own
# defaults are read from torch itself by eps_defaults().
OTHER_EPS_DEFAULTS = (
    ("Keras LayerNormalization", 1e-3, "keras_layernorm"),
    ("Haiku LayerNorm and RMSNorm", 1e-5, "haiku_layernorm"),
    ("Flax LayerNorm and RMSNorm", 1e-6, "flax_layernorm"),
    ("T5 (Mesh TensorFlow, Hugging Face)", 1e-6, "t5_config"),
    ("GPT-2 (Hugging Face GPT2Config)", 1e-5, "hf_gpt2_config"),
    ("Llama 2 (Meta's code)", 1e-5, "meta_llama_code"),
    ("Hugging Face LlamaConfig default", 1e-6, "hf_llama_config"),
    ("BERT (TensorFlow 1 layer_norm, BertConfig)", 1e-12, "tf_contrib_layernorm"),
)


def eps_defaults() -> list[tuple[str, float, str]]:
    """Default eps of common layer norm and RMSNorm implementations, largest first.

    Returns
    -------
    list of (implementation, eps, source): torch's entries are read from the installed
    torch (``torch.nn.RMSNorm``'s ``eps=None`` means ``torch.finfo(dtype).eps``, shown
    for float32 and bfloat16), the others are :data:`OTHER_EPS_DEFAULTS` (source: a
    bibliography key)
    """
    torch = require_torch()
    ln, rms = torch.nn.LayerNorm(4), torch.nn.RMSNorm(4)
    assert rms.eps is None  # the claim made in the table: None, resolved per dtype
    rows = [
        ("PyTorch nn.LayerNorm", float(ln.eps), ""),
        ("PyTorch nn.RMSNorm, float32", float(torch.finfo(torch.float32).eps), ""),
        ("PyTorch nn.RMSNorm, bfloat16", float(torch.finfo(torch.bfloat16).eps), ""),
        *OTHER_EPS_DEFAULTS,
    ]
    return sorted(rows, key=lambda row: -row[1])


def eps_gain(stds: np.ndarray, eps: float, d: int = 64, *, seed: int = 0) -> np.ndarray:
    """The standard deviation of layer norm's output for examples of given spreads.

    Layer norm divides by ``sqrt(var + eps)``, not by ``std``: an example whose standard
    deviation ``s`` is small next to ``sqrt(eps)`` comes out with spread about
    ``s / sqrt(eps)`` instead of 1. Measured on examples built with exactly that spread.

    Parameters
    ----------
    stds : (K,) positive standard deviations
    eps : layer norm's eps

    Returns
    -------
    (K,) the output's standard deviation (the closed form is ``s / sqrt(s**2 + eps)``)
    """
    stds = np.asarray(stds, dtype=np.float64)
    if stds.ndim != 1 or not (stds > 0).all():
        raise ValueError(f"stds must be a 1-d array of positive numbers, got shape {stds.shape}")
    z = np.random.default_rng(seed).standard_normal(d)
    z = (z - z.mean()) / z.std()  # exactly mean 0, std 1
    x = 1.0 + stds[:, None] * z  # (K, d): an offset of 1 that layer norm removes
    return numpy_ln.layer_norm(x, d, eps=eps).std(axis=-1)


# ---------------------------------------------------------------- chapter 8 -------------

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

    from . import torch_ln

    _check_int("shape[0]", shape[0], 1)
    _check_int("shape[1]", shape[1], 2)
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
