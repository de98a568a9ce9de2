"""ALBERT's cross-layer sharing (Lan et al. 2020) as the grammar's ``^`` mark: parsing, ties, ``key()``,
parameter and FLOP counts, one module object per tie in the built encoder, equality with transformers'
``AlbertModel`` and the ``share`` option of search spaces."""

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from layernas.search_space import Architecture, LayerSpec, MaskedLM, ModelConfig, build_encoder
from layernas.search_space.cost import count_params, encoder_params, flops
from layernas.search_space.space import BASELINES, make_space
from layernas.trainer.apps.search import search as run_search

D = 32


def test_the_mark_round_trips_and_is_written_last():
    a = Architecture.parse("sa ffn(r=2) sa(h=4)^ ffn( r=2 )^", d_model=D)
    assert str(a) == "sa(h=4) ffn(r=2) sa(h=4)^ ffn(r=2)^"
    assert [s.shared for s in a] == [False, False, True, True]
    assert Architecture.parse(str(a), d_model=D) == a == Architecture.from_dict(a.to_dict())
    assert Architecture.parse([str(s) for s in a]) == Architecture.parse(list(a)) == Architecture.parse(str(a))
    assert a.to_dict()["layers"][2] == {"op": "sa", "h": 4, "shared": True}
    assert a.flat()["l02/shared"] is True and "l00/shared" not in a.flat()
    assert str(LayerSpec.make("ffn", D, shared=True)) == "ffn(r=4)^"


@pytest.mark.parametrize(("text", "ties"), [
    ("sa ffn sa^ ffn^ sa^ ffn^", (None, None, 0, 1, 0, 1)),  # ALBERT: one layer's weights at every depth
    ("sa ffn sa^ ffn", (None, None, 0, None)),  # attention shared, feed-forward not
    ("sa^ ffn", (None, None)),  # nothing earlier to tie to
    ("sa ffn(r=2)^ ffn(r=4)^ ffn(r=2)^", (None, None, None, 1)),  # only the same keys tie
    ("sa ffn sa^ ffn^ sa ffn sa^ ffn^", (None, None, 0, 1, None, None, 4, 5)),  # two groups of layers
    ("sa sa sa^", (None, None, 1)),  # the nearest earlier one
    ("sa(h=2) sa(h=4)^ sa(h=2)^", (None, None, 0)),
])
def test_ties_follow_the_nearest_earlier_sublayer_with_the_same_op_and_keys(text, ties):
    assert Architecture.parse(text, d_model=D).ties() == ties


def test_key_knows_which_sublayers_share():
    key = lambda text: Architecture.parse(text, d_model=D).key()  # noqa: E731
    assert key("sa ffn") == key("sa^ ffn") == key("sa ffn^")
    assert key("sa ffn sa ffn") != key("sa ffn sa^ ffn^") != key("sa ffn sa^ ffn")
    assert key("sa ffn sa^ ffn(r=2)^") == key("sa ffn sa^ ffn(r=2)")  # a mark that ties nothing is no change
    assert key("sa ffn sa^ ffn^") == key("sa ffn(r=4) sa(h=4)^ ffn^")


def test_tied_sublayers_are_one_module_and_their_parameters_count_once():
    arch = Architecture.parse(BASELINES["albert"](8), d_model=D)
    enc = build_encoder(arch, vocab_size=50, max_len=16)
    layers = enc.layers
    assert all(layers[i] is layers[i % 2] for i in range(8))
    plain = build_encoder(Architecture.parse(BASELINES["bert"](8), d_model=D), vocab_size=50, max_len=16)
    assert count_params(enc) == encoder_params(arch, 50, 16) < count_params(plain)
    assert count_params(plain) - count_params(enc) == 3 * (count_params(layers[0]) + count_params(layers[1]))
    assert encoder_params(arch, 50, 16) + 32 * 32 + 32 + 2 * 32 + 50 == count_params(MaskedLM(enc))


def flop_count(module, *inputs) -> int:
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        module(*inputs)
    return counter.get_total_flops()


def test_flops_count_every_use_of_a_tied_sublayer():
    shared, plain = (Architecture.parse(BASELINES[n](6), d_model=D) for n in ("albert", "bert"))
    assert flops(shared, 16) == flops(plain, 16)
    ids = torch.randint(0, 50, (1, 16))
    enc = build_encoder(shared, vocab_size=50, max_len=16, position="none")
    assert flop_count(enc, ids) == flops(shared, 16)


