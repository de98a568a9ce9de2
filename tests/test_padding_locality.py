"""Properties every op must have, parametrized over the whole registry."""

import pytest
import torch

from layernas.search_space import OPS, LayerSpec, build_layer
from tests.helpers import op_example

D = 32
ALL_OPS = sorted(OPS)
POSITIONS = ["rotary", "none"]


def layer_for(op: str, position: str = "rotary", dtype=torch.float64):
    torch.manual_seed(0)
    return build_layer(op_example(op, D), d_model=D, n_heads=4, position=position, dropout=0.0).to(dtype).eval()


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("op", ALL_OPS)
@torch.no_grad()
def test_padded_content_never_reaches_real_positions(op, position):
    layer = layer_for(op, position)
    B, T = 3, 21
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[0, 16:] = False  # ragged tail
    mask[1, 5:] = False  # most of the sequence is padding
    mask[2, 1:] = False  # a single real token
    x = torch.randn(B, T, D, dtype=torch.float64)
    x2 = torch.where(mask.unsqueeze(-1), x, 1e3 * torch.randn_like(x))
    y, y2 = layer(x, mask), layer(x2, mask)
    assert (y[mask] - y2[mask]).abs().max().item() == 0.0


@pytest.mark.parametrize("op", ALL_OPS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@torch.no_grad()
def test_no_nan_when_a_block_or_almost_everything_is_padding(op, dtype):
    layer = layer_for(op, dtype=dtype)
    B, T = 4, 16
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[0, 12:] = False  # the last of 4 blocks is all padding
    mask[1, 1:] = False  # all but the first token
    mask[2, :-1] = False  # all but the last token (left padding)
    mask[3, :] = False  # nothing real at all
    y = layer(torch.randn(B, T, D, dtype=dtype), mask)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("op", ALL_OPS)
def test_gradients_are_finite_with_padding(op):
    layer = layer_for(op, dtype=torch.float32).train()
    mask = torch.ones(2, 16, dtype=torch.bool)
    mask[0, 4:] = False
    x = torch.randn(2, 16, D, requires_grad=True)
    layer(x, mask)[mask].pow(2).mean().backward()
    grads = [x.grad] + [p.grad for p in layer.parameters() if p.grad is not None]
    assert all(torch.isfinite(g).all() for g in grads)


def _keys(op: str, k: int) -> dict:
    """Span k, every other key at its registry example (a value that fits D)."""
    return {key.name: k if key.name == "k" else key.example for key in OPS[op].keys}


LOCAL_OPS = [op for op in ALL_OPS if OPS[op].reach(**_keys(op, 3)) is not None]
LOCAL = [(op, k) for op in LOCAL_OPS for k in ((1, 3, 7) if "k" in OPS[op].key_names else (1,))]


@pytest.mark.parametrize(("op", "k"), LOCAL, ids=[f"{op}-k{k}" for op, k in LOCAL])
@torch.no_grad()
def test_output_depends_only_on_the_span(op, k):
    spec = LayerSpec.make(op, D, **_keys(op, k))
    reach = OPS[op].reach(**spec.kwargs)
    torch.manual_seed(0)
    layer = build_layer(spec, d_model=D, position="none").double().eval()
    T, s = 25, 12
    x = torch.randn(1, T, D, dtype=torch.float64)
    x2 = x.clone()
    x2[0, s] += torch.randn(D, dtype=torch.float64)
    changed = (layer(x) - layer(x2)).abs().amax(dim=-1)[0] > 0  # (T,)
    inside = (torch.arange(T) - s).abs() <= reach
    assert not changed[~inside].any()
    assert changed[s]


def test_every_convolution_op_declares_its_reach():
    assert set(LOCAL_OPS) == {"sdconv", "lconv", "dconv", "lvconv", "gconv", "ffn"}


@pytest.mark.parametrize("op", ALL_OPS)
@torch.no_grad()
def test_padding_of_a_sentence_pair_never_reaches_real_positions(op):
    """Sentence pairs as the classifier gets them (``[CLS] a [SEP] b [SEP]``, segment embeddings, padded to the
    batch's longest): other ids and other segment ids at the padded positions change no real position's output."""
    from layernas.search_space import ModelConfig, build_encoder
    from layernas.trainer.data.batches import PaddedBatches
    from layernas.trainer.data.tokens import Examples

    torch.manual_seed(0)
    config = ModelConfig(d_model=D, n_heads=4, position="rotary", dropout=0.0, segments=True)
    encoder = build_encoder(f"{op_example(op, D)} ffn", 60, 32, config).double().eval()
    lengths, firsts = [19, 9, 4], [7, 5, 3]  # [CLS] a [SEP] | b [SEP]
    ids = torch.randint(5, 60, (sum(lengths),))
    offsets = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()])
    batch = PaddedBatches(Examples(ids, offsets, torch.zeros(3, dtype=torch.long), torch.tensor(firsts)))\
        .__getitems__([0, 1, 2])
    mask, types = batch["attention_mask"], batch["token_type_ids"]
    assert types[1].tolist() == [0] * 5 + [1] * 4 + [0] * 10
    other_ids = torch.where(mask, batch["input_ids"], torch.randint(5, 60, mask.shape))
    other_types = torch.where(mask, types, 1 - types)
    y = encoder(batch["input_ids"], mask, types)
    y2 = encoder(other_ids, mask, other_types)
    assert (y[mask] - y2[mask]).abs().max().item() == 0.0
