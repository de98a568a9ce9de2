"""``lvconv`` against LV-BERT's TensorFlow graph (yuweihao/LV-BERT, model/modeling.py,
``dynamic_convolution_layer`` and the ``output`` dense layer of ``dynamic_convolution()``)."""

import math

import pytest
import torch

from layernas.search_space import OPS, LayerSpec, build_layer
from layernas.search_space.cost import count_params, sublayer_params
from layernas.search_space.ops.lvconv import LVDynamicConv

ATOL = 1e-10
B, T, D, H = 2, 13, 32, 4


def tf_graph(op: LVDynamicConv, x: torch.Tensor) -> torch.Tensor:
    """The upstream graph step by step in plain torch ops, on the module's weights (no padding mask:
    upstream has none)."""
    b, t, d = x.shape
    h, k = op.h, op.k
    p = (k - 1) // 2
    w_l, w_g = op.glu_in.weight[:d], op.glu_in.weight[d:]  # tf glu_l / glu_g kernels (transposed)
    b_l, b_g = op.glu_in.bias[:d], op.glu_in.bias[d:]
    value = (x @ w_l.T + b_l) * torch.sigmoid(x @ w_g.T + b_g)  # (B, T, D)

    # tf.layers.separable_conv1d(padding='same'): depthwise (k, D, 1), pointwise (1, D, D), bias (D,)
    padded = torch.cat([value.new_zeros(b, p, d), value, value.new_zeros(b, p, d)], dim=1)  # (B, T+2p, D)
    depthwise = op.key_conv.depthwise.weight[:, 0, :]  # (D, k)
    dw = value.new_zeros(b, t, d)
    for pos in range(t):
        for i in range(k):
            dw[:, pos] += padded[:, pos + i] * depthwise[:, i]
    key_conv = dw @ op.key_conv.pointwise.weight[:, :, 0].T + op.key_conv.bias  # (B, T, D)

    # conv_attn_kernel: dense to h*k, reshape [B*T*h, k, 1], softmax over the span
    logits = key_conv @ op.conv_kernel.weight.T + op.conv_kernel.bias  # (B, T, h*k)
    kernel = torch.softmax(logits.reshape(b * t * h, k, 1), dim=1)  # (B*T*h, k, 1)

    # tf.pad + stack of k slices -> [B, T, D, k] -> [B*T*h, D/h, k] @ kernel
    unfold = torch.stack([padded[:, i:i + t] for i in range(k)], dim=-1)  # (B, T, D, k)
    conv = torch.matmul(unfold.reshape(b * t * h, d // h, k), kernel).reshape(b, t, d)  # (B, T, D)
    return conv @ op.out.weight.T + op.out.bias  # output/dense


def randomised(op: LVDynamicConv) -> LVDynamicConv:
    """Non-zero biases everywhere, so a missing bias would show."""
    torch.manual_seed(1)
    with torch.no_grad():
        for param in op.parameters():
            param.copy_(torch.randn_like(param) / math.sqrt(max(param.shape[-1], 1)))
    return op


@pytest.mark.parametrize("k", [1, 3, 5, 9])
@pytest.mark.parametrize("h", [1, 2, 4])
@torch.no_grad()
def test_lvconv_equals_the_tf_graph(k, h):
    torch.manual_seed(0)
    op = randomised(LVDynamicConv(D, k=k, h=h).double().eval())
    x = torch.randn(B, T, D, dtype=torch.float64)
    expected = tf_graph(op, x)
    torch.testing.assert_close(op(x), expected, atol=ATOL, rtol=0)
    torch.testing.assert_close(op(x, torch.ones(B, T, dtype=torch.bool)), expected, atol=ATOL, rtol=0)


@torch.no_grad()
def test_trailing_padding_equals_the_tf_graph_on_the_unpadded_sequence():
    torch.manual_seed(0)
    op = randomised(LVDynamicConv(D, k=9, h=H).double().eval())
    x = torch.randn(B, T, D, dtype=torch.float64)
    lengths = [T, 6]
    mask = torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]
    y = op(x, mask)
    for i, n in enumerate(lengths):
        torch.testing.assert_close(y[i, :n], tf_graph(op, x[i:i + 1, :n])[0], atol=ATOL, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@torch.no_grad()
def test_padded_positions_never_reach_real_ones_and_give_no_nan(dtype):
    torch.manual_seed(0)
    op = randomised(LVDynamicConv(D, k=5, h=H)).to(dtype).eval()
    mask = torch.ones(4, T, dtype=torch.bool)
    mask[0, 9:] = False  # ragged tail
    mask[1, :4] = False  # left padding
    mask[2, 1::2] = False  # every other token
    mask[3, :] = False  # nothing real at all
    x = torch.randn(4, T, D, dtype=dtype)
    garbage = torch.where(mask.unsqueeze(-1), x, torch.full_like(x, 1e4) * torch.randn_like(x))
    y, y2 = op(x, mask), op(garbage, mask)
    assert (y[mask] - y2[mask]).abs().max().item() == 0.0
    assert torch.isfinite(y).all() and torch.isfinite(y2).all()


def upstream_variables(d: int, h: int, k: int) -> dict[str, tuple[int, ...]]:
    """The trainable variables one LV-BERT dynamic-convolution mixer creates (tf.layers defaults:
    every dense and the separable conv have a bias; depth_multiplier 1)."""
    return {
        "glu_l/kernel": (d, d), "glu_l/bias": (d,),
        "glu_g/kernel": (d, d), "glu_g/bias": (d,),
        "conv_attn_key/depthwise_kernel": (k, d, 1),
        "conv_attn_key/pointwise_kernel": (1, d, d),
        "conv_attn_key/bias": (d,),
        "conv_attn_kernel/kernel": (d, h * k), "conv_attn_kernel/bias": (h * k,),
        "output/dense/kernel": (d, d), "output/dense/bias": (d,),
    }


@pytest.mark.parametrize(("d", "h", "k"), [(256, 4, 9), (32, 2, 3), (64, 8, 15)])
def test_parameter_count_is_exact_and_equals_upstreams(d, h, k):
    op = LVDynamicConv(d, k=k, h=h)
    numel = sum(p.numel() for p in op.parameters())
    upstream = sum(math.prod(s) for s in upstream_variables(d, h, k).values())
    assert OPS["lvconv"].params(d, k=k, h=h) == numel == upstream
    spec = LayerSpec.parse(f"lvconv(k={k},h={h})", d)
    assert sublayer_params(spec, d) == count_params(build_layer(spec, d_model=d))


def test_parameter_count_of_the_lv_bert_small_mixer():
    """d_model 256, 4 heads, span 9: 3 x (256^2 + 256) + (9 x 256 + 256^2 + 256) + (256 x 36 + 36)."""
    assert OPS["lvconv"].params(256, k=9, h=4) == 274_724


def test_registry_entry():
    op = OPS["lvconv"]
    assert op.key_names == ("k", "h")
    assert op.reach(k=9, h=4) == 4 and op.reach(k=1, h=4) == 0
    assert op.sizes(30, k=9, h=4) is not None and op.sizes(32, k=9, h=4) is None
    assert op.options == ()
    spec = LayerSpec.parse("lvconv", 64, {"kernel_size": 9, "n_heads": 4})
    assert str(spec) == "lvconv(k=9,h=4)"
