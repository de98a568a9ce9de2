"""Tensor helpers shared by the ops: head splitting, padding masks and span convolutions (k shifted
multiply-adds over the zero-padded input, never a k-fold window copy)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def exporting() -> bool:
    """Whether ``torch.export`` (the ONNX exporter's first step) is tracing the op: its graph must hold for every
    batch and sequence length, so shortcuts chosen from one input's values or length are left out."""
    is_exporting = getattr(torch.compiler, "is_exporting", None)  # torch >= 2.5
    return bool(is_exporting and is_exporting())


def exported_layout(x: torch.Tensor) -> torch.Tensor:
    """x, copied to the standard layout in an exported graph (else as it is): reshaping an attention kernel's
    output depends on its memory layout, which the exporter's decompositions change, and a symbolic length
    would be pinned to the traced one."""
    return x.clone(memory_format=torch.contiguous_format) if exporting() else x


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """(B, T, h*d) -> (B, h, T, d)."""
    B, T, _ = x.shape
    return x.view(B, T, n_heads, -1).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, h, T, d) -> (B, T, h*d)."""
    B, h, T, d = x.shape
    return exported_layout(x.transpose(1, 2)).reshape(B, T, h * d)


def zero_padding(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Zero the padded positions of x (B, T, C) so nothing leaks from them into a convolution's span."""
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


def apply_span_kernel(u: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Per-position, per-head convolution.

    u: (B, T, C) input with C = h*d channels; kernel: (B, T, h, k) weights (already normalised).
    Returns (B, T, C) with out[t, c] = sum_j kernel[t, head(c), j] * u[t + j - (k-1)/2, c], zero outside
    [0, T). Computed as k shifted multiply-adds over views of the zero-padded input: no k-fold window copy
    (unfold + matmul, as in HF's ConvBERT), which on CPU is 1.3-3x slower and holds k times the memory.
    """
    B, T, C = u.shape
    h, k = kernel.shape[-2:]
    p = (k - 1) // 2
    padded = F.pad(u, (0, 0, p, p)).view(B, T + 2 * p, h, C // h)  # (B, T+2p, h, d)
    out = padded[:, :T] * kernel[..., 0, None]
    for j in range(1, k):  # a loop over the k taps, each a full-tensor op
        out = out + padded[:, j:j + T] * kernel[..., j, None]
    return out.reshape(B, T, C)


def softmax_probs(q: torch.Tensor, k: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """The probabilities ``scaled_dot_product_attention(q, k, v, attn_mask=keep)`` applies to v, as a tensor.

    Args:
        q, k: queries and keys (B, h, T, d); the scale is 1/sqrt(d), SDPA's default.
        keep: bool, broadcastable to (B, h, T, T), True = the query may attend to the key (None: all).
    Shape: (B, h, T, T); each row sums to 1 over its kept keys, and a row with no kept key is all zero
    (where the ops zero that query's output).
    """
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5  # (B, h, T, T)
    if keep is None:
        return scores.softmax(dim=-1)
    scores = scores.masked_fill(~keep, float("-inf"))
    has_key = keep.any(dim=-1, keepdim=True)
    return scores.masked_fill(~has_key, 0.0).softmax(dim=-1).masked_fill(~has_key, 0.0)
