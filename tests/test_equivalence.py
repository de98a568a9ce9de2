"""Each op against a reference: transformers' ConvBERT with copied weights, or the paper's formula."""

import math

import pytest
import torch
import torch.nn.functional as F
from transformers.models.convbert.configuration_convbert import ConvBertConfig
from transformers.models.convbert.modeling_convbert import ConvBertAttention

from layernas.search_space import Architecture, LayerSpec
from layernas.search_space.ops.attention import (
    BlockSparseAttention,
    SelfAttention,
    block_shifts,
    blockbert_identity_heads,
)
from layernas.search_space.ops.convolution import DynamicConv, LightweightConv, SpanDynamicConv
from layernas.search_space.ops.mixed import MixedAttention

D, H, B, T = 64, 4, 2, 23
ATOL = 1e-10


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def hf_convbert_attention(k: int, ratio: int) -> ConvBertAttention:
    config = ConvBertConfig(hidden_size=D, num_attention_heads=H, head_ratio=ratio, conv_kernel_size=k,
                            attention_probs_dropout_prob=0.0, hidden_dropout_prob=0.0)
    hf = ConvBertAttention(config).double().eval()
    for p in hf.parameters():  # HF zero-initialises some biases; random values make the check stronger
        torch.nn.init.normal_(p, std=0.2)
    return hf


def copy_span_conv(ours, hf_self) -> None:
    ours.key_conv.depthwise.weight.copy_(hf_self.key_conv_attn_layer.depthwise.weight)
    ours.key_conv.pointwise.weight.copy_(hf_self.key_conv_attn_layer.pointwise.weight)
    ours.key_conv.bias.copy_(hf_self.key_conv_attn_layer.bias.view(-1))
    ours.conv_kernel.load_state_dict(hf_self.conv_kernel_layer.state_dict())
    ours.conv_out.load_state_dict(hf_self.conv_out_layer.state_dict())


@pytest.mark.parametrize("k", [3, 5, 9])
@pytest.mark.parametrize("ratio", [1, 2, 4])
@torch.no_grad()
def test_mixed_equals_hf_convbert(k, ratio):
    hf = hf_convbert_attention(k, ratio)
    ours = MixedAttention(D, k=k, h=H, hr=ratio).double().eval()
    for name in ("query", "key", "value"):
        getattr(ours, name).load_state_dict(getattr(hf.self, name).state_dict())
    copy_span_conv(ours.span, hf.self)
    ours.out.load_state_dict(hf.output.dense.state_dict())
    assert sum(p.numel() for p in ours.parameters()) == \
        sum(p.numel() for p in hf.self.parameters()) + sum(p.numel() for p in hf.output.dense.parameters())

    x = torch.randn(B, T, D, dtype=torch.float64)
    expected = hf.output.dense(hf.self(x)[0])
    torch.testing.assert_close(ours(x), expected, atol=ATOL, rtol=0)

    # Padding: where HF sees the truncated sequence, we see a right-padded one with a mask.
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[1, 15:] = False
    padded = ours(x, mask)
    truncated = hf.output.dense(hf.self(x[1:, :15])[0])
    torch.testing.assert_close(padded[1, :15], truncated[0], atol=ATOL, rtol=0)


@pytest.mark.parametrize("k", [3, 5, 9])
@pytest.mark.parametrize("ratio", [1, 2, 4])
@torch.no_grad()
def test_sdconv_equals_hf_convbert_convolution_half(k, ratio):
    hf = hf_convbert_attention(k, ratio)
    n = hf.self.num_attention_heads
    ours = SpanDynamicConv(D, k=k, h=n, head_dim=hf.self.attention_head_size).double().eval()
    ours.query.load_state_dict(hf.self.query.state_dict())
    copy_span_conv(ours.span, hf.self)
    x = torch.randn(B, T, D, dtype=torch.float64)
    conv_half = hf.self(x)[0][..., hf.self.all_head_size:]
    torch.testing.assert_close(ours.span(x, ours.query(x), None), conv_half, atol=ATOL, rtol=0)


def explicit_attention(q, k, v, allowed):
    """softmax(QK^T / sqrt(d)) V over allowed (…, T, T) pairs; rows with nothing allowed give 0."""
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~allowed, float("-inf"))
    probs = torch.nan_to_num(scores.softmax(dim=-1), nan=0.0)
    return probs @ v


def projections(att: SelfAttention, x):
    q, k, v = att.qkv(x).chunk(3, dim=-1)
    split = lambda t: t.view(t.shape[0], t.shape[1], att.h, -1).transpose(1, 2)  # noqa: E731  (B, h, T, d)
    return split(q), split(k), split(v)


def finish(att, heads):
    return att.out(heads.transpose(1, 2).reshape(heads.shape[0], heads.shape[2], -1))


