"""The study's summary run in W&B: written for a real search that has a twin (mixed column types once
crashed it), and a failure of it is a one-line warning, never a failed search."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from layernas.trainer.apps.search import search as run_search

WANDB = Path(sys.executable).parent / "wandb"
ONE_CANDIDATE = ["space=bert", "space.domains.h=[4]", "space.domains.r=[4]", "study.n_trials=3",
                 "logger=wandb_offline"]  # one network in the space: the sampler must repeat it


def inspect(run: Path) -> dict:
    out = subprocess.run([str(WANDB), "leet", "inspect", "--summary", "--json", str(run)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def test_a_search_with_a_twin_writes_its_summary_run(search_cfg, tmp_path, capsys):
    study = run_search(search_cfg(*ONE_CANDIDATE))
    assert "warning" not in capsys.readouterr().err
    assert [t.user_attrs.get("duplicate_of") for t in study.trials] == [None, 0, 0]
    folder = tmp_path / "results" / "t"
    with open(folder / "trials.csv", newline="") as f:
        assert [r["duplicate_of"] for r in csv.DictReader(f)] == ["", "0", "0"]
    runs = {s["name"]: s for s in map(inspect, sorted((folder / "wandb").glob("offline-run-*")))}
    summary = runs["t summary"]
    assert summary["state"] == "finished" and summary["summary"]["n_trials"] == 3
    assert summary["summary"]["best_trials"] == [0] and "leaderboard" in summary["summary"]


def test_leaderboard_columns_hold_one_type_each(search_cfg):
    """Every column of the rows is of one type or None (what ``wandb.Table`` demands)."""
    import wandb

    from layernas.trainer.results.table import rows

    study = run_search(search_cfg(*ONE_CANDIDATE[:-1], "logger=none", "objectives=[val_loss,latency_ms]",
                                  "sampler=random"))
    columns, data = rows(study)
    for i, name in enumerate(columns):
        kinds = {type(row[i]) for row in data if row[i] is not None}
        assert len(kinds - {int, float}) <= 1 and not (kinds & {str} and kinds & {int, float}), (name, kinds)
    wandb.Table(columns=columns, data=data)  # raises on mixed columns


def test_a_failing_summary_run_is_a_warning(search_cfg, tmp_path, monkeypatch, capsys):
    import optuna
    import wandb

    from layernas.trainer.results.summary_run import log_summary_run
    from layernas.trainer.search.plan import plan_search

    def broken(*args, **kwargs):
        raise RuntimeError("W&B is down\nmore lines")

    monkeypatch.setattr(wandb, "init", broken)
    plan = plan_search(search_cfg("logger=wandb_offline"))
    study = optuna.create_study(study_name="t")
    assert log_summary_run(study, plan.study_dir, plan.run.logger) is None
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["warning: the W&B summary run of study 't' was not written (RuntimeError: W&B is down); "
                   "`layernas report study.name=t` writes it"]
    assert study.user_attrs["summary_run"] == "failed"


def test_report_writes_the_summary_run_a_search_could_not(search_cfg, tmp_path, monkeypatch, capsys):
    from omegaconf import OmegaConf

    import layernas.trainer.core.tracking as tracking
    from layernas.trainer.apps.report import main as report

    real = tracking.log_summary

    def broken(*args, **kwargs):
        raise RuntimeError("W&B is down")

    monkeypatch.setattr(tracking, "log_summary", broken)
    cfg = search_cfg(*ONE_CANDIDATE)
    study = run_search(cfg)
    assert "`layernas report study.name=t` writes it" in capsys.readouterr().err
    assert study.user_attrs["summary_run"] == "failed"
    folder = tmp_path / "results" / "t"
    assert not [s for s in map(inspect, sorted((folder / "wandb").glob("offline-run-*"))) if s["name"] == "t summary"]

    monkeypatch.setattr(tracking, "log_summary", real)
    assert report(OmegaConf.create({k: cfg[k] for k in ("study", "storage", "results_dir", "logger")})) == 0
    assert "wrote the W&B summary run" in capsys.readouterr().out
    runs = {s["name"]: s for s in map(inspect, sorted((folder / "wandb").glob("offline-run-*")))}
    assert runs["t summary"]["state"] == "finished" and runs["t summary"]["summary"]["n_trials"] == 3
    assert report(OmegaConf.create({k: cfg[k] for k in ("study", "storage", "results_dir", "logger")})) == 0
    assert "wrote the W&B summary run" not in capsys.readouterr().out  # written once
