"""Full multi-head self-attention (``sa``) and BlockBERT blockwise attention (``bsa``)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..positional import Rotary
from .functional import exported_layout, exporting, key_padding_mask, merge_heads, softmax_probs, split_heads
from .registry import BLOCKS, HEADS, Key, OpDef, heads_divide, register


class SelfAttention(nn.Module):
    """``sa``: multi-head self-attention (Vaswani et al. 2017) through ``scaled_dot_product_attention``.

    Upstream: ``torch.nn.MultiheadAttention`` (parameters laid out the same: a fused (3D, D) input
    projection and an output projection, so weights copy one to one) and the explicit
    softmax(QK^T / sqrt(d)) V, both equal in float64.

    Args:
        d_model: width D; h: heads (D/h channels each); attn_dropout: dropout on the attention weights;
        rotary: rotary positions (RoFormer) on q and k.
    Shape: x (B, T, D), mask (B, T) bool, True = real token (or None) -> (B, T, D).
    """

    def __init__(self, d_model: int, h: int, attn_dropout: float = 0.0, rotary: bool = False) -> None:
        super().__init__()
        self.h = h
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.attn_dropout = attn_dropout
        self.rotary = Rotary(d_model // h) if rotary else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        q, k, v = (split_heads(t, self.h) for t in self.qkv(x).chunk(3, dim=-1))  # 3 x (B, h, T, d)
        if self.rotary is not None:
            q, k = self.rotary(q, k)
        return self.out(merge_heads(self.attend(q, k, v, mask)))

    def attend(self, q, k, v, mask):
        """(B, h, T, d) x3, (B, T) -> (B, h, T, d)."""
        p = self.attn_dropout if self.training else 0.0
        return F.scaled_dot_product_attention(q, k, v, attn_mask=key_padding_mask(mask), dropout_p=p)

    def attention_probs(self, q, k, mask):
        """The probabilities ``attend`` applies to v (before dropout), for analysis: (B, h, T, d) x2,
        (B, T) -> (B, h, T, T). The fused path never forms them."""
        return softmax_probs(q, k, key_padding_mask(mask))


def blockbert_identity_heads(b: int, h: int) -> int:
    """BlockBERT's head assignment, as a count of heads on the identity permutation.

    Qiu et al. (2020), section 4 (pre-training): with 12 heads, n=2 blocks assigns 10 heads to the identity
    permutation (1, 2) and 2 to (2, 1); n=3 assigns 8 to (1, 2, 3) and 2 each to (2, 3, 1) and (3, 1, 2).
    Their ablation of the assignment found more heads on the identity (local, within-block) permutation
    better than an even split. Both reported models give each shifted permutation h/6 heads (2 of 12) and the
    identity the rest; other h scale that share (at least one head per shifted permutation, at least one
    identity head). b=1 has only the identity.
    """
    if b == 1:
        return h
    per_shift = max(1, round(h / 6))
    return max(1, h - (b - 1) * per_shift)


def block_shifts(h: int, b: int, i: int) -> list[int]:
    """Block permutation of each head: head n maps query block j to key block (j + shift_n) mod b.

    The first ``i`` heads take the identity (shift 0); the other h - i are spread evenly, in order, over
    the b - 1 shifted permutations: h=12, b=3, i=8 gives [0]*8 + [1, 1, 2, 2] (BlockBERT's 8:2:2).
    """
    rest = h - i
    if b == 1 or rest == 0:
        return [0] * h
    return [0] * i + [1 + (n * (b - 1)) // rest for n in range(rest)]


def _identity_heads_fit(d_model: int | None, b: int, h: int, i: int) -> str | None:
    if i > h:
        return f"i={i} identity heads exceed h={h} heads"
    return heads_divide(d_model, h)


IDENTITY = Key("i", "identity_heads", "an integer from 0 to h (heads on the identity block permutation)",
               lambda v: v >= 0, 3, derive=blockbert_identity_heads)


class BlockSparseAttention(SelfAttention):
    """``bsa``: BlockBERT blockwise attention (Qiu et al. 2020, "Blockwise Self-Attention for Long Document
    Understanding", section 3). The authors' repository (xptree/BlockBERT) holds no code, so the check is
    dense attention under the block-permutation mask, in float64.

    The sequence, right-padded to a multiple of ``b``, is cut into ``b`` blocks of L = ceil(T/b) tokens.
    Head n lets query block j attend only to key block (j + shift_n) mod b, so each head computes b
    score blocks of L x L (cost ~ T^2/b); no T x T matrix is formed. A query whose key block holds no
    real token gets a zero output (instead of NaN). Same parameters as ``sa``; ``b=1`` is ``sa``.

    Args:
        d_model: width D; b: blocks; h: heads; i: heads on the identity permutation (the others spread
            over the b - 1 shifted ones, see :func:`block_shifts`; default BlockBERT's assignment,
            :func:`blockbert_identity_heads`); attn_dropout; rotary: rotary positions on q and k.
    Shape: x (B, T, D), mask (B, T) bool, True = real token -> (B, T, D).
    """

    def __init__(self, d_model: int, b: int, h: int, i: int | None = None, attn_dropout: float = 0.0,
                 rotary: bool = False):
        super().__init__(d_model, h, attn_dropout, rotary)
        self.b = b
        self.i = blockbert_identity_heads(b, h) if i is None else i
        self.shifts = block_shifts(h, b, self.i)
        shifts = torch.tensor(self.shifts)
        key_block = (torch.arange(b)[None, :] + shifts[:, None]) % b  # (h, b)
        # flat index into the (head, block) axis: query block j of head i reads key block key_block[i, j]
        self.register_buffer("key_index", (torch.arange(h)[:, None] * b + key_block).flatten(), persistent=False)

    def attend(self, q, k, v, mask):
        B, h, T, d = q.shape
        b = self.b
        L = (T + b - 1) // b  # ceil(T / b) in non-negative integers: the same in an exported graph
        pad = L * b - T
        if exporting() or pad:  # an exported graph always pads (by 0 when b divides T)
            q, k, v = (F.pad(t, (0, 0, 0, pad)) for t in (q, k, v))
            mask = torch.ones(B, T, dtype=torch.bool, device=q.device) if mask is None else mask
            mask = F.pad(mask, (0, pad), value=False)
        q = q.reshape(B, h * b, L, d)  # (B, h*b, L, d): query block j of head i
        k = k.reshape(B, h * b, L, d).index_select(1, self.key_index)  # its key block, same layout
        v = v.reshape(B, h * b, L, d).index_select(1, self.key_index)
        p = self.attn_dropout if self.training else 0.0
        if mask is None:
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)  # (B, h*b, L, d)
        else:
            keep = mask.view(B, b, L).repeat(1, h, 1).index_select(1, self.key_index)  # (B, h*b, L)
            keep = keep.unsqueeze(2)  # (B, h*b, 1, L)
            has_key = keep.any(dim=-1, keepdim=True)  # (B, h*b, 1, 1)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep | ~has_key, dropout_p=p)
            out = out * has_key.to(out.dtype)
        return exported_layout(out).view(B, h, b * L, d)[:, :, :T]

    def attention_probs(self, q, k, mask):
        """The probabilities ``attend`` applies to v, as dense maps: each head's block permutation (from its
        ``shifts``) and the padding mask; a query whose key block holds no real token has a zero row.
        (B, h, T, d) x2, (B, T) -> (B, h, T, T)."""
        B, h, T, _ = q.shape
        block = torch.arange(T, device=q.device) // math.ceil(T / self.b)  # (T,) block of each position
        shifts = torch.tensor(self.shifts, device=q.device)
        key_block = (block[None, :] + shifts[:, None]) % self.b  # (h, T): the key block each query reads
        keep = key_block[:, :, None] == block[None, None, :]  # (h, T, T)
        if mask is not None:
            keep = keep[None] & mask[:, None, None, :]  # (B, h, T, T)
        return softmax_probs(q, k, keep)


def _bsa_canonical(b: int, h: int, i: int) -> tuple[str, dict]:
    """b=1 is ``sa`` whatever i says; otherwise the assignment is part of the network."""
    return ("sa", {"h": h}) if b == 1 else ("bsa", {"b": b, "h": h, "i": i})


def _sa_params(d_model: int, h: int) -> int:
    return 4 * d_model * d_model + 4 * d_model


def _sa_flops(T: int, d_model: int, h: int) -> int:
    return 8 * T * d_model * d_model + 4 * T * T * d_model


def _bsa_flops(T: int, d_model: int, b: int, h: int) -> int:
    L = math.ceil(T / b)
    return 8 * T * d_model * d_model + 4 * b * L * L * d_model


def _sa_activations(T: int, d_model: int, h: int) -> int:
    """Input, q/k/v, rotated q/k, output and projection (8 T D), plus scores and probabilities (2 h T^2),
    which the math kernel (CPU, masks) materialises."""
    return 8 * T * d_model + 2 * h * T * T


def _bsa_activations(T: int, d_model: int, b: int, h: int) -> int:
    L = math.ceil(T / b)
    return 8 * b * L * d_model + 2 * h * b * L * L


register(OpDef(
    name="sa",
    summary="full multi-head self-attention",
    keys=(HEADS,),
    build=SelfAttention,
    params=_sa_params,
    flops=_sa_flops,
    sizes=heads_divide,
    activations=_sa_activations,
))

register(OpDef(
    name="bsa",
    summary="BlockBERT block-sparse self-attention (b blocks, per-head block permutations)",
    keys=(BLOCKS, HEADS, IDENTITY),
    build=BlockSparseAttention,
    params=lambda d_model, b, h, i: _sa_params(d_model, h),
    flops=lambda T, d_model, b, h, i: _bsa_flops(T, d_model, b, h),
    sizes=_identity_heads_fit,
    activations=lambda T, d_model, b, h, i: _bsa_activations(T, d_model, b, h),
    canonical=_bsa_canonical,
))
