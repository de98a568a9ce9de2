"""The study's summary run in W&B: the leaderboard table, the plots and the best values."""

from __future__ import annotations

import sys
from pathlib import Path

import optuna

from layernas.trainer.core import tracking
from layernas.trainer.core.tracking import RunInfo
from layernas.trainer.plan.logger import LoggerConfig
from layernas.trainer.plumbing.secrets import redact
from layernas.trainer.results.noise import seed_noise
from layernas.trainer.results.ranking import best_trials, ranked
from layernas.trainer.results.signal import verdict
from layernas.trainer.results.table import objective_names, rows
from layernas.trainer.results.writer import existing_images


def log_summary_run(study: optuna.Study, folder: Path, logger: LoggerConfig) -> str | None:
    """The study's summary run in W&B: leaderboard table, plots and the best values. It is a record of
    results already written, so a failure is a one-line warning, never a failed search."""
    try:
        written = _log_summary_run(study, folder, logger)
    except Exception as e:  # noqa: BLE001  (W&B raises many types; none may fail a finished search)
        reason = (str(e).strip().splitlines() or [""])[0]
        print(f"warning: the W&B summary run of study {study.study_name!r} was not written "
              f"({type(e).__name__}: {redact(reason)}); `layernas report study.name={study.study_name}` writes it",
              file=sys.stderr, flush=True)
        _mark_summary_run(study, "failed")
        return None
    if written is not None:
        _mark_summary_run(study, "written")
    return written


def _mark_summary_run(study: optuna.Study, state: str) -> None:
    """Kept in the study, so that ``layernas report`` knows to write a summary run that failed."""
    try:
        study.set_user_attr("summary_run", state)
    except Exception as e:  # noqa: BLE001  (a storage that refuses writes must not fail the report either)
        print(f"warning: could not record the summary run's state ({type(e).__name__})", file=sys.stderr)


def _log_summary_run(study: optuna.Study, folder: Path, logger: LoggerConfig) -> str | None:
    best = best_trials(study)
    names = objective_names(study)
    summary = {"n_trials": len(study.trials), "best_trials": [t.number for t in best]}
    noise = seed_noise(study)
    if noise:
        summary.update({"seed_noise/std": noise["std"], "seed_noise/dof": noise["dof"],
                        "seed_noise/tie_within": noise["tie_within"]})
    said = verdict(study, ranked(study), noise)
    if said:
        summary["verdict"] = said
    if best:
        summary.update({f"best/{n}": v for n, v in zip(names, best[0].values, strict=True)})
        summary["best/arch"] = best[0].user_attrs.get("arch")
    run = RunInfo(name=f"{study.study_name} summary", group=study.study_name, job_type="summary",
                  save_dir=folder, config=study.user_attrs.get("config", {}))
    return tracking.log_summary(logger, run, rows(study), existing_images(folder / "plots"), summary)
