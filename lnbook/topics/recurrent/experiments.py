"""Chapter 11's experiments (recurrent): pure functions that compute what the chapter shows.

:func:`digit_runs` trains a plain LSTM, a layer-normalized one and a per-step batch-normalized
one on the digits read row by row (8 steps of 8 pixels), side by side over seeds, and
measures, on the trained models, what per-step batch norm does: its statistics per step,
what it does on sequences longer than any training one, and how an example's output depends
on its batch. :func:`rnn_norms` runs a vanilla ReLU RNN with and without layer norm (NumPy)
over long sequences and records the hidden state's norm. torch is loaded inside the
functions that train (:func:`lnbook._optional.require_torch`).
"""

from __future__ import annotations

import numpy as np

from ..._optional import require_torch
from ..._results import remembered
from ..._validate import check_floats, check_int, check_ints, check_rate

KINDS = ("plain", "layer", "batch")  # the three LSTMs the chapter compares
ROWS = 8  # the digits are 8 x 8: 8 time steps of 8 pixels


def _lstm(kind: str, hidden: int, seed: int):
    """The recurrent part of one classifier: plain, LN (Ba et al.) or per-step BN
    (Cooijmans et al.), its weights drawn from torch's generator seeded with ``seed``."""
    torch = require_torch()
    from ...recurrent import BatchNormLSTM, LayerNormLSTM  # torch-only module

    torch.manual_seed(seed)
    if kind == "batch":
        return BatchNormLSTM(ROWS, hidden, max_steps=ROWS)
    return LayerNormLSTM(ROWS, hidden, layer_norm=kind == "layer")


def padded(x, p: int):
    """Digits read row by row after ``p`` blank rows: (B, 8, 8) -> (B, p + 8, 8), the same
    digit as a sequence ``p`` steps longer (as a batch padded on the left gives)."""
    return require_torch().cat([x.new_zeros(x.shape[0], p, x.shape[2]), x], dim=1)


def _logits(rnn, head, x):
    """The classifier: the LSTM over the rows, a linear layer on its last hidden state."""
    return head(rnn(x)[0][:, -1])


def _step_std(z) -> np.ndarray:
    """(B, T, d) summed inputs -> (T,): each feature's std over the batch at each step,
    averaged over the features (what a per-step BN divides by)."""
    return z.std(dim=0, unbiased=False).mean(dim=-1).double().numpy()


