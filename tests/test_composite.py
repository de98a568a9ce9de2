"""``csa`` (composite attention, Chang et al. 2021) against its formula written out position by position,
against the authors' ``BertSelfAttention`` (mlpc-ucsd/BERT_Convolutions, ``qk_convfixed_convq``) transcribed
in plain torch, and, with the content logits at zero, against the lightweight convolution it contains."""

import math

import pytest
import torch

from layernas.search_space import OPS, LayerSpec, build_layer
from layernas.search_space.cost import count_params, sublayer_params
from layernas.search_space.ops.composite import CompositeAttention

ATOL = 1e-10
B, T, D = 2, 13, 32


def randomised(op: CompositeAttention) -> CompositeAttention:
    """Random values everywhere (the fixed kernel starts at zero), so a missing term would show."""
    torch.manual_seed(1)
    with torch.no_grad():
        for param in op.parameters():
            param.copy_(torch.randn_like(param) / math.sqrt(max(param.shape[-1], 1)))
    return op


def heads(op: CompositeAttention, x: torch.Tensor):
    split = lambda t: t.view(t.shape[0], t.shape[1], op.h, -1).transpose(1, 2)  # noqa: E731  (B, h, T, d)
    return split(op.query(x)), split(op.key(x)), split(op.value(x))


def finish(op: CompositeAttention, context: torch.Tensor) -> torch.Tensor:
    """(B, h, T, d) -> output projection of the merged heads."""
    return op.out(context.transpose(1, 2).reshape(context.shape[0], context.shape[2], -1))


def formula(op: CompositeAttention, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """alpha_ij = softmax_j(q_i.k_j / sqrt(d) + q_i.a_c(j-i) / sqrt(d) + beta_c(j-i)) over the real keys,
    c(r) = clip(r, -w, w) + w, one (i, j) pair at a time."""
    q, k, v = heads(op, x)
    b, h, n, d = q.shape
    w = (op.k - 1) // 2
    logits = torch.full((b, h, n, n), float("-inf"), dtype=x.dtype)
    for i in range(n):
        for j in range(n):
            c = min(max(j - i, -w), w) + w
            value = (q[:, :, i] * k[:, :, j]).sum(-1) / math.sqrt(d)
            value = value + (q[:, :, i] * op.query_kernel[:, c]).sum(-1) / math.sqrt(d) + op.fixed_kernel[:, c]
            logits[:, :, i, j] = torch.where(mask[:, j, None], value, logits[:, :, i, j])
    return finish(op, logits.softmax(dim=-1) @ v)


def upstream(op: CompositeAttention, x: torch.Tensor) -> torch.Tensor:
    """The authors' BertSelfAttention.forward for attention_kernel="qk_convfixed_convq <w>" (no padding),
    on the module's weights: their (1, h, 1, k) convfixed_param is our fixed_kernel, their (d, k)
    convq_param our query_kernel."""
    q, k, v = heads(op, x)
    b, h, n, d = q.shape
    w = (op.k - 1) // 2
    range_vec = torch.arange(n)
    distance_mat = range_vec[None, :] - range_vec[:, None]
    relative_positions_mat = (torch.clamp(distance_mat, -w, w) + w).reshape(1, 1, n, n)
    attention_scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d)
    convfixed_param = op.fixed_kernel.reshape(1, h, 1, op.k)
    query_relative_weights = convfixed_param + torch.zeros(b, h, n, 1, dtype=x.dtype)
    query_relative_weights = query_relative_weights + torch.einsum("dr,bhsd->bhsr", op.query_kernel, q) / math.sqrt(d)
    attention_scores = attention_scores + torch.gather(query_relative_weights, 3,
                                                       relative_positions_mat.repeat(b, h, 1, 1))
    return finish(op, torch.softmax(attention_scores, dim=-1) @ v)


@pytest.mark.parametrize("k", [1, 3, 5, 9])
@pytest.mark.parametrize("h", [1, 2, 4])
@torch.no_grad()
def test_csa_equals_the_composite_attention_formula(k, h):
    op = randomised(CompositeAttention(D, k=k, h=h).double().eval())
    x = torch.randn(B, T, D, dtype=torch.float64)
    full = torch.ones(B, T, dtype=torch.bool)
    torch.testing.assert_close(op(x), formula(op, x, full), atol=ATOL, rtol=0)
    torch.testing.assert_close(op(x), upstream(op, x), atol=ATOL, rtol=0)
    mask = full.clone()
    mask[0, 9:] = False
    mask[1, :3] = False  # left padding: relative positions still count the padded slots
    torch.testing.assert_close(op(x, mask)[mask], formula(op, x, mask)[mask], atol=ATOL, rtol=0)


def clipped_band(beta: torch.Tensor, n: int) -> torch.Tensor:
    """(h, k) taps -> (h, n, n) logits of a lightweight convolution over the whole sequence: diagonal
    j - i = r carries tap clip(r, -w, w) + w, so the k taps fill the band and the edge taps the rest."""
    h, k = beta.shape
    w = (k - 1) // 2
    out = torch.zeros(h, n, n, dtype=beta.dtype)
    for r in range(-(n - 1), n):
        diagonal = torch.diag(torch.ones(n - abs(r), dtype=beta.dtype), diagonal=r)  # (n, n), ones at j - i = r
        out = out + beta[:, min(max(r, -w), w) + w, None, None] * diagonal
    return out


