"""Trial slots: how several workers on one study stop at exactly ``study.n_trials``.

Checking "is there room for one more trial?" and creating that trial must happen as one step, or two
workers both take the last slot. A lock makes it one step: a file lock beside a local storage (SQLite,
journal), a PostgreSQL advisory lock for a database that workers on many machines share. The worker
holds it from the check until its trial has registered its architecture, which also keeps two workers
from starting to train the same network at the same moment.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
from filelock import FileLock
from optuna.trial import TrialState

from layernas.trainer.plan.study import StorageConfig
from layernas.trainer.plumbing import interrupts, optuna_private
from layernas.trainer.search.storage import storage_url

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
STANDALONE = "standalone"  # a trial measured by a proxy run of its own


def retried_numbers(trials) -> set[int]:
    """Trials whose worker died and that were queued again, including retries that died too (their
    re-run counts instead)."""
    import warnings

    from optuna.storages import RetryHeartbeatStaleTrialCallback

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return {n for t in trials for n in RetryHeartbeatStaleTrialCallback.retry_history(t)}


def counted(study: optuna.Study) -> int:
    """Trials that count towards ``study.n_trials``: finished ones, except those interrupted (Ctrl-C or
    SIGTERM), re-queued after their worker died, or rejected by a constraint before training."""
    return counted_in(study.get_trials(deepcopy=False))


def scored(t) -> bool:
    """Whether a trial was scored without training (its ``strategy`` user attribute names another way to
    measure than a proxy run of its own, e.g. ``supernet``)."""
    return t.user_attrs.get("strategy", STANDALONE) != STANDALONE


def counted_in(trials: list) -> int:
    """:func:`counted` over a list of trials (one read of the storage). Trials scored without training
    count once per network: re-scoring one costs nothing, so ``study.n_trials`` of a supernet search is the
    number of distinct candidates it scores, however often the sampler proposes the same one."""
    again = retried_numbers(trials)
    kept = [t for t in trials if t.state in FINISHED and not t.user_attrs.get("interrupted")
            and not t.user_attrs.get("rejected") and t.number not in again]
    return len({t.user_attrs.get("key") for t in kept if scored(t)}) + sum(1 for t in kept if not scored(t))


def taken(study: optuna.Study) -> int:
    """Slots taken: counted trials plus running ones, from one read of the storage (a trial that finishes
    between two reads would be in neither count, and one slot too many would look free)."""
    trials = study.get_trials(deepcopy=False)
    return counted_in(trials) + sum(1 for t in trials if t.state == TrialState.RUNNING)


class TrialSlots:
    """The lock shared by every worker of a study (see the module docstring). :meth:`claim` is the only
    way to hold it, and the end of its ``with`` block the only place it is released."""

    def __init__(self, study: optuna.Study, lock_path, url: str | None = None) -> None:
        self.study = study
        self._pg = None
        if url and url.startswith("postgresql"):
            key = int(hashlib.sha1(f"layernas:{study.study_name}".encode()).hexdigest()[:15], 16)
            self._pg = (optuna_private.storage_of(study), key)
        else:
            self._file = FileLock(str(lock_path))

    @contextmanager
    def claim(self, n_trials: int, tidy=None) -> Iterator[bool]:
        """Hold the lock for the ``with`` block; the block gets True when there is room for one more trial
        (create and register it inside the block), False when the study is full. ``tidy()`` runs first,
        under the lock (it fails the trials of dead workers, which must happen once, not once per worker)."""
        with interrupts.interruptible():  # waiting for the lock may be cut short; what it guards may not
            release = self._acquire()
        try:
            if tidy is not None:
                tidy()
            yield taken(self.study) < n_trials
        finally:
            release()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for the ``with`` block (for work other than trial slots, e.g. audit claims)."""
        with interrupts.interruptible():
            release = self._acquire()
        try:
            yield
        finally:
            release()

    def _acquire(self):
        """Take the lock; returns the function that gives it back."""
        if self._pg is None:
            self._file.acquire()
            return self._file.release
        from sqlalchemy import text

        storage, key = self._pg
        conn = optuna_private.engine_of(storage).connect()
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})

        def release() -> None:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            finally:
                conn.close()  # closing the session frees the advisory lock even if the unlock failed

        return release


def study_lock(study: optuna.Study, study_dir: Path, storage: StorageConfig) -> TrialSlots:
    """The lock of a study's slots and claims, shared by every process working on it."""
    return TrialSlots(study, Path(study_dir) / ".trials.lock", storage_url(storage, study_dir))


def worker_identity() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def pid_alive(pid: int | None) -> bool:
    """Whether a process of this host still runs (a zombie, killed but not yet reaped, does not)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True
