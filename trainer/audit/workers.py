"""``audit.n_workers=N``: N processes on one audit, sharing the cores. The others run this same command
(their claims go through the study's storage, see :mod:`.runs`); audits on other machines join by running
it too with the same shared storage. Only this process writes the report, once every worker is done."""

from __future__ import annotations

import subprocess
import sys

from .. import interrupts
from ..search.workers import threads_per_worker
from .runs import run_jobs


def _command_line() -> list[str]:
    from hydra.core.hydra_config import HydraConfig

    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    return [sys.executable, "-m", "layernas.trainer.cli", "audit",
            *[o for o in overrides if not o.startswith(("audit.n_workers=", "audit.threads="))]]


def run_workers(study, jobs, cfg: dict, folder) -> None:
    n = int(cfg["audit"].get("n_workers") or 1)
    if n < 1:
        raise ValueError(f"audit.n_workers={n} is not allowed; allowed: 1 or more")
    threads = cfg["audit"].get("threads") or threads_per_worker(n)
    cfg = {**cfg, "audit": {**cfg["audit"], "threads": threads}}
    if n == 1:
        run_jobs(study, jobs, cfg, folder)
        return
    extra = [subprocess.Popen([*_command_line(), "audit.n_workers=1", f"audit.threads={threads}", "audit.report=false"])
             for _ in range(n - 1)]
    try:
        run_jobs(study, jobs, cfg, folder)
        with interrupts.interruptible():
            for p in extra:
                p.wait()
    except interrupts.Interrupted as stop:
        interrupts.pass_on(stop, [p.pid for p in extra])
        for p in extra:
            p.wait()
        raise
    failed = [p.returncode for p in extra if p.returncode not in interrupts.CLEAN_EXITS]
    if failed:
        print(f"warning: {len(failed)} audit worker(s) stopped with an error (see above); finished runs are kept",
              file=sys.stderr, flush=True)
