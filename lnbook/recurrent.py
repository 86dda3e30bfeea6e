"""Layer norm in a recurrent network: the layer-normalized LSTM of Ba et al. (2016).

Batch norm needs statistics for every time step, gathered over a batch, and a test
sequence longer than any training one has steps it never saw. Layer norm needs neither: at
each step it normalizes each example's summed inputs by that example's own mean and
variance, so the same cell runs on any sequence length and any batch size, one example at
a time included. :class:`LayerNormLSTMCell` is one step, :class:`LayerNormLSTM` runs it
over a sequence. With ``layer_norm=False`` both are a plain LSTM with the parameters of
``torch.nn.LSTMCell``, so the tests can check them against torch. :class:`BatchNormLSTM`
is the batch-normalized LSTM of Cooijmans et al. (2017), with statistics of its own for
every time step, for the chapter to compare.
"""

from __future__ import annotations

import math

from ._optional import torch_missing

try:
    import torch
    from torch import Tensor, nn
except ImportError as e:  # the browser edition: say where this module runs instead
    raise torch_missing("lnbook.recurrent") from e

from . import torch_ln
from ._validate import check_eps, check_size

__all__ = ["BatchNormLSTM", "LayerNormLSTM", "LayerNormLSTMCell"]


def _check_float(name: str, t, dtype: torch.dtype) -> None:
    """``t`` is a floating-point tensor of the parameters' dtype."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    if t.dtype != dtype:
        raise TypeError(
            f"{name} has dtype {t.dtype} but the parameters have dtype {dtype}; "
            f"convert one of them (e.g. model.to({t.dtype}))"
        )


def _check_state(state, shape: tuple[int, ...], dtype: torch.dtype, what: str):
    """``state`` is None or a pair ``(h, c)`` of tensors of exactly ``shape``."""
    if state is None:
        return None
    if not isinstance(state, tuple | list) or len(state) != 2:
        raise TypeError(f"{what} must be a pair (h, c) of tensors, got {type(state).__name__}")
    for name, t in zip(("h", "c"), state, strict=True):
        _check_float(f"{what}'s {name}", t, dtype)
        if tuple(t.shape) != shape:
            raise ValueError(f"{what}'s {name} must have shape {shape}, got {tuple(t.shape)}")
    return tuple(state)


class LayerNormLSTMCell(nn.Module):
    """One step of an LSTM whose summed inputs are layer-normalized (Ba et al., 2016, 3.1).

    With ``a = (i, f, g, o)`` the 4H gate pre-activations (torch's gate order)::

        a   = LN_hh(W_hh h_{t-1}) + LN_ih(W_ih x_t) + b
        c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
        h_t = sigmoid(o) * tanh(LN_c(c_t))

    Each LN has its own gain and bias (``ln_hh``, ``ln_ih``, ``ln_c``, lnbook's
    ``torch_ln.LayerNorm``). As in the paper, ``W_hh h`` and ``W_ih x`` are each normalized
    as one vector of 4H values per example, all four gates together; some implementations
    normalize each gate's H values separately instead, which is a different model. The
    statistics are each example's own, at this step only: nothing is shared across the
    batch or kept across steps. With ``eps=0`` a constant summed input has no variance to
    divide by and gives NaN: the zero initial state does that to ``W_hh h_0``, so pass a
    nonzero state (or keep eps > 0).

    With ``layer_norm=False`` the cell is exactly ``torch.nn.LSTMCell``, with its
    parameters ``weight_ih`` (4H, I), ``weight_hh`` (4H, H), ``bias_ih`` and ``bias_hh``
    (4H,). With ``layer_norm=True`` it has ``weight_ih``, ``weight_hh``, one bias ``b``
    (4H,) and the three LNs. Weights and ``b`` start uniform in +-1/sqrt(H) (torch's LSTM
    initialization), the LN gains at 1 and their biases at 0.

    Parameters
    ----------
    input_size : int, I
    hidden_size : int, H
    eps : float, the three LNs' eps (>= 0)
    layer_norm : bool, False for a plain LSTM cell
    device, dtype : optional, as for any torch module

    Shapes
    ------
    forward(x, state=None) takes x (B, I) and state ``(h, c)``, each (B, H) (zeros if
    None), and returns the new ``(h, c)``, each (B, H).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        eps: float = 1e-5,
        layer_norm: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.input_size = check_size("input_size", input_size)
        self.hidden_size = H = check_size("hidden_size", hidden_size)
        check_eps(eps)
        self.eps = eps
        self.layer_norm = bool(layer_norm)
        factory = {"device": device, "dtype": dtype}
        self.weight_ih = nn.Parameter(torch.empty(4 * H, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(4 * H, H, **factory))
        if self.layer_norm:
            self.b = nn.Parameter(torch.empty(4 * H, **factory))
            self.ln_ih = torch_ln.LayerNorm(4 * H, eps=eps, **factory)
            self.ln_hh = torch_ln.LayerNorm(4 * H, eps=eps, **factory)
            self.ln_c = torch_ln.LayerNorm(H, eps=eps, **factory)
        else:
            self.bias_ih = nn.Parameter(torch.empty(4 * H, **factory))
            self.bias_hh = nn.Parameter(torch.empty(4 * H, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weights and biases uniform in +-1/sqrt(H), as torch's LSTM; LN gains 1, biases 0."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters(recurse=False):
            nn.init.uniform_(p, -bound, bound)
        if self.layer_norm:
            for ln in (self.ln_ih, self.ln_hh, self.ln_c):
                ln.reset_parameters()

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, eps={self.eps}, layer_norm={self.layer_norm}"
        )

    def forward(
        self, x: Tensor, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        """One step: x (B, I) and state (h, c), each (B, H) or None; returns (h, c)."""
        dtype = self.weight_ih.dtype
        _check_float("x", x, dtype)
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(
                f"x must have shape (batch, input_size) = (B, {self.input_size}), "
                f"got {tuple(x.shape)}"
            )
        B, H = x.shape[0], self.hidden_size
        state = _check_state(state, (B, H), dtype, "state")
        if state is None:
            zeros = x.new_zeros(B, H)
            state = (zeros, zeros)
        return self._step(x, *state)

    def _step(self, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """The step itself, on checked tensors: x (B, I), h and c (B, H)."""
        wx = x @ self.weight_ih.T  # (B, 4H): the summed inputs from below
        wh = h @ self.weight_hh.T  # (B, 4H): and from the previous step
        if self.layer_norm:
            a = self.ln_hh(wh) + self.ln_ih(wx) + self.b
        else:
            a = wx + self.bias_ih + wh + self.bias_hh
        i, f, g, o = a.chunk(4, dim=1)  # each (B, H), torch's gate order
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(self.ln_c(c) if self.layer_norm else c)
        return h, c


class LayerNormLSTM(nn.Module):
    """A stack of :class:`LayerNormLSTMCell` run over a sequence, like ``torch.nn.LSTM``.

    Single direction, no dropout between layers. Layer ``k`` reads the hidden states of
    layer ``k - 1`` (the input, for the first). Every step normalizes each example by its
    own statistics, so the model runs on sequences of any length and batches of any size,
    and an example's output does not depend on the rest of its batch.

    Parameters
    ----------
    input_size : int, I
    hidden_size : int, H
    num_layers : int, L (>= 1)
    batch_first : bool, True for input (B, T, I) and output (B, T, H); False for (T, B, ...)
    layer_norm : bool, False for a plain LSTM (then it equals ``torch.nn.LSTM``)
    eps : float, the LNs' eps
    device, dtype : optional, as for any torch module

    Shapes
    ------
    forward(x, state=None) takes x (B, T, I) (``batch_first``) or (T, B, I), T >= 1, and an
    optional initial state ``(h_0, c_0)``, each (L, B, H) (zeros if None). It returns
    ``(output, (h_n, c_n))``: output (B, T, H) or (T, B, H), the last layer's h at every
    step, and h_n, c_n (L, B, H), every layer's state after the last step.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = True,
        layer_norm: bool = True,
        eps: float = 1e-5,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.input_size = check_size("input_size", input_size)
        self.hidden_size = check_size("hidden_size", hidden_size)
        self.num_layers = check_size("num_layers", num_layers)
        self.batch_first = bool(batch_first)
        self.layer_norm = bool(layer_norm)
        self.cells = nn.ModuleList(
            LayerNormLSTMCell(
                input_size if k == 0 else hidden_size,
                hidden_size,
                eps=eps,
                layer_norm=layer_norm,
                device=device,
                dtype=dtype,
            )
            for k in range(num_layers)
        )

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"batch_first={self.batch_first}, layer_norm={self.layer_norm}"
        )

    def forward(
        self, x: Tensor, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Run over the sequence; see the class docstring for the shapes."""
        dtype = self.cells[0].weight_ih.dtype
        _check_float("x", x, dtype)
        layout = "(batch, time, input_size)" if self.batch_first else "(time, batch, input_size)"
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(
                f"x must have shape {layout} with input_size = {self.input_size}, "
                f"got {tuple(x.shape)}"
            )
        xs = x.transpose(0, 1) if self.batch_first else x  # (T, B, I)
        T, B = xs.shape[0], xs.shape[1]
        if T < 1:
            raise ValueError(f"x must have at least one time step, got shape {tuple(x.shape)}")
        L, H = self.num_layers, self.hidden_size
        state = _check_state(state, (L, B, H), dtype, "state")
        if state is None:
            zeros = x.new_zeros(L, B, H)
            state = (zeros, zeros)
        h_n, c_n = [], []
        seq = list(xs.unbind(0))  # T tensors of (B, I), then of (B, H)
        for k, cell in enumerate(self.cells):
            h, c = state[0][k], state[1][k]
            for t in range(T):
                h, c = cell._step(seq[t], h, c)
                seq[t] = h
            h_n.append(h)
            c_n.append(c)
        output = torch.stack(seq, dim=1 if self.batch_first else 0)
        return output, (torch.stack(h_n), torch.stack(c_n))


class BatchNormLSTM(nn.Module):
    """An LSTM with batch norm per time step (Cooijmans et al., 2017, "Recurrent Batch
    Normalization"), one layer, input (B, T, I).

    With ``a = (i, f, g, o)`` the 4H gate pre-activations (torch's gate order)::

        a   = BN_hh,t(W_hh h_{t-1}) + BN_ih,t(W_ih x_t) + b
        c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
        h_t = sigmoid(o) * tanh(BN_c,t(c_t))

    Each BN normalizes every one of its features by that feature's mean and variance *over
    the batch* at step t. As in the paper, ``BN_hh`` and ``BN_ih`` have a gain and no bias
    (``b`` is the bias), ``BN_c`` a gain and a bias, the gains start at ``gain`` (0.1 in the
    paper) and are shared by all steps, while the statistics are not: training keeps a
    running mean and variance for each step ``t < max_steps`` (torch's convention: momentum
    ``momentum``, the unbiased variance in the running average, the biased one to
    normalize). In evaluation (``model.eval()``) step t uses the running statistics of step
    ``min(t, max_steps - 1)``: a sequence longer than any training one reuses the last
    step's statistics for all its later steps, as the paper does. In training, a batch's
    step t uses that batch's statistics, so each example's output depends on the others in
    its batch; training sequences may not be longer than ``max_steps``.

    Parameters
    ----------
    input_size : int, I
    hidden_size : int, H
    max_steps : int, T_max: the steps that have statistics of their own
    eps : float, the BNs' eps (> 0: ``W_hh h_0`` is 0 for the zero initial state)
    momentum : float in (0, 1], the running averages' update rate
    gain : float, the starting value of the three gains

    Shapes
    ------
    forward(x) takes x (B, T, I), starting from the zero state, and returns
    ``(output, (h_n, c_n))``: output (B, T, H) the h of every step, h_n and c_n (B, H).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        max_steps: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        gain: float = 0.1,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.input_size = check_size("input_size", input_size)
        self.hidden_size = H = check_size("hidden_size", hidden_size)
        self.max_steps = T = check_size("max_steps", max_steps)
        check_eps(eps)
        if eps <= 0:
            raise ValueError(f"eps must be > 0 (the zero state has no variance), got {eps}")
        if isinstance(momentum, bool) or not isinstance(momentum, int | float):
            raise TypeError(f"momentum must be a number, got {type(momentum).__name__}")
        if not 0 < momentum <= 1:
            raise ValueError(f"momentum must be in (0, 1], got {momentum}")
        if isinstance(gain, bool) or not isinstance(gain, int | float):
            raise TypeError(f"gain must be a number, got {type(gain).__name__}")
        if not gain > 0:
            raise ValueError(f"gain must be > 0, got {gain}")
        self.eps, self.momentum, self.gain = float(eps), float(momentum), float(gain)
        factory = {"device": device, "dtype": dtype}
        self.weight_ih = nn.Parameter(torch.empty(4 * H, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(4 * H, H, **factory))
        self.b = nn.Parameter(torch.empty(4 * H, **factory))
        self.gamma_ih = nn.Parameter(torch.empty(4 * H, **factory))
        self.gamma_hh = nn.Parameter(torch.empty(4 * H, **factory))
        self.gamma_c = nn.Parameter(torch.empty(H, **factory))
        self.beta_c = nn.Parameter(torch.empty(H, **factory))
        # One row of statistics per time step: (T_max, features).
        for name, d in (("ih", 4 * H), ("hh", 4 * H), ("c", H)):
            self.register_buffer(f"running_mean_{name}", torch.zeros(T, d, **factory))
            self.register_buffer(f"running_var_{name}", torch.ones(T, d, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weights and b uniform in +-1/sqrt(H) (torch's LSTM); gains ``gain``, beta_c 0;
        running means 0 and variances 1."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in (self.weight_ih, self.weight_hh, self.b):
            nn.init.uniform_(p, -bound, bound)
        for p in (self.gamma_ih, self.gamma_hh, self.gamma_c):
            nn.init.constant_(p, self.gain)
        nn.init.zeros_(self.beta_c)
        for name in ("ih", "hh", "c"):
            getattr(self, f"running_mean_{name}").zero_()
            getattr(self, f"running_var_{name}").fill_(1.0)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, max_steps={self.max_steps}, eps={self.eps}"

    def _bn(self, name: str, t: int, z: Tensor, gamma: Tensor, beta: Tensor | None) -> Tensor:
        """Batch norm of z (B, d) with the statistics of step t: the batch's (training,
        updating step t's running averages) or step min(t, T_max - 1)'s running ones."""
        row = min(t, self.max_steps - 1)  # beyond T_max: the last step's statistics
        return nn.functional.batch_norm(
            z,
            getattr(self, f"running_mean_{name}")[row],  # views: updated in place
            getattr(self, f"running_var_{name}")[row],
            gamma,
            beta,
            training=self.training,
            momentum=self.momentum,
            eps=self.eps,
        )

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Run over the sequence; see the class docstring for the shapes."""
        return self._run(x, None)

    def summed_inputs(self, x: Tensor) -> dict[str, Tensor]:
        """What the three BNs normalize at every step, as :meth:`forward` runs on ``x``.

        It *is* a forward pass: in training mode it normalizes by the batch's statistics and
        updates the running averages, as :meth:`forward` does. To read a trained model's
        inputs without changing it, call it in evaluation mode (``model.eval()``), as
        chapter 11 does.

        Returns
        -------
        dict with ``hh`` (B, T, 4H) the summed inputs ``W_hh h_{t-1}``, ``ih`` (B, T, 4H)
        ``W_ih x_t``, and ``c`` (B, T, H) the cell states
        """
        seen: dict[str, list[Tensor]] = {"hh": [], "ih": [], "c": []}
        self._run(x, seen)
        return {k: torch.stack(v, dim=1) for k, v in seen.items()}

    def _run(self, x: Tensor, seen: dict | None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """forward, recording the BNs' inputs into ``seen`` (lists by name) if given."""
        dtype = self.weight_ih.dtype
        _check_float("x", x, dtype)
        if x.ndim != 3 or x.shape[2] != self.input_size or x.shape[1] < 1:
            raise ValueError(
                f"x must have shape (batch, time, input_size) = (B, T, {self.input_size}) "
                f"with T >= 1, got {tuple(x.shape)}"
            )
        B, T = x.shape[0], x.shape[1]
        if self.training and T > self.max_steps:
            raise ValueError(
                f"x has {T} time steps but training has statistics for max_steps = "
                f"{self.max_steps} only; evaluate longer sequences with model.eval()"
            )
        if self.training and B < 2:
            raise ValueError(
                f"batch norm in training needs a batch of >= 2, got shape {tuple(x.shape)}"
            )
        h = c = x.new_zeros(B, self.hidden_size)
        wx = x @ self.weight_ih.T  # (B, T, 4H): the summed inputs from below, every step
        out = []
        for t in range(T):
            wh = h @ self.weight_hh.T  # (B, 4H): the summed inputs from the previous step
            a = (
                self._bn("hh", t, wh, self.gamma_hh, None)
                + self._bn("ih", t, wx[:, t], self.gamma_ih, None)
                + self.b
            )
            i, f, g, o = a.chunk(4, dim=1)  # each (B, H)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            if seen is not None:
                seen["hh"].append(wh), seen["ih"].append(wx[:, t]), seen["c"].append(c)
            h = torch.sigmoid(o) * torch.tanh(self._bn("c", t, c, self.gamma_c, self.beta_c))
            out.append(h)
        return torch.stack(out, dim=1), (h, c)
