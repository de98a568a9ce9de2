"""Full multi-head self-attention (``sa``) and BlockBERT blockwise attention (``bsa``)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..positional import Rotary
from .functional import key_padding_mask, merge_heads, split_heads
from .registry import BLOCKS, HEADS, OpDef, heads_divide, register


class SelfAttention(nn.Module):
    """Multi-head self-attention through ``scaled_dot_product_attention``.

    x: (B, T, D), mask: (B, T) bool with True = real token (or None) -> (B, T, D).
    Parameters are laid out as in ``nn.MultiheadAttention``: a fused (3D, D) input projection and an
    output projection, so weights copy one to one.
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


def block_shifts(h: int, b: int) -> list[int]:
    """Block permutation of each head: head i maps query block j to key block (j + shift_i) mod b.

    Heads are split evenly, in order, over the identity (shift 0) and the shifted permutations, as in
    BlockBERT (Qiu et al. 2020, section 3): with h=4, b=2 the shifts are [0, 0, 1, 1].
    """
    return [(i * b) // h for i in range(h)]


class BlockSparseAttention(SelfAttention):
    """BlockBERT blockwise attention.

    The sequence, right-padded to a multiple of ``b``, is cut into ``b`` blocks of L = ceil(T/b) tokens.
    Head i lets query block j attend only to key block (j + shift_i) mod b, so each head computes b
    score blocks of L x L (cost ~ T^2/b); no T x T matrix is formed. A query whose key block holds no
    real token gets a zero output (instead of NaN). Same parameters as ``sa``; ``b=1`` is ``sa``.
    x: (B, T, D), mask: (B, T) -> (B, T, D).
    """

    def __init__(self, d_model: int, b: int, h: int, attn_dropout: float = 0.0, rotary: bool = False):
        super().__init__(d_model, h, attn_dropout, rotary)
        self.b = b
        shifts = torch.tensor(block_shifts(h, b))
        key_block = (torch.arange(b)[None, :] + shifts[:, None]) % b  # (h, b)
        # flat index into the (head, block) axis: query block j of head i reads key block key_block[i, j]
        self.register_buffer("key_index", (torch.arange(h)[:, None] * b + key_block).flatten(), persistent=False)

    def attend(self, q, k, v, mask):
        B, h, T, d = q.shape
        b = self.b
        L = math.ceil(T / b)
        pad = L * b - T
        if pad:
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
        return out.view(B, h, b * L, d)[:, :, :T]


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
    keys=(BLOCKS, HEADS),
    build=BlockSparseAttention,
    params=lambda d_model, b, h: _sa_params(d_model, h),
    flops=_bsa_flops,
    sizes=heads_divide,
    activations=_bsa_activations,
    canonical=lambda b, h: ("sa", {"h": h}) if b == 1 else ("bsa", {"b": b, "h": h}),
))
