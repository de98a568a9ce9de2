"""Tensor helpers shared by the ops: head splitting, padding masks and span windows."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """(B, T, h*d) -> (B, h, T, d)."""
    B, T, _ = x.shape
    return x.view(B, T, n_heads, -1).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, h, T, d) -> (B, T, h*d)."""
    B, h, T, d = x.shape
    return x.transpose(1, 2).reshape(B, T, h * d)


def zero_padding(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Zero the padded positions of x (B, T, C) so nothing leaks from them into a convolution window."""
    if mask is None:
        return x
    return x * mask.unsqueeze(-1).to(x.dtype)


def key_padding_mask(mask: torch.Tensor | None) -> torch.Tensor | None:
    """(B, T) bool, True = real -> (B, 1, 1, T) boolean attention mask for SDPA.

    A sequence with no real token at all would give rows with every key masked, which SDPA turns into
    NaN; such a sequence attends to everything instead (it has no real position whose output matters).
    """
    if mask is None:
        return None
    mask = mask | ~mask.any(dim=-1, keepdim=True)
    return mask[:, None, None, :]


def span_windows(u: torch.Tensor, k: int) -> torch.Tensor:
    """(B, T, C) -> (B, T, C, k): window j of position t holds u[t + j - (k-1)/2], zero outside [0, T).

    A strided view of the zero-padded input, so the k-fold window is not copied here.
    """
    p = (k - 1) // 2
    return F.pad(u, (0, 0, p, p)).unfold(1, k, 1)  # (B, T, C, k)


def apply_span_kernel(u: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Per-position, per-head convolution.

    u: (B, T, C) input with C = h*d channels; kernel: (B, T, h, k) weights (already normalised).
    Returns (B, T, C) with out[t, c] = sum_j kernel[t, head(c), j] * u[t + j - (k-1)/2, c].
    """
    B, T, C = u.shape
    h, k = kernel.shape[-2:]
    windows = span_windows(u, k).reshape(B, T, h, C // h, k)  # (B, T, h, d, k)
    return torch.matmul(windows, kernel.unsqueeze(-1)).reshape(B, T, C)
