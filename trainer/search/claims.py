"""Runs recorded in a study's storage and shared out among processes: the audit's runs, a supernet's
stand-alone checks, a race's runs.

Each run is a study user attribute ``<prefix><name>`` written when it finishes, so an interrupted command
resumes with the runs left, and processes (or machines) sharing the storage split them: a process claims
a run under the study's lock (the record says ``running``, with its host and pid), and a run whose claim
was interrupted, or whose process on this host is gone, is claimed again.
"""

from __future__ import annotations

import socket
import time

import optuna

from layernas.trainer.plumbing import interrupts
from layernas.trainer.search.slots import TrialSlots, pid_alive, worker_identity

DONE = ("complete", "failed")


class Claims:
    """The runs under ``prefix`` of one study, claimed under ``lock`` (the study's, see :mod:`.slots`)."""

    def __init__(self, study: optuna.Study, prefix: str, lock: TrialSlots) -> None:
        self.study, self.prefix, self.lock = study, prefix, lock

    def records(self) -> dict[str, dict]:
        """Every recorded run, by name (the attribute without the prefix), from one read of the storage."""
        return {k[len(self.prefix):]: v for k, v in self.study.user_attrs.items()
                if k.startswith(self.prefix) and isinstance(v, dict)}

    def finished(self, names: list[str]) -> int:
        """How many of ``names`` have a final record (complete or failed)."""
        done = self.records()
        return sum(1 for n in names if done.get(n, {}).get("state") in DONE)

    def claim(self, names: list[str]) -> str | None:
        """The first of ``names`` nobody has done or is doing, marked as this process's; None when none is."""
        with self.lock.held():
            done = self.records()
            for name in names:
                if claimable(done.get(name)):
                    self.study.set_user_attr(self.prefix + name, {"state": "running", **worker_identity(),
                                                                  "since": time.time()})
                    return name
        return None

    def record(self, name: str, record: dict) -> None:
        """A finished run's record (a signal waits for the write)."""
        with interrupts.held():
            self.study.set_user_attr(self.prefix + name, record)

    def release(self, name: str) -> None:
        """An interrupted run: claimable again."""
        self.record(name, {"state": "interrupted"})


def claimable(record: dict | None) -> bool:
    """Not done, and nobody alive is doing it (an interrupted run, or a claim whose process died)."""
    if record is None or record.get("state") == "interrupted":
        return True
    if record.get("state") != "running":
        return False
    return record.get("host") == socket.gethostname() and not pid_alive(record.get("pid"))
