"""Each run's answer trained at ``compare.check_budget`` times the proxy's steps on ``compare.check_seeds``,
recorded in that run's study as ``compare_check/<trial>/<budget>/<seed>`` (the race's and the audit's
mechanism: an interrupted compare resumes with the checks left, workers sharing the storage split them)."""

from __future__ import annotations

import statistics
from dataclasses import replace

import optuna

from layernas.trainer.plan.logger import LoggerConfig
from layernas.trainer.plan.recorded import Recorded
from layernas.trainer.plan.study import StorageConfig
from layernas.trainer.search.reruns import Job, Reruns, run_jobs

PREFIX = "compare_check/"


def check_jobs(pick: dict, budget: float, seeds: tuple[int, ...]) -> list[Job]:
    return [Job(pick["trial"], pick["arch"], budget, s) for s in seeds]


def reruns(study: optuna.Study, storage: StorageConfig, logger: LoggerConfig, results_dir) -> Reruns:
    from pathlib import Path

    recorded = Recorded.of(study).run
    if recorded is None:
        raise ValueError(f"study {study.study_name!r} has no recorded run config to check its answer with")
    run = replace(recorded, logger=logger, results_dir=Path(results_dir))
    folder = Path(results_dir) / study.study_name / "compare_check"
    return Reruns(study, PREFIX, f"check {study.study_name}", "compare_check", folder, storage, run)


def run_checks(study: optuna.Study, storage: StorageConfig, logger: LoggerConfig, results_dir, jobs: list[Job]) -> int:
    return run_jobs(reruns(study, storage, logger, results_dir), jobs)


def checked(study: optuna.Study, jobs: list[Job]) -> dict:
    """The check of one pick: each seed's value (None: failed or not run), their mean and the steps trained."""
    found = {j.seed: study.user_attrs.get(PREFIX + j.name) or {} for j in jobs}
    values = {s: r.get("value") if r.get("state") == "complete" else None for s, r in found.items()}
    done = [v for v in values.values() if v is not None]
    return {"values": values, "mean": statistics.fmean(done) if len(done) == len(values) else None,
            "steps": sum(int(r.get("steps") or 0) for r in found.values())}