@remembered
def digit_runs(
    seeds=(0, 1, 2),
    *,
    steps: int = 150,
    hidden: int = 32,
    lr: float = 0.02,
    batch_size: int = 64,
    pads=(0, 8, 16, 24),
    long_steps: int = 200,
) -> dict:
    """Train the three LSTMs on the digits row by row, then measure per-step batch norm.

    Each classifier is an LSTM of ``hidden`` units (plain, layer norm, or batch norm per
    step with ``max_steps = 8``) reading the 8 rows of a digit, and a linear layer on its
    last hidden state; Adam at ``lr``, the same mini-batches of ``batch_size`` for the
    three, from :func:`lnbook.training.digits_split` (70% of the digits; the rest held
    out). After training, on the held-out digits (float32):

    * ``accuracy``: on the digits after ``p`` blank rows (:func:`padded`), for every ``p``
      of ``pads``, in evaluation mode: BN's steps beyond 8 reuse step 8's statistics;
      ``own_stats_accuracy``: BN normalizing every step by the held-out digits' own
      statistics at that step instead (training mode, all of them as one batch);
    * ``stored_std`` (2, S, 8): for BN's two summed inputs (``W_ih x_t``, then
      ``W_hh h_{t-1}``), each feature's running std at each stored step; ``seen_std``
      (2, S, P, 8 + p_max): the std over the held-out digits at each step of the padded
      sequences (NaN past their end); both averaged over the 4H features;
    * ``batch_change`` (3, S): the largest change of a held-out digit's logits when the
      other half of its batch of 64 is replaced (training mode, where BN uses the batch's
      statistics); ``batch_flips`` (3, S): the fraction of predictions that change;
    * ``h_norm`` and ``c_norm`` (3, S, long_steps): the hidden and cell states' norms, the
      mean over 64 sequences of ``long_steps`` rows of uniform noise in [0, 1] (as bright
      as the digits' pixels), in evaluation mode.

    Returns
    -------
    dict with ``kinds``, ``seeds``, ``pads``, ``loss`` (3, S, steps), ``accuracy``
    (3, S, P), ``own_stats_accuracy`` (S, P), ``stored_std``, ``seen_std``,
    ``batch_change``, ``batch_flips``
    """
    torch = require_torch()
    from ...training import digits_split, one_torch_thread

    seeds, pads = check_ints("seeds", seeds, 0), check_ints("pads", pads, 0)
    check_int("steps", steps, 1)
    check_int("hidden", hidden, 1)
    check_int("batch_size", batch_size, 2)
    check_int("long_steps", long_steps, 1)
    check_rate("lr", lr)
    S, P, T_long = len(seeds), len(pads), ROWS + max(pads)
    out = {
        "kinds": KINDS,
        "seeds": seeds,
        "pads": np.array(pads),
        "loss": np.empty((len(KINDS), S, steps)),
        "accuracy": np.empty((len(KINDS), S, P)),
        "own_stats_accuracy": np.empty((S, P)),
        "stored_std": np.empty((2, S, ROWS)),
        "seen_std": np.full((2, S, P, T_long), np.nan),
        "batch_change": np.empty((len(KINDS), S)),
        "batch_flips": np.empty((len(KINDS), S)),
        "h_norm": np.empty((len(KINDS), S, long_steps)),
        "c_norm": np.empty((len(KINDS), S, long_steps)),
    }
    with one_torch_thread():
        for j, seed in enumerate(seeds):
            X, Y, X_test, Y_test, rng = digits_split(seed)
            X, X_test = X.reshape(-1, ROWS, ROWS), X_test.reshape(-1, ROWS, ROWS)
            batches = [rng.integers(0, len(X), size=batch_size) for _ in range(steps)]
            for i, kind in enumerate(KINDS):
                rnn = _lstm(kind, hidden, seed)
                head = torch.nn.Linear(hidden, 10)
                opt = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=lr)
                for step, idx in enumerate(batches):  # the same mini-batches for each kind
                    idx = torch.from_numpy(idx)
                    loss = torch.nn.functional.cross_entropy(_logits(rnn, head, X[idx]), Y[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    out["loss"][i, j, step] = loss.item()
                with torch.no_grad():
                    change = _batch_dependence(rnn, head, X_test, seed)
                    out["batch_change"][i, j], out["batch_flips"][i, j] = change
                    rnn.eval()
                    g = torch.Generator().manual_seed(20_000 + seed)
                    noise = torch.rand(64, long_steps, ROWS, generator=g)
                    h_norm, c_norm = _state_norms(rnn, noise)
                    out["h_norm"][i, j], out["c_norm"][i, j] = h_norm, c_norm
                    for q, p in enumerate(pads):
                        xs = padded(X_test, p)
                        pred = _logits(rnn, head, xs).argmax(1)
                        out["accuracy"][i, j, q] = (pred == Y_test).float().mean().item()
                        if kind != "batch":
                            continue
                        seen = rnn.summed_inputs(xs)
                        for n, name in enumerate(("ih", "hh")):
                            out["seen_std"][n, j, q, : ROWS + p] = _step_std(seen[name])
                        pred = _own_stats_logits(rnn, head, xs).argmax(1)
                        out["own_stats_accuracy"][j, q] = (pred == Y_test).float().mean().item()
                    if kind == "batch":
                        for n, name in enumerate(("ih", "hh")):
                            var = getattr(rnn, f"running_var_{name}")  # (8, 4H)
                            out["stored_std"][n, j] = var.sqrt().mean(dim=1).numpy()
    return out


def _state_norms(rnn, x) -> tuple[np.ndarray, np.ndarray]:
    """|h_t| and |c_t| at every step of ``x`` (B, T, 8), each the mean over the batch; (T,)
    each. Runs under ``torch.no_grad()``, in evaluation mode."""
    torch = require_torch()
    if hasattr(rnn, "summed_inputs"):  # the BN-LSTM records its cell states
        h, c = rnn(x)[0], rnn.summed_inputs(x)["c"]  # (B, T, H) each
    else:
        hs, cs, state = [], [], None
        for t in range(x.shape[1]):  # step by step: LayerNormLSTM returns only the last c
            _, state = rnn(x[:, t : t + 1], state)
            hs.append(state[0][-1]), cs.append(state[1][-1])
        h, c = torch.stack(hs, 1), torch.stack(cs, 1)  # (B, T, H) each
    return tuple(v.norm(dim=-1).mean(0).double().numpy() for v in (h, c))


def _own_stats_logits(rnn, head, xs):
    """A per-step BN LSTM's logits on ``xs`` (B, T, 8) with every step normalized by the
    statistics of ``xs`` itself at that step: a model with ``max_steps = T`` whose running
    statistics are those (training mode: each step uses the batch's statistics)."""
    from ...recurrent import BatchNormLSTM

    T = xs.shape[1]
    own = BatchNormLSTM(rnn.input_size, rnn.hidden_size, max_steps=T, eps=rnn.eps)
    own.load_state_dict(
        {n: p for n, p in rnn.state_dict().items() if not n.startswith("running_")}, strict=False
    )
    return _logits(own.train(), head, xs)  # the new model's running statistics are unused


def _batch_dependence(rnn, head, X_test, seed: int) -> tuple[float, float]:
    """In training mode, the held-out digits in batches of 64, then again with the second
    half of every batch replaced by other digits: the largest change of a first-half
    digit's logit, and the fraction of first-half predictions that change (the model and
    its running statistics are left as they were)."""
    torch = require_torch()

    saved = {n: b.clone() for n, b in rnn.named_buffers()}
    n = (len(X_test) // 64) * 64
    g = torch.Generator().manual_seed(10_000 + seed)
    first = torch.randperm(len(X_test), generator=g)[:n].reshape(-1, 64)  # (n / 64, 64)
    # Batch b of `second` keeps the first 32 digits of batch b and takes the last 32 of
    # batch b - 1: the same digits, other batch-mates.
    second = torch.cat([first[:, :32], torch.roll(first[:, 32:], shifts=1, dims=0)], dim=1)
    rnn.train()
    a = torch.cat([_logits(rnn, head, X_test[b])[:32] for b in first])  # (n / 2, 10)
    b = torch.cat([_logits(rnn, head, X_test[b])[:32] for b in second])
    for name, buf in rnn.named_buffers():
        buf.copy_(saved[name])
    change = float((a - b).abs().max())
    flips = float((a.argmax(1) != b.argmax(1)).float().mean())
    return change, flips


def rnn_norms(
    scale: float = 1.5,
    *,
    steps: int = 200,
    hidden: int = 64,
    seeds=(0, 1, 2),
    eps: float = 1e-5,
) -> dict:
    """The hidden state's norm along a long sequence, in a vanilla ReLU RNN with and
    without layer norm (Ba et al., 2016, section 3.1), at initialization.

    ``h_t = relu(a_t)`` (plain) or ``h_t = relu(LN(a_t))`` (gain 1, bias 0), with
    ``a_t = W_hh h_{t-1} + W_xh x_t``, ``h_0 = 0``, inputs ``x_t`` of 8 standard normal
    values, ``W_xh`` Gaussian with std ``1/sqrt(8)`` and ``W_hh`` Gaussian with std
    ``scale * sqrt(2 / hidden)`` (He's scale for ReLU times ``scale``).

    Returns
    -------
    dict with ``scale``, ``seeds``, ``plain`` and ``layer`` (S, steps): ``|h_t|`` at
    t = 1..steps, and ``bound`` (float): ``sqrt(hidden - 1)``, the largest ``|h_t|`` layer
    norm allows (exercise ch11-ex-bound)
    """
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 <= scale < np.inf:
        raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
    check_int("steps", steps, 1)
    check_int("hidden", hidden, 2)
    seeds = check_ints("seeds", seeds, 0)
    S, H = len(seeds), hidden
    rngs = [np.random.default_rng(s) for s in seeds]
    W_hh = np.stack([scale * np.sqrt(2 / H) * r.standard_normal((H, H)) for r in rngs])
    W_xh = np.stack([r.standard_normal((H, 8)) / np.sqrt(8) for r in rngs])
    x = np.stack([r.standard_normal((steps, 8)) for r in rngs])  # (S, T, 8)
    norms = {}
    for kind in ("plain", "layer"):
        h = np.zeros((S, H))
        seen = np.empty((S, steps))
        with np.errstate(over="ignore", invalid="ignore"):  # plain may overflow to inf
            for t in range(steps):
                a = np.einsum("sij,sj->si", W_hh, h) + np.einsum("sij,sj->si", W_xh, x[:, t])
                if kind == "layer":  # each example's own mean and variance, at this step
                    mu = a.mean(axis=1, keepdims=True)
                    var = a.var(axis=1, keepdims=True)
                    a = (a - mu) / np.sqrt(var + eps)
                h = np.maximum(a, 0.0)
                seen[:, t] = np.linalg.norm(h, axis=1)
        norms[kind] = seen
    return {"scale": float(scale), "seeds": seeds, **norms, "bound": float(np.sqrt(H - 1))}


def rnn_norm_grid(scales=(0.5, 1.0, 1.5, 2.0), **kwargs) -> dict:
    """:func:`rnn_norms` for each of ``scales``: ``plain`` and ``layer`` (N, S, steps)."""
    scales = check_floats("scales", scales, 0)
    runs = [rnn_norms(s, **kwargs) for s in scales]
    return {
        "scales": np.array([r["scale"] for r in runs]),
        "seeds": runs[0]["seeds"],
        "plain": np.stack([r["plain"] for r in runs]),
        "layer": np.stack([r["layer"] for r in runs]),
        "bound": runs[0]["bound"],
    }
