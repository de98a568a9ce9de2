"""Optuna pieces built from config: objectives, storage, sampler and pruner, and opening a study."""

from __future__ import annotations

import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna
from hydra.utils import instantiate

from .failures import check_journal
from .tracking import redact

STORAGES = ("sqlite", "journal", "postgres")


@dataclass(frozen=True)
class Objective:
    """One thing the study optimises: a validation metric of the proxy or a cost of the candidate."""

    name: str  # as users write it: objective, val_loss, val_acc, params, flops, latency_ms
    key: str  # where the value comes from: a metric name (val/...) or a cost (params, flops, latency_ms)
    direction: str


def objectives_from(names: list[str], task: dict) -> list[Objective]:
    """Resolve ``objectives=[...]``; the first must be a metric of the proxy run."""
    loss = "val/mlm_loss" if task["name"] == "mlm" else "val/loss"
    known = {
        "objective": (task["objective"], task["direction"]),
        "val_loss": (loss, "minimize"),
        "val_acc": ("val/acc" if task["name"] != "mlm" else "val/mlm_acc", "maximize"),
        "params": ("params", "minimize"),
        "flops": ("flops", "minimize"),
        "latency_ms": ("latency_ms", "minimize"),
    }
    if not names:
        raise ValueError("objectives=[] is empty; give at least one, e.g. objectives=[val_loss,params]")
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(f"objectives has unknown name {bad[0]!r}; allowed: {', '.join(known)}")
    if known[names[0]][0] in ("params", "flops", "latency_ms"):
        raise ValueError(f"objectives[0]={names[0]!r} must be a trained metric (objective, val_loss, val_acc); "
                         "costs can come after it")
    if len(set(names)) != len(names):
        raise ValueError(f"objectives={list(names)} repeats a name")
    return [Objective(n, *known[n]) for n in names]


def storage_url(storage: dict, study_dir: Path) -> str:
    """The storage URL: given, or the default file in the study's results folder."""
    kind = storage.get("kind", "sqlite")
    if kind not in STORAGES:
        raise ValueError(f"storage.kind={kind!r} is not allowed; allowed: {', '.join(STORAGES)}")
    if storage.get("url"):
        return storage["url"]
    if kind == "postgres":
        raise ValueError("storage=postgres needs storage.url=postgresql+psycopg2://user:password@host:5432/db")
    name = "study.db" if kind == "sqlite" else "journal.log"
    path = (study_dir / name).resolve()
    return f"sqlite:///{path}" if kind == "sqlite" else str(path)


def check_storage(storage: dict, study_dir: Path) -> None:
    """Connect once to a database storage given by URL, so a wrong password or an unreachable host is a
    one-line error (password masked) before anything is tokenized or written."""
    url = storage_url(storage, study_dir)
    if storage.get("kind", "sqlite") == "journal" or not storage.get("url"):
        return
    import sqlalchemy

    from .tracking import redact

    try:
        engine = sqlalchemy.create_engine(url, **_engine_kwargs(url))
        with engine.connect():
            pass
        engine.dispose()
    except Exception as e:  # noqa: BLE001  (SQLAlchemy and the drivers raise many types)
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()
        raise ValueError(f"cannot open storage {redact(url)}: {reason[0] if reason else type(e).__name__}") from None


def _engine_kwargs(url: str) -> dict:
    if url.startswith("postgresql"):
        return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}  # several local workers: wait for the write lock
    return {}


def make_storage(storage: dict, study_dir: Path):
    """SQLite (default) or PostgreSQL through RDBStorage with heartbeats, or a journal file."""
    url = storage_url(storage, study_dir)
    if storage.get("kind", "sqlite") == "journal":
        from optuna.storages.journal import JournalFileBackend

        Path(url).parent.mkdir(parents=True, exist_ok=True)
        check_journal(url)
        return optuna.storages.JournalStorage(JournalFileBackend(url))
    heartbeat = storage.get("heartbeat_interval")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats are "experimental"
        return optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url), heartbeat_interval=heartbeat,
                                          grace_period=storage.get("grace_period"),
                                          heartbeat_stale_trial_callback=StaleTrialHandler(storage.get("max_retry", 3))
                                          if heartbeat else None)


class StaleTrialHandler:
    """For a trial whose worker died (no heartbeat, or its process is gone): close its W&B run as failed
    and queue the trial once more (``RetryHeartbeatStaleTrialCallback``)."""

    def __init__(self, max_retry: int = 3) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self.retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)

    def __call__(self, study: optuna.Study, trial) -> None:
        from .tracking import close_crashed_run

        config = study.user_attrs.get("config", {})
        if trial.user_attrs.get("wandb_id"):
            folder = Path(config.get("results_dir", "results")) / study.study_name
            close_crashed_run(config.get("logger"), folder, trial.user_attrs["wandb_id"], study.study_name)
        self.retry(study, trial)


def make_sampler(sampler: dict, n_objectives: int):
    """Instantiate ``conf/sampler/<name>.yaml``; refuse combinations Optuna cannot do."""
    name = sampler.get("name", "?")
    if n_objectives > 1 and not sampler.get("multi_objective", False):
        raise ValueError(f"sampler={name} cannot optimise {n_objectives} objectives; allowed for several: "
                         "nsga2, tpe, random, gp")
    spec = {k: v for k, v in sampler.items() if k not in ("name", "multi_objective")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # e.g. TPE's group=True
        return instantiate(spec)


def make_pruner(pruner: dict, n_objectives: int):
    """Instantiate ``conf/pruner/<name>.yaml``; several objectives get no pruner (Optuna's pruners compare
    one intermediate value)."""
    spec = {k: v for k, v in pruner.items() if k != "name"}
    if n_objectives > 1:
        return optuna.pruners.NopPruner()
    return instantiate(spec)


def git_commit(root: Path | None = None) -> str:
    """The checked-out commit (with ``-dirty`` when the tree has changes), or ``unknown``."""
    root = root or Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty else "")


def study_config(cfg: dict) -> dict:
    """What a study keeps of its config (credentials masked), for reports and retraining."""
    return redact({k: v for k, v in cfg.items() if k != "hydra"})
