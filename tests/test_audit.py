"""``layernas audit`` end to end on a tiny study: resumable after SIGINT and SIGKILL, its report, its W&B
run, the link from report.md, and one-line errors for what cannot be audited."""

from __future__ import annotations

import csv
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from layernas.trainer.apps.search import search as run_search
from layernas.trainer.audit.runs import records
from tests.conftest import TINY
from tests.helpers import WANDB

ROOT = Path(__file__).resolve().parents[1]
AUDIT = ["study.name=t", "audit.k=3", "audit.budgets=[2]", "audit.seeds=[0,1]", "audit.bootstrap=200"]


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """A finished 5-trial study; each test that writes audits a copy of its folder."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from tests.conftest import CONF

    root = tmp_path_factory.mktemp("study")
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("search", overrides=[*TINY, "model.n_sublayers=2", f"results_dir={root}", "study.name=t",
                                           "space=lvbert", "sampler=random", "study.n_trials=5",
                                           "trainer.max_steps=30", "trainer.val_check_interval=10"])
    run_search(OmegaConf.to_container(cfg, resolve=True))
    return root


def copy_of(study_root: Path, tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(study_root, tmp_path / "results")
    return tmp_path / "results"


def audit(results: Path, *extra: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "layernas.trainer.cli", "audit", *AUDIT, f"results_dir={results}",
                             *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def audit_records(results: Path) -> dict:
    study = optuna.load_study(study_name="t", storage=f"sqlite:///{results / 't' / 'study.db'}")
    return records(study)


def wait_for(results: Path, test, timeout: float = 240) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            done = audit_records(results)
            if test(done):
                return done
        except Exception:  # noqa: BLE001  (the storage is being written)
            pass
        time.sleep(0.3)
    raise AssertionError("the audit never got there")


def complete(done: dict) -> dict:
    return {k: v for k, v in done.items() if v.get("state") == "complete"}


def test_an_audit_stopped_by_sigint_and_killed_resumes_and_keeps_every_finished_run(tiny_study, tmp_path):
    results = copy_of(tiny_study, tmp_path)
    first = audit(results, "logger=none")
    wait_for(results, lambda d: len(complete(d)) >= 1)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 130 and "stopped by SIGINT" in err
    assert re.search(r"^interrupted: finished runs are kept; run the same command to resume \(\d+/6 runs done\)$",
                     err, re.M), err
    kept = complete(audit_records(results))
    assert kept and not any(v.get("state") == "running" for v in audit_records(results).values())

    second = audit(results, "logger=none")
    wait_for(results, lambda d: len(complete(d)) > len(kept) and any(v.get("state") == "running" for v in d.values()))
    second.kill()
    second.wait()
    kept = complete(audit_records(results))

    third = audit(results, "logger=wandb_offline")
    out, err = third.communicate(timeout=300)
    assert third.returncode == 0, err
    done = audit_records(results)
    assert len(done) == 6 and all(v["state"] == "complete" for v in done.values())
    assert all(done[k] == v for k, v in kept.items()), "a finished run was trained again"
    assert "recommendation:" in out and "left to train" in out

    folder = results / "t" / "audit"
    doc = json.loads((folder / "audit.json").read_text())
    assert set(doc["agreement"]) == {"x2"} and len(doc["archs"]) == 3
    assert -1 <= doc["agreement"]["x2"]["tau"] <= 1 and doc["ladder"][-1]["step"] == 30
    assert set(doc["zero_cost"]) <= {"params", "nonembedding", "flops", "grad_norm", "synflow", "naswot"}
    assert doc["zero_cost"], "no zero-cost proxy was scored"
    with open(folder / "audit.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["x2_seeds"]) for r in rows] == [2, 2, 2]
    md = (folder / "audit.md").read_text()
    assert "recommendation:" in md and "Kendall tau" in md and (folder / "plots" / "ranks.png").exists()
    assert "audit/audit.md" in (results / "t" / "report.md").read_text()
    runs = sorted((folder / "wandb").glob("offline-run-*"))
    names = [json.loads(subprocess.run([WANDB, "leet", "inspect", "--summary", "--json", str(r)], capture_output=True,
                                       text=True, check=True).stdout)["name"] for r in runs]
    assert "t audit" in names


def test_two_workers_split_an_audit_that_reruns_the_proxy_on_its_seeds(tiny_study, tmp_path):
    results = copy_of(tiny_study, tmp_path)
    proc = audit(results, "logger=none", "audit.n_workers=2", "audit.zero_cost=false", "audit.budgets=[1,2]")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    done = audit_records(results)
    # x1 on the study's own seed 0 is the trial itself: only seed 1 is trained again at x1
    assert sorted(k.split("/", 2)[2] for k in done) == ["1/1"] * 3 + ["2/0"] * 3 + ["2/1"] * 3
    assert all(v["state"] == "complete" for v in done.values())
    folder = results / "t" / "audit"
    doc = json.loads((folder / "audit.json").read_text())
    x2 = doc["agreement"]["x2"]
    assert x2["proxy_seeds_resampled"] and [a["x1_seeds"] for a in doc["archs"]] == [2, 2, 2]
    assert "the intervals resample the proxy's own seeds (x1 runs)" in (folder / "audit.md").read_text()
    searched = sum(1 for a in doc["archs"] if not a["baseline"])
    assert x2["family"]["n"] == searched and f"among {searched} searched" in out

    # re-read from audit.json alone, as written before per-seed values were kept (two seeds: exact)
    from layernas.trainer.audit.reread import main as reread

    for row in doc["archs"]:
        for key in [k for k in row if k.endswith("_values")]:
            del row[key]
    (folder / "audit.json").write_text(json.dumps(doc))
    reread([str(folder), "--bootstrap", "200"])
    again = json.loads((folder / "audit.json").read_text())
    assert again["agreement"]["x2"]["tau"] == pytest.approx(x2["tau"])
    assert again["agreement"]["x2"]["seed_std"] == pytest.approx(x2["seed_std"])


@pytest.mark.parametrize(("args", "message"), [
    (["audit.k=2"], "audit.k=2 is not allowed; allowed: 3 to "),
    (["audit.k=99"], "audit.k=99 is not allowed; allowed: 3 to "),
    (["audit.budgets=[0.5]"], "audit.budgets=[0.5] is not allowed"),
    (["audit.budgets=[1]"], "audit.budgets=[1] is not allowed; allowed: a non-empty list of multiples of the "
                            "proxy's steps, each >= 1, one of them > 1"),
    (["audit.seeds=[]"], "audit.seeds=[] is not allowed"),
    (["audit.select=best"], "audit.select='best' is not allowed; allowed: stratified, top, random"),
    (["study.name=nope"], "study.name='nope' has no study"),
])
def test_what_cannot_be_audited_is_one_line_and_exit_2(tiny_study, tmp_path, args, message):
    proc = audit(tiny_study, "logger=none", *args)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and err.strip().splitlines() == [f"error: {err.strip()[7:]}"]
    assert message in err


def test_a_study_without_completed_trials_is_refused(tmp_path):
    results = tmp_path / "results"
    (results / "t").mkdir(parents=True)
    study = optuna.create_study(study_name="t", storage=f"sqlite:///{results / 't' / 'study.db'}")
    study.set_user_attr("config", {"trainer": {"max_steps": 10}})
    proc = audit(results, "logger=none")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "has no completed trial to audit" in err
