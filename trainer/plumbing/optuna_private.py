"""The private parts of Optuna that the search needs, in one place, so that an Optuna release that moves
one breaks here and nowhere else.

- Heartbeats: ``study.optimize`` beats a running trial's heartbeat (RDB storages with
  ``heartbeat_interval``) from a thread of its own, but there is no public call for an ask-and-tell loop.
- The storage behind a study: failing a trial whose worker died (``fail_stale_trials`` does the same for
  heartbeat storages, privately), re-reading one trial without fetching the whole study, and the
  SQLAlchemy engine of an RDB storage for PostgreSQL advisory locks.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import optuna
from optuna.trial import FrozenTrial, TrialState


def beating(study: optuna.Study, trial: optuna.Trial) -> AbstractContextManager:
    """A context in which ``trial``'s heartbeat is sent (a no-op for storages without heartbeats)."""
    from optuna.storages._heartbeat import get_heartbeat_thread

    return get_heartbeat_thread(trial._trial_id, study._storage)


def reload(study: optuna.Study, trial: FrozenTrial | optuna.Trial) -> FrozenTrial:
    """The trial as the storage has it now."""
    return study._storage.get_trial(trial._trial_id)


def fail(study: optuna.Study, trial: FrozenTrial) -> FrozenTrial:
    """Mark a running trial failed (its worker is gone) and return it as stored."""
    study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
    return reload(study, trial)


def storage_of(study: optuna.Study):
    return study._storage


def engine_of(storage):
    """The SQLAlchemy engine behind an RDBStorage (Optuna may wrap it in a cache layer)."""
    return getattr(storage, "_backend", storage).engine