@torch.no_grad()
def test_sa_equals_explicit_formula_and_multihead_attention():
    att = SelfAttention(D, h=H).double().eval()
    x = torch.randn(B, T, D, dtype=torch.float64)
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[0, 17:] = False
    q, k, v = projections(att, x)
    allowed = mask[:, None, None, :].expand(B, H, T, T)
    torch.testing.assert_close(att(x, mask), finish(att, explicit_attention(q, k, v, allowed)),
                               atol=ATOL, rtol=0)

    mha = torch.nn.MultiheadAttention(D, H, batch_first=True).double().eval()
    mha.in_proj_weight.copy_(att.qkv.weight)
    mha.in_proj_bias.copy_(att.qkv.bias)
    mha.out_proj.load_state_dict(att.out.state_dict())
    ref, _ = mha(x, x, x, key_padding_mask=~mask, need_weights=False)
    torch.testing.assert_close(att(x, mask), ref, atol=ATOL, rtol=0)


@torch.no_grad()
def test_bsa_with_one_block_equals_sa():
    sa = SelfAttention(D, h=H).double().eval()
    bsa = BlockSparseAttention(D, b=1, h=H).double().eval()
    bsa.load_state_dict(sa.state_dict())
    x = torch.randn(B, T, D, dtype=torch.float64)
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[1, 9:] = False
    torch.testing.assert_close(bsa(x, mask), sa(x, mask), atol=ATOL, rtol=0)


def block_permutation_mask(T_pad: int, b: int, shifts: list[int], mask):
    """(B, h, T_pad, T_pad): query i may see key j iff block(j) == (block(i) + shift_head) mod b."""
    L = T_pad // b
    block = torch.arange(T_pad) // L
    shifts = torch.tensor(shifts)
    allowed = block[None, None, :] == (block[None, :, None] + shifts[:, None, None]) % b  # (h, T, T)
    return allowed[None] & mask[:, None, None, :]


@pytest.mark.parametrize("b", [2, 4])
@pytest.mark.parametrize("length", [24, 23])
@pytest.mark.parametrize("i", [None, 0, 1, 2, 3, 4])
@torch.no_grad()
def test_bsa_equals_dense_attention_under_block_permutation_mask(b, length, i):
    bsa = BlockSparseAttention(D, b=b, h=H, i=i).double().eval()
    x = torch.randn(B, length, D, dtype=torch.float64)
    mask = torch.ones(B, length, dtype=torch.bool)
    mask[1, 13:] = False
    T_pad = math.ceil(length / b) * b
    q, k, v = (F.pad(t, (0, 0, 0, T_pad - length)) for t in projections(bsa, x))
    full_mask = F.pad(mask, (0, T_pad - length), value=False)
    ref = explicit_attention(q, k, v, block_permutation_mask(T_pad, b, bsa.shifts, full_mask))[:, :, :length]
    torch.testing.assert_close(bsa(x, mask), finish(bsa, ref), atol=ATOL, rtol=0)
    assert bsa.shifts.count(0) == (bsa.i if b > 1 else H)


def test_block_shifts_follow_blockbert():
    # Qiu et al. 2020, section 4: 12 heads, n=2 -> 10:2; n=3 -> 8:2:2
    assert blockbert_identity_heads(2, 12) == 10 and block_shifts(12, 2, 10) == [0] * 10 + [1, 1]
    assert blockbert_identity_heads(3, 12) == 8 and block_shifts(12, 3, 8) == [0] * 8 + [1, 1, 2, 2]
    assert blockbert_identity_heads(2, 4) == 3 and block_shifts(4, 2, 3) == [0, 0, 0, 1]
    assert blockbert_identity_heads(4, 4) == 1 and block_shifts(4, 4, 1) == [0, 1, 2, 3]
    assert blockbert_identity_heads(8, 4) == 1 and block_shifts(4, 8, 1) == [0, 1, 3, 5]
    assert blockbert_identity_heads(1, 4) == 4 and block_shifts(4, 1, 0) == [0, 0, 0, 0]
    assert block_shifts(4, 2, 2) == [0, 0, 1, 1] and block_shifts(4, 2, 0) == [1, 1, 1, 1]


def test_bsa_identity_heads_key_round_trips_defaults_to_blockbert_and_changes_the_key():
    default = LayerSpec.parse("bsa(b=2,h=4)")
    assert str(default) == "bsa(b=2,h=4,i=3)" and LayerSpec.parse(str(default)) == default
    even = LayerSpec.parse("bsa(b=2,h=4,i=2)")
    assert str(even) == "bsa(b=2,h=4,i=2)" and LayerSpec.parse(str(even)) == even
    assert Architecture((default,)).key() != Architecture((even,)).key()
    assert LayerSpec.parse("bsa(b=1,h=4,i=2)").canonical() == LayerSpec.parse("sa(h=4)")
    assert LayerSpec.parse("bsa(b=3,h=12)", d_model=48)["i"] == 8
    assert LayerSpec.parse("bsa(b=2)", defaults={"identity_heads": 1})["i"] == 1
    with pytest.raises(ValueError, match=r"^i=5 identity heads exceed h=4 heads in 'bsa\(b=2,h=4,i=5\)'$"):
        LayerSpec.parse("bsa(b=2,h=4,i=5)")
    with pytest.raises(ValueError, match=r"^i=-1 in 'bsa\(i=-1\)' is not allowed; i must be an integer from 0 to h"):
        LayerSpec.parse("bsa(i=-1)")


