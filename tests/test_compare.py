"""``layernas compare``: a whole compare on tiny searches (tables, plots, the W&B run, resuming after
SIGINT), the equal-budget accounting of a supernet arm, the probability of one arm beating another against
hand-computed cases, and one-line errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from layernas.trainer.compare.history import History
from layernas.trainer.stats.paired import probability_lower
from tests.conftest import TINY
from tests.helpers import WANDB

ROOT = Path(__file__).resolve().parents[1]

SMALL = [*TINY, "model.n_sublayers=2", "space=lvbert", "study.n_trials=3", "trainer.max_steps=12",
         "compare.check_budget=2", "compare.check_seeds=[0,1]"]


def compare(results: Path, *args: str) -> subprocess.Popen:
    line = [sys.executable, "-m", "layernas.trainer.cli", "compare", *SMALL, f"results_dir={results}", "study.name=c",
            *args]
    return subprocess.Popen(line, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def trials(results: Path, name: str) -> list:
    db = results / name / "study.db"
    if not db.exists():
        return []
    try:
        return optuna.load_study(study_name=name, storage=f"sqlite:///{db}").trials
    except Exception:  # noqa: BLE001  (being created)
        return []


@pytest.mark.parametrize(("a", "b", "expected"), [
    ([1.0, 2.0], [3.0, 4.0], 1.0),  # every pair: a lower
    ([1.0, 3.0], [2.0, 4.0], 0.75),  # 1<2, 1<4, 3>2, 3<4
    ([1.0, 2.0, 3.0], [2.0], 0.5),  # 1<2 (1), 2=2 (1/2), 3>2 (0): 1.5 of 3
    ([5.0], [1.0, 2.0], 0.0),
])
def test_the_probability_of_a_lower_value_is_the_share_of_pairs(a, b, expected):
    found = probability_lower(a, b, n=200, seed=0)
    assert found["p_lower"] == pytest.approx(expected)
    assert found["ci"][0] <= found["p_lower"] <= found["ci"][1]
    assert found["n"] == [len(a), len(b)]


def test_the_test_of_a_lower_value_is_mann_whitney_one_sided():
    # 3 against 3 with every value of a lower: the exact one-sided p is 1 / C(6, 3) = 0.05
    assert probability_lower([1, 2, 3], [4, 5, 6])["p_value"] == pytest.approx(0.05)
    assert probability_lower([4, 5, 6], [1, 2, 3])["p_value"] == pytest.approx(1.0)
    assert probability_lower([1, 2], [3, 4])["p_value"] == pytest.approx(1 / 6)


def test_a_supernet_arm_counts_its_own_training_before_its_first_value():
    # the supernet trained 500 steps, then three checks of 100 steps; a sampler arm's trials of 100 each
    supernet = History(((500, None), (600, 5.0), (700, 4.0), (800, 4.5)), 1.0, None, ())
    sampler = History(((100, 6.0), (200, None), (300, 5.5), (400, 4.2), (500, 4.8), (600, 4.1)), 1.0, None, ())
    assert supernet.steps == 800 and sampler.steps == 600
    budget = min(supernet.steps, sampler.steps)  # both arms judged at the same training steps
    assert supernet.best_at(budget) == 5.0 and sampler.best_at(budget) == 4.1
    assert supernet.best_at(550) is None  # nothing found while the supernet trains
    assert sampler.best_at(250) == 6.0  # a pruned trial (None) costs its steps and finds nothing
    maximised = History(((10, 0.5), (20, 0.7), (30, 0.6)), -1.0, None, ())
    assert maximised.best_at(30) == 0.7


def test_a_supernet_arm_in_a_compare_is_judged_at_equal_steps(tmp_path):
    results = tmp_path / "results"
    supernet = ("strategy=supernet strategy.supernet.steps=30 strategy.supernet.top_k=1 strategy.supernet.random_k=1 "
                "strategy.supernet.checkpoint_every=10")  # an arm's own settings travel with it
    proc = compare(results, f"compare.arms={{random:'sampler=random',supernet:'{supernet}'}}", "compare.seeds=[0]",
                   "compare.check_budget=null", "trainer.val_check_interval=6", "study.n_trials=4")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    doc = json.loads((results / "c" / "compare" / "compare.json").read_text())
    steps = {r["arm"]: r["steps"] for r in doc["runs"]}
    study = optuna.load_study(study_name="c-supernet-s0", storage=f"sqlite:///{results / 'c-supernet-s0' / 'study.db'}")
    checks = [v for k, v in study.user_attrs.items() if k.startswith("supernet/standalone/")]
    assert steps["supernet"] == 30 + sum(c["steps"] for c in checks) and len(checks) == 2
    assert doc["budget"] == min(steps.values())
    assert all(r["best_at_budget"] is None or r["best_at_budget"] >= r["final_best"] for r in doc["runs"])


def test_a_compare_writes_its_table_and_plots_and_resumes_after_sigint(tmp_path):
    results = tmp_path / "results"
    first = compare(results, "compare.arms=[tpe,random]", "compare.seeds=[0,1]", "logger=wandb_offline")
    deadline = time.time() + 300
    while time.time() < deadline and sum(t.state.is_finished() for t in trials(results, "c-tpe-s1")) < 1:
        time.sleep(0.3)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 130, err[-3000:]
    before = {name: {t.number: t.datetime_start for t in trials(results, name) if t.state.is_finished()}
              for name in ("c-tpe-s0", "c-tpe-s1")}
    assert len(before["c-tpe-s0"]) == 3 and before["c-tpe-s1"]
    assert not (results / "c" / "compare" / "compare.md").exists()

    second = compare(results, "compare.arms=[tpe,random]", "compare.seeds=[0,1]", "logger=wandb_offline")
    out, err = second.communicate(timeout=600)
    assert second.returncode == 0, err[-3000:]
    for name, kept in before.items():
        after = {t.number: t.datetime_start for t in trials(results, name) if t.state.is_finished()}
        assert all(after[n] == start for n, start in kept.items()), f"{name}: a finished trial was run again"
        assert len(after) == 3
    folder = results / "c" / "compare"
    doc = json.loads((folder / "compare.json").read_text())
    assert [a["arm"] for a in doc["arms"]] == ["tpe", "random"] and len(doc["runs"]) == 4
    assert {(r["arm"], r["seed"]) for r in doc["runs"]} == {("tpe", 0), ("tpe", 1), ("random", 0), ("random", 1)}
    assert all(r["check"]["mean"] is not None and r["regret"] >= 0 for r in doc["runs"])
    assert min(r["regret"] for r in doc["runs"]) == 0.0
    assert doc["budget"] == min(r["steps"] for r in doc["runs"])
    for name in ("anytime.png", "final.png", "op_frequency.png"):
        assert (folder / "plots" / name).stat().st_size > 1000
    md = (folder / "compare.md").read_text()
    assert "| tpe | random |" in md and "Mann-Whitney" in md and doc["line"] in md
    assert len((folder / "compare.csv").read_text().splitlines()) == 5
    runs = list((folder / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    summary = json.loads(subprocess.run([WANDB, "leet", "inspect", "--summary", "--json", str(runs[0])],
                                        capture_output=True, text=True, check=True).stdout)
    assert summary["name"] == "c compare" and summary["summary"]["line"] == doc["line"], summary
    assert "study c-tpe-s0: 3/3 trials" in out  # the finished study was resumed, not searched again


@pytest.mark.parametrize(("args", "message"), [
    (["compare.arms=[tpe,nope]"], "compare.arms has 'nope', which is not an arm; allowed: a list of "),
    (["compare.seeds=[]"], "compare.seeds=[] is not allowed; allowed: a non-empty list of distinct integers >= 0"),
    (["compare.arms=[tpe,tpe]"], "compare.arms=[tpe,tpe] is not allowed; allowed: distinct arms (tpe is there twice)"),
    (["compare.arms=[tpe]"], "compare.arms=[tpe] is not allowed"),
    (["compare.arms={a:'sampler=tpe',b:'sampler=nope'}"], "arm 'b' (sampler=nope): "),
])
def test_what_cannot_be_compared_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    results = tmp_path / "results"
    proc = compare(results, *args)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and message in err, err
    assert not results.exists() or not any(results.iterdir())
