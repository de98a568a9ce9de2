"""``ffn``'s keys beyond the ratio: EfficientBERT's activation ``a`` and depth ``n`` (Dong et al. 2021) and
GroupBERT's groups ``g``; a key that takes names; the ``efficientbert`` space. Every string written before
these keys existed keeps its text, its dict and flat views and its ``key()``."""

import math
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import torch

from layernas.search_space import OPS, Architecture, LayerSpec, ModelConfig, build_layer
from layernas.search_space.cost import count_params, sublayer_params
from layernas.search_space.ops.feedforward import FeedForward
from layernas.search_space.space import make_space
from layernas.trainer.apps.search import search as run_search

D = 32

# Computed with the code before ffn had more keys than r (the tree's previous commit): text, key(), to_dict()
BEFORE = [
    ("ffn", None, "ffn(r=4)", "03ff0059e7f8", {"layers": [{"op": "ffn", "r": 4}]}),
    ("sa ffn", 64, "sa(h=4) ffn(r=4)", "43f3b8f303d4",
     {"layers": [{"op": "sa", "h": 4}, {"op": "ffn", "r": 4}], "d_model": 64}),
    ("ffn(r=2) ffn(r=1)", 32, "ffn(r=2) ffn(r=1)", "ef82a9e4a008",
     {"layers": [{"op": "ffn", "r": 2}, {"op": "ffn", "r": 1}], "d_model": 32}),
    ("dconv(k=3) ffn(r=4) lvconv(k=5) ffn(r=3)", None, "dconv(k=3,h=4) ffn(r=4) lvconv(k=5,h=4) ffn(r=3)",
     "c43b2e9e1557", {"layers": [{"op": "dconv", "k": 3, "h": 4}, {"op": "ffn", "r": 4},
                                 {"op": "lvconv", "k": 5, "h": 4}, {"op": "ffn", "r": 3}]}),
]


@pytest.mark.parametrize(("text", "d_model", "canonical", "key", "as_dict"), BEFORE, ids=[b[0] for b in BEFORE])
def test_strings_from_before_keep_their_text_views_and_key(text, d_model, canonical, key, as_dict):
    a = Architecture.parse(text, d_model=d_model)
    assert str(a) == canonical and a.key() == key and a.to_dict() == as_dict
    assert Architecture.parse(canonical, d_model=d_model) == a == Architecture.from_dict(as_dict)
    assert all(k.split("/")[1] in ("op", "r", "h", "k") for k in a.flat())


def test_the_defaults_are_the_original_ffn():
    """g=1, n=1, a=gelu: Linear(D, rD) -> exact GELU -> Linear(rD, D), the same modules and parameters."""
    spec = LayerSpec.parse("ffn(r=3,g=1,n=1,a=gelu)", D)
    assert spec == LayerSpec.parse("ffn(r=3)", D) and str(spec) == "ffn(r=3)"
    assert spec.kwargs == {"r": 3, "g": 1, "n": 1, "a": "gelu"} and spec["a"] == "gelu"
    torch.manual_seed(0)
    op = FeedForward(D, 3).double()
    assert {k: tuple(v.shape) for k, v in op.state_dict().items()} == {
        "up.weight": (3 * D, D), "up.bias": (3 * D,), "down.weight": (D, 3 * D), "down.bias": (D,)}
    assert OPS["ffn"].params(D, r=3) == 2 * 3 * D * D + 3 * D + D == count_params(op)
    assert OPS["ffn"].flops(16, D, r=3) == 4 * 3 * 16 * D * D
    x = torch.randn(2, 7, D, dtype=torch.float64)
    h = x @ op.up.weight.T + op.up.bias
    expected = (0.5 * h * (1 + torch.erf(h / math.sqrt(2)))) @ op.down.weight.T + op.down.bias
    torch.testing.assert_close(op(x), expected, atol=1e-12, rtol=0)


# EfficientBERT's operators (utils/operator_utils.py): relu is F.relu, swish x * sigmoid(x), gelu the erf form
REFERENCE_ACTIVATIONS = {
    "gelu": lambda t: 0.5 * t * (1 + torch.erf(t / math.sqrt(2))),
    "relu": lambda t: torch.where(t > 0, t, torch.zeros_like(t)),
    "swish": lambda t: t * torch.sigmoid(t),
}


def reference(op: FeedForward, x: torch.Tensor, a: str, g: int) -> torch.Tensor:
    """The stacked dense layers written out; the grouped output matmul as g products of contiguous groups."""
    act = REFERENCE_ACTIVATIONS[a]
    h = act(x @ op.up.weight.T + op.up.bias)
    for layer in op.inner:
        h = act(h @ layer.weight.T + layer.bias)
    if g == 1:
        return h @ op.down.weight.T + op.down.bias
    w, size_in, size_out = op.down.weight[:, :, 0], h.shape[-1] // g, D // g
    y = torch.cat([h[..., i * size_in:(i + 1) * size_in] @ w[i * size_out:(i + 1) * size_out].T
                   for i in range(g)], dim=-1) + op.down.bias
    return y @ op.mix.weight.T + op.mix.bias


@pytest.mark.parametrize("a", ["gelu", "relu", "swish"])
@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("g", [1, 4])
@torch.no_grad()
def test_every_activation_depth_and_grouping_equals_its_formula(a, n, g):
    spec = LayerSpec.parse(f"ffn(r=2,g={g},n={n},a={a})", D)
    torch.manual_seed(0)
    layer = build_layer(spec, d_model=D, dropout=0.0).double().eval()
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn_like(p) / math.sqrt(p.shape[-1]))
    x = torch.randn(3, 9, D, dtype=torch.float64)
    torch.testing.assert_close(layer.op(x), reference(layer.op, x, a, g), atol=1e-10, rtol=0)
    assert len(layer.op.inner) == n - 1
    assert sublayer_params(spec, D) == count_params(layer)