def lightweight_conv(op: CompositeAttention, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax-normalised lightweight convolution of the values, weights exp(beta) over the real keys:
    y_i = sum_j exp(beta_c(j-i)) v_j / sum_j exp(beta_c(j-i))."""
    _, _, v = heads(op, x)
    weights = clipped_band(op.fixed_kernel, x.shape[1]).exp()[None] * mask[:, None, None, :]  # (B, h, T, T)
    return finish(op, weights / weights.sum(-1, keepdim=True) @ v)


@pytest.mark.parametrize(("k", "n"), [(3, 13), (5, 13), (9, 13), (31, 12), (1, 7)])
@torch.no_grad()
def test_with_zero_content_logits_csa_is_its_lightweight_convolution(k, n):
    """A zero query projection removes q.k and q.a; what is left is the fixed lightweight convolution.
    k=31 over 12 tokens: every offset lies inside the span, a plain band of k taps; k=1: one tap, the
    mean over the real keys."""
    op = randomised(CompositeAttention(D, k=k, h=4).double().eval())
    op.query.weight.zero_()
    op.query.bias.zero_()
    x = torch.randn(B, n, D, dtype=torch.float64)
    mask = torch.ones(B, n, dtype=torch.bool)
    torch.testing.assert_close(op(x), lightweight_conv(op, x, mask), atol=ATOL, rtol=0)
    mask[1, n - 4:] = False
    torch.testing.assert_close(op(x, mask)[mask], lightweight_conv(op, x, mask)[mask], atol=ATOL, rtol=0)


@torch.no_grad()
def test_inside_the_span_the_band_is_k_taps_wide():
    """With every offset inside the span the convolution's matrix has 2n-1 distinct diagonals, each one tap."""
    beta = torch.arange(31, dtype=torch.float64).view(1, 31)
    band = clipped_band(beta, 12)[0]
    assert band[0, 11] == 15 + 11 and band[11, 0] == 15 - 11 and band[5, 5] == 15
    clipped = clipped_band(beta[:, 13:18], 12)[0]  # k=5: offsets beyond +-2 take the edge taps
    assert clipped[0, 11] == 17 and clipped[11, 0] == 13 and clipped[3, 4] == 16


def upstream_variables(d: int, h: int, k: int) -> dict[str, tuple[int, ...]]:
    """The parameters of one upstream attention block with qk_convfixed_convq (plus BertSelfOutput's dense)."""
    return {
        "query.weight": (d, d), "query.bias": (d,), "key.weight": (d, d), "key.bias": (d,),
        "value.weight": (d, d), "value.bias": (d,),
        "convfixed_param": (1, h, 1, k), "convq_param": (d // h, k),
        "output.dense.weight": (d, d), "output.dense.bias": (d,),
    }


@pytest.mark.parametrize(("d", "h", "k"), [(32, 4, 9), (64, 8, 15), (48, 3, 1)])
def test_parameter_count_is_exact_and_equals_upstreams(d, h, k):
    op = CompositeAttention(d, k=k, h=h)
    numel = sum(p.numel() for p in op.parameters())
    assert OPS["csa"].params(d, k=k, h=h) == numel == sum(math.prod(s) for s in upstream_variables(d, h, k).values())
    spec = LayerSpec.parse(f"csa(k={k},h={h})", d)
    assert sublayer_params(spec, d) == count_params(build_layer(spec, d_model=d))


def test_initialisation_is_upstreams():
    torch.manual_seed(0)
    op = CompositeAttention(D, k=9, h=4)
    assert torch.equal(op.fixed_kernel, torch.zeros(4, 9))  # "essentially no bias term"
    bound = 1 / math.sqrt(9)  # kaiming_uniform(a=sqrt(5)) on (d, k): fan_in k
    assert op.query_kernel.abs().max() <= bound and op.query_kernel.abs().max() > 0.8 * bound


def test_attention_dropout_acts_in_training_only():
    op = CompositeAttention(D, k=5, h=4, attn_dropout=0.5)
    x = torch.randn(B, T, D)
    op.eval()
    assert torch.equal(op(x), op(x))
    op.train()
    assert not torch.equal(op(x), op(x))


def test_registry_entry():
    op = OPS["csa"]
    assert op.key_names == ("k", "h")
    assert op.reach(k=9, h=4) is None  # the attention is global; only the kernels are local
    assert op.options == ("attn_dropout",)
    assert str(LayerSpec.parse("csa", 64, {"kernel_size": 7, "n_heads": 2})) == "csa(k=7,h=2)"
    assert op.sizes(30, k=9, h=4) == "heads h=4 must divide d_model=30" and op.sizes(32, k=9, h=4) is None
    with pytest.raises(ValueError, match=r"^k=4 in 'csa\(k=4\)' is not allowed; k must be an odd integer >= 1$"):
        LayerSpec.parse("csa(k=4)", 64)
    assert str(LayerSpec.parse(op.example, 32)) == "csa(k=5,h=4)"
