"""Run a compare: every (arm, seed) search in turn (each resumes where it stopped), the checks of their
answers, then results/<name>/compare/."""

from __future__ import annotations

import sys
from collections.abc import Callable

import optuna

from layernas.trainer.compare.checks import check_jobs, checked, run_checks
from layernas.trainer.compare.history import history
from layernas.trainer.compare.plan import ComparePlan, CompareRun
from layernas.trainer.compare.report import write_compare
from layernas.trainer.plumbing import interrupts


def run_compare(plan: ComparePlan, search: Callable[[dict], optuna.Study]) -> dict:
    """``search`` runs one whole search of a composed config and returns its study (``apps.search.search``)."""
    studies: dict[str, optuna.Study] = {}
    for i, run in enumerate(plan.runs, 1):
        interrupts.check()
        print(f"[compare {i}/{len(plan.runs)}] arm {run.arm}, seed {run.seed}: study {run.study} "
              f"({' '.join(plan.arm(run.arm).overrides)})", flush=True)
        studies[run.study] = search(run.cfg)
    histories = {name: history(study, plan.settings.top) for name, study in studies.items()}
    checks = _checks(plan, studies, histories)
    return write_compare(plan, histories, checks)


def _checks(plan: ComparePlan, studies: dict, histories: dict) -> dict[str, dict]:
    """Each run's answer at the check budget on the check seeds (recorded in its study; resumable)."""
    budget = plan.settings.check_budget
    if budget is None:
        return {}
    jobs = {run.study: check_jobs(histories[run.study].pick, budget, plan.settings.check_seeds)
            for run in plan.runs if histories[run.study].pick}
    total = [j for js in jobs.values() for j in js]
    if total:
        print(f"checks: each run's answer at x{budget:g} the proxy's steps on seeds "
              f"{list(plan.settings.check_seeds)} ({len(total)} runs)", flush=True)
    for run in plan.runs:
        if run.study in jobs:
            run_checks(studies[run.study], run.plan.storage, plan.logger, run.plan.run.results_dir, jobs[run.study])
    out = {}
    for name, js in jobs.items():
        out[name] = checked(studies[name], js)
        if out[name]["mean"] is None:
            print(f"warning: the check of {name}'s answer did not finish on every seed; its regret is left out",
                  file=sys.stderr, flush=True)
    return out


__all__ = ["CompareRun", "run_compare"]
