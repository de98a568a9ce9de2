"""Heartbeats of a running trial, for trials run with ``study.ask``/``study.tell``.

``study.optimize`` beats a trial's heartbeat (RDB storages with ``heartbeat_interval``) from a thread of
its own, but Optuna has no public call for ask-and-tell loops; this module is the one place that uses its
private helper, so an Optuna upgrade that moves it breaks here and nowhere else.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import optuna


def beating(study: optuna.Study, trial: optuna.Trial) -> AbstractContextManager:
    """A context in which ``trial``'s heartbeat is sent (a no-op for storages without heartbeats)."""
    from optuna.storages._heartbeat import get_heartbeat_thread

    return get_heartbeat_thread(trial._trial_id, study._storage)
