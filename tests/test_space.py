import optuna
import pytest

from layernas.search_space import OPS, Architecture, ModelConfig
from layernas.search_space.space import BASELINES, make_space
from tests.helpers import conf_options, conf_sampler

optuna.logging.set_verbosity(optuna.logging.WARNING)
MODEL = ModelConfig(d_model=64)
ALL = sorted(OPS)
SPACES = {
    "free": dict(structure="free", ops=ALL, domains={"k": [3, 5, 9], "b": [2, 4], "r": [2, 4]}),
    "interleaved": dict(structure="interleaved", ops=["sa", "mixed", "sdconv"], domains={"k": [5, 9]}),
    "sandwich": dict(structure="sandwich", ops=["sa", "ffn"]),
}


def space(kind, **extra):
    cfg = {**SPACES[kind], **extra}
    return make_space(kind, cfg.pop("structure"), 8, cfg.pop("ops"), MODEL,
                      baselines=["bert", "convbert", "sandwich", "all_ffn"], **cfg)


@pytest.mark.parametrize("sampler", conf_options("sampler"))
@pytest.mark.parametrize("kind", SPACES)
def test_samples_are_valid_and_round_trip_through_their_params(kind, sampler):
    sp = space(kind)
    study = optuna.create_study(sampler=conf_sampler(sampler), directions=["minimize"])

    def objective(trial):
        arch = sp.sample(trial)
        assert len(arch) == 8 and arch.d_model == 64
        assert Architecture.parse(str(arch), d_model=64) == arch
        assert sp.encode(arch) == trial.params
        return float(trial.number % 5)

    study.optimize(objective, n_trials=12)
    if len(study.trials) < 12:  # only a sampler that stops once every candidate was tried once may stop early
        assert isinstance(study.sampler, optuna.samplers.BruteForceSampler), f"{sampler} stopped early"
        tried = {tuple(sorted(t.params.items())) for t in study.trials}
        assert len(tried) == len(study.trials)


@pytest.mark.parametrize("kind", SPACES)
def test_enqueued_baselines_are_sampled_back(kind):
    sp = space(kind)
    baselines = sp.baseline_archs()
    assert "bert" in baselines
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    for arch in baselines.values():
        study.enqueue_trial(sp.encode(arch))
    for arch in baselines.values():
        trial = study.ask()
        assert sp.sample(trial) == arch
        study.tell(trial, 1.0)


def test_baselines_outside_a_space_are_left_out():
    assert set(space("interleaved").baseline_archs()) == {"bert", "convbert"}
    assert set(space("sandwich").baseline_archs()) == {"bert", "sandwich"}
    assert set(space("free").baseline_archs()) == {"bert", "convbert", "sandwich", "all_ffn"}
    assert str(Architecture.parse(BASELINES["sandwich"](8))) == \
        "sa(h=4) sa(h=4) sa(h=4) ffn(r=4) sa(h=4) ffn(r=4) ffn(r=4) ffn(r=4)"


def test_structure_is_respected():
    sp = space("interleaved")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(10):
        arch = sp.sample(study.ask())
        assert [s.op for s in arch][1::2] == ["ffn"] * 4
        assert {s.op for s in arch[0::2]} <= {"sa", "mixed", "sdconv"}


def test_smallest_is_a_lower_bound_and_reached():
    sp = space("free")
    low = sp.smallest()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        cost = sp.cost(sp.sample(study.ask()))
        assert cost["params"] >= low["params"] and cost["flops"] >= low["flops"]
    # the lightest sublayer here is lconv with the smallest span, so the bound is reached exactly:
    assert low["params"] == sp.cost(Architecture.parse(["lconv(k=3)"] * 8, d_model=64))["params"]


def test_constraints_reject_and_infeasible_spaces_are_refused():
    base = space("free").baseline_archs()
    small, big = sorted((space("free").cost(base[n])["params"], n) for n in ("all_ffn", "convbert"))
    sp = space("free", max_params=small[0])
    assert sp.violation(base[small[1]]) is None
    assert sp.violation(base[big[1]]) == f"params {big[0]:,} > max_params {small[0]:,}"
    with pytest.raises(ValueError, match=r"space=free has no candidate with max_params=1,000: the smallest has"):
        space("free", max_params=1000).check_feasible()


@pytest.mark.parametrize(("change", "match"), [
    (dict(structure="spiral"), "space.structure='spiral' is not allowed; allowed: free, interleaved, sandwich"),
    (dict(ops=["sa", "conv"]), "unknown op 'conv'"),
    (dict(domains={"q": [1]}), "space.domains has unknown key 'q'"),
    (dict(domains={"k": []}), "space.domains.k is empty"),
])
def test_bad_space_configs(change, match):
    cfg = {**SPACES["free"], **change}
    with pytest.raises(ValueError, match=match):
        make_space("x", cfg.pop("structure"), 8, cfg.pop("ops"), MODEL, **cfg)


def test_unknown_baseline_is_named():
    with pytest.raises(ValueError, match="unknown baseline 'gpt'"):
        make_space("x", "free", 8, ["sa", "ffn"], MODEL, baselines=["gpt"])
