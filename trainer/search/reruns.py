"""A study's networks trained again, at other budgets (multiples of the proxy's steps) and seeds, with the
study's own recorded run, so the runs are paired (same data order, same initialisation seed) across
networks: the audit's runs, a race's, a comparison's checks. One mechanism for all of them.

Each run is a study user attribute ``<prefix><trial>/<budget>/<seed>`` written when it finishes
(:class:`~.claims.Claims`), so an interrupted command resumes with the runs left, and processes or
machines that share the storage split the runs.
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
from layernas.trainer.search.claims import DONE, Claims
from layernas.trainer.search.slots import study_lock, worker_identity


@dataclass(frozen=True)
class Job:
    """One run: a study's trial's network at ``budget`` times the proxy's steps on ``seed``; ``test`` also
    scores the held-out test split."""

    trial: int
    arch: str
    budget: float
    seed: int
    test: bool = False

    @property
    def name(self) -> str:
        return f"{self.trial}/{self.budget:g}/{self.seed}"


@dataclass(frozen=True)
class Reruns:
    """One command's runs of a study: where they are recorded (``prefix``), what they are called (``label``
    in lines and W&B names, ``job_type`` in W&B), where W&B writes (``folder``), and the run they repeat."""

    study: optuna.Study
    prefix: str
    label: str
    job_type: str
    folder: Path
    storage: StorageConfig
    run: RunPlan
    threads: int | None = None

    def claims(self) -> Claims:
        return Claims(self.study, self.prefix, study_lock(self.study, self.folder.parent, self.storage))

    def records(self) -> dict[str, dict]:
        """Every recorded run, by job name, from one read of the storage."""
        return Claims(self.study, self.prefix, None).records()

    def finished(self, jobs: list[Job]) -> int:
        done = self.records()
        return sum(1 for j in jobs if done.get(j.name, {}).get("state") in DONE)


def job_plan(run: RunPlan, job: Job, threads: int | None) -> RunPlan:
    """The study's run with the job's budget and seed (and this process's share of the cores)."""
    trainer = run.trainer
    changes = {"max_steps": int(round(trainer.max_steps * job.budget)),
               "max_time": trainer.max_time * job.budget if trainer.max_time else trainer.max_time}
    if threads:
        changes["threads"] = threads
    return run.with_trainer(**changes).with_seed(job.seed)


def run_job(reruns: Reruns, job: Job, runs: Claims) -> dict:
    """Train one job and record it (complete or failed; an interruption leaves it to be claimed again)."""
    from layernas.search_space import Architecture
    from layernas.trainer.core.proxy import RunSpec, run_proxy

    metric = reruns.run.objective.key
    label = reruns.label
    info = RunInfo(name=f"{label} #{job.trial} x{job.budget:g} s{job.seed}", group=reruns.study.study_name,
                   job_type=reruns.job_type, save_dir=reruns.folder, run_id=new_run_id(),
                   config={f"{label}/trial": job.trial, f"{label}/budget": job.budget, f"{label}/seed": job.seed})
    run = job_plan(reruns.run, job, reruns.threads)
    try:
        result = run_proxy(RunSpec(Architecture.parse(job.arch, run.model.d_model), run, run=info, test=job.test))
    except BaseException:
        runs.release(job.name)
        raise
    value = result.metrics.get(metric)
    ok = result.state == "complete" and value is not None and math.isfinite(value)
    record = {"trial": job.trial, "arch": job.arch, "budget": job.budget, "seed": job.seed,
              "state": "complete" if ok else "failed", "metric": metric,
              "value": float(value) if ok else None, "steps": result.steps, "wall_s": round(result.wall_s, 2),
              "curve": [list(p) for p in result.curve], "reason": "" if ok else (result.reason or result.state),
              **worker_identity()}  # which process trained it
    if job.test and ok:
        record["test"] = {k: float(v) for k, v in result.metrics.items() if k.startswith("test/")}
    runs.record(job.name, record)
    return record


def run_jobs(reruns: Reruns, jobs: list[Job], total: list[Job] | None = None) -> int:
    """Claim and train ``jobs`` until none is left to claim; one line per run, counting against ``total``
    (all of the command's runs). Returns how many this process ran."""
    runs = reruns.claims()
    by_name = {job.name: job for job in jobs}
    total = total or jobs
    ran = 0
    while interrupts.check() is None and (name := runs.claim(list(by_name))) is not None:
        job = by_name[name]  # checked before the claim: a signal never leaves a claim behind
        record = run_job(reruns, job, runs)
        ran += 1
        value = fmt(record["value"]) if record["state"] == "complete" else f"failed: {record['reason']}"
        print(f"[{reruns.label} {reruns.finished(total)}/{len(total)}] #{job.trial} x{job.budget:g} seed "
              f"{job.seed}: {value} ({record['steps']} steps, {record['wall_s']:.0f} s) | {job.arch}", flush=True)
    return ran
