"""The weight-sharing supernet (``strategy=supernet``): every path equals the encoder ``build_encoder`` makes
of it with the path's weights copied in, for every op of the registry and every shared key; sharing is real
(a small setting's gradient reaches only its slice of the large module); paths are sampled uniformly, fairly
or by the sandwich rule; training lowers the loss, resumes bit for bit after SIGKILL, and a search scores
candidates deterministically, checks its best and a random sample stand-alone and reports the agreement."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from itertools import islice
from pathlib import Path

import optuna
import pytest
import torch
import yaml

from layernas.search_space import OPS, Architecture, LayerSpec, MaskedLM, ModelConfig, build_encoder
from layernas.search_space.space import make_space
from layernas.search_space.supernet import SHARING, PathSampler, SuperEncoder, SuperMaskedLM, panel
from layernas.search_space.supernet.sharing import rule
from layernas.trainer.search.plan import plan_search
from tests.conftest import TINY
from tests.helpers import DOMAINS, conf_options

ROOT = Path(__file__).resolve().parents[1]
D, VOCAB, MAX_LEN = 32, 60, 16
CONFIG = ModelConfig(d_model=D, n_heads=4, dropout=0.0)


def domain(op: str, key) -> list:
    """Up to three values of ``key`` that ``op`` accepts at d_model D (the others at their defaults)."""
    values = list(key.names[:2]) if key.names else DOMAINS.get(key.name) or [1, 2, 3, 4, 8]
    if key.name == "k":
        values = [v for v in values if v > 1]  # a span of 1 is a constant kernel: no gradient to share
    out = []
    for v in values:
        try:
            LayerSpec.make(op, D, CONFIG.key_defaults, **{key.name: v})
            out.append(v)
        except ValueError:
            continue
    return out[:3]


def op_space(op: str, n: int = 2, **kwargs):
    """A free space of ``n`` positions holding only ``op``, with several values of each of its keys."""
    domains = {k.name: v for k in OPS[op].keys if len(v := domain(op, k)) > 1}
    return make_space(op, "free", n, [op], CONFIG, domains=domains, vocab_size=VOCAB, seq_len=MAX_LEN, **kwargs)


def inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, VOCAB, (2, 12), generator=g)
    mask = torch.ones(2, 12, dtype=torch.bool)
    mask[1, 8:] = False  # padding: every op must ignore it the same way in both networks
    return ids, mask


@pytest.mark.parametrize("op", sorted(OPS))
def test_every_path_equals_the_built_encoder_with_its_weights(op):
    """For each setting of the op, the supernet path (float64) equals MaskedLM(build_encoder(arch)) after the
    path's weights are copied in with strict names; each key with a rule shares one module."""
    torch.manual_seed(0)
    space = op_space(op)
    settings = space.settings(op)
    supernet = SuperMaskedLM(SuperEncoder.from_space(space, VOCAB, MAX_LEN)).double().eval()
    ids, mask = inputs()
    for i, spec in enumerate(settings):
        arch = Architecture((spec, settings[(i + 1) % len(settings)]), D)  # each position on its own
        built = MaskedLM(build_encoder(arch, VOCAB, MAX_LEN, CONFIG)).double().eval()
        built.load_state_dict(supernet.path_state(arch), strict=True)
        with torch.no_grad():
            want, got = built(ids, mask), supernet(ids, mask, arch)
        assert torch.allclose(got, want, rtol=0, atol=1e-10), (op, str(arch), (got - want).abs().max())
    groups = supernet.encoder.slots[0]
    for key in OPS[op].key_names:
        values = {s.kwargs[key] for s in settings}
        if rule(op, key) is not None and len(values) > 1:  # its values live in one module, not one each
            sharing = [c for c in groups.values() if len({m.kwargs[key] for m in c.group.members}) > 1]
            assert sharing, f"{op}.{key} has a sharing rule but its values got separate modules"