def test_a_shared_stack_equals_the_same_stack_with_copied_weights_and_sums_its_gradients():
    torch.manual_seed(0)
    shared = build_encoder("sa ffn sa^ ffn^ sa^ ffn^", vocab_size=50, max_len=16, d_model=D, dropout=0.0).double()
    plain = build_encoder("sa ffn sa ffn sa ffn", vocab_size=50, max_len=16, d_model=D, dropout=0.0).double()
    state = shared.state_dict()  # every layers.i entry, the tied ones holding the same tensors
    plain.load_state_dict(state)
    ids, mask = torch.randint(0, 50, (2, 16)), torch.ones(2, 16, dtype=torch.bool)
    mask[1, 9:] = False
    torch.testing.assert_close(shared(ids, mask), plain(ids, mask), atol=1e-12, rtol=0)
    shared(ids, mask)[mask].sum().backward()
    plain(ids, mask)[mask].sum().backward()
    w = lambda enc, i: enc.layers[i].op.qkv.weight.grad  # noqa: E731
    torch.testing.assert_close(w(shared, 0), w(plain, 0) + w(plain, 2) + w(plain, 4), atol=1e-10, rtol=0)


def test_shared_weights_save_and_load_with_safetensors(tmp_path):
    """The retrained weights are written with ``safetensors.torch.save_model``, which keeps one copy of a
    tied tensor and restores the tie."""
    from safetensors.torch import load_model, save_model

    torch.manual_seed(0)
    model = MaskedLM(build_encoder("sa ffn sa^ ffn^", vocab_size=50, max_len=16, d_model=D))
    save_model(model, str(tmp_path / "w.safetensors"))
    torch.manual_seed(1)
    again = MaskedLM(build_encoder("sa ffn sa^ ffn^", vocab_size=50, max_len=16, d_model=D))
    load_model(again, str(tmp_path / "w.safetensors"))
    assert again.encoder.layers[2] is again.encoder.layers[0]
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


# ---- against transformers' ALBERT --------------------------------------------------------------------------

def albert(layers: int, groups: int, d: int = D, inner: int = 4 * D):
    from transformers import AlbertConfig, AlbertModel

    config = AlbertConfig(vocab_size=50, embedding_size=16, hidden_size=d, num_hidden_layers=layers,
                          num_hidden_groups=groups, inner_group_num=1, num_attention_heads=4, intermediate_size=inner,
                          hidden_act="gelu", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                          max_position_embeddings=32, attn_implementation="eager")
    torch.manual_seed(0)
    model = AlbertModel(config, add_pooling_layer=False).double().eval()
    with torch.no_grad():  # non-trivial LayerNorm affines and biases, so a missing one would show
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name or name.endswith("bias"):
                p.copy_(torch.randn_like(p) * 0.1 + (1.0 if name.endswith("weight") else 0.0))
    return model


@torch.no_grad()
def copy_albert_layer(hf_layer, attention, ffn) -> None:
    """One HF ``AlbertLayer`` into our ``sa`` and ``ffn`` sublayers: q, k, v stacked into the fused input
    projection; each sublayer's LayerNorm is the one ALBERT applies after that residual."""
    att = hf_layer.attention
    attention.op.qkv.weight.copy_(torch.cat([att.query.weight, att.key.weight, att.value.weight]))
    attention.op.qkv.bias.copy_(torch.cat([att.query.bias, att.key.bias, att.value.bias]))
    for ours, theirs in [(attention.op.out, att.dense), (attention.norm, att.LayerNorm), (ffn.op.up, hf_layer.ffn),
                         (ffn.op.down, hf_layer.ffn_output), (ffn.norm, hf_layer.full_layer_layer_norm)]:
        ours.weight.copy_(theirs.weight)
        ours.bias.copy_(theirs.bias)


def post_norm(layers, h, mask):
    """Our sublayers' modules in ALBERT's order: LayerNorm(h + op(h)) (post-LN) instead of our pre-LN
    h + op(LayerNorm(h)); the order of a layer's computations is ALBERT's, the weights and which module
    runs at which depth are what the encoder built."""
    for sub in layers:
        h = sub.norm(h + sub.op(h, mask))
    return h


