"""Position schemes: rotary (applied to queries and keys inside attention) and absolute embeddings."""

from __future__ import annotations

import math

import torch
from torch import nn


class Rotary(nn.Module):
    """Rotary position embedding (Su et al. 2021), rotate-half form.

    Applied to q and k of shape (B, h, T, d) with even d; has no parameters. The cos/sin table is cached
    for the longest length seen so far.
    """

    def __init__(self, head_dim: int, base: float = 10000.0) -> None:
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary positions need an even head dimension, got {head_dim}")
        inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self._cache: tuple[int, torch.dtype, torch.device, torch.Tensor, torch.Tensor] | None = None

    def _table(self, T: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self._cache
        if c is None or c[0] < T or c[1] != like.dtype or c[2] != like.device:
            t = torch.arange(T, dtype=torch.float64, device=like.device)
            freqs = torch.outer(t, self.inv_freq.to(like.device))  # (T, d/2)
            angles = torch.cat([freqs, freqs], dim=-1)  # (T, d)
            c = (T, like.dtype, like.device, angles.cos().to(like.dtype), angles.sin().to(like.dtype))
            self._cache = c
        return c[3][:T], c[4][:T]

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cos, sin = self._table(q.shape[-2], q)
        return _rotate(q, cos, sin), _rotate(k, cos, sin)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


def sinusoidal_table(max_len: int, d_model: int) -> torch.Tensor:
    """(max_len, d_model) fixed sinusoidal positions of Vaswani et al. 2017 (d_model even)."""
    pos = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(pos * div)
    table[:, 1::2] = torch.cos(pos * div)
    return table


class AbsolutePositions(nn.Module):
    """Adds a learned or sinusoidal position vector to token embeddings (B, T, D) -> (B, T, D)."""

    def __init__(self, kind: str, max_len: int, d_model: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "learned":
            self.table = nn.Parameter(torch.zeros(max_len, d_model))
            nn.init.normal_(self.table, std=0.02)
        else:
            self.register_buffer("table", sinusoidal_table(max_len, d_model), persistent=False)
        self.max_len = max_len

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[1]
        if T > self.max_len:
            raise ValueError(f"sequence length {T} exceeds max_len={self.max_len} of the position table")
        return x + self.table[:T].to(x.dtype)
