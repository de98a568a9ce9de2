"""``layernas audit``: train k of a study's trials again at longer budgets and on several seeds, and
measure how well the study's proxy (and cheaper signals) ranked them; see :mod:`.summary`."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

import optuna

from layernas.trainer.audit.runs import PREFIX, finished, records
from layernas.trainer.audit.select import select
from layernas.trainer.audit.settings import AuditConfig
from layernas.trainer.audit.summary import Arch
from layernas.trainer.plan.logger import LoggerConfig
from layernas.trainer.plan.recorded import Recorded
from layernas.trainer.plan.run import RunPlan
from layernas.trainer.plan.study import StorageConfig, StudyRef
from layernas.trainer.plumbing import interrupts
from layernas.trainer.results.ranking import candidates
from layernas.trainer.search.reruns import Job
from layernas.trainer.search.study import load_existing_study


@dataclass(frozen=True)
class AuditPlan:
    """What an audit will do, checked before anything trains: the study's recorded run (with this command's
    logger and results folder), the settings, the chosen trials in proxy-rank order and the runs."""

    study: optuna.Study
    folder: Path  # results/<study>/audit
    storage: StorageConfig
    run: RunPlan
    settings: AuditConfig
    chosen: list  # FrozenTrials, proxy-rank order
    jobs: list[Job]
    sign: float  # 1 when the first objective is minimised, -1 when maximised: signed values are lower-better
    seed: int  # this command's: the random selection and the bootstrap

    @property
    def budgets(self) -> list[float]:
        return list(self.settings.budgets)

    @property
    def seeds(self) -> list[int]:
        return list(self.settings.seeds)

    @property
    def proxy_steps(self) -> int:
        return self.run.trainer.max_steps


def plan_audit(ref: StudyRef, settings: AuditConfig, logger: LoggerConfig, seed: int) -> AuditPlan:
    """Check the command (one-line ``ValueError`` for a bad value) and list the runs."""
    study = load_existing_study(ref)
    if "config" not in study.user_attrs:
        raise ValueError(f"study {study.study_name!r} was not made by `layernas search` (it has no config)")
    trials = candidates(study)
    if not trials:
        raise ValueError(f"study {study.study_name!r} has no completed trial to audit")
    recorded = Recorded.of(study)
    if recorded.run is None:
        raise ValueError(f"study {study.study_name!r} was not made by `layernas search` (its config is not a run's)")
    k = settings.k
    if not isinstance(k, int) or isinstance(k, bool) or k < 3 or k > len(trials):
        raise ValueError(f"audit.k={k!r} is not allowed; allowed: 3 to {len(trials)} (the study's completed trials "
                         "with distinct networks)" if len(trials) >= 3 else
                         f"audit.k={k!r} is not allowed: study {study.study_name!r} has only {len(trials)} completed "
                         "trials with distinct networks and an audit needs at least 3")
    chosen = select(trials, k, settings.select, seed)
    # x1 on the study's own seed is the trial itself: its value is taken, not trained again
    jobs = [Job(t.number, t.user_attrs["arch"], b, s) for b in settings.budgets for t in chosen for s in settings.seeds
            if not (b == 1 and s == recorded.seed)]
    sign = -1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    run = replace(recorded.run, logger=logger, results_dir=ref.results_dir)
    return AuditPlan(study, ref.folder / "audit", ref.storage, run, settings, chosen, jobs, sign, seed)


def collect(plan: AuditPlan) -> list[Arch]:
    """The audited architectures with every finished run's value (signed: lower is better)."""
    done = records(plan.study)
    archs = []
    for t in plan.chosen:
        arch = Arch(t.number, t.user_attrs["arch"], t.user_attrs.get("baseline"), plan.sign * t.values[0],
                    curve={int(s): plan.sign * v for s, v in t.user_attrs.get("curve", [])})
        if 1.0 in plan.budgets:
            arch.budgets[1.0] = {plan.run.seed: arch.proxy}
        for job in (j for j in plan.jobs if j.trial == t.number):
            record = done.get(PREFIX + job.name, {})
            if record.get("state") == "complete":
                arch.budgets.setdefault(job.budget, {})[job.seed] = plan.sign * record["value"]
        archs.append(arch)
    return archs


def run_audit(plan: AuditPlan) -> dict:
    """Train what is left (resuming), score the zero-cost proxies, write ``results/<study>/audit/``."""
    from layernas.trainer.audit.report import write_audit
    from layernas.trainer.audit.workers import run_workers
    from layernas.trainer.audit.zero_cost import zero_cost_scores

    left = len(plan.jobs) - finished(plan.study, plan.jobs)
    print(f"audit of study {plan.study.study_name}: {len(plan.chosen)} architectures x budgets "
          f"{', '.join(f'x{b:g}' for b in plan.budgets)} x seeds {plan.seeds} = {len(plan.jobs)} runs, "
          f"{left} left to train", flush=True)
    try:
        run_workers(plan)
    except interrupts.Interrupted:
        print(f"\ninterrupted: finished runs are kept; run the same command to resume "
              f"({finished(plan.study, plan.jobs)}/{len(plan.jobs)} runs done)", file=sys.stderr, flush=True)
        raise
    if not plan.settings.report:
        return {}
    scores = zero_cost_scores(plan.run, plan.chosen, plan.seeds) if plan.settings.zero_cost else {}
    return write_audit(plan, collect(plan), scores)
