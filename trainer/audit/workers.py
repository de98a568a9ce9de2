"""``audit.n_workers=N``: N processes on one audit, sharing the cores. The others run this same command
(their claims go through the study's storage, see :mod:`layernas.trainer.search.reruns`); audits on other
machines join by running it too with the same shared storage. Only this process writes the report, once
every worker is done."""

from __future__ import annotations

from dataclasses import replace

from layernas.trainer.audit.runs import reruns
from layernas.trainer.search.reruns import run_jobs
from layernas.trainer.search.workers import command_workers, threads_per_worker


def run_workers(plan) -> None:
    """This process's share of the audit's runs, and ``audit.n_workers - 1`` more processes for the rest."""
    n = plan.settings.n_workers
    threads = plan.settings.threads or threads_per_worker(n)
    plan = replace(plan, settings=replace(plan.settings, threads=threads))
    if n == 1:
        run_jobs(reruns(plan), plan.jobs)
        return
    command_workers("audit", "audit", n, threads, lambda: run_jobs(reruns(plan), plan.jobs))
