"""The audit's training runs: every selected trial at every budget on every seed, recorded in the study as
``audit/<trial>/<budget>/<seed>`` (see :mod:`layernas.trainer.search.reruns`)."""

from __future__ import annotations

import optuna

from layernas.trainer.search.reruns import Job, Reruns

PREFIX = "audit/"


def reruns(plan) -> Reruns:
    """The audit's runs of ``plan``'s study (an :class:`~.audit.AuditPlan`)."""
    return Reruns(plan.study, PREFIX, "audit", "audit_run", plan.folder, plan.storage, plan.run,
                  plan.settings.threads)


def records(study: optuna.Study) -> dict[str, dict]:
    """Every audit run recorded in the study, by its key."""
    return {k: v for k, v in study.user_attrs.items() if k.startswith(PREFIX) and isinstance(v, dict)}


def finished(study: optuna.Study, jobs: list[Job]) -> int:
    """How many of ``jobs`` have a final record (complete or failed), from one read of the storage."""
    done = records(study)
    return sum(1 for j in jobs if done.get(PREFIX + j.name, {}).get("state") in ("complete", "failed"))
