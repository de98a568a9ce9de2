"""``audit.n_workers=N``: N processes on one audit, sharing the cores. The others run this same command
(their claims go through the study's storage, see :mod:`.runs`); audits on other machines join by running
it too with the same shared storage. Only this process writes the report, once every worker is done."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

from layernas.trainer.audit.runs import run_jobs
from layernas.trainer.search.workers import supervise, threads_per_worker


def _command_line() -> list[str]:
    from hydra.core.hydra_config import HydraConfig

    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    return [sys.executable, "-m", "layernas.trainer.cli", "audit",
            *[o for o in overrides if not o.startswith(("audit.n_workers=", "audit.threads="))]]


def run_workers(plan) -> None:
    """This process's share of the audit's runs, and ``audit.n_workers - 1`` more processes for the rest."""
    n = plan.settings.n_workers
    threads = plan.settings.threads or threads_per_worker(n)
    plan = replace(plan, settings=replace(plan.settings, threads=threads))
    if n == 1:
        run_jobs(plan)
        return
    extra = [subprocess.Popen([*_command_line(), "audit.n_workers=1", f"audit.threads={threads}", "audit.report=false"])
             for _ in range(n - 1)]
    supervise(extra, _wait, lambda p: p.returncode, lambda p: f"audit worker {p.pid}", "runs",
              work=lambda: run_jobs(plan))


def _wait(processes: list) -> None:
    for p in processes:
        p.wait()
