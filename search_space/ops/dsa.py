"""DeBERTa's disentangled self-attention (``dsa``).

He et al. 2021, "DeBERTa: Decoding-enhanced BERT with Disentangled Attention" (ICLR 2021), section 3.1,
with DeBERTa-v2/v3's log-bucketed relative positions and shared position projections. Numerically the same
as ``transformers``' ``DisentangledSelfAttention`` of DeBERTa-v2 under the DeBERTa-v3 settings
(``relative_attention=True``, ``pos_att_type=["p2c", "c2p"]``, ``share_att_key=True``,
``norm_rel_ebd="layer_norm"``, ``position_buckets=p``, ``max_relative_positions=512``), followed by the
output dense layer of ``DebertaV2SelfOutput`` (its residual and LayerNorm are the sublayer's).
"""

from __future__ import annotations

import torch
from torch import nn

from .functional import exporting, key_padding_mask, merge_heads, split_heads
from .registry import HEADS, Key, OpDef, heads_divide, register
from .relative import rel_rows, relative_attention

MAX_RELATIVE_POSITIONS = 512  # DeBERTa-v3's (max_relative_positions=-1 -> max_position_embeddings=512)
REL_NORM_EPS = 1e-7  # DebertaV2Config.layer_norm_eps

BUCKETS = Key("p", "position_buckets", f"an integer from 2 to {MAX_RELATIVE_POSITIONS} (relative position buckets "
              "each way)", lambda v: 2 <= v <= MAX_RELATIVE_POSITIONS, 8)


def log_bucket_position(rel: torch.Tensor, p: int, max_position: int) -> torch.Tensor:
    """DeBERTa-v2's ``make_log_bucket_position``: distances below p/2 stay exact, longer ones share
    logarithmically wider buckets, reaching +-(p-1) at max_position - 1. Written as transformers writes it
    (the logarithms in the default float dtype), so the buckets agree at every boundary."""
    sign = torch.sign(rel)
    mid = p // 2
    abs_pos = torch.where((rel < mid) & (rel > -mid), torch.tensor(mid - 1).type_as(rel), torch.abs(rel))
    log_pos = torch.ceil(torch.log(abs_pos / mid) / torch.log(torch.tensor((max_position - 1) / mid))
                         * (mid - 1)) + mid
    return torch.where(abs_pos <= mid, rel.type_as(log_pos), log_pos * sign)


def relative_offsets(T: int, p: int, max_position: int, device=None) -> torch.Tensor:
    """(2T - 1,) long: the table row of each offset i - j from -(T-1) to T-1,
    clamp(bucket(i - j) + p, 0, 2p - 1) (transformers' ``c2p_pos``, which depends on i - j only)."""
    offsets = torch.arange(-(T - 1), T, device=device)
    return torch.clamp(log_bucket_position(offsets, p, max_position).long() + p, 0, 2 * p - 1)


def relative_index(T: int, p: int, max_position: int, device=None) -> torch.Tensor:
    """(T, T) long: the row of the (2p, D) position table that query i and key j use."""
    return rel_rows(relative_offsets(T, p, max_position, device), 0, T, T)


def used_rows(T: int, p: int, max_position: int) -> tuple[int, int]:
    """First and last table rows a sequence of T tokens reads (buckets grow with the distance, so the
    extremes are the distances +-(T-1)); only these rows are projected."""
    far = int(log_bucket_position(torch.tensor([T - 1]), p, max_position).long())
    return max(p - far, 0), min(p + far, 2 * p - 1)


