"""`layernas search|report|retrain` as a user runs them: real processes, real signals."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from tests.conftest import TINY
from tests.helpers import WANDB

ROOT = Path(__file__).resolve().parents[1]
FAST = [*TINY, "model.n_sublayers=2", "study.name=t", "logger=none"]


def cli(*args, cwd=ROOT, **kw):
    return subprocess.run([sys.executable, "-m", "layernas.trainer.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env=dict(os.environ), **kw)


def test_search_report_retrain_round_trip(tmp_path):
    results = f"results_dir={tmp_path}"
    out = cli("search", *FAST, results, "study.n_trials=2")
    assert out.returncode == 0, out.stderr
    assert "[  2/2]" in out.stdout and "best" in out.stdout
    (tmp_path / "t" / "report.md").unlink()
    out = cli("report", "study.name=t", results)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "t" / "report.md").exists() and "1. #" in out.stdout
    reader_gone = subprocess.Popen([sys.executable, "-m", "layernas.trainer.cli", "report", "study.name=t", results],
                                   cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reader_gone.stdout.close()  # `layernas report ... | head -0`: the reader left before the first line
    err = reader_gone.stderr.read()
    assert reader_gone.wait(timeout=600) == 1 and "Traceback" not in err and "Error executing" not in err, err
    out = cli("retrain", "study.name=t", results, "logger=none", "trainer.max_steps=6", "trainer.val_check_interval=3",
              "trainer.limit_val_batches=2", "seeds=[0,1]")
    assert out.returncode == 0, out.stderr
    folders = list((tmp_path / "t" / "retrain").iterdir())
    assert len(folders) == 1
    metrics = json.loads((folders[0] / "metrics.json").read_text())
    assert metrics["seeds"] == [0, 1] and len(metrics["runs"]) == 2 and metrics["std"] >= 0
    assert "test/mlm_loss" in metrics and metrics["objective"] == "val/mlm_loss"
    assert (folders[0] / "model-seed1.safetensors").exists() and (folders[0] / "arch.txt").exists()

    from layernas.trainer.retrain import load_retrained

    model = load_retrained(folders[0], seed=1)
    assert model.encoder.config.d_model == 32 and not model.training
    assert oct((folders[0] / "model-seed1.safetensors").stat().st_mode & 0o777) == "0o644"

    out = cli("report", "study.name=t", results)  # the retrained metrics join the report, their data named
    assert out.returncode == 0, out.stderr
    report = (tmp_path / "t" / "report.md").read_text()
    assert "## Retrained" in report
    section = report.split("## Retrained", 1)[1].splitlines()
    row = next(line for line in section if line.startswith(f"| {metrics['trial']} | "))
    assert f"{metrics['mean']:.4f} +- {metrics['std']:.4f}" in row
    assert "| the first 2 batches | - | " in row and " | 6 | 2 | " in row
    assert "`val/mlm_loss`, the study's first objective: the proxy's value on the first 2 batches" in report

    out = cli("retrain", "study.name=t", results, "logger=none", "trainer.max_steps=6", "trainer.val_check_interval=3",
              "trainer.limit_val_batches=null", "seeds=[0]")  # other settings than the retrain above: refused
    assert out.returncode == 2 and "holds a retrain of this network with other settings (trainer.limit_val_batches " \
                                   "2 -> None; seeds [0, 1])" in out.stderr, out.stderr
    out = cli("retrain", "study.name=t", results, "logger=none", "trainer.max_steps=6", "trainer.val_check_interval=3",
              "trainer.limit_val_batches=null", "seeds=[0]", "replace=true")  # the whole split, and the proxy's 2
    # batches beside it
    assert out.returncode == 0, out.stderr
    metrics = json.loads((folders[0] / "metrics.json").read_text())
    assert metrics["val_batches"] is None and metrics["proxy_val_batches"] == 2
    assert metrics["val_slice/mlm_loss"]["mean"] != metrics["mean"]
    cli("report", "study.name=t", results)
    row = next(line for line in (tmp_path / "t" / "report.md").read_text().split("## Retrained", 1)[1].splitlines()
               if line.startswith(f"| {metrics['trial']} | "))
    assert f"| the whole split | {metrics['val_slice/mlm_loss']['mean']:.4f} (unigram model " in row
    assert not (folders[0] / "model-seed1.safetensors").exists()  # the replaced retrain's weights are gone


def _running_trial(db: Path) -> bool:
    if not db.exists():
        return False
    try:
        with sqlite3.connect(db) as con:
            return con.execute("select count(*) from trials where state='RUNNING'").fetchone()[0] > 0
    except sqlite3.Error:
        return False


def test_ctrl_c_records_the_running_trial_as_failed_and_the_study_resumes(tmp_path):
    slow = [*FAST, f"results_dir={tmp_path}", "trainer.max_steps=2000", "trainer.val_check_interval=1000"]
    proc = subprocess.Popen([sys.executable, "-m", "layernas.trainer.cli", "search", *slow, "study.n_trials=2"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not _running_trial(tmp_path / "t" / "study.db") and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # inside the training loop
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "run the same command to resume" in err
    storage = f"sqlite:///{tmp_path / 't' / 'study.db'}"
    trial = optuna.load_study(study_name="t", storage=storage).trials[0]
    assert trial.state == optuna.trial.TrialState.FAIL and trial.user_attrs["interrupted"] is True

    out = cli("search", *FAST, f"results_dir={tmp_path}", "study.n_trials=2")
    assert out.returncode == 0, out.stderr
    study = optuna.load_study(study_name="t", storage=storage)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 2 and len(states) == 3


@pytest.mark.slow
def test_smoke_experiment_writes_everything_with_offline_wandb(tmp_path):
    """`layernas search experiment=smoke` as in the README, W&B on (offline): one run per trial + a summary."""
    out = cli("search", "experiment=smoke", f"results_dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    folder = tmp_path / "smoke"
    for name in ("study.db", "trials.csv", "best.yaml", "report.md", "plots/history.png", "plots/op_by_position.png"):
        assert (folder / name).exists(), name
    runs = sorted((folder / "wandb").glob("offline-run-*"))
    jobs = []
    for run in runs:
        summary = json.loads(subprocess.run([WANDB, "leet", "inspect", "--summary", "--json", str(run)],
                                            capture_output=True, text=True, check=True).stdout)
        assert summary["state"] == "finished"
        jobs.append(summary["name"])
    assert len(runs) == 4 and sum(name.startswith("t00") for name in jobs) == 3 and "smoke summary" in jobs
