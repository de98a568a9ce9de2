"""Position-wise feed-forward sublayer (``ffn``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .registry import RATIO, OpDef, register


class FeedForward(nn.Module):
    """Linear(D, rD) -> GELU -> Linear(rD, D), applied to each position alone.

    x: (B, T, D) -> (B, T, D); the mask is accepted for a uniform interface and not needed.
    """

    def __init__(self, d_model: int, r: int) -> None:
        super().__init__()
        self.up = nn.Linear(d_model, r * d_model)
        self.down = nn.Linear(r * d_model, d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.down(F.gelu(self.up(x)))


register(OpDef(
    name="ffn",
    summary="position-wise feed-forward, GELU, expansion ratio r",
    keys=(RATIO,),
    build=FeedForward,
    params=lambda d_model, r: 2 * r * d_model * d_model + r * d_model + d_model,
    flops=lambda T, d_model, r: 4 * r * T * d_model * d_model,
    reach=lambda r: 0,
    activations=lambda T, d_model, r: 2 * T * d_model + 2 * r * T * d_model,  # in, out; hidden before/after GELU
))
