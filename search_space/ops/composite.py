"""Composite attention (``csa``): self-attention with lightweight convolutions in its logits.

Chang et al. 2021, "Convolutions and Self-Attention: Re-interpreting Relative Positions in Pre-trained
Language Models" (ACL 2021). The paper reads relative position terms as lightweight convolutions over the
relative offset j - i: a fixed lightweight convolution (a learned weight per head and offset, Raffel et
al.'s bias) and a query-based dynamic lightweight convolution (Shaw et al.'s relative embeddings, weights
computed from the query). Composite attention adds both to the self-attention logits before the softmax.
The upstream implementation is mlpc-ucsd/BERT_Convolutions, ``src/transformers/modeling_bert.py``,
``BertSelfAttention`` with ``attention_kernel="qk_convfixed_convq <w>"``, w = (k-1)/2.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .functional import key_padding_mask, merge_heads, split_heads
from .registry import HEADS, SPAN, OpDef, heads_divide, register
from .relative import rel_rows, relative_attention


def tap_offsets(T: int, k: int, device=None) -> torch.Tensor:
    """(2T - 1,) long: the kernel tap of each offset i - j from -(T-1) to T-1, clip(j - i, -w, w) + w
    with w = (k-1)/2."""
    w = (k - 1) // 2
    return torch.clamp(-torch.arange(-(T - 1), T, device=device), -w, w) + w


def clipped_offsets(T: int, k: int, device=None) -> torch.Tensor:
    """(T, T) long: the kernel tap of query i and key j (upstream's ``relative_positions_mat``)."""
    return rel_rows(tap_offsets(T, k, device), 0, T, T)


class CompositeAttention(nn.Module):
    """``csa``: composite attention, self-attention plus fixed and query-based lightweight convolutions.

    With w = (k-1)/2 and c(j - i) = clip(j - i, -w, w) + w, for each head (head size d = D/h):

        alpha_ij = softmax_j( q_i . k_j / sqrt(d)  +  q_i . a_{c(j-i)} / sqrt(d)  +  beta_{c(j-i)} )
        out      = (alpha V) W_o + b_o

    beta (h, k) is the fixed lightweight convolution (one kernel per head, upstream ``convfixed_param``,
    zero at initialisation); a (d, k) the query-based dynamic one (relative key embeddings shared by the
    heads, upstream ``convq_param``, Kaiming-uniform as upstream). Offsets beyond the span are clipped to
    its edge taps, as upstream and Shaw et al. do, so the kernel weights live within span k while the
    attention stays global: with the content logits at zero (zero query projection) the op is the
    softmax-normalised lightweight convolution alpha_ij = softmax_j(beta_{c(j-i)}) over the real keys.

    Unlike upstream, padded keys get no weight at all (upstream adds -10000 to their logits) and no
    absolute positions are needed (the convolutions carry position), so rotary is not applied. A
    sequence with no real token attends to everything (its outputs are all padding).

    The logits are never formed for the whole sequence: :func:`~.relative.relative_attention` computes
    them for a block of queries at a time, gathering the taps from the (B, h, T, k) kernel values, and
    recomputes them in backward, so training keeps q, k, v and the kernels, not (B, h, T, T) tensors.

    Args:
        d_model: width D (= h * d).
        k: odd span of the convolution kernels (k taps).
        h: heads.
        attn_dropout: dropout on the attention probabilities (training only).

    Shape:
        x: (B, T, D), mask: (B, T) bool, True = real token (or None) -> (B, T, D).
    """

    def __init__(self, d_model: int, k: int, h: int, attn_dropout: float = 0.0) -> None:
        super().__init__()
        self.k, self.h, self.attn_dropout = k, h, attn_dropout
        d = d_model // h
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.fixed_kernel = nn.Parameter(torch.zeros(h, k))
        self.query_kernel = nn.Parameter(torch.empty(d, k))
        nn.init.kaiming_uniform_(self.query_kernel, a=math.sqrt(5))
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        q, k, v = (split_heads(f(x), self.h) for f in (self.query, self.key, self.value))  # (B, h, T, d)
        return self.out(merge_heads(self.attend(q, k, v, mask)))

    def bias(self, q: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """The convolution taps as logits, -inf on padded keys: (B, h, T, d), (B, T) -> (B, h, T, T)."""
        B, h, T, d = q.shape
        taps = (q @ self.query_kernel) / math.sqrt(d) + self.fixed_kernel[:, None, :]  # (B, h, T, k)
        index = clipped_offsets(T, self.k, q.device).expand(B, h, T, T)
        bias = torch.gather(taps, -1, index)  # (B, h, T, T): tap c(j - i) of query i
        keep = key_padding_mask(mask)
        return bias if keep is None else bias.masked_fill(~keep, float("-inf"))

    def attend(self, q, k, v, mask):
        """(B, h, T, d) x3, (B, T) -> (B, h, T, d)."""
        keep = key_padding_mask(mask)
        return relative_attention(q, k, v, tap_offsets(q.shape[2], self.k, q.device), 1.0 / math.sqrt(q.shape[-1]),
                                  pos_k=self.query_kernel.T.unsqueeze(0),  # (1, k, d): shared by the heads
                                  fixed=self.fixed_kernel, keep=None if keep is None else keep[:, 0, 0],
                                  dropout_p=self.attn_dropout if self.training else 0.0)

    def attention_probs(self, q, k, mask):
        """The probabilities ``attend`` applies to v (before dropout), for analysis: -> (B, h, T, T)."""
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (B, h, T, T)
        return (scores + self.bias(q, mask)).softmax(dim=-1)


def csa_params(d_model: int, k: int, h: int) -> int:
    """q, k, v and output projections (4 D^2 + 4 D), beta (h k) and a (D/h k)."""
    return 4 * d_model * d_model + 4 * d_model + h * k + (d_model // h) * k


def csa_flops(T: int, d_model: int, k: int, h: int) -> int:
    """Projections 8 T D^2, the query-based taps 2 T D k, scores and values 4 T^2 D."""
    return 8 * T * d_model * d_model + 2 * T * d_model * k + 4 * T * T * d_model


def csa_activations(T: int, d_model: int, k: int, h: int) -> int:
    """As ``sa`` without the T^2 terms (8 T D: input, q, k, v, output and its projection); the kernel taps
    and the logits are recomputed in backward, not kept."""
    return 8 * T * d_model


register(OpDef(
    name="csa",
    summary="composite attention (self-attention + fixed and query-based lightweight convolutions, span k)",
    keys=(SPAN, HEADS),
    build=CompositeAttention,
    params=csa_params,
    flops=csa_flops,
    sizes=heads_divide,
    activations=csa_activations,
))
