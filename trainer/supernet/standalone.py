"""The check of a supernet's ranking: its best ``top_k`` candidates and ``random_k`` drawn from the rest,
each trained stand-alone with the proxy budget through ``run_proxy`` (the study's own config: the same
data, seed and validation slice as its scores).

Each run is a study user attribute ``supernet/standalone/<trial>`` written when it finishes, claimed under
the study's lock by the process that trains it, as the audit's runs are: an interrupted check resumes
with the runs left, and processes sharing the storage split them.
"""

from __future__ import annotations

import math
import random
import socket
import time
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from layernas.trainer.core.tracking import RunInfo, new_run_id
from layernas.trainer.plan.strategy import SupernetConfig
from layernas.trainer.plumbing import interrupts
from layernas.trainer.results.format import fmt
from layernas.trainer.results.ranking import candidates
from layernas.trainer.search.claims import Claims
from layernas.trainer.search.slots import pid_alive, study_lock

PREFIX = "supernet/standalone/"
SETTLE_POLL_S = 2.0


@dataclass(frozen=True)
class Check:
    """One stand-alone run of a supernet-scored trial; ``role`` is ``top`` or ``random``."""

    trial: int
    arch: str
    key: str
    role: str
    score: float  # the supernet's value of the first objective



def records(study: optuna.Study) -> dict[int, dict]:
    """Every recorded stand-alone run, by trial number."""
    return {int(k[len(PREFIX):]): v for k, v in study.user_attrs.items()
            if k.startswith(PREFIX) and isinstance(v, dict)}


def pick(study: optuna.Study, settings: SupernetConfig, seed: int) -> list[Check]:
    """The ``top_k`` best distinct networks by supernet score, then ``random_k`` drawn with ``seed`` from
    the rest (in rank order): the same picks for every process once scoring is done."""
    ranked = candidates(study)
    top, rest = ranked[: settings.top_k], ranked[settings.top_k:]
    drawn = set(random.Random(seed).sample(range(len(rest)), min(settings.random_k, len(rest))))
    chosen = [(t, "top") for t in top] + [(t, "random") for i, t in enumerate(rest) if i in drawn]
    return [Check(t.number, t.user_attrs["arch"], t.user_attrs["key"], role, t.values[0]) for t, role in chosen]


def settled(study: optuna.Study) -> None:
    """Wait until no trial is being scored (another worker's scores may still change the picks); running
    trials of dead processes on this host do not count."""
    host = socket.gethostname()
    while True:
        running = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                   if not (t.user_attrs.get("host") == host and not pid_alive(t.user_attrs.get("pid")))]
        if not running:
            return
        with interrupts.interruptible():
            time.sleep(SETTLE_POLL_S)


def run_check(plan, check: Check, runs: Claims) -> dict:
    """Train one check stand-alone and record it (an interruption leaves it to be claimed again)."""
    from layernas.search_space import Architecture
    from layernas.trainer.core.proxy import RunSpec, run_proxy

    metric = plan.objectives[0].key
    info = RunInfo(name=f"standalone #{check.trial} {check.arch}", group=plan.name, job_type="standalone",
                   save_dir=plan.study_dir, run_id=new_run_id(),
                   config={"standalone/trial": check.trial, "standalone/role": check.role})
    try:
        result = run_proxy(RunSpec(Architecture.parse(check.arch, plan.run.model.d_model), plan.run, run=info))
    except BaseException:
        runs.release(str(check.trial))
        raise
    value = result.metrics.get(metric)
    ok = result.state == "complete" and value is not None and math.isfinite(value)
    record = {"trial": check.trial, "arch": check.arch, "key": check.key, "role": check.role, "score": check.score,
              "metric": metric, "state": "complete" if ok else "failed", "value": float(value) if ok else None,
              "steps": result.steps, "wall_s": round(result.wall_s, 2),
              "metrics": {k: v for k, v in result.metrics.items() if math.isfinite(v)},
              "reason": "" if ok else (result.reason or result.state)}
    runs.record(str(check.trial), record)
    return record


def run_checks(plan, study: optuna.Study, settings: SupernetConfig) -> int:
    """Once scoring is done, train the checks nobody has; one line each. Returns how many this ran."""
    if settings.top_k + settings.random_k == 0:
        return 0
    settled(study)
    checks = pick(study, settings, plan.run.seed)
    runs = Claims(study, PREFIX, study_lock(study, plan.study_dir, plan.storage))
    by_name = {str(c.trial): c for c in checks}
    ran = 0
    while (name := runs.claim(list(by_name))) is not None:
        interrupts.check()
        check = by_name[name]
        record = run_check(plan, check, runs)
        ran += 1
        done = sum(1 for c in checks if records(study).get(c.trial, {}).get("state") in ("complete", "failed"))
        value = fmt(record["value"]) if record["state"] == "complete" else f"failed: {record['reason']}"
        print(f"[stand-alone {done}/{len(checks)}] #{check.trial} ({check.role}) supernet {fmt(check.score)} -> "
              f"{value} ({record['steps']} steps, {record['wall_s']:.0f} s) | {check.arch}", flush=True)
    return ran
