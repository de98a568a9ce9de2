"""The audit's training runs: every selected trial at every budget on every seed, through ``run_proxy``
with the study's own config (same data, same seeds, so the runs are paired).

Each run is a study user attribute ``audit/<trial>/<budget>/<seed>`` written when it finishes, so an
interrupted audit resumes with the runs left to do, and audits on other processes or machines that share
the storage split the work: a process claims a run under the study's lock (``running`` with its host and
pid) and a claim whose process is gone is taken again.
"""

from __future__ import annotations

import math
import socket
import time
from dataclasses import dataclass

import optuna

from .. import interrupts
from ..search.format import fmt
from ..search.objectives import objectives_from
from ..search.slots import TrialSlots, pid_alive, worker_identity
from ..search.storage import storage_url
from ..tracking import RunInfo, new_run_id

PREFIX = "audit/"


@dataclass(frozen=True)
class Job:
    trial: int
    arch: str
    budget: float  # multiple of the proxy's steps
    seed: int

    @property
    def key(self) -> str:
        return f"{PREFIX}{self.trial}/{self.budget:g}/{self.seed}"


def records(study: optuna.Study) -> dict[str, dict]:
    """Every audit run recorded in the study, by its key."""
    return {k: v for k, v in study.user_attrs.items() if k.startswith(PREFIX) and isinstance(v, dict)}


def finished(study: optuna.Study, jobs: list[Job]) -> int:
    """How many of ``jobs`` have a final record (complete or failed), from one read of the storage."""
    done = records(study)
    return sum(1 for j in jobs if done.get(j.key, {}).get("state") in ("complete", "failed"))


def _claimable(record: dict | None) -> bool:
    """Not done, and nobody alive is doing it (an interrupted run, or a claim whose process died)."""
    if record is None or record.get("state") == "interrupted":
        return True
    if record.get("state") != "running":
        return False
    return record.get("host") == socket.gethostname() and not pid_alive(record.get("pid"))


def claim(study: optuna.Study, jobs: list[Job], lock: TrialSlots) -> Job | None:
    """The next job nobody has done or is doing, marked as this process's; None when none is left."""
    with lock.held():
        done = records(study)
        for job in jobs:
            if _claimable(done.get(job.key)):
                study.set_user_attr(job.key, {"state": "running", **worker_identity(), "since": time.time()})
                return job
    return None


def run_config(study_cfg: dict, command_cfg: dict, job: Job) -> dict:
    """The study's config with the job's budget and seed, and this command's logger and results folder."""
    trainer = dict(study_cfg["trainer"])
    if command_cfg["audit"].get("threads"):
        trainer["threads"] = command_cfg["audit"]["threads"]
    trainer["max_steps"] = int(round(trainer["max_steps"] * job.budget))
    if trainer.get("max_time"):
        trainer["max_time"] = trainer["max_time"] * job.budget
    return {**study_cfg, "trainer": trainer, "seed": job.seed, "logger": command_cfg.get("logger"),
            "results_dir": command_cfg["results_dir"]}


def run_job(study: optuna.Study, job: Job, command_cfg: dict, folder) -> dict:
    """Train one job and record it (complete or failed; an interruption leaves it to be claimed again)."""
    from ..proxy import run_proxy

    study_cfg = study.user_attrs["config"]
    metric = objectives_from(study_cfg["objectives"], study_cfg["task"])[0].key
    info = RunInfo(name=f"audit #{job.trial} x{job.budget:g} s{job.seed}", group=study.study_name,
                   job_type="audit_run", save_dir=folder, run_id=new_run_id(),
                   config={"audit/trial": job.trial, "audit/budget": job.budget, "audit/seed": job.seed})
    try:
        result = run_proxy(job.arch, run_config(study_cfg, command_cfg, job), run=info)
    except BaseException:
        with interrupts.held():
            study.set_user_attr(job.key, {"state": "interrupted"})  # claimable again
        raise
    value = result.metrics.get(metric)
    ok = result.state == "complete" and value is not None and math.isfinite(value)
    record = {"trial": job.trial, "arch": job.arch, "budget": job.budget, "seed": job.seed,
              "state": "complete" if ok else "failed", "metric": metric,
              "value": float(value) if ok else None, "steps": result.steps, "wall_s": round(result.wall_s, 2),
              "curve": [list(p) for p in result.curve], "reason": "" if ok else (result.reason or result.state)}
    with interrupts.held():
        study.set_user_attr(job.key, record)
    return record


def run_jobs(study: optuna.Study, jobs: list[Job], command_cfg: dict, folder) -> int:
    """Claim and train jobs until none is left; one line per run. Returns how many this process ran."""
    lock = TrialSlots(study, folder.parent / ".trials.lock", storage_url(command_cfg["storage"], folder.parent))
    ran = 0
    while (job := claim(study, jobs, lock)) is not None:
        interrupts.check()
        record = run_job(study, job, command_cfg, folder)
        ran += 1
        value = fmt(record["value"]) if record["state"] == "complete" else f"failed: {record['reason']}"
        print(f"[audit {finished(study, jobs)}/{len(jobs)}] #{job.trial} x{job.budget:g} seed {job.seed}: {value} "
              f"({record['steps']} steps, {record['wall_s']:.0f} s) | {job.arch}", flush=True)
    return ran
