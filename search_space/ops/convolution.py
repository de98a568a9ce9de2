"""Convolution token mixers: ConvBERT span-based dynamic convolution (``sdconv``) and the lightweight
(``lconv``) and dynamic (``dconv``) convolutions of Wu et al. 2019.

All of them zero the padded positions of their input before convolving, so a real position never sees
padding, and the output at t depends only on positions t-(k-1)/2 .. t+(k-1)/2.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .functional import apply_span_kernel, zero_padding
from .registry import HEADS, SPAN, OpDef, heads_divide, register


class SeparableConv1d(nn.Module):
    """Depthwise (span k, no bias) then pointwise conv plus a bias.

    Upstream: transformers ``models/convbert/modeling_convbert.py``, ``SeparableConv1D`` (same layout,
    so weights copy one to one).

    Args:
        d_in: input channels; d_out: output channels; k: odd span of the depthwise convolution.
    Shape: x (B, T, d_in) -> (B, T, d_out).
    """

    def __init__(self, d_in: int, d_out: int, k: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv1d(d_in, d_in, k, padding=k // 2, groups=d_in, bias=False)
        self.pointwise = nn.Conv1d(d_in, d_out, 1, bias=False)
        self.bias = nn.Parameter(torch.zeros(d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pointwise(self.depthwise(x.transpose(1, 2)))  # (B, D_out, T)
        return y.transpose(1, 2) + self.bias


class SpanConv(nn.Module):
    """The convolution half of ConvBERT (Jiang et al. 2020, section 3.2): a span-based dynamic convolution
    driven by a given query.

    ks = SeparableConv(x); kernel_t = softmax_k(W_k (ks_t * q_t)) per head; u = W_u x;
    out_t = sum_j kernel_{t,j} u_{t+j-(k-1)/2} per head (zero outside the sequence).
    Upstream: transformers ``models/convbert/modeling_convbert.py``, the ``key_conv_attn_layer``,
    ``conv_kernel_layer`` and ``conv_out_layer`` path of ``ConvBertSelfAttention`` (equal in float64 with
    copied weights, except that padding is zeroed here before convolving).

    Args:
        d_model: input width D; n_heads: convolution heads; head_dim: channels per head; k: odd span.
    Shape: x (B, T, D), q (B, T, A) with A = n_heads * head_dim, mask (B, T) bool -> (B, T, A).
    """

    def __init__(self, d_model: int, n_heads: int, head_dim: int, k: int) -> None:
        super().__init__()
        self.n_heads, self.k = n_heads, k
        inner = n_heads * head_dim
        self.key_conv = SeparableConv1d(d_model, inner, k)
        self.conv_kernel = nn.Linear(inner, n_heads * k)
        self.conv_out = nn.Linear(d_model, inner)

    def forward(self, x: torch.Tensor, q: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        B, T, _ = x.shape
        ks = self.key_conv(zero_padding(x, mask))  # (B, T, A)
        kernel = self.conv_kernel(ks * q).view(B, T, self.n_heads, self.k).softmax(dim=-1)  # (B, T, h, k)
        u = zero_padding(self.conv_out(x), mask)  # (B, T, A)
        return apply_span_kernel(u, kernel)

    def span_kernel(self, x: torch.Tensor, q: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """The softmax kernel ``forward`` applies, for analysis: same arguments -> (B, T, h, k)."""
        B, T, _ = x.shape
        ks = self.key_conv(zero_padding(x, mask))  # (B, T, A)
        return self.conv_kernel(ks * q).view(B, T, self.n_heads, self.k).softmax(dim=-1)


class SpanDynamicConv(nn.Module):
    """``sdconv``: ConvBERT's span-based dynamic convolution (Jiang et al. 2020) on all ``h`` heads, with
    no attention half: a query projection, :class:`SpanConv`, an output projection.

    Upstream: the convolution half of transformers' ``ConvBertSelfAttention`` with its output projection
    (``tests/test_equivalence.py``, float64, atol 1e-10).

    Args:
        d_model: width D; k: odd span; h: heads; head_dim: channels per head (default D/h).
    Shape: x (B, T, D), mask (B, T) bool, True = real token -> (B, T, D).
    """

    def __init__(self, d_model: int, k: int, h: int, head_dim: int | None = None) -> None:
        super().__init__()
        head_dim = head_dim or d_model // h
        self.query = nn.Linear(d_model, h * head_dim)
        self.span = SpanConv(d_model, h, head_dim, k)
        self.out = nn.Linear(h * head_dim, d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(self.span(x, self.query(x), mask))


class LightweightConv(nn.Module):
    """``lconv``: lightweight convolution (Wu et al. 2019, "Pay Less Attention with Lightweight and Dynamic
    Convolutions", section 3): GLU input projection, then a depthwise convolution whose softmax-normalised
    kernel (h, k) is shared by the D/h channels of each head, then an output projection.

    Upstream: fairseq ``fairseq/modules/lightweight_convolution.py``, ``LightweightConv1dTBC`` (with
    ``weight_softmax=True``), between the GLU ``linear1`` and the ``linear2`` of ``LightConvEncoderLayer``
    (``fairseq/models/lightconv.py``); checked against its expanded band-matrix form.

    As in fairseq, the kernel is Xavier-initialised as an (h, 1, k) tensor, and DropConnect (training only)
    drops kernel entries independently for every position and batch element (fairseq's
    ``weight_dropout`` on the kernel expanded to (B*h, T, k)); without it the kernel is one (h, k) matrix
    and the convolution runs as ``conv1d``.

    Args:
        d_model: width D; k: odd span; h: kernel heads (D/h channels share one kernel);
        weight_dropout: DropConnect probability on the normalised kernel (training only).
    Shape: x (B, T, D), mask (B, T) bool, True = real token -> (B, T, D).
    """

    def __init__(self, d_model: int, k: int, h: int, weight_dropout: float = 0.0) -> None:
        super().__init__()
        self.h, self.k, self.weight_dropout = h, k, weight_dropout
        self.glu_in = nn.Linear(d_model, 2 * d_model)
        self.weight = nn.Parameter(torch.empty(h, k))
        nn.init.xavier_uniform_(self.weight.data.view(h, 1, k))  # fairseq's (H, 1, K) fans
        self.out = nn.Linear(d_model, d_model)

    def kernel(self) -> torch.Tensor:
        """(h, k) softmax-normalised kernel (before DropConnect)."""
        return self.weight.softmax(dim=-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        B, T, D = x.shape
        u = zero_padding(F.glu(self.glu_in(x), dim=-1), mask)  # (B, T, D)
        if self.training and self.weight_dropout > 0:
            kernel = self.kernel().to(u.dtype).expand(B, T, self.h, self.k).contiguous()  # (B, T, h, k)
            return self.out(apply_span_kernel(u, F.dropout(kernel, self.weight_dropout, True)))
        w = self.kernel().repeat_interleave(D // self.h, dim=0).unsqueeze(1)  # (D, 1, k)
        y = F.conv1d(u.transpose(1, 2), w.to(u.dtype), padding=self.k // 2, groups=D)  # (B, D, T)
        return self.out(y.transpose(1, 2))

    def span_kernel(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The softmax kernel ``forward`` applies (before DropConnect), for analysis: -> (B, T, h, k)."""
        B, T, _ = x.shape
        return self.kernel().to(x.dtype).expand(B, T, self.h, self.k)


class DynamicConv(nn.Module):
    """``dconv``: dynamic convolution (Wu et al. 2019, section 4): like ``lconv``, but the (h, k) kernel of
    position t is predicted from the (GLU-projected) token at t by a linear map, then softmax-normalised
    (and DropConnect in training, independently per position and batch element).

    Upstream: fairseq ``fairseq/modules/dynamic_convolution.py``, ``DynamicConv1dTBC`` (``weight_softmax=
    True``, no ``renorm_padding``, kernel predicted from its input as in ``LightConvEncoderLayer``);
    checked against its ``_forward_expanded`` band-matrix form.

    Args:
        d_model: width D; k: odd span; h: kernel heads; weight_dropout: DropConnect probability.
    Shape: x (B, T, D), mask (B, T) bool, True = real token -> (B, T, D).
    """

    def __init__(self, d_model: int, k: int, h: int, weight_dropout: float = 0.0) -> None:
        super().__init__()
        self.h, self.k, self.weight_dropout = h, k, weight_dropout
        self.glu_in = nn.Linear(d_model, 2 * d_model)
        self.weight_linear = nn.Linear(d_model, h * k, bias=False)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        B, T, _ = x.shape
        u = zero_padding(F.glu(self.glu_in(x), dim=-1), mask)  # (B, T, D)
        kernel = self.weight_linear(u).view(B, T, self.h, self.k).softmax(dim=-1)  # (B, T, h, k)
        kernel = F.dropout(kernel, self.weight_dropout, self.training)
        return self.out(apply_span_kernel(u, kernel))

    def span_kernel(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The softmax kernel ``forward`` applies (before DropConnect), for analysis: -> (B, T, h, k)."""
        B, T, _ = x.shape
        u = zero_padding(F.glu(self.glu_in(x), dim=-1), mask)  # (B, T, D)
        return self.weight_linear(u).view(B, T, self.h, self.k).softmax(dim=-1)


def half_span(k: int, h: int) -> int:
    return (k - 1) // 2


def span_conv_params(d_model: int, n: int, hd: int, k: int) -> int:
    """Parameters of :class:`SpanConv` with n heads of size hd."""
    a = n * hd
    return d_model * k + d_model * a + a + (a * n * k + n * k) + (d_model * a + a)


def span_conv_flops(T: int, d_model: int, n: int, hd: int, k: int) -> int:
    a = n * hd
    return 2 * T * (d_model * k + d_model * a + a * n * k + d_model * a + a * k)


register(OpDef(
    name="sdconv",
    summary="ConvBERT span-based dynamic convolution",
    keys=(SPAN, HEADS),
    build=SpanDynamicConv,
    params=lambda d_model, k, h: 2 * (d_model * d_model + d_model) + span_conv_params(d_model, h, d_model // h, k),
    flops=lambda T, d_model, k, h: 4 * T * d_model * d_model + span_conv_flops(T, d_model, h, d_model // h, k),
    sizes=heads_divide,
    reach=half_span,
    activations=lambda T, d_model, k, h: 8 * T * d_model + 2 * T * h * k,
))

register(OpDef(
    name="lconv",
    summary="lightweight convolution (Wu et al. 2019)",
    keys=(SPAN, HEADS),
    build=LightweightConv,
    params=lambda d_model, k, h: 3 * d_model * d_model + 3 * d_model + h * k,
    flops=lambda T, d_model, k, h: 6 * T * d_model * d_model + 2 * T * d_model * k,
    sizes=heads_divide,
    reach=half_span,
    activations=lambda T, d_model, k, h: 8 * T * d_model + 2 * T * h * k,
))

register(OpDef(
    name="dconv",
    summary="dynamic convolution (Wu et al. 2019)",
    keys=(SPAN, HEADS),
    build=DynamicConv,
    params=lambda d_model, k, h: 3 * d_model * d_model + 3 * d_model + d_model * h * k,
    flops=lambda T, d_model, k, h: 6 * T * d_model * d_model + 2 * T * d_model * (h * k + k),
    sizes=heads_divide,
    reach=half_span,
    activations=lambda T, d_model, k, h: 8 * T * d_model + 2 * T * h * k,
))
