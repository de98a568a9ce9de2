"""Optuna storages from config: SQLite (default) or PostgreSQL through RDBStorage with heartbeats, or a
journal file; and what happens to a trial whose worker died."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import optuna

from layernas.trainer.plan.recorded import Recorded
from layernas.trainer.plan.study import StorageConfig
from layernas.trainer.plumbing.secrets import redact, storage_url_from_env


def storage_url(storage: StorageConfig, study_dir: Path) -> str:
    """The storage URL: given, or the default file in the study's results folder."""
    kind = storage.kind
    url = storage_url_from_env(kind, storage.url)
    if url:
        return url
    if kind == "postgres":
        raise ValueError("storage=postgres needs storage.url=postgresql+psycopg2://user:password@host:5432/db "
                         "(or that URL in LAYERNAS_STORAGE_URL)")
    name = "study.db" if kind == "sqlite" else "journal.log"
    path = (study_dir / name).resolve()
    return f"sqlite:///{path}" if kind == "sqlite" else str(path)


def check_storage(storage: StorageConfig, study_dir: Path) -> None:
    """Connect once to a database storage given by URL, so a wrong password or an unreachable host is a
    one-line error (password masked) before anything is tokenized or written."""
    url = storage_url(storage, study_dir)
    if storage.kind == "journal" or not storage_url_from_env(storage.kind, storage.url):
        return
    import sqlalchemy

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


def make_storage(storage: StorageConfig, study_dir: Path):
    """SQLite (default) or PostgreSQL through RDBStorage with heartbeats, or a journal file."""
    url = storage_url(storage, study_dir)
    if storage.kind == "journal":
        from optuna.storages.journal import JournalFileBackend

        Path(url).parent.mkdir(parents=True, exist_ok=True)
        check_journal(url)
        return optuna.storages.JournalStorage(JournalFileBackend(url))
    heartbeat = storage.heartbeat_interval
    kwargs = {"engine_kwargs": _engine_kwargs(url), "heartbeat_interval": heartbeat,
              "grace_period": storage.grace_period,
              "heartbeat_stale_trial_callback": StaleTrialHandler(storage.max_retry) if heartbeat else None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats are "experimental"
        return _rdb_storage(url, kwargs)


def _rdb_storage(url: str, kwargs: dict, attempts: int = 5):
    """``RDBStorage``, tried again when another process was creating the same fresh database at the same
    moment: Optuna creates the tables and stamps the schema version without a lock, so the loser of that race
    gets "table ... already exists" or a duplicate version row, and a second try finds the finished schema."""
    import sqlalchemy.exc

    for attempt in range(attempts - 1):
        try:
            return optuna.storages.RDBStorage(url, **kwargs)
        except sqlalchemy.exc.DBAPIError as e:
            if not _schema_race(e):
                raise
            time.sleep(0.2 * (attempt + 1))
    return optuna.storages.RDBStorage(url, **kwargs)


def _schema_race(error) -> bool:
    """A failure that another process creating the same schema explains (not a wrong password or host)."""
    import sqlalchemy.exc

    text = str(error.orig or error).lower()
    return isinstance(error, sqlalchemy.exc.IntegrityError) or "already exists" in text or "locked" in text


class StaleTrialHandler:
    """For a trial whose worker died (no heartbeat, or its process is gone): close its W&B run as failed
    and queue the trial once more (``RetryHeartbeatStaleTrialCallback``)."""

    def __init__(self, max_retry: int = 3) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self.retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)

    def __call__(self, study: optuna.Study, trial) -> None:
        from layernas.trainer.core.tracking import close_crashed_run

        recorded = Recorded.of(study)
        if trial.user_attrs.get("wandb_id"):
            close_crashed_run(recorded.logger, recorded.results_dir / study.study_name, trial.user_attrs["wandb_id"],
                              study.study_name)
        self.retry(study, trial)


def check_journal(path: str | os.PathLike) -> None:
    """A journal whose last line was cut (a writer killed mid-line, a full disk) would be replayed without
    that line and then appended to after the fragment, corrupting the next record too: refuse it."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
    raise ValueError(f"journal {path} ends in a cut line (its last write did not finish); restore it from a "
                     "backup, or delete its last line to keep the trials before it")
