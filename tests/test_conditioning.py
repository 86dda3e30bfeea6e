"""lnbook.conditioning's modulate: its arguments checked (the blocks and the denoiser are
tested with chapter 14's experiments, in tests/test_outliers.py)."""

from __future__ import annotations

import re

import pytest
import torch

from lnbook import conditioning


def test_modulate_is_one_gamma_and_beta_per_example_and_feature():
    # Worked by hand: gamma = 1 + scale and beta = shift, each example its own.
    x_hat = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    shift = torch.tensor([[10.0, 0.0], [0.0, -1.0]])
    scale = torch.tensor([[0.0, 1.0], [-1.0, 0.5]])
    expected = torch.tensor([[11.0, -4.0], [0.0, 3.5]])  # [1 + 10, -2 * 2], [0, 3 * 1.5 - 1]
    assert torch.equal(conditioning.modulate(x_hat, shift, scale), expected)
    zero = torch.zeros(2, 2)  # no condition: x_hat itself (adaLN-Zero's start)
    assert torch.equal(conditioning.modulate(x_hat, zero, zero), x_hat)


@pytest.mark.parametrize(
    "shift_shape, scale_shape",
    [((8,), (8,)), ((4, 1), (4, 8)), ((4, 8), (1, 8)), ((4, 7), (4, 7)), ((2, 4, 8), (4, 8))],
)
def test_modulate_refuses_conditioning_that_would_broadcast(shift_shape, scale_shape):
    # A (D,) shift is plain layer norm's beta, the same for every example: the confusion
    # between layer norm's own affine and adaLN's that chapter 14 is about.
    want = (
        "shift and scale must have x_hat's shape (B, D) = (4, 8) (one per example and "
        f"feature), got {shift_shape} and {scale_shape}"
    )
    with pytest.raises(ValueError, match=re.escape(want)):
        conditioning.modulate(torch.randn(4, 8), torch.zeros(shift_shape), torch.zeros(scale_shape))


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((torch.randn(2, 4, 8), torch.zeros(2, 4, 8), torch.zeros(2, 4, 8)), ValueError,
         r"x_hat must have shape \(B, D\), got \(2, 4, 8\)"),
        ((torch.randn(4, 8).numpy(), torch.zeros(4, 8), torch.zeros(4, 8)), TypeError,
         "x_hat, shift and scale must be torch.Tensors, got ndarray, Tensor, Tensor"),
    ],
)  # fmt: skip
def test_modulate_refuses_other_inputs_clearly(args, error, match):
    with pytest.raises(error, match=match):
        conditioning.modulate(*args)