@pytest.mark.parametrize("name", conf_options("space"))
def test_every_configured_space_gives_a_supernet_whose_paths_are_its_candidates(search_cfg, name):
    """Each conf/space option (any structure, ties, domains): the baselines and random candidates the space
    samples run in its supernet exactly as the encoders built from them."""
    cfg = search_cfg(f"space={name}", "model.n_sublayers=4")
    space = plan_search(cfg).space
    supernet = SuperMaskedLM(SuperEncoder.from_space(space, VOCAB, MAX_LEN)).double().eval()
    sampler = PathSampler(space, seed=0)
    archs = [*space.baseline_archs().values(), *(sampler.draw() for _ in range(4))]
    ids, mask = inputs()
    config = ModelConfig.from_dict(cfg["model"])
    for arch in archs:
        built = MaskedLM(build_encoder(arch, VOCAB, MAX_LEN, config)).double().eval()
        built.load_state_dict(supernet.path_state(arch), strict=True)
        with torch.no_grad():
            assert torch.allclose(supernet(ids, mask, arch), built(ids, mask), rtol=0, atol=1e-10), (name, str(arch))


def test_every_registered_rule_names_an_op_and_key_of_the_registry():
    for op, rules in SHARING.items():
        assert op in OPS, op
        assert set(rules) <= set(OPS[op].key_names), (op, set(rules) - set(OPS[op].key_names))


def sliced_keys() -> list[tuple[str, str]]:
    """(op, key) of every rule that cuts weights, where the test domain gives the key several values."""
    return sorted((op, k) for op, rules in SHARING.items() for k, r in rules.items()
                  if r.slice is not None and op in OPS and len({s.kwargs[k] for s in op_space(op, 1).settings(op)}) > 1)


@pytest.mark.parametrize(("op", "key"), sliced_keys())
def test_a_smaller_setting_trains_only_its_slice_of_the_shared_module(op, key):
    """The path of the smallest value of a sliced key sends gradient to part of a shared tensor and leaves
    the rest at zero: the weights are cut from one module, not copied."""
    space = op_space(op, n=1)
    values = sorted({s.kwargs[key] for s in space.settings(op)})
    encoder = SuperEncoder.from_space(space, VOCAB, MAX_LEN)
    top = {k: max(s.kwargs[k] for s in space.settings(op)) for k in OPS[op].key_names
           if all(isinstance(s.kwargs[k], int) for s in space.settings(op))}
    small = next((s for s in space.settings(op) if s.kwargs[key] == values[0]
                  and all(s.kwargs[k] == v for k, v in top.items() if k != key)),
                 next(s for s in space.settings(op) if s.kwargs[key] == values[0]))  # only this key smaller
    ids, mask = inputs()
    encoder(ids, mask, Architecture((small,), D)).pow(2).sum().backward()
    choice = encoder.path(Architecture((small,), D))[0][0]
    partial = [n for n, p in choice.op.named_parameters()
               if p.grad is not None and bool((p.grad != 0).any()) and bool((p.grad == 0).any())]
    assert partial, f"no shared tensor of {op} was used only in part by {small}"


def test_an_architecture_the_supernet_does_not_hold_is_one_line():
    space = make_space("t", "free", 2, ["sa", "ffn"], CONFIG, vocab_size=VOCAB, seq_len=MAX_LEN)
    encoder = SuperEncoder.from_space(space, VOCAB, MAX_LEN)
    with pytest.raises(ValueError, match=r"^lvconv\(k=9,h=4\) at sublayer 1 is not in the supernet; position 1 "
                                         r"holds: sa\(h=4\), ffn\(r=4\)$"):
        encoder.path(Architecture.parse("sa lvconv", D))
    with pytest.raises(ValueError, match="^the supernet has 2 positions; the architecture has 3 sublayers"):
        encoder.path(Architecture.parse("sa ffn sa", D))


