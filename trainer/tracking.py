"""Weights & Biases tracking through Lightning's ``WandbLogger``: offline by default, online with
``logger=wandb``, nothing at all with ``logger=none``. One W&B run per training run, finished (with its
summary and state) before the next one starts."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .secrets import redact

MODES = ("offline", "online", "disabled")


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


def make_logger(logger_cfg: dict | None, run: RunInfo):
    """A ``WandbLogger`` for the run, or None when tracking is off (``logger=none``)."""
    logger_cfg = dict(logger_cfg or {})
    if logger_cfg.get("kind", "wandb") == "none":
        return None
    mode = logger_cfg.get("mode", "offline")
    if mode not in MODES:
        raise ValueError(f"logger.mode={mode!r} is not allowed; allowed: {', '.join(MODES)}")
    run.save_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("WANDB_SILENT", "true")
    init = dict(
        project=logger_cfg.get("project", "layernas"),
        entity=logger_cfg.get("entity"),
        name=run.name,
        group=run.group,
        job_type=run.job_type,
        tags=list(run.tags) + list(logger_cfg.get("tags") or []),
        dir=str(run.save_dir),
        mode=mode,
        config=redact(run.config),
        reinit="finish_previous",
        id=run.run_id,
    )
    return _deferred_logger_class()(lambda: _start(init, system_metrics=logger_cfg.get("system_metrics", False)))


def wandb_settings(system_metrics: bool = False):
    """The settings of every W&B run of the project: no console capture, system metrics only when asked,
    and no run metadata (``x_disable_meta``): W&B would record the command line, and with it any password
    given there (a storage URL), besides host, git and environment details the config already has or
    does not need."""
    import wandb

    return wandb.Settings(console="off", x_disable_stats=not system_metrics, silent=True, x_disable_meta=True)


def _start(init: dict, system_metrics: bool):
    """Start the W&B run (importing wandb is part of the cost, so it happens here, off the main thread)."""
    import wandb

    experiment = wandb.init(**init, settings=wandb_settings(system_metrics))
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


def finish(logger, summary: dict, failed: bool = False) -> str | None:
    """Write the summary, close the run (failed runs exit non-zero so W&B shows them as failed) and
    return its local folder."""
    if logger is None:
        return None
    experiment = logger.experiment
    experiment.summary.update(redact(summary))
    run_dir = str(Path(experiment.dir).parent)
    experiment.finish(exit_code=1 if failed else 0)
    return run_dir


def close_crashed_run(logger_cfg: dict | None, save_dir: Path, run_id: str, group: str) -> None:
    """Mark the W&B run of a trial whose worker was killed as failed (it never got to finish itself)."""
    logger_cfg = dict(logger_cfg or {})
    if logger_cfg.get("kind", "wandb") == "none":
        return
    import wandb

    run = wandb.init(project=logger_cfg.get("project", "layernas"), entity=logger_cfg.get("entity"), id=run_id,
                     resume="allow", group=group, dir=str(save_dir), mode=logger_cfg.get("mode", "offline"),
                     reinit="finish_previous", settings=wandb_settings())
    run.summary.update({"state": "crashed", "reason": "its worker stopped without finishing the run"})
    run.finish(exit_code=1)


def log_summary(logger_cfg: dict | None, run: RunInfo, table: tuple[list[str], list[list]], images: dict[str, Path],
                summary: dict) -> str | None:
    """One W&B run for a whole study: the leaderboard as a table, the plots as images, the best values."""
    logger_cfg = dict(logger_cfg or {})
    if logger_cfg.get("kind", "wandb") == "none":
        return None
    import wandb

    run.save_dir.mkdir(parents=True, exist_ok=True)
    experiment = wandb.init(project=logger_cfg.get("project", "layernas"), entity=logger_cfg.get("entity"),
                            name=run.name, group=run.group, job_type=run.job_type, dir=str(run.save_dir),
                            mode=logger_cfg.get("mode", "offline"), config=redact(run.config),
                            tags=list(run.tags) + list(logger_cfg.get("tags") or []), reinit="finish_previous",
                            settings=wandb_settings())
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
