"""``dsa`` against transformers' DeBERTa-v2 disentangled self-attention with copied weights (float64), under
the DeBERTa-v3 settings: relative attention, pos_att_type p2c|c2p, share_att_key, layer-normed relative
embeddings, log buckets with max_relative_positions 512."""

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode
from transformers.models.deberta_v2.configuration_deberta_v2 import DebertaV2Config
from transformers.models.deberta_v2.modeling_deberta_v2 import DebertaV2Encoder, build_relative_position

from layernas.search_space import OPS, LayerSpec, build_layer
from layernas.search_space.cost import count_params, op_flops, sublayer_params
from layernas.search_space.ops.dsa import (
    MAX_RELATIVE_POSITIONS,
    DisentangledAttention,
    relative_index,
    used_rows,
)

ATOL = 1e-10
B, T, D = 2, 23, 32


def hf_encoder(d: int, h: int, p: int) -> DebertaV2Encoder:
    """One DeBERTa-v2 layer with the encoder's relative embeddings; random weights everywhere (LayerNorm
    included), so a missing bias or norm would show."""
    config = DebertaV2Config(hidden_size=d, num_attention_heads=h, num_hidden_layers=1, intermediate_size=2 * d,
                             relative_attention=True, position_buckets=p, max_relative_positions=512,
                             pos_att_type=["p2c", "c2p"], share_att_key=True, norm_rel_ebd="layer_norm",
                             hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(1)
    enc = DebertaV2Encoder(config).double().eval()
    with torch.no_grad():
        for param in enc.parameters():
            param.normal_(std=0.3)
    return enc


def copied(enc: DebertaV2Encoder, d: int, h: int, p: int) -> DisentangledAttention:
    att = enc.layer[0].attention
    ours = DisentangledAttention(d, p=p, h=h).double().eval()
    for name in ("query_proj", "key_proj", "value_proj"):
        getattr(ours, name).load_state_dict(getattr(att.self, name).state_dict())
    ours.rel_embeddings.load_state_dict(enc.rel_embeddings.state_dict())
    ours.rel_norm.load_state_dict(enc.LayerNorm.state_dict())
    ours.out.load_state_dict(att.output.dense.state_dict())
    return ours


def hf_attention(enc: DebertaV2Encoder, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """What one DeBERTa-v2 layer computes before its residual and LayerNorm: the encoder's relative positions
    and normalised table, DisentangledSelfAttention, then DebertaV2SelfOutput's dense layer."""
    att = enc.layer[0].attention
    context, _ = att.self(x, enc.get_attention_mask(mask.long()), relative_pos=enc.get_rel_pos(x),
                          rel_embeddings=enc.get_rel_embedding())
    return att.output.dense(context)


@pytest.mark.parametrize("p", [2, 3, 4, 8, 16, 256])
@pytest.mark.parametrize("h", [1, 4])
@torch.no_grad()
def test_dsa_equals_hf_deberta_v2(p, h):
    enc = hf_encoder(D, h, p)
    ours = copied(enc, D, h, p)
    x = torch.randn(B, T, D, dtype=torch.float64)
    full = torch.ones(B, T, dtype=torch.bool)
    torch.testing.assert_close(ours(x), hf_attention(enc, x, full), atol=ATOL, rtol=0)

    mask = full.clone()
    mask[1, 15:] = False
    y = ours(x, mask)
    torch.testing.assert_close(y[mask], hf_attention(enc, x, mask)[mask], atol=ATOL, rtol=0)
    # right padding with a mask = transformers on the truncated sequence
    torch.testing.assert_close(y[1, :15], hf_attention(enc, x[1:, :15], full[1:, :15])[0], atol=ATOL, rtol=0)


@torch.no_grad()
def test_dsa_equals_hf_beyond_max_relative_positions():
    """Distances past 511 fall beyond the last log bucket and are clamped to the table's first and last rows."""
    d, h, p, n = 16, 2, 4, 530
    enc = hf_encoder(d, h, p)
    ours = copied(enc, d, h, p)
    assert used_rows(n, p, MAX_RELATIVE_POSITIONS) == (0, 2 * p - 1)
    x = torch.randn(1, n, d, dtype=torch.float64)
    torch.testing.assert_close(ours(x), hf_attention(enc, x, torch.ones(1, n, dtype=torch.bool)), atol=ATOL, rtol=0)


@pytest.mark.parametrize("p", [2, 3, 4, 8, 64, 256, 512])
def test_buckets_are_transformers_and_used_rows_bound_them(p):
    for n in (1, 2, 7, 23, 130, 511, 515, 600):
        rel = build_relative_position(torch.zeros(n, 1), torch.zeros(n, 1), bucket_size=p, max_position=512)[0]
        index = relative_index(n, p, MAX_RELATIVE_POSITIONS)
        assert torch.equal(index, torch.clamp(rel + p, 0, 2 * p - 1))
        assert used_rows(n, p, MAX_RELATIVE_POSITIONS) == (int(index.min()), int(index.max()))


@pytest.mark.parametrize(("d", "h", "p"), [(32, 4, 8), (64, 8, 256), (48, 3, 3)])
def test_parameter_count_is_exact_and_equals_transformers(d, h, p):
    enc = hf_encoder(d, h, p)
    att = enc.layer[0].attention
    hf = sum(t.numel() for m in (att.self, att.output.dense, enc.rel_embeddings, enc.LayerNorm)
             for t in m.parameters())
    op = DisentangledAttention(d, p=p, h=h)
    assert OPS["dsa"].params(d, p=p, h=h) == sum(t.numel() for t in op.parameters()) == hf
    spec = LayerSpec.parse(f"dsa(p={p},h={h})", d)
    assert sublayer_params(spec, d) == count_params(build_layer(spec, d_model=d))


@pytest.mark.parametrize(("p", "n"), [(4, 40), (4, 530), (256, 16), (3, 100)])
def test_flops_count_only_the_table_rows_used(p, n):
    """The FLOP formula against torch's counter where the used rows are clamped (p=4, T=530), partial
    (T=40), or a small part of a large table (p=256, T=16)."""
    layer = build_layer(f"dsa(p={p},h=2)", d_model=16, position="none")
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        layer.op(torch.randn(1, n, 16))
    assert op_flops(LayerSpec.parse(f"dsa(p={p},h=2)", 16), n, 16) == counter.get_total_flops()


def test_attention_dropout_acts_in_training_only():
    op = DisentangledAttention(D, p=8, h=4, attn_dropout=0.5)
    x = torch.randn(B, T, D)
    op.eval()
    assert torch.equal(op(x), op(x))
    op.train()
    assert not torch.equal(op(x), op(x))


def test_registry_entry():
    op = OPS["dsa"]
    assert op.key_names == ("p", "h")
    assert op.reach(p=8, h=4) is None
    assert op.options == ("attn_dropout",)
    assert str(LayerSpec.parse("dsa", 64)) == "dsa(p=256,h=4)"
    assert str(LayerSpec.parse("dsa", 64, {"position_buckets": 32, "n_heads": 2})) == "dsa(p=32,h=2)"
    assert op.sizes(30, p=8, h=4) == "heads h=4 must divide d_model=30" and op.sizes(32, p=8, h=4) is None
    with pytest.raises(ValueError, match=r"^p=1 in 'dsa\(p=1\)' is not allowed; p must be an integer from 2 to 512"):
        LayerSpec.parse("dsa(p=1)", 64)
    with pytest.raises(ValueError, match=r"^p=513 in 'dsa\(p=513,h=4\)' is not allowed"):
        LayerSpec.parse("dsa(p=513,h=4)", 64)
    assert str(LayerSpec.parse(op.example, 32)) == "dsa(p=8,h=4)"