def test_a_tied_sublayer_runs_the_earlier_choice_as_the_built_encoder_shares_it():
    space = make_space("t", "free", 4, ["sa", "ffn"], CONFIG, domains={"r": (2, 4)}, vocab_size=VOCAB,
                       seq_len=MAX_LEN)
    supernet = SuperMaskedLM(SuperEncoder.from_space(space, VOCAB, MAX_LEN)).double().eval()
    arch = Architecture.parse("sa ffn(r=2) sa^ ffn(r=2)^", D)
    built = MaskedLM(build_encoder(arch, VOCAB, MAX_LEN, CONFIG)).double().eval()
    built.load_state_dict(supernet.path_state(arch), strict=True)
    ids, mask = inputs()
    with torch.no_grad():
        assert torch.allclose(supernet(ids, mask, arch), built(ids, mask), rtol=0, atol=1e-10)
    assert supernet.encoder.path(arch)[2][0] is supernet.encoder.path(arch)[0][0]


def lvbert_space(n: int = 4):
    return make_space("lvbert", "free", n, ["sa", "ffn", "lvconv"], CONFIG, domains={"k": (3, 9)},
                      baselines=("bert",), vocab_size=VOCAB, seq_len=MAX_LEN)


def test_fairness_trains_every_op_of_a_position_equally_often_and_the_state_resumes_the_draws():
    space = lvbert_space()
    sampler = PathSampler(space, seed=3, fairness=True)
    counts = [Counter() for _ in range(space.n_sublayers)]
    for _ in range(30):  # ten cycles of three ops
        for i, spec in enumerate(sampler.next()[0]):
            counts[i][spec.op] += 1
    assert all(set(c.values()) == {10} for c in counts), counts
    state = sampler.state()
    ahead = [str(sampler.draw()) for _ in range(5)]
    again = PathSampler(space, seed=99, fairness=True)
    again.load_state(yaml.safe_load(yaml.safe_dump(state)))  # JSON/YAML-safe
    assert [str(again.draw()) for _ in range(5)] == ahead
    uniform = Counter(s.op for _ in range(300) for s in PathSampler(space, seed=1).next()[0])
    assert set(uniform) == {"sa", "ffn", "lvconv"}


def test_the_sandwich_rule_adds_the_largest_and_the_smallest_candidate():
    space = lvbert_space()
    paths = PathSampler(space, seed=0, sandwich=True).next()
    assert len(paths) == 3
    largest, smallest, _ = paths
    assert str(largest) == "ffn(r=4) ffn(r=4) ffn(r=4) ffn(r=4)" and str(smallest) == "sa(h=4) sa(h=4) sa(h=4) sa(h=4)"
    assert [str(a) for a in panel(space, 3, 0)][0] == "sa(h=4) ffn(r=4) sa(h=4) ffn(r=4)"  # baselines first


