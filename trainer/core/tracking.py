"""Weights & Biases tracking through Lightning's ``WandbLogger``: offline by default, online with
``logger=wandb``, nothing at all with ``logger=none``. One W&B run per training run, finished (with its
summary and state) before the next one starts."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from layernas.trainer.plan.logger import LoggerConfig
from layernas.trainer.plumbing.secrets import redact


@dataclass
class RunInfo:
    """Where and how one run is recorded."""

    name: str
    group: str
    job_type: str
    save_dir: Path
    config: dict = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    run_id: str | None = None  # chosen up front when others must find the run (a search's trials)


def new_run_id() -> str:
    """A W&B-style run id (8 lowercase letters and digits)."""
    import secrets
    import string

    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))


def start_run(cfg: LoggerConfig, run: RunInfo, **extra):
    """``wandb.init`` of a run, assembled here for every run of the project (trials, proxies, retrains,
    summaries, closing a crashed trial's run): its project, names, folder, redacted config, settings."""
    import wandb

    run.save_dir.mkdir(parents=True, exist_ok=True)
    init = dict(project=cfg.project, entity=cfg.entity, name=run.name, group=run.group, job_type=run.job_type,
                tags=[*run.tags, *cfg.tags], dir=str(run.save_dir), mode=cfg.mode, config=redact(run.config),
                reinit="finish_previous", id=run.run_id, settings=wandb_settings(cfg.system_metrics))
    return wandb.init(**{**init, **extra})


def make_logger(cfg: LoggerConfig, run: RunInfo):
    """A ``WandbLogger`` for the run, or None when tracking is off (``logger=none``)."""
    if not cfg.enabled:
        return None
    run.save_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("WANDB_SILENT", "true")
    return _deferred_logger_class()(lambda: _start(cfg, run))


def wandb_settings(system_metrics: bool = False):
    """The settings of every W&B run of the project: no console capture, system metrics only when asked,
    and no run metadata (``x_disable_meta``): W&B would record the command line, and with it any password
    given there (a storage URL), besides host, git and environment details the config already has or
    does not need."""
    import wandb

    return wandb.Settings(console="off", x_disable_stats=not system_metrics, silent=True, x_disable_meta=True)


def _start(cfg: LoggerConfig, run: RunInfo):
    """Start the W&B run (importing wandb is part of the cost, so it happens here, off the main thread)."""
    experiment = start_run(cfg, run)
    experiment.define_metric("trainer/global_step")
    experiment.define_metric("*", step_metric="trainer/global_step", step_sync=True)
    return experiment


def _deferred_logger_class():
    from lightning.pytorch.loggers import WandbLogger

    class DeferredWandbLogger(WandbLogger):
        """A ``WandbLogger`` whose run starts in a background thread: the first optimizer step does not wait
        for W&B's start-up (seconds for the first run of a process); the first metrics do."""

        def __init__(self, start) -> None:
            super().__init__()
            self._pending = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wandb-init").submit(start)

        @property
        def experiment(self):
            if self._experiment is None:
                self._experiment = self._pending.result()
            return self._experiment

        def log_hyperparams(self, params, *args, **kwargs) -> None:
            """The run's config is given when it starts; Lightning's module hyperparameters add nothing."""

    return DeferredWandbLogger


def finish(logger, summary: dict, failed: bool = False, exit_code: int | None = None) -> str | None:
    """Write the summary, close the run and return its local folder. Failed runs exit 1 so W&B shows them as
    failed; an interrupted one exits with the shell's code for its signal (130, 143), its summary's ``state``
    says ``interrupted`` (W&B itself has no such state: it shows a non-zero exit as failed)."""
    if logger is None:
        return None
    experiment = logger.experiment
    experiment.summary.update(redact(summary))
    run_dir = str(Path(experiment.dir).parent)
    experiment.finish(exit_code=exit_code if exit_code is not None else (1 if failed else 0))
    return run_dir


def close_crashed_run(cfg: LoggerConfig, save_dir: Path, run_id: str, group: str) -> None:
    """Mark the W&B run of a trial whose worker was killed as failed (it never got to finish itself)."""
    if not cfg.enabled:
        return
    run = start_run(cfg, RunInfo(name=None, group=group, job_type=None, save_dir=save_dir, run_id=run_id),
                    resume="allow", name=None, job_type=None, config=None)
    run.summary.update({"state": "crashed", "reason": "its worker stopped without finishing the run"})
    run.finish(exit_code=1)


def log_summary(cfg: LoggerConfig, run: RunInfo, table: tuple[list[str], list[list]], images: dict[str, Path],
                summary: dict) -> str | None:
    """One W&B run for a whole study: the leaderboard as a table, the plots as images, the best values."""
    if not cfg.enabled:
        return None
    import wandb

    experiment = start_run(cfg, run)
    columns, rows = table
    try:
        experiment.log({"leaderboard": wandb.Table(columns=columns, data=rows),
                        **{f"plots/{name}": wandb.Image(str(path)) for name, path in images.items() if path.exists()}})
        experiment.summary.update(redact(summary))
    except BaseException:
        experiment.finish(exit_code=1)  # closed as failed, not left open for the next run to find
        raise
    run_dir = str(Path(experiment.dir).parent)
    experiment.finish()
    return run_dir
