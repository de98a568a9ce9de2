"""The audit's training runs: every selected trial at every budget on every seed, through ``run_proxy``
with the study's own config (same data, same seeds, so the runs are paired).

Each run is a study user attribute ``audit/<trial>/<budget>/<seed>`` written when it finishes, so an
interrupted audit resumes with the runs left to do, and audits on other processes or machines that share
the storage split the work: a process claims a run under the study's lock (``running`` with its host and
pid) and a claim whose process is gone is taken again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import optuna

from layernas.trainer.core.tracking import RunInfo, new_run_id
from layernas.trainer.plan.run import RunPlan
from layernas.trainer.plan.study import StorageConfig
from layernas.trainer.plumbing import interrupts
from layernas.trainer.results.format import fmt
from layernas.trainer.search.claims import Claims
from layernas.trainer.search.slots import study_lock

PREFIX = "audit/"


@dataclass(frozen=True)
class Job:
    trial: int
    arch: str
    budget: float  # multiple of the proxy's steps
    seed: int

    @property
    def name(self) -> str:
        return f"{self.trial}/{self.budget:g}/{self.seed}"

    @property
    def key(self) -> str:
        return PREFIX + self.name


def claims(study: optuna.Study, folder: Path, storage: StorageConfig) -> Claims:
    """The audit's runs in the study's storage (``audit/<trial>/<budget>/<seed>``)."""
    return Claims(study, PREFIX, study_lock(study, folder, storage))


def records(study: optuna.Study) -> dict[str, dict]:
    """Every audit run recorded in the study, by its key."""
    return {k: v for k, v in study.user_attrs.items() if k.startswith(PREFIX) and isinstance(v, dict)}


def finished(study: optuna.Study, jobs: list[Job]) -> int:
    """How many of ``jobs`` have a final record (complete or failed), from one read of the storage."""
    done = records(study)
    return sum(1 for j in jobs if done.get(j.key, {}).get("state") in ("complete", "failed"))


def job_plan(run: RunPlan, job: Job, threads: int | None) -> RunPlan:
    """The study's run with the job's budget and seed (and this process's share of the cores)."""
    trainer = run.trainer
    changes = {"max_steps": int(round(trainer.max_steps * job.budget)),
               "max_time": trainer.max_time * job.budget if trainer.max_time else trainer.max_time}
    if threads:
        changes["threads"] = threads
    return run.with_trainer(**changes).with_seed(job.seed)


def run_job(plan, job: Job, runs: Claims) -> dict:
    """Train one job and record it (complete or failed; an interruption leaves it to be claimed again)."""
    from layernas.search_space import Architecture
    from layernas.trainer.core.proxy import RunSpec, run_proxy

    metric = plan.run.objective.key
    info = RunInfo(name=f"audit #{job.trial} x{job.budget:g} s{job.seed}", group=plan.study.study_name,
                   job_type="audit_run", save_dir=plan.folder, run_id=new_run_id(),
                   config={"audit/trial": job.trial, "audit/budget": job.budget, "audit/seed": job.seed})
    run = job_plan(plan.run, job, plan.settings.threads)
    try:
        result = run_proxy(RunSpec(Architecture.parse(job.arch, run.model.d_model), run, run=info))
    except BaseException:
        runs.release(job.name)
        raise
    value = result.metrics.get(metric)
    ok = result.state == "complete" and value is not None and math.isfinite(value)
    record = {"trial": job.trial, "arch": job.arch, "budget": job.budget, "seed": job.seed,
              "state": "complete" if ok else "failed", "metric": metric,
              "value": float(value) if ok else None, "steps": result.steps, "wall_s": round(result.wall_s, 2),
              "curve": [list(p) for p in result.curve], "reason": "" if ok else (result.reason or result.state)}
    runs.record(job.name, record)
    return record


def run_jobs(plan) -> int:
    """Claim and train jobs until none is left; one line per run. Returns how many this process ran."""
    runs = claims(plan.study, plan.folder.parent, plan.storage)
    by_name = {job.name: job for job in plan.jobs}
    ran = 0
    while (name := runs.claim(list(by_name))) is not None:
        interrupts.check()
        job = by_name[name]
        record = run_job(plan, job, runs)
        ran += 1
        value = fmt(record["value"]) if record["state"] == "complete" else f"failed: {record['reason']}"
        print(f"[audit {finished(plan.study, plan.jobs)}/{len(plan.jobs)}] #{job.trial} x{job.budget:g} seed "
              f"{job.seed}: {value} ({record['steps']} steps, {record['wall_s']:.0f} s) | {job.arch}", flush=True)
    return ran