# ---- training, scoring and the search ---------------------------------------------------------------------
SUPERNET = ["strategy=supernet", "space=lvbert", "model.n_sublayers=4", "space.domains.k=[3,9]", "trainer.threads=1",
            "strategy.supernet.steps=80", "strategy.supernet.checkpoint_every=20", "strategy.supernet.top_k=3",
            "strategy.supernet.random_k=2", "study.n_trials=24", "trainer.val_check_interval=20"]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def supernet_study(tmp_path_factory):
    """A finished tiny supernet search (shared by the tests that only read it)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from layernas.trainer.search.loop import search
    from tests.conftest import CONF

    root = tmp_path_factory.mktemp("supernet")
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("search", overrides=[*TINY, f"results_dir={root}", "study.name=t", *SUPERNET])
    cfg = OmegaConf.to_container(cfg, resolve=True)
    return cfg, search(cfg), root / "t"


def test_training_lowers_the_loss_and_the_search_checks_its_best_stand_alone(supernet_study):
    from layernas.trainer.supernet.checkpoint import path_of, read_state
    from layernas.trainer.supernet.standalone import records

    cfg, study, folder = supernet_study
    state = read_state(path_of(folder))
    assert state.complete and state.step == 80 and state.sessions == 1
    assert state.train_loss[-1][1] < state.train_loss[0][1] - 0.3, state.train_loss  # mean over 20 steps each
    assert [s for s, _ in state.curve] == [20, 40, 60, 80] and state.curve[-1][1] < state.curve[0][1]
    rows = read_csv(folder / "trials.csv")
    assert len({r["key"] for r in rows}) == 24 and {r["strategy"] for r in rows} == {"supernet"}  # n_trials: distinct
    assert all(r["steps"] == "0" for r in rows)  # scored, never trained
    checks = records(study)
    assert len(checks) == 5 and Counter(r["role"] for r in checks.values()) == {"top": 3, "random": 2}
    assert all(r["state"] == "complete" and r["steps"] == 6 for r in checks.values())
    assert {int(r["number"]): float(r["standalone"]) for r in rows if r["standalone"]} == \
        {n: r["value"] for n, r in checks.items()}
    ranked = sorted((t for t in study.trials if t.values and "duplicate_of" not in t.user_attrs),
                    key=lambda t: t.values[0])
    assert {r["trial"] for r in checks.values() if r["role"] == "top"} == {t.number for t in ranked[:3]}
    report = (folder / "report.md").read_text()
    assert "## Weight sharing" in report and "Kendall tau, supernet score against stand-alone value" in report
    assert "cost: supernet training + scoring" in report
    assert "110 training steps in all (80 of the supernet, 30 of 5 stand-alone checks; the scored trials" in report
    best = yaml.safe_load((folder / "best.yaml").read_text())["supernet"]
    assert best["agreement"]["all"]["n"] == 5 and -1 <= best["agreement"]["all"]["tau"] <= 1
    assert best["cost_ratio"] > 0 and best["scored"] == len({t.user_attrs["key"] for t in study.trials})


def test_scores_are_deterministic_given_the_seed(supernet_study, tmp_path):
    """A fresh scorer gives every trial exactly its recorded value, and the same command on the same trained
    supernet (a new storage) scores the same candidates with the same values."""
    import shutil

    from layernas.trainer.search.loop import search
    from layernas.trainer.search.plan import plan_search
    from layernas.trainer.supernet.scoring import Scorer

    cfg, study, folder = supernet_study
    scorer = Scorer(plan_search(cfg))
    for t in islice((t for t in study.trials if "duplicate_of" not in t.user_attrs), 6):
        assert scorer.score(Architecture.parse(t.user_attrs["arch"], D))["val/mlm_loss"] == t.values[0]
    (tmp_path / "results" / "t").mkdir(parents=True)
    shutil.copytree(folder / "supernet", tmp_path / "results" / "t" / "supernet")
    again = search({**cfg, "results_dir": str(tmp_path / "results"),
                    "strategy": {**cfg["strategy"], "supernet": {**cfg["strategy"]["supernet"], "top_k": 0,
                                                                 "random_k": 0}}})
    assert [(t.user_attrs["arch"], t.values) for t in again.trials] == \
        [(t.user_attrs["arch"], t.values) for t in study.trials]
    assert again.user_attrs["supernet"]["step"] == 80  # the new study knows the supernet it did not train
    assert again.user_attrs["supernet"]["wall_s"] == study.user_attrs["supernet"]["wall_s"]


def test_a_supernet_study_is_retrained_from_its_best_stand_alone_check_and_audited(supernet_study, tmp_path):
    import shutil

    cfg, study, folder = supernet_study
    results = tmp_path / "results"
    shutil.copytree(folder, results / "t")
    from layernas.trainer.supernet.summary import summarise

    best = summarise(study)["best_standalone"]
    common = [f"results_dir={results}", "study.name=t", "logger=none"]
    out = subprocess.run([sys.executable, "-m", "layernas.trainer.cli", "retrain", *common, "trainer.max_steps=6",
                          "trainer.val_check_interval=3", "trainer.limit_val_batches=2", "trainer.progress_bar=false"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"retraining trial #{best['trial']}: the best stand-alone value" in out.stdout
    assert (results / "t" / "retrain" / Architecture.parse(best["arch"], D).key() / "metrics.json").exists()
    out = subprocess.run([sys.executable, "-m", "layernas.trainer.cli", "audit", *common, "audit.k=3",
                          "audit.budgets=[2]", "audit.seeds=[0]", "audit.bootstrap=50", "audit.zero_cost=false"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    audit = (results / "t" / "audit" / "audit.md").read_text()
    assert "supernet score (inherited weights of a 80-step supernet" in audit


def test_a_supernet_search_counts_each_network_once():
    """Re-proposing a scored network costs nothing in a supernet search, so it does not use up study.n_trials;
    a stand-alone search's twins still count (each is a trial the user asked for)."""
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import create_trial

    from layernas.trainer.search.slots import counted_in

    def trial(key: str, strategy: str | None, **attrs):
        return create_trial(value=1.0, params={"x": 0}, distributions={"x": CategoricalDistribution([0])},
                            user_attrs={"key": key, **({"strategy": strategy} if strategy else {}), **attrs})

    scored = [trial("a", "supernet"), trial("a", "supernet", duplicate_of=0), trial("b", "supernet"),
              trial("a", "supernet", duplicate_of=0), trial("c", "supernet", rejected=True)]
    assert counted_in(scored) == 2
    assert counted_in([trial("a", None), trial("a", None, duplicate_of=0), trial("b", None)]) == 3


