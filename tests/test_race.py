"""``layernas race``: which networks race, what a rung drops, ties, resuming after SIGINT and SIGKILL,
two workers, the study's answer, and one-line errors. Training is a stub returning chosen values per
network and seed (``tests/race_stub.py``), except in the end-to-end run with W&B."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from layernas.trainer.race.contenders import choose
from tests.conftest import TINY

ROOT = Path(__file__).resolve().parents[1]
PROXY_STEPS = 30
RACE = ["study.name=t", "race.budgets=[2,4]", "race.seeds=[0,1,2]", "race.max_k=3", "logger=none"]


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """A finished 6-trial study with the seed noise measured; each test races a copy of its folder."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from layernas.trainer.apps.search import search
    from tests.conftest import CONF

    root = tmp_path_factory.mktemp("study")
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("search", overrides=[*TINY, "model.n_sublayers=2", f"results_dir={root}", "study.name=t",
                                           "space=lvbert", "sampler=random", "study.n_trials=6", "logger=none",
                                           f"trainer.max_steps={PROXY_STEPS}", "trainer.val_check_interval=10",
                                           "study.noise_seeds=[1]"])
    search(OmegaConf.to_container(cfg, resolve=True))
    return root


def copy_of(root: Path, tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(root, tmp_path / "results")
    return tmp_path / "results"


def load(results: Path) -> optuna.Study:
    return optuna.load_study(study_name="t", storage=f"sqlite:///{results / 't' / 'study.db'}")


def race_records(results: Path) -> dict:
    return {k: v for k, v in load(results).user_attrs.items() if k.startswith("race/")}


def stubbed(results: Path, values: dict, *extra: str, sleep: float = 0.0, module: str = "tests.race_stub"):
    env = {**os.environ, "LAYERNAS_STUB": json.dumps({"values": values, "sleep": sleep, "proxy_steps": PROXY_STEPS})}
    return subprocess.Popen([sys.executable, "-m", module, "race", *RACE, f"results_dir={results}", *extra],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def contenders(results: Path, max_k: int = 3, baselines="best"):
    return choose(load(results), max_k, baselines)[0]


def table(racers, per_seed: dict[int, list[float | None]]) -> dict:
    """Stub values: racer index -> one value per seed 0, 1, 2."""
    return {c.arch: {str(s): v for s, v in enumerate(per_seed[i])} for i, c in enumerate(racers)}


def test_a_clearly_worse_contender_is_dropped_and_a_true_tie_is_kept(tiny_study, tmp_path):
    results = copy_of(tiny_study, tmp_path)
    racers = contenders(results)
    assert len(racers) >= 3
    values = {0: [1.00, 1.10, 0.95], 1: [1.01, 1.09, 0.96]}  # a tie: differences -0.01, +0.01, -0.01 around 0
    values.update({i: [2.0 + 0.01 * i, 2.1, 1.95] for i in range(2, len(racers))})  # clearly worse on every seed
    proc = stubbed(results, table(racers, values))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    doc = json.loads((results / "t" / "race" / "race.json").read_text())
    first = {r["trial"]: r for r in doc["rungs"][0]["rows"]}
    worse = [c.trial for c in racers[2:]]
    for t in worse:
        assert first[t]["status"].startswith("dropped: worse than #"), first[t]
        assert first[t]["p_holm"] < 0.05
    assert first[racers[1].trial]["p_holm"] > 0.05 and first[racers[1].trial]["status"] == "kept (not worse at alpha)"
    assert doc["winner"] is None and sorted(doc["tie"]) == sorted(c.trial for c in racers[:2])
    assert sum(doc["probabilities"].values()) == pytest.approx(1.0)
    # dropped baselines still run every rung as the reference
    baselines = [c.trial for c in racers if c.baseline]
    assert {r["trial"] for r in doc["rungs"][1]["rows"]} == {racers[0].trial, racers[1].trial, *baselines}
    assert "race: a tie at x4" in out and "[race] x2 done: best #" in out
    md = (results / "t" / "race" / "race.md").read_text()
    assert "## x2 (60 steps)" in md and "## Test split at the last rung" in md
    best = __import__("yaml").safe_load((results / "t" / "best.yaml").read_text())
    assert best["race"]["winner"] is None and best["race"]["proxy_pick"] == racers[0].trial
    report = (results / "t" / "report.md").read_text()
    assert "## Race" in report and "([race/race.md](race/race.md))" in report


def test_a_winner_becomes_the_answer_of_retrain(tiny_study, tmp_path):
    from layernas.trainer.results.extensions import answer

    results = copy_of(tiny_study, tmp_path)
    racers = contenders(results)
    values = {0: [1.5, 1.6, 1.45], 1: [1.0, 1.1, 0.95]}  # the proxy's runner-up wins by 0.5 on every seed
    values.update({i: [3.0, 3.1, 2.9] for i in range(2, len(racers))})
    proc = stubbed(results, table(racers, values))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    winner = racers[1]
    if winner.baseline:
        assert f"race winner: the baseline {winner.baseline} (#{winner.trial}, x4: " in out
        assert "no searched network beat it" in out
    else:
        assert f"race winner: #{winner.trial} (x4: " in out and f"the proxy's pick was #{racers[0].trial}" in out
    found = answer(load(results))
    assert found["trial"] == racers[1].trial and "the race winner" in found["line"]
    doc = json.loads((results / "t" / "race" / "race.json").read_text())
    versus = doc["test_split"][str(winner.trial)].get("versus", {})
    assert len(versus) == sum(1 for c in racers if c.baseline and c.trial != winner.trial)
    assert all(v["mean"] < 0 and v["n"] == 3 and v["p_better"] < 0.05 for v in versus.values())


def test_a_failed_run_drops_its_contender(tiny_study, tmp_path):
    results = copy_of(tiny_study, tmp_path)
    racers = contenders(results, max_k=2)
    values = {i: [1.0 + i, 1.1 + i, 0.9 + i] for i in range(len(racers))}
    values[1] = [1.0, None, 1.0]
    proc = stubbed(results, table(racers, values), "race.max_k=2")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    doc = json.loads((results / "t" / "race" / "race.json").read_text())
    row = next(r for r in doc["rungs"][0]["rows"] if r["trial"] == racers[1].trial)
    assert row["status"] == "dropped: failed at x2 seed 1: diverged (stub)"


def test_a_race_stopped_by_sigint_then_killed_resumes_and_repeats_no_finished_run(tiny_study, tmp_path):
    results = copy_of(tiny_study, tmp_path)
    racers = contenders(results)
    values = table(racers, {i: [1.0 + 0.3 * i, 1.1 + 0.3 * i, 0.9 + 0.3 * i] for i in range(len(racers))})
    first = stubbed(results, values, sleep=0.6)
    _wait_for(results, lambda d: sum(v.get("state") == "complete" for v in d.values()) >= 2)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 130 and "stopped by SIGINT" in err
    assert re.search(r"^interrupted: finished runs are kept; run the same command to resume \(\d+ runs done\)$",
                     err, re.M), err
    kept = {k: v for k, v in race_records(results).items() if v.get("state") == "complete"}
    assert kept and not any(v.get("state") == "running" for v in race_records(results).values())
    assert not (results / "t" / "race" / "race.md").exists()

    second = stubbed(results, values, sleep=0.6)
    _wait_for(results, lambda d: sum(v.get("state") == "complete" for v in d.values()) > len(kept)
              and any(v.get("state") == "running" for v in d.values()))
    second.kill()
    second.wait()
    kept = {k: v for k, v in race_records(results).items() if v.get("state") == "complete"}

    third = stubbed(results, values)
    out, err = third.communicate(timeout=300)
    assert third.returncode == 0, err
    done = race_records(results)
    assert all(done[k] == v for k, v in kept.items()), "a finished run was trained again"
    trained = re.findall(r"^\[race \d+/\d+\] #(\d+) x(\S+) seed (\d+):", out, re.M)
    assert not {f"race/{t}/{b}/{s}" for t, b, s in trained} & set(kept), "a finished run was trained again"
    assert (results / "t" / "race" / "race.md").exists()


def test_two_workers_split_one_race(tiny_study, tmp_path):
    results = copy_of(tiny_study, tmp_path)
    racers = contenders(results)
    values = table(racers, {i: [1.0 + 0.3 * i, 1.1 + 0.3 * i, 0.9 + 0.3 * i] for i in range(len(racers))})
    proc = stubbed(results, values, "race.n_workers=2", sleep=1.5)  # long enough for the second to start
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    done = race_records(results)
    assert all(v["state"] == "complete" for v in done.values())
    pids = {v.get("pid") for v in done.values()}
    assert len(pids) == 2, f"the runs were not split between two processes: {pids}"
    doc = json.loads((results / "t" / "race" / "race.json").read_text())
    assert len(doc["rungs"]) == 2 and doc["winner"] == racers[0].trial


def _wait_for(results: Path, test, timeout: float = 120) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            done = race_records(results)
            if test(done):
                return done
        except Exception:  # noqa: BLE001  (the storage is being written)
            pass
        time.sleep(0.2)
    raise AssertionError("the race never got there")


@pytest.mark.parametrize(("args", "message"), [
    (["race.budgets=[0]"], "race.budgets=[0] is not allowed; allowed: a non-empty list of distinct multiples of "
                           "the proxy's steps, each >= 1 (e.g. [3,10])"),
    (["race.seeds=[]"], "race.seeds=[] is not allowed; allowed: a list of at least 2 distinct integers >= 0"),
    (["race.max_k=1"], "race.max_k=1 is not allowed; allowed: an integer >= 2 (a race needs two contenders)"),
    (["race.alpha=1.5"], "race.alpha=1.5 is not allowed; allowed: a number between 0 and 1"),
    (["race.baselines=[nope]"], "race.baselines has 'nope', which is not a completed baseline of study 't'"),
    (["study.name=nope"], "study.name='nope' has no study"),
])
def test_what_cannot_be_raced_is_one_line_exit_2_and_writes_nothing(tiny_study, tmp_path, args, message):
    results = copy_of(tiny_study, tmp_path)
    before = dict(load(results).user_attrs)
    proc = stubbed(results, {}, *args)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and err.strip().splitlines() == [f"error: {err.strip()[7:]}"], err
    assert message in err
    assert not (results / "t" / "race").exists() and load(results).user_attrs == before


def test_a_study_with_one_complete_trial_cannot_race(tmp_path):
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from layernas.trainer.apps.search import search
    from tests.conftest import CONF

    results = tmp_path / "results"
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("search", overrides=[*TINY, "model.n_sublayers=2", f"results_dir={results}", "study.name=t",
                                           "space=bert", "study.n_trials=1", "logger=none", "trainer.max_steps=5"])
    search(OmegaConf.to_container(cfg, resolve=True))
    proc = stubbed(results, {})
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert err.strip() == ("error: study 't' has 1 completed trial with a distinct network; a race needs at least 2")
    assert not (results / "t" / "race").exists()
