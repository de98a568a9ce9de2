"""LV-BERT's dynamic convolution (``lvconv``).

Yu et al. 2021, "LV-BERT: Exploiting Layer Variety for BERT" (Findings of ACL 2021). Upstream:
github.com/yuweihao/LV-BERT, ``model/modeling.py``, ``dynamic_convolution_layer`` plus the ``output``
dense layer of ``dynamic_convolution()`` in ``transformer_model_custom_layer``. It is not Wu et al.'s
``dconv``: the kernel is predicted from a separable convolution of the GLU output (a span of k tokens),
not from the token alone, and every projection has a bias.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# apply_span_kernel is looked up on the convolution module at call time, so that replacing it there
# (the FLOP tests count it as a matrix product) reaches this op too.
from . import convolution
from .convolution import SeparableConv1d, half_span
from .functional import zero_padding
from .registry import HEADS, SPAN, OpDef, heads_divide, register


class LVDynamicConv(nn.Module):
    """``lvconv``: LV-BERT's dynamic convolution.

    v = (x W_l + b_l) * sigmoid(x W_g + b_g)            GLU on the input (``glu_l``, ``glu_g``)
    s = pointwise(depthwise_k(v)) + b_s                  separable conv of span k (``conv_attn_key``)
    kernel_t = softmax_k(s_t W_k + b_k) per head         (h, k) taps per position (``conv_attn_kernel``)
    c_t = sum_j kernel_{t,j} v_{t+j-(k-1)/2} per head    zero outside the sequence
    out = c W_o + b_o                                    (``output/dense``)

    No dropout inside the op: upstream's only dropout is on the output, which the residual sublayer
    applies. Padded positions of v are zeroed before both convolutions, so a real position never sees
    padding and the output at t depends only on t-(k-1)/2 .. t+(k-1)/2 (upstream ignores the mask).

    Args:
        d_model: model width D; every projection and the convolution keep width D.
        k: odd span of the separable convolution and of the dynamic kernel.
        h: heads; each head's D/h channels share one predicted kernel per position.

    Shape:
        x: (B, T, D), mask: (B, T) bool, True = real token -> (B, T, D).

    ``glu_in`` holds ``glu_l`` and ``glu_g`` stacked: rows [:D] are the linear half, rows [D:] the gate.
    """

    def __init__(self, d_model: int, k: int, h: int) -> None:
        super().__init__()
        self.h, self.k = h, k
        self.glu_in = nn.Linear(d_model, 2 * d_model)
        self.key_conv = SeparableConv1d(d_model, d_model, k)
        self.conv_kernel = nn.Linear(d_model, h * k)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        B, T, _ = x.shape
        v = zero_padding(F.glu(self.glu_in(x), dim=-1), mask)  # (B, T, D)
        s = self.key_conv(v)  # (B, T, D)
        kernel = self.conv_kernel(s).view(B, T, self.h, self.k).softmax(dim=-1)  # (B, T, h, k)
        return self.out(convolution.apply_span_kernel(v, kernel))  # (B, T, D)

    def span_kernel(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The softmax kernel ``forward`` applies, for analysis: -> (B, T, h, k)."""
        B, T, _ = x.shape
        v = zero_padding(F.glu(self.glu_in(x), dim=-1), mask)  # (B, T, D)
        return self.conv_kernel(self.key_conv(v)).view(B, T, self.h, self.k).softmax(dim=-1)


def lvconv_params(d_model: int, k: int, h: int) -> int:
    """GLU (2 D^2 + 2 D), separable conv (D k + D^2 + D), kernel dense (D h k + h k), output (D^2 + D)."""
    return 4 * d_model * d_model + 4 * d_model + d_model * k + h * k * (d_model + 1)


def lvconv_flops(T: int, d_model: int, k: int, h: int) -> int:
    """GLU 4 T D^2, depthwise 2 T D k, pointwise 2 T D^2, kernel dense 2 T D h k, span kernel 2 T D k,
    output 2 T D^2."""
    return 8 * T * d_model * d_model + 2 * T * d_model * k * (h + 2)


register(OpDef(
    name="lvconv",
    summary="LV-BERT dynamic convolution (kernel from a separable conv of the GLU output)",
    keys=(SPAN, HEADS),
    build=LVDynamicConv,
    params=lvconv_params,
    flops=lvconv_flops,
    sizes=heads_divide,
    reach=half_span,
    activations=lambda T, d_model, k, h: 10 * T * d_model + 2 * T * h * k,
))
