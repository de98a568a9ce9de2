"""Zero-cost proxies: finite, deterministic, side-effect free for every op, and right where checkable."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from layernas.search_space import OPS, MaskedLM, build_encoder
from layernas.search_space.cost import encoder_params, mlm_head_params
from layernas.search_space.zero_cost import ZERO_COST, mlm_loss, score_all
from tests.helpers import op_example

VOCAB, SEQ, BATCH, D = 100, 16, 4, 32
MASK_ID = 1


def make_batch(padded: bool = True, seed: int = 0) -> dict:
    """(4, 16) tokens, one row padded at its end, every 7th position (~15%) masked and labelled."""
    ids = torch.randint(5, VOCAB, (BATCH, SEQ), generator=torch.Generator().manual_seed(seed))
    mask = torch.ones_like(ids)
    if padded:
        mask[-1, SEQ - 4:] = 0
    chosen = (torch.arange(BATCH * SEQ) % 7 == 3).view(BATCH, SEQ) & mask.bool()
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    return {"input_ids": ids.masked_fill(chosen, MASK_ID), "attention_mask": mask, "labels": labels}


def make_model(arch: str, **settings) -> MaskedLM:
    torch.manual_seed(0)
    return MaskedLM(build_encoder(arch, VOCAB, SEQ, d_model=D, **settings))


def snapshot(model: MaskedLM) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


ARCHS = {op: f"{op_example(op, D)} ffn" for op in sorted(OPS)}
CASES = [(op, name) for op in sorted(OPS) for name in ZERO_COST]


@pytest.fixture(scope="module")
def batch() -> dict:
    return make_batch()


@pytest.mark.parametrize("op,name", CASES)
def test_score_is_a_finite_float(op, name, batch):
    score = score_all(make_model(ARCHS[op]), batch, names=[name])[name]
    assert isinstance(score, float) and math.isfinite(score)


@pytest.mark.parametrize("op,name", CASES)
def test_score_is_deterministic_given_the_seed(op, name, batch):
    model = make_model(ARCHS[op])
    first = score_all(model, batch, names=[name])[name]
    again = score_all(model, batch, names=[name])[name]
    fresh = score_all(make_model(ARCHS[op]), batch, names=[name])[name]
    assert again == pytest.approx(first, rel=1e-9, abs=0) and fresh == pytest.approx(first, rel=1e-9, abs=0)


@pytest.mark.parametrize("op,name", CASES)
def test_scoring_leaves_the_model_unchanged(op, name, batch):
    model = make_model(ARCHS[op], dropout=0.1)
    model.train()
    model.encoder.layers[0].eval()  # a mixed state must come back as it was
    modes = [m.training for m in model.modules()]
    before = snapshot(model)
    score_all(model, batch, names=[name])
    assert [m.training for m in model.modules()] == modes
    after = snapshot(model)
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)
    assert all(p.grad is None for p in model.parameters())
    model.eval()
    ZERO_COST[name](model, batch)  # called directly, the proxy itself changes nothing either
    after = snapshot(model)
    assert all(torch.equal(after[k], before[k]) for k in before) and all(p.grad is None for p in model.parameters())


def test_the_registry_is_ordered_cheap_to_expensive_and_names_are_checked(batch):
    assert list(ZERO_COST) == ["params", "nonembedding", "flops", "grad_norm", "synflow", "naswot"]
    model = make_model("sa ffn")
    assert list(score_all(model, batch)) == list(ZERO_COST)
    assert list(score_all(model, batch, names=["naswot", "params"])) == ["naswot", "params"]
    with pytest.raises(ValueError, match="unknown zero-cost proxy 'snip'"):
        score_all(model, batch, names=["snip"])


def test_scoring_keeps_the_callers_random_state_and_existing_grads(batch):
    model = make_model("sa ffn")
    mlm_loss(model, batch).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    score_all(model, batch, seed=7)
    assert torch.equal(torch.rand(3), expected)
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads, strict=True))


def test_params_counts_every_distinct_parameter_and_grows_with_depth(batch):
    small, deep = make_model("sa ffn"), make_model("sa ffn sa ffn")
    for arch, model in (("sa ffn", small), ("sa ffn sa ffn", deep)):
        count = score_all(model, batch, names=["params"])["params"]
        assert count == sum(p.numel() for p in model.parameters())
        assert count == encoder_params(arch, VOCAB, SEQ, d_model=D) + mlm_head_params(D, VOCAB)
    assert score_all(deep, batch)["params"] > score_all(small, batch)["params"]


@pytest.mark.parametrize("position", ["rotary", "learned"])
def test_nonembedding_drops_the_token_and_position_tables_once(position, batch):
    model = make_model("sa ffn", position=position)
    scores = score_all(model, batch, names=["params", "nonembedding"])
    tables = VOCAB * D + (SEQ * D if position == "learned" else 0)
    assert scores["nonembedding"] < scores["params"]
    assert scores["nonembedding"] == scores["params"] - tables


def test_flops_is_the_analytic_count_and_grows_with_length():
    from layernas.search_space.cost import flops

    model = make_model("sa ffn")
    short, long = make_batch(), {**make_batch(), "input_ids": torch.ones(2, 2 * SEQ, dtype=torch.long)}
    assert ZERO_COST["flops"](model, short) == flops("sa ffn", SEQ, d_model=D)
    model.encoder.max_len = 2 * SEQ
    assert ZERO_COST["flops"](model, long) > ZERO_COST["flops"](model, short)


def test_grad_norm_matches_a_hand_computed_gradient(batch):
    model = make_model("ffn(r=1)")
    score = score_all(model, batch, names=["grad_norm"])["grad_norm"]
    model.eval()
    positions = batch["labels"] != -100
    logits = model(batch["input_ids"], batch["attention_mask"], positions=positions)
    target = batch["labels"][positions]
    loss = -F.log_softmax(logits, dim=-1).gather(1, target[:, None]).mean()
    loss.backward()
    by_hand = math.sqrt(sum(float(p.grad.double().pow(2).sum()) for p in model.parameters()))
    assert score == pytest.approx(by_hand, rel=1e-6) and score > 0


def test_synflow_and_naswot_tell_architectures_apart(batch):
    a = score_all(make_model("sa ffn"), batch, names=["synflow", "naswot"])
    b = score_all(make_model("lconv(k=5,h=4) ffn ffn"), batch, names=["synflow", "naswot"])
    assert a["synflow"] != pytest.approx(b["synflow"], rel=1e-6)
    assert a["naswot"] != pytest.approx(b["naswot"], rel=1e-6)
    # deeper all-positive networks carry more synaptic flow
    assert score_all(make_model("sa ffn sa ffn"), batch, names=["synflow"])["synflow"] > a["synflow"]


def test_naswot_without_ffn_and_with_identical_tokens_stays_finite():
    no_ffn = make_model("sa lconv(k=3,h=4)")
    batch = make_batch()
    assert math.isfinite(score_all(no_ffn, batch, names=["naswot"])["naswot"])
    same = {**batch, "input_ids": torch.full_like(batch["input_ids"], 7)}  # every code equal: K is singular
    degenerate = score_all(make_model("ffn"), same, names=["naswot"])["naswot"]
    assert math.isfinite(degenerate)
    assert degenerate < score_all(make_model("ffn"), batch, names=["naswot"])["naswot"]


def test_a_batch_without_an_attention_mask_key_is_scored():
    batch = make_batch(padded=False)
    del batch["attention_mask"]  # the masked-LM data module's packed rows carry none
    scores = score_all(make_model("sdconv(k=3,h=4) ffn"), batch)
    assert list(scores) == list(ZERO_COST) and all(math.isfinite(v) for v in scores.values())