class DisentangledAttention(nn.Module):
    """``dsa``: DeBERTa's disentangled attention with log-bucketed relative positions.

    With P = LayerNorm(E) for the (2p, D) relative position table E, Q_r = P W_q + b_q and K_r = P W_k + b_k
    (the content projections, shared as in DeBERTa-v3), and delta(i, j) = clamp(bucket(i - j) + p, 0, 2p-1):

        A_ij = (q_i . k_j  +  q_i . K_r[delta(i, j)]  +  k_j . Q_r[delta(i, j)]) / sqrt(3 d)
        out  = (softmax_j(A) V) W_o + b_o

    content-to-content, content-to-position and position-to-content (He et al. 2021, eq. 4 with the
    scale 1/sqrt(3d) of section 3.1). The position-to-content term reads the same row delta(i, j) as
    content-to-position, as transformers (and microsoft/DeBERTa) compute it; the paper's eq. 4 writes
    delta(j, i). sqrt(3d) is rounded to float32 as transformers' ``scaled_size_sqrt`` computes it, so
    float64 outputs agree with transformers to 1e-10 for any head size (in float32 it is the correctly
    rounded sqrt(3d) either way).

    What the op owns: in transformers the relative embedding table and its LayerNorm belong to the
    encoder and are shared by all its layers; here each ``dsa`` sublayer has its own (a layer pattern
    may hold one ``dsa`` or several, among other ops), so an encoder of n ``dsa`` sublayers has n tables.
    Only the table rows a sequence of length T can reach are normalised and projected (all 2p rows once
    T reaches the bucket limit); the others would never be gathered.

    The scores are never formed for the whole sequence: :func:`~.relative.relative_attention` computes
    them for a block of queries at a time from gathers on the R-row position scores (q K_r^T, k Q_r^T) and
    recomputes them in backward, so training keeps q, k, v and the table, not (B, h, T, T) tensors.

    Padded keys get no attention weight; a sequence with no real token attends to everything (its
    outputs are all padding). Relative positions count positions in the padded tensor, as in
    transformers. The rel-embedding dropout of transformers (``hidden_dropout_prob``) is left out: the
    sublayer applies its dropout to the output.

    Args:
        d_model: width D (= h * d).
        p: position buckets each way (``position_buckets``); the table has 2p rows.
        h: heads.
        attn_dropout: dropout on the attention probabilities (training only).
        max_relative_positions: the distance where the log buckets reach +-(p-1).

    Shape:
        x: (B, T, D), mask: (B, T) bool, True = real token (or None) -> (B, T, D).
    """

    def __init__(self, d_model: int, p: int, h: int, attn_dropout: float = 0.0,
                 max_relative_positions: int = MAX_RELATIVE_POSITIONS) -> None:
        super().__init__()
        self.p, self.h, self.max_relative_positions = p, h, max_relative_positions
        self.attn_dropout = attn_dropout
        self.query_proj = nn.Linear(d_model, d_model)
        self.key_proj = nn.Linear(d_model, d_model)
        self.value_proj = nn.Linear(d_model, d_model)
        self.rel_embeddings = nn.Embedding(2 * p, d_model)
        self.rel_norm = nn.LayerNorm(d_model, eps=REL_NORM_EPS)
        self.out = nn.Linear(d_model, d_model)
        # on the CPU whatever the default device: a model built on the meta device (transformers' loading) needs
        # the number too
        self.scale = torch.sqrt(torch.tensor(d_model // h, dtype=torch.float32, device="cpu") * 3).item()

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        q, k, v = (split_heads(f(x), self.h) for f in (self.query_proj, self.key_proj, self.value_proj))  # (B, h, T, d)
        return self.out(merge_heads(self.attend(q, k, v, mask)))

    def bias(self, q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """c2p + p2c logits over the scale, -inf on padded keys, as a whole (B, h, T, T) tensor (for
        analysis; ``attend`` never forms it): (B, h, T, d) x2, (B, T) -> (B, h, T, T)."""
        B, h, T, _ = q.shape
        pos_q, pos_k, rel = self.position_rows(T)
        index = rel_rows(rel, 0, T, T)  # (T, T) into the used rows
        c2p = torch.gather(q @ pos_k.transpose(-1, -2), -1, index.expand(B, h, T, T))  # (B, h, T, T)
        # p2c scores key j against the position row of (i, j): gather along the key's row, then transpose
        p2c = torch.gather(k @ pos_q.transpose(-1, -2), -1, index.T.expand(B, h, T, T)).transpose(-1, -2)
        bias = (c2p + p2c) / self.scale  # (B, h, T, T)
        keep = key_padding_mask(mask)
        return bias if keep is None else bias.masked_fill(~keep, float("-inf"))

    def position_rows(self, T: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The used rows lo..hi of the table through the query and key projections, (h, R, d) each, and
        the (2T - 1,) row index of each offset i - j into them."""
        # an exported graph projects every row: which ones a length reaches is not a function of a symbolic T
        lo, hi = (0, 2 * self.p - 1) if exporting() else used_rows(T, self.p, self.max_relative_positions)
        rows = torch.arange(lo, hi + 1, device=self.rel_embeddings.weight.device)
        rel = self.rel_norm(self.rel_embeddings(rows)).unsqueeze(0)  # (1, R, D)
        pos_q = split_heads(self.query_proj(rel), self.h)[0]  # (h, R, d)
        pos_k = split_heads(self.key_proj(rel), self.h)[0]
        return pos_q, pos_k, relative_offsets(T, self.p, self.max_relative_positions, rows.device) - lo

    def attend(self, q, k, v, mask):
        """(B, h, T, d) x3, (B, T) -> (B, h, T, d): softmax((q k^T + c2p + p2c) / scale) v."""
        pos_q, pos_k, rel = self.position_rows(q.shape[2])
        keep = key_padding_mask(mask)
        return relative_attention(q, k, v, rel, 1.0 / self.scale, pos_k=pos_k, pos_q=pos_q,
                                  keep=None if keep is None else keep[:, 0, 0],
                                  dropout_p=self.attn_dropout if self.training else 0.0)

    def attention_probs(self, q, k, mask):
        """The probabilities ``attend`` applies to v (before dropout), for analysis: -> (B, h, T, T)."""
        return (q @ k.transpose(-1, -2) / self.scale + self.bias(q, k, mask)).softmax(dim=-1)


def _rows(T: int, p: int) -> int:
    lo, hi = used_rows(T, p, MAX_RELATIVE_POSITIONS)
    return hi - lo + 1


def dsa_params(d_model: int, p: int, h: int) -> int:
    """q, k, v and output projections (4 D^2 + 4 D), the (2p, D) table and its LayerNorm (2 D)."""
    return 4 * d_model * d_model + 6 * d_model + 2 * p * d_model


def dsa_flops(T: int, d_model: int, p: int, h: int) -> int:
    """Projections 8 T D^2; the R used table rows through W_q and W_k 4 R D^2; c2p and p2c 2 x 2 T R D;
    scores and values 4 T^2 D. The table's projections are counted once per call (a batch of one)."""
    R = _rows(T, p)
    return 8 * T * d_model * d_model + 4 * R * d_model * d_model + 4 * T * R * d_model + 4 * T * T * d_model


def dsa_activations(T: int, d_model: int, p: int, h: int) -> int:
    """As ``sa`` without the T^2 terms (8 T D: input, q, k, v, output and its projection), plus the R used
    table rows, normalised and projected (4 R D); the logits are recomputed in backward, not kept."""
    R = _rows(T, p)
    return 8 * T * d_model + 4 * R * d_model


register(OpDef(
    name="dsa",
    summary="DeBERTa disentangled attention (c2c + c2p + p2c, p log-bucketed relative positions)",
    keys=(BUCKETS, HEADS),
    build=DisentangledAttention,
    params=dsa_params,
    flops=dsa_flops,
    sizes=lambda d_model, p, h: heads_divide(d_model, h),
    activations=dsa_activations,
))
