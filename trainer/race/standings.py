"""Where a race stands, from its recorded runs alone (every worker computes the same): each rung's
entrants, values, paired tests and drops, and once the last rung is done, the winner or the tie."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from layernas.trainer.race.plan import RacePlan
from layernas.trainer.search.reruns import Job
from layernas.trainer.stats.paired import compare_to_best, probability_best


@dataclass
class Rung:
    """One budget's runs: ``entrants`` (trials) on every seed; ``values[trial][seed]`` signed (lower is
    better); once every run is done, the paired tests (``outcome``) and who was dropped here, and why."""

    budget: float
    entrants: list[int]
    jobs: list[Job]
    values: dict[int, dict[int, float]] = field(default_factory=dict)
    tests: dict[int, dict[int, dict]] = field(default_factory=dict)  # trial -> seed -> test metrics
    wall_s: float = 0.0
    done: bool = False
    outcome: dict | None = None
    dropped: dict[int, str] = field(default_factory=dict)  # trial -> why
    alive_after: list[int] = field(default_factory=list)  # still racing once this rung is judged

    def mean(self, trial: int) -> float | None:
        values = list(self.values.get(trial, {}).values())
        return statistics.fmean(values) if values else None

    def std(self, trial: int) -> float | None:
        values = list(self.values.get(trial, {}).values())
        return statistics.stdev(values) if len(values) > 1 else None


@dataclass
class Standings:
    rungs: list[Rung]
    alive: list[int]  # not dropped after the last finished rung
    finished: bool
    winner: int | None = None
    tie: list[int] = field(default_factory=list)
    probabilities: dict[int, float] = field(default_factory=dict)

    @property
    def current(self) -> Rung | None:
        """The first rung not yet done (its runs are the ones to train now)."""
        return next((r for r in self.rungs if not r.done), None)


def standings(plan: RacePlan, records: dict[str, dict]) -> Standings:
    """The race so far: finished rungs with their drops, then the first unfinished one (if any)."""
    alive = [c.trial for c in plan.contenders]
    everyone = list(alive)
    rungs = []
    for budget in plan.settings.budgets:
        # baselines run every rung even once dropped: they are the reference the winner's test value is read against
        entrants = [t for t in everyone if t in alive or t in plan.baselines]
        rung = _rung(plan, budget, entrants, records)
        rungs.append(rung)
        if not rung.done:
            return Standings(rungs, alive, finished=False)
        _judge(plan, rung, alive)
        alive = [t for t in alive if t not in rung.dropped]
        rung.alive_after = list(alive)
        if not alive:
            break
    result = Standings(rungs, alive, finished=True)
    if len(alive) == 1:
        result.winner = alive[0]
    elif alive:
        last = rungs[-1]
        result.tie = list(alive)
        result.probabilities = probability_best({t: last.values[t] for t in alive}, plan.settings.bootstrap, plan.seed)
    return result


def _rung(plan: RacePlan, budget: float, entrants: list[int], records: dict[str, dict]) -> Rung:
    last = budget == plan.settings.last
    jobs = [Job(t, plan.contender(t).arch, budget, s, test=last) for t in entrants for s in plan.settings.seeds]
    rung = Rung(budget, entrants, jobs)
    finished = 0
    for job in jobs:
        record = records.get(job.name) or {}
        if record.get("state") == "complete":
            rung.values.setdefault(job.trial, {})[job.seed] = plan.sign * record["value"]
            if record.get("test"):
                rung.tests.setdefault(job.trial, {})[job.seed] = record["test"]
        elif record.get("state") == "failed":
            rung.dropped.setdefault(job.trial, f"failed at x{budget:g} seed {job.seed}: {record.get('reason') or '?'}")
        finished += record.get("state") in ("complete", "failed")
        rung.wall_s += record.get("wall_s") or 0.0
    rung.done = finished == len(jobs)
    return rung


def _judge(plan: RacePlan, rung: Rung, alive: list[int]) -> None:
    """The paired tests of a finished rung: who is worse than its best (a failed run drops a contender)."""
    racing = {t: rung.values[t] for t in rung.entrants if t not in rung.dropped and t in rung.values}
    if len(racing) < 2:
        return
    rung.outcome = compare_to_best(racing, plan.settings.alpha)
    best = rung.outcome["best"]
    for t in rung.outcome["worse"]:
        if t in alive:
            rung.dropped[t] = (f"worse than #{best} at x{rung.budget:g} (paired t-test over seeds "
                               f"{list(plan.settings.seeds)}, Holm-adjusted p = {rung.outcome['p_holm'][t]:.3g})")
    for t in list(rung.dropped):
        if t not in alive:
            del rung.dropped[t]  # a baseline dropped earlier: kept as the reference, not dropped again