def test_a_supernet_search_stops_when_the_sampler_only_repeats(tmp_path, monkeypatch, capsys):
    """A space of fewer networks than study.n_trials: scoring stops once the sampler proposes only scored ones,
    says so, and the stand-alone checks still run on what was scored."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from layernas.trainer.search import runner
    from layernas.trainer.search.loop import search
    from layernas.trainer.search.slots import counted
    from layernas.trainer.supernet.standalone import records
    from tests.conftest import CONF

    monkeypatch.setattr(runner, "MAX_REPEATS_IN_A_ROW", 12)
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("search", overrides=[*TINY, f"results_dir={tmp_path}", "study.name=t", *SUPERNET,
                                           "model.n_sublayers=2", "space.domains.k=null", "study.n_trials=30",
                                           "strategy.supernet.steps=10", "strategy.supernet.top_k=2",
                                           "strategy.supernet.random_k=1"])
    study = search(OmegaConf.to_container(cfg, resolve=True))
    keys = {t.user_attrs["key"] for t in study.trials}
    assert len(keys) <= 9 and counted(study) == len(keys) < len(study.trials)  # {sa, ffn, lvconv} at 2 positions
    assert all("duplicate_of" in t.user_attrs for t in study.trials[-12:])
    assert "the last 12 candidates the sampler proposed were all scored before" in capsys.readouterr().err
    assert len(records(study)) == 3


def cli(results: Path, *extra: str, **kw):
    args = [sys.executable, "-m", "layernas.trainer.cli", "search", *TINY, f"results_dir={results}", "study.name=t",
            *SUPERNET, "study.n_trials=4", "strategy.supernet.top_k=0", "strategy.supernet.random_k=0", *extra]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, **kw)


def test_a_killed_supernet_training_resumes_to_the_same_weights(tmp_path, supernet_study):
    """SIGKILL in the middle of training, then the same command: it resumes at the last checkpoint and ends
    with exactly the weights of the uninterrupted training (the module fixture's, same settings)."""
    from safetensors.torch import load_file

    from layernas.trainer.supernet.checkpoint import path_of, read_state

    _, _, reference = supernet_study
    results = tmp_path / "results"
    slow = ["strategy.supernet.checkpoint_every=10"]
    first = cli(results, *slow)
    deadline, state = time.time() + 180, None
    while time.time() < deadline:
        try:
            state = read_state(path_of(results / "t"))
        except Exception:  # noqa: BLE001  (the file is being replaced)
            state = None
        if state is not None and 20 <= state.step < 80:
            break
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=60)
    assert state is not None and not state.complete, "the training was not caught in the middle"
    second = cli(results, *slow)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    resumed = read_state(path_of(results / "t"))
    assert "supernet: resuming at step" in out and resumed.complete and resumed.sessions == 2
    mine, theirs = load_file(str(path_of(results / "t"))), load_file(str(path_of(reference)))
    weights = [k for k in theirs if k.startswith("model/")]
    assert weights and all(torch.equal(mine[k], theirs[k]) for k in weights)


