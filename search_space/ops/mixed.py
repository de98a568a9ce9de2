"""ConvBERT mixed attention (``mixed``): self-attention heads and span-based dynamic convolution heads
side by side (Jiang et al. 2020), numerically the same as ``transformers``' ``ConvBertSelfAttention``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..positional import Rotary
from .convolution import SpanConv, span_conv_flops, span_conv_params
from .functional import key_padding_mask, merge_heads, softmax_probs, split_heads
from .registry import HEAD_RATIO, HEADS, SPAN, OpDef, register


def mixed_heads(d_model: int, h: int, hr: int) -> tuple[int, int]:
    """(heads per half, head size): h/hr heads, and the bottleneck halves the width of each half."""
    n = max(h // hr, 1)
    return n, (d_model // n) // 2


class MixedAttention(nn.Module):
    """Mixed attention: n = h/hr attention heads and n span-conv heads of size D/(2n) each, sharing the
    query; their outputs are concatenated (attention first, as in ConvBERT) and projected back to D.

    Paper: Jiang et al. 2020, "ConvBERT: Improving BERT with Span-based Dynamic Convolution", section 3.3.
    Upstream: transformers ``models/convbert/modeling_convbert.py``, ``ConvBertSelfAttention`` plus the
    dense layer of ``ConvBertSelfOutput`` (equal in float64 with copied weights, head ratios 1, 2, 4).
    Unlike ``transformers``' ConvBERT, whose convolution half ignores the attention mask, padded
    positions are zeroed before the convolutions, so they never leak into real positions.

    Args:
        d_model: width D; k: odd span of the convolution half; h: heads before the ratio; hr: head ratio
            (h/hr heads per half); attn_dropout; rotary: rotary positions on the attention half's q, k.
    Shape: x (B, T, D), mask (B, T) bool, True = real token -> (B, T, D).
    """

    def __init__(self, d_model: int, k: int, h: int, hr: int, attn_dropout: float = 0.0,
                 rotary: bool = False) -> None:
        super().__init__()
        self.n, head_size = mixed_heads(d_model, h, hr)
        inner = self.n * head_size
        self.query = nn.Linear(d_model, inner)
        self.key = nn.Linear(d_model, inner)
        self.value = nn.Linear(d_model, inner)
        self.span = SpanConv(d_model, self.n, head_size, k)
        self.out = nn.Linear(2 * inner, d_model)
        self.attn_dropout = attn_dropout
        self.rotary = Rotary(head_size) if rotary else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mixed_q = self.query(x)  # (B, T, A)
        conv = self.span(x, mixed_q, mask)  # (B, T, A)
        q, k, v = (split_heads(t, self.n) for t in (mixed_q, self.key(x), self.value(x)))  # (B, n, T, d)
        if self.rotary is not None:
            q, k = self.rotary(q, k)
        return self.out(torch.cat([merge_heads(self.attend(q, k, v, mask)), conv], dim=-1))

    def attend(self, q, k, v, mask):
        """The attention half: (B, n, T, d) x3, (B, T) -> (B, n, T, d)."""
        p = self.attn_dropout if self.training else 0.0
        return F.scaled_dot_product_attention(q, k, v, attn_mask=key_padding_mask(mask), dropout_p=p)

    def attention_probs(self, q, k, mask):
        """The probabilities the attention half applies to v (before dropout), for analysis:
        (B, n, T, d) x2, (B, T) -> (B, n, T, T)."""
        return softmax_probs(q, k, key_padding_mask(mask))


def _params(d_model: int, k: int, h: int, hr: int) -> int:
    n, hs = mixed_heads(d_model, h, hr)
    a = n * hs
    return 3 * (d_model * a + a) + span_conv_params(d_model, n, hs, k) + 2 * a * d_model + d_model


def _flops(T: int, d_model: int, k: int, h: int, hr: int) -> int:
    n, hs = mixed_heads(d_model, h, hr)
    a = n * hs
    return 6 * T * d_model * a + 4 * T * T * a + span_conv_flops(T, d_model, n, hs, k) + 4 * T * a * d_model


def _sizes(d_model: int | None, k: int, h: int, hr: int) -> str | None:
    if h % hr:
        return f"head ratio hr={hr} must divide heads h={h}"
    n = h // hr
    if d_model is not None and d_model % (2 * n):
        return f"d_model={d_model} must be divisible by 2*h/hr={2 * n} (ConvBERT's bottleneck halves each head)"
    return None


def _activations(T: int, d_model: int, k: int, h: int, hr: int) -> int:
    """Both halves' projections (10 T D), the attention half's scores and probabilities (2 n T^2) and
    the span kernels (T n k)."""
    n, _ = mixed_heads(d_model, h, hr)
    return 10 * T * d_model + 2 * n * T * T + T * n * k


register(OpDef(
    name="mixed",
    summary="ConvBERT mixed attention (attention + span-conv heads, head ratio hr)",
    keys=(SPAN, HEADS, HEAD_RATIO),
    build=MixedAttention,
    params=_params,
    flops=_flops,
    sizes=_sizes,
    activations=_activations,
))