def band_matrix(kernel, T: int):
    """fairseq's expanded form: W[..., t, s] = kernel[..., t, s - t + (k-1)/2] inside the band, else 0.

    kernel: (..., T, k) -> (..., T, T)."""
    k = kernel.shape[-1]
    p = (k - 1) // 2
    W = torch.zeros(*kernel.shape[:-1], T, dtype=kernel.dtype)
    for j in range(k):
        offset = j - p
        shift = torch.diag(torch.ones(T - abs(offset), dtype=kernel.dtype), diagonal=offset)  # (T, T)
        W = W + kernel[..., j, None] * shift
    return W


def band_conv(u, kernel, h):
    """u: (B, T, C); kernel: (B, h, T, k) -> (B, T, C) with y_head = W_head @ u_head."""
    Bn, Tn, C = u.shape
    heads = u.view(Bn, Tn, h, C // h).transpose(1, 2)  # (B, h, T, d)
    y = band_matrix(kernel, Tn) @ heads
    return y.transpose(1, 2).reshape(Bn, Tn, C)


@pytest.mark.parametrize("k", [1, 3, 7])
@torch.no_grad()
def test_lconv_equals_band_matrix_formula(k):
    op = LightweightConv(D, k=k, h=H).double().eval()
    x = torch.randn(B, T, D, dtype=torch.float64)
    u = F.glu(op.glu_in(x), dim=-1)
    kernel = op.weight.softmax(dim=-1)[None, :, None, :].expand(B, H, T, k)
    torch.testing.assert_close(op(x), op.out(band_conv(u, kernel, H)), atol=ATOL, rtol=0)


@pytest.mark.parametrize("k", [1, 3, 7])
@torch.no_grad()
def test_dconv_equals_band_matrix_formula(k):
    op = DynamicConv(D, k=k, h=H).double().eval()
    x = torch.randn(B, T, D, dtype=torch.float64)
    u = F.glu(op.glu_in(x), dim=-1)
    kernel = op.weight_linear(u).view(B, T, H, k).softmax(dim=-1).transpose(1, 2)  # (B, h, T, k)
    torch.testing.assert_close(op(x), op.out(band_conv(u, kernel, H)), atol=ATOL, rtol=0)


def test_lconv_dropconnect_is_per_position_and_batch_element_as_in_fairseq():
    """fairseq drops entries of the kernel expanded to (B*h, T, k), so two positions (or two sequences)
    see different kernels; one (h, k) mask for the whole batch would give every position the same."""
    torch.manual_seed(0)
    op = LightweightConv(D, k=5, h=H, weight_dropout=0.5).double()
    x = torch.zeros(B, T, D, dtype=torch.float64)
    with torch.no_grad():
        op.glu_in.weight.zero_()
        op.glu_in.bias.fill_(10.0)  # u = GLU(const) = the same value at every position and channel
        op.out.weight.copy_(torch.eye(D, dtype=torch.float64))
        op.out.bias.zero_()
    op.train()
    y = op(x)[:, 2:-2]  # (B, T-4, D) away from the borders: the output is sum_j of the kept kernel entries
    per_head = y.view(B, T - 4, H, D // H)[..., 0]  # (B, T', h)
    assert len({round(v, 9) for v in per_head[0, :, 0].tolist()}) > 1, "one mask for every position"
    assert not torch.allclose(per_head[0], per_head[1]), "one mask for every batch element"
    # the keep rate and the 1/(1-p) scaling are dropout's: the mean kernel sum stays 1 x u
    u = float(F.glu(op.glu_in(x[:1, :1]), dim=-1)[0, 0, 0].detach())
    big = LightweightConv(D, k=5, h=H, weight_dropout=0.5).double().train()
    big.load_state_dict(op.state_dict())
    mean = big(torch.zeros(64, 64, D, dtype=torch.float64))[:, 2:-2].mean().item()
    assert abs(mean / u - 1.0) < 0.05
    op.eval()
    assert torch.equal(op(x), op(x))


def test_lconv_kernel_initialisation_is_fairseqs_xavier_on_h_1_k():
    torch.manual_seed(0)
    h, k = 4, 7
    weight = LightweightConv(D, k=k, h=h).weight
    bound = (6.0 / (k + h * k)) ** 0.5  # xavier_uniform on (h, 1, k): fan_in k, fan_out h * k
    assert weight.abs().max() <= bound and weight.abs().max() > 0.8 * bound


def test_dconv_dropconnect_changes_training_output_only():
    op = DynamicConv(D, k=5, h=H, weight_dropout=0.3)
    x = torch.randn(B, T, D)
    op.eval()
    assert torch.equal(op(x), op(x))
    op.train()
    assert not torch.equal(op(x), op(x))


def test_layer_spec_keys_reach_the_modules():
    from layernas.search_space import build_layer

    layer = build_layer(LayerSpec.parse("mixed(k=5,h=4,hr=4)"), d_model=D, position="none")
    assert layer.op.n == 1 and layer.op.span.k == 5
    layer = build_layer("bsa(b=4,h=2)", d_model=D)
    assert layer.op.b == 4 and layer.op.h == 2 and layer.op.rotary is not None