def test_other_settings_do_not_resume_a_checkpoint(tmp_path, supernet_study):
    import shutil

    _, _, reference = supernet_study
    results = tmp_path / "results"
    shutil.copytree(reference, results / "t")
    out, err = cli(results, "strategy.supernet.sandwich=true").communicate(timeout=300)
    assert err.strip().splitlines()[-1].startswith("error: ") and "holds a supernet trained with other settings " \
        "(supernet.sandwich: False -> True)" in err


@pytest.mark.parametrize(("override", "message"), [
    ("strategy.supernet.steps=0", "strategy.supernet.steps=0 is not allowed; allowed: an integer >= 1"),
    ("task=classify", "strategy=supernet trains a masked-LM supernet; task=classify is not allowed with it"),
    ("+strategy.supernet.warmup=3", "unknown strategy.supernet key 'warmup'; allowed: checkpoint_every"),
])
def test_bad_supernet_settings_are_one_line_before_anything_is_written(search_cfg, tmp_path, override, message):
    from layernas.trainer.search.plan import plan_search

    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        plan_search(search_cfg("strategy=supernet", override))
    assert not (tmp_path / "results").exists()


def test_workers_score_one_supernet_trained_once(tmp_path):
    """study.n_workers=2: the supernet is trained once, before the workers, which split the scoring."""
    out, err = cli(tmp_path / "results", "study.n_workers=2", "storage=journal", "study.n_trials=10").communicate(
        timeout=300)
    assert "error" not in err.lower(), err
    study = optuna.load_study(study_name="t", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "results" / "t" / "journal.log"))))
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len({t.user_attrs["key"] for t in complete}) == 10  # distinct networks: a repeat does not count
    assert {t.user_attrs["worker"] for t in study.trials} >= {0, 1}
    assert study.user_attrs["supernet"]["sessions"] == 1
    assert sum(k.startswith("supernet/scoring/") for k in study.user_attrs) == 2  # each worker's scoring time


def test_smoke_search_with_a_supernet_end_to_end_with_offline_wandb(tmp_path):
    """`layernas search experiment=smoke strategy=supernet ...` as a user runs it, W&B offline: a run for the
    supernet, one per stand-alone check and the study's summary run."""
    import json

    from tests.helpers import WANDB

    args = [sys.executable, "-m", "layernas.trainer.cli", "search", "experiment=smoke", "strategy=supernet",
            f"results_dir={tmp_path}", "data.max_train_docs=400", "data.max_eval_docs=120", "data.seq_len=32",
            "data.tokenizer.vocab_size=500", "trainer.limit_val_batches=2", "strategy.supernet.steps=40",
            "strategy.supernet.checkpoint_every=20", "strategy.supernet.top_k=2", "strategy.supernet.random_k=1",
            "study.n_trials=12", "logger=wandb_offline"]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "[ 12/12]" in out.stdout  # the last scored trial's line, whenever the lines before it came
    assert "LeafSpec" not in out.stderr + out.stdout and "Warning" not in out.stderr, out.stderr
    assert out.stdout.strip().splitlines()[-1].startswith("study smoke: 12/12 trials; best objective ")
    folder = tmp_path / "smoke"
    for name in ("study.db", "trials.csv", "best.yaml", "report.md", "supernet/supernet.safetensors",
                 "supernet/supernet.json", "plots/history.png"):
        assert (folder / name).exists(), name
    names = [json.loads(subprocess.run([WANDB, "leet", "inspect", "--summary", "--json", str(run)], capture_output=True,
                                       text=True, check=True).stdout)["name"]
             for run in sorted((folder / "wandb").glob("offline-run-*"))]
    assert "smoke supernet" in names and "smoke summary" in names
    assert sum(n.startswith("standalone #") for n in names) == 3
    assert "## Weight sharing" in (folder / "report.md").read_text()