def test_names_round_trip_and_key_order_does_not_matter():
    a = Architecture.parse("ffn( a = swish , n=2 ,r=1) ffn(a=relu)", d_model=D)
    assert str(a) == "ffn(r=1,n=2,a=swish) ffn(r=4,a=relu)"
    assert Architecture.parse(str(a), d_model=D) == a == Architecture.from_dict(a.to_dict())
    assert a.to_dict()["layers"][0] == {"op": "ffn", "r": 1, "n": 2, "a": "swish"}
    assert a.flat() == {"l00/op": "ffn", "l00/r": 1, "l00/n": 2, "l00/a": "swish", "l01/op": "ffn", "l01/r": 4,
                        "l01/a": "relu"}


def test_key_tells_the_new_keys_apart_and_ignores_their_defaults():
    plain = Architecture.parse("sa ffn", d_model=D).key()
    assert Architecture.parse("sa ffn(g=1,n=1,a=gelu)", d_model=D).key() == plain
    others = {Architecture.parse(f"sa ffn({k})", d_model=D).key() for k in ("a=relu", "a=swish", "n=2", "g=2")}
    assert len(others) == 4 and plain not in others


@pytest.mark.parametrize(("text", "bad", "allowed"), [
    ("ffn(a=tanh)", "a='tanh'", "a must be one of gelu, relu, swish"),
    ("ffn(a=1)", "a=1", "a must be one of gelu, relu, swish"),
    ("ffn(r=gelu)", "r='gelu'", "r must be an integer >= 1"),
    ("ffn(a=gelu-1)", "a='gelu-1'", "is not an integer"),
    ("ffn(n=3)", "n=3", "n must be 1 or 2 (hidden layers)"),
    ("ffn(n=0)", "n=0", "n must be 1 or 2"),
    ("ffn(a=)", "bad key=value 'a='", "key=integer"),
    ("ffn(depth=2)", "unknown key 'depth'", "keys allowed for ffn: r, g, n, a"),
])
def test_bad_ffn_keys_give_one_line_errors(text, bad, allowed):
    with pytest.raises(ValueError) as info:
        Architecture.parse(text, d_model=D)
    message = str(info.value)
    assert "\n" not in message and bad in message and allowed in message


CONF = Path(__file__).resolve().parents[1] / "conf" / "space" / "efficientbert.yaml"


def efficientbert_space(**extra):
    import yaml

    cfg = {**yaml.safe_load(CONF.read_text()), **extra}
    return make_space(cfg["name"], cfg["structure"], 8, cfg["ops"], ModelConfig(d_model=64),
                      domains=cfg["domains"], baselines=cfg["baselines"])


def test_efficientbert_space_searches_width_depth_and_activation():
    space = efficientbert_space()
    assert space.domains == {"r": (1, 2, 3, 4), "n": (1, 2), "a": ("gelu", "relu", "swish")}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    bert = space.baseline_archs()["bert"]
    study.enqueue_trial(space.encode(bert))
    trial = study.ask()
    assert space.sample(trial) == bert
    study.tell(trial, 1.0)
    seen = set()
    for _ in range(30):
        trial = study.ask()
        arch = space.sample(trial)
        assert space.encode(arch) == trial.params and Architecture.parse(str(arch), d_model=64) == arch
        assert isinstance(trial.distributions["l01.a"], optuna.distributions.CategoricalDistribution)
        assert isinstance(trial.distributions["l01.n"], optuna.distributions.IntDistribution)
        seen |= {(s["r"], s["n"], s["a"]) for s in arch if s.op == "ffn"}
        study.tell(trial, 1.0)
    assert {a for _, _, a in seen} == {"gelu", "relu", "swish"} and {n for _, n, _ in seen} == {1, 2}


def test_a_bad_domain_value_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"^space.domains.a has 'tanh'; allowed: one of gelu, relu, swish$"):
        efficientbert_space(domains={"a": ["gelu", "tanh"]})
    with pytest.raises(ValueError, match=r"^space.domains.n has 3; allowed: 1 or 2 \(hidden layers\)$"):
        efficientbert_space(domains={"n": [1, 3]})


def test_smallest_covers_the_cheapest_width_and_depth():
    space = efficientbert_space()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    low = space.smallest()
    assert low["params"] == space.cost(Architecture.parse(["sa", "ffn(r=1)"] * 4, d_model=64))["params"]
    for _ in range(20):
        assert space.cost(space.sample(study.ask()))["params"] >= low["params"]


def test_a_tiny_efficientbert_search_runs(search_cfg):
    study = run_search(search_cfg("space=efficientbert", "study.n_trials=3", "sampler=random"))
    assert [t.user_attrs.get("baseline") for t in study.trials[:1]] == ["bert"]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert all(Architecture.parse(t.user_attrs["arch"]) for t in study.trials)


@pytest.mark.slow
def test_smoke_search_from_the_command_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "layernas.trainer.cli", "search", "space=efficientbert",
                          "experiment=smoke", f"results_dir={tmp_path}", "logger=none"], capture_output=True,
                         text=True, timeout=600, env=dict(os.environ), cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert "[  3/3]" in out.stdout and (tmp_path / "smoke" / "report.md").exists()
