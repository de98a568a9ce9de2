"""GroupBERT's grouped convolution module (``gconv``).

Chelombiev et al. 2021, "GroupBERT: Enhanced Transformer Architecture with Efficient Grouped Structures"
(arXiv 2106.05822). The abstract: "First, we add a convolutional module to complement the self-attention
module, decoupling the learning of local and global interactions. Secondly, we rely on grouped
transformations to reduce the computational cost of dense feed-forward layers and convolutions". The
module as its authors released it (Graphcore, huggingface/optimum-graphcore,
``optimum/graphcore/models/groupbert/groupbert_convolution.py``, ``GroupBertConvolution``: "Includes a
GLU, group convolution, Swish, LayerNorm and output projection"; group size 16 and span 7 in the released
``groupbert-base-uncased`` config). GroupBERT's layer is this module, a grouped FFN, self-attention and a
grouped FFN, each pre-norm residual: ``gconv(k=7) ffn(g=4) sa ffn(g=4)`` here (``ffn``'s ``g`` key is in
``feedforward.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .convolution import half_span
from .functional import zero_padding
from .registry import SPAN, Key, OpDef, register

GROUP_SIZE = Key("gs", None, "an integer >= 1 that divides d_model (channels per convolution group)",
                 lambda v: v >= 1, 4, fixed=16)


class GroupedConvModule(nn.Module):
    """``gconv``: GroupBERT's convolution module (the pre-norm and residual are the sublayer's).

    u = (x W_v + b_v) * sigmoid(x W_g + b_g)        GLU (``glu``: rows [:D] the gate, [D:] the value, as upstream)
    c = grouped_conv_k(u) + b_c                      D/gs groups of gs channels, span k, zero outside the sequence
    y = swish(LayerNorm(c)) W_o + b_o                (``norm``, ``out``)

    Padded positions of u are zeroed before the convolution (as upstream multiplies by its input mask), so a
    real position never sees padding and the output at t depends only on t-(k-1)/2 .. t+(k-1)/2; LayerNorm,
    Swish and the projections are position-wise. Upstream's dropout after the projection is the sublayer's.

    Args:
        d_model: width D. k: odd span. gs: channels per group (gs=1: depthwise; gs=D: a full convolution).
    Shape:
        x: (B, T, D), mask: (B, T) bool, True = real token -> (B, T, D).
    """

    def __init__(self, d_model: int, k: int, gs: int) -> None:
        super().__init__()
        self.d_model, self.k, self.gs = d_model, k, gs
        self.glu = nn.Linear(d_model, 2 * d_model)
        self.conv = nn.Conv1d(d_model, d_model, k, padding=k // 2, groups=d_model // gs)
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        gate, value = self.glu(x).chunk(2, dim=-1)  # 2 x (B, T, D)
        u = zero_padding(value * torch.sigmoid(gate), mask)  # (B, T, D)
        c = self.conv(u.transpose(1, 2)).transpose(1, 2)  # (B, D, T) -> (B, T, D)
        return self.out(F.silu(self.norm(c)))


def gconv_params(d_model: int, k: int, gs: int) -> int:
    """GLU (2 D^2 + 2 D), grouped conv (D gs k + D), LayerNorm (2 D), output (D^2 + D)."""
    return 3 * d_model * d_model + 6 * d_model + d_model * gs * k


def gconv_flops(T: int, d_model: int, k: int, gs: int) -> int:
    """GLU 4 T D^2, grouped conv 2 T D gs k, output 2 T D^2."""
    return 6 * T * d_model * d_model + 2 * T * d_model * gs * k


def group_size_fits(d_model: int | None, k: int, gs: int) -> str | None:
    return None if d_model is None or d_model % gs == 0 else f"group size gs={gs} must divide d_model={d_model}"


register(OpDef(
    name="gconv",
    summary="GroupBERT convolution module: GLU, grouped convolution (span k, gs channels per group), "
            "LayerNorm, Swish, projection",
    keys=(SPAN, GROUP_SIZE),
    build=GroupedConvModule,
    params=gconv_params,
    flops=gconv_flops,
    sizes=group_size_fits,
    reach=lambda k, gs: half_span(k, 0),
    activations=lambda T, d_model, k, gs: 9 * T * d_model,  # in, GLU out (2D), u, conv out, norm out, swish, out
))
