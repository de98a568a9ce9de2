"""``layernas audit``: train k of a study's trials again at longer budgets and on several seeds, and
measure how well the study's proxy (and cheaper signals) ranked them; see :mod:`.summary`."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import optuna

from .. import interrupts
from ..names import check_name
from ..search.study import load_existing_study, study_dir
from .runs import Job, finished, records
from .select import SELECTIONS, candidates, select
from .summary import Arch


@dataclass(frozen=True)
class AuditPlan:
    """What an audit will do, checked before anything trains."""

    study: optuna.Study
    chosen: list  # FrozenTrials, proxy-rank order
    jobs: list[Job]
    budgets: list[float]
    seeds: list[int]
    sign: float  # 1 when the first objective is minimised, -1 when maximised: signed values are lower-better

    @property
    def proxy_steps(self) -> int:
        return int(self.study.user_attrs["config"]["trainer"]["max_steps"])


def _check_settings(audit: dict) -> tuple[list[float], list[int]]:
    budgets = [float(b) for b in audit.get("budgets") or []]
    if not budgets or any(not math.isfinite(b) or b <= 1 for b in budgets):
        raise ValueError(f"audit.budgets={audit.get('budgets')} is not allowed; allowed: a non-empty list of "
                         "multiples of the proxy's steps, each > 1 (e.g. [3,10])")
    seeds = list(audit.get("seeds") or [])
    if not seeds or any(not isinstance(s, int) or isinstance(s, bool) for s in seeds) or len(set(seeds)) < len(seeds):
        raise ValueError(f"audit.seeds={audit.get('seeds')} is not allowed; allowed: a non-empty list of distinct "
                         "integers (e.g. [0,1])")
    if audit.get("select") not in SELECTIONS:
        raise ValueError(f"audit.select={audit.get('select')!r} is not allowed; allowed: {', '.join(SELECTIONS)}")
    return sorted(set(budgets)), seeds


def plan_audit(cfg: dict) -> AuditPlan:
    """Check the command (one-line ``ValueError`` for a bad value) and list the runs."""
    check_name("study.name", cfg["study"]["name"], cfg["results_dir"])
    audit = cfg["audit"]
    budgets, seeds = _check_settings(audit)
    study = load_existing_study(cfg)
    if "config" not in study.user_attrs:
        raise ValueError(f"study {study.study_name!r} was not made by `layernas search` (it has no config)")
    trials = candidates(study)
    if not trials:
        raise ValueError(f"study {study.study_name!r} has no completed trial to audit")
    k = audit.get("k")
    if not isinstance(k, int) or isinstance(k, bool) or k < 3 or k > len(trials):
        raise ValueError(f"audit.k={k!r} is not allowed; allowed: 3 to {len(trials)} (the study's completed trials "
                         "with distinct networks)" if len(trials) >= 3 else
                         f"audit.k={k!r} is not allowed: study {study.study_name!r} has only {len(trials)} completed "
                         "trials with distinct networks and an audit needs at least 3")
    chosen = select(trials, k, audit["select"], cfg.get("seed", 0))
    jobs = [Job(t.number, t.user_attrs["arch"], b, s) for b in budgets for t in chosen for s in seeds]
    sign = -1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    return AuditPlan(study, chosen, jobs, budgets, seeds, sign)


def collect(plan: AuditPlan) -> list[Arch]:
    """The audited architectures with every finished run's value (signed: lower is better)."""
    done = records(plan.study)
    archs = []
    for t in plan.chosen:
        arch = Arch(t.number, t.user_attrs["arch"], t.user_attrs.get("baseline"), plan.sign * t.values[0],
                    curve={int(s): plan.sign * v for s, v in t.user_attrs.get("curve", [])})
        for job in (j for j in plan.jobs if j.trial == t.number):
            record = done.get(job.key, {})
            if record.get("state") == "complete":
                arch.budgets.setdefault(job.budget, {})[job.seed] = plan.sign * record["value"]
        archs.append(arch)
    return archs


def run_audit(cfg: dict) -> dict:
    """Plan, train what is left (resuming), score the zero-cost proxies, write ``results/<study>/audit/``."""
    from .report import write_audit
    from .workers import run_workers
    from .zero_cost import zero_cost_scores

    plan = plan_audit(cfg)
    folder = study_dir(cfg) / "audit"
    left = len(plan.jobs) - finished(plan.study, plan.jobs)
    print(f"audit of study {plan.study.study_name}: {len(plan.chosen)} architectures x budgets "
          f"{', '.join(f'x{b:g}' for b in plan.budgets)} x seeds {plan.seeds} = {len(plan.jobs)} runs, "
          f"{left} left to train", flush=True)
    try:
        run_workers(plan.study, plan.jobs, cfg, folder)
    except interrupts.Interrupted:
        print(f"\ninterrupted: finished runs are kept; run the same command to resume "
              f"({finished(plan.study, plan.jobs)}/{len(plan.jobs)} runs done)", file=sys.stderr, flush=True)
        raise
    if not cfg["audit"].get("report", True):
        return {}
    scores = zero_cost_scores(plan.study.user_attrs["config"], plan.chosen, plan.seeds) \
        if cfg["audit"].get("zero_cost", True) else {}
    return write_audit(plan, collect(plan), scores, cfg, folder)