@pytest.mark.parametrize(("layers", "groups"), [(1, 1), (3, 1), (4, 1), (4, 2), (6, 3)])
@torch.no_grad()
def test_shared_stack_equals_hf_albert(layers, groups):
    """ALBERT with L layers in G groups (each group's weights applied at L/G consecutive depths) is
    ``(sa ffn (sa^ ffn^)*(L/G-1))*G``; weights copied into the first sublayer pair of each group only."""
    hf = albert(layers, groups)
    per_group = layers // groups
    arch = " ".join(["sa ffn" + " sa^ ffn^" * (per_group - 1)] * groups)
    enc = build_encoder(arch, vocab_size=50, max_len=32, d_model=D, position="none", dropout=0.0,
                        norm_eps=hf.config.layer_norm_eps).double().eval()
    for g in range(groups):
        first = 2 * g * per_group
        copy_albert_layer(hf.encoder.albert_layer_groups[g].albert_layers[0], enc.layers[first], enc.layers[first + 1])
    assert count_params(enc.layers) == count_params(hf.encoder.albert_layer_groups)

    embedded = {}
    hf.embeddings.register_forward_hook(lambda _m, _i, out: embedded.setdefault("x", out))
    ids = torch.randint(0, 50, (3, 19))
    mask = torch.ones(3, 19, dtype=torch.long)
    mask[1, 11:] = 0
    mask[2, 1:] = 0
    expected = hf(input_ids=ids, attention_mask=mask).last_hidden_state
    h = hf.encoder.embedding_hidden_mapping_in(embedded["x"])  # ALBERT's factorised embedding, not a layer
    ours = post_norm(enc.layers, h, mask.bool())
    real = mask.bool()
    torch.testing.assert_close(ours[real], expected[real], atol=1e-10, rtol=0)


def test_albert_baseline():
    assert str(Architecture.parse(BASELINES["albert"](6))) == "sa(h=4) ffn(r=4) sa(h=4)^ ffn(r=4)^ sa(h=4)^ ffn(r=4)^"
    assert BASELINES["albert"](2) == []  # one layer: nothing to share


# ---- the space option ------------------------------------------------------------------------------------

MODEL = ModelConfig(d_model=64)


def space(structure="interleaved", ops=("sa", "mixed"), **extra):
    return make_space("s", structure, 8, list(ops), MODEL, baselines=["bert", "albert", "convbert"],
                      domains={"k": [3, 9]}, **extra)


@pytest.mark.parametrize("structure", ["interleaved", "free"])
@pytest.mark.parametrize("sampler", ["tpe", "random", "gp"])
def test_share_samples_round_trip_and_ask_one_choice_per_slot_after_the_first(structure, sampler):
    from tests.helpers import conf_sampler

    sp = space(structure, share=True)
    study = optuna.create_study(sampler=conf_sampler(sampler))
    shared = set()
    for _ in range(12):
        trial = study.ask()
        arch = sp.sample(trial)
        assert {f"l{i:02d}.share" for i in range(1, 8)} <= set(trial.params) and "l00.share" not in trial.params
        assert sp.encode(arch) == trial.params and Architecture.parse(str(arch), d_model=64) == arch
        shared |= {s.shared for s in arch}
        study.tell(trial, 1.0)
    assert shared == {False, True}


def test_baselines_of_a_sharing_space_come_back():
    sp = space(share=True)
    assert set(sp.baseline_archs()) == {"bert", "albert", "convbert"}
    assert set(space().baseline_archs()) == {"bert", "convbert"}  # without share, albert cannot be expressed
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    for arch in sp.baseline_archs().values():
        study.enqueue_trial(sp.encode(arch))
    for arch in sp.baseline_archs().values():
        trial = study.ask()
        assert sp.sample(trial) == arch
        study.tell(trial, 1.0)


def test_smallest_is_a_lower_bound_when_sublayers_may_share():
    sp = space(share=True)
    low = sp.smallest()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        cost = sp.cost(sp.sample(study.ask()))
        assert cost["params"] >= low["params"] and cost["flops"] >= low["flops"]
    assert low["params"] < space().smallest()["params"]


def test_share_is_refused_with_the_sandwich_structure():
    with pytest.raises(ValueError, match=r"^space.share=true is not allowed with structure=sandwich; allowed: free, "
                                         r"interleaved$"):
        make_space("s", "sandwich", 8, ["sa", "ffn"], MODEL, share=True)


def test_a_tiny_albert_search_trains_its_baselines(search_cfg):
    study = run_search(search_cfg("space=albert", "model.n_sublayers=4", "study.n_trials=3", "sampler=random"))
    assert [t.user_attrs.get("baseline") for t in study.trials[:2]] == ["bert", "albert"]
    assert study.trials[1].user_attrs["arch"] == "sa(h=4) ffn(r=4) sa(h=4)^ ffn(r=4)^"
    assert study.trials[1].user_attrs["params"] < study.trials[0].user_attrs["params"]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


@pytest.mark.slow
def test_smoke_search_from_the_command_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "layernas.trainer.cli", "search", "space=albert", "experiment=smoke",
                          f"results_dir={tmp_path}", "logger=none"], capture_output=True, text=True, timeout=600,
                         env=dict(os.environ), cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert "[  3/3]" in out.stdout and (tmp_path / "smoke" / "report.md").exists()
