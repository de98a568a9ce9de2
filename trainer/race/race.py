"""``layernas race``: train the contenders rung by rung (each rung's runs claimed through the study's
storage, so an interrupted race resumes and workers split it), drop the ones a paired test says are worse,
and write ``results/<study>/race/`` once the last rung is done."""

from __future__ import annotations

import sys
import time
from dataclasses import replace

from layernas.trainer.plumbing import interrupts
from layernas.trainer.race.plan import RacePlan, record_plan
from layernas.trainer.race.standings import Rung, Standings, standings
from layernas.trainer.search.reruns import run_jobs
from layernas.trainer.search.workers import command_workers, threads_per_worker

POLL_S = 2.0  # how often a worker with nothing to claim looks whether the others finished the rung


def run_race(plan: RacePlan, command: bool = True) -> Standings:
    """The whole race in this process and ``race.n_workers - 1`` more (``command``: this process runs
    ``layernas race``, whose command line the workers repeat; a search's last phase races alone), then the
    report. A signal keeps every finished run and raises :class:`~interrupts.Interrupted`."""
    record_plan(plan)
    n = plan.settings.n_workers if command else 1
    plan = replace(plan, settings=replace(plan.settings, threads=plan.settings.threads or threads_per_worker(n)))
    print(f"race of study {plan.study.study_name}: {len(plan.contenders)} contenders "
          f"({', '.join(c.label for c in plan.contenders)}): {plan.how}; rungs "
          f"{', '.join(f'x{b:g}' for b in plan.settings.budgets)} of the {plan.proxy_steps}-step proxy, seeds "
          f"{list(plan.settings.seeds)}, paired t-test at alpha {plan.settings.alpha:g} (Holm)", flush=True)
    try:
        if n > 1:
            command_workers("race", "race", n, plan.settings.threads, lambda: race_rungs(plan))
        else:
            race_rungs(plan)
    except interrupts.Interrupted:
        done = sum(1 for r in plan.reruns().records().values() if r.get("state") in ("complete", "failed"))
        print(f"\ninterrupted: finished runs are kept; run the same command to resume ({done} runs done)",
              file=sys.stderr, flush=True)
        raise
    final = standings(plan, plan.reruns().records())
    if plan.settings.report and final.finished:
        from layernas.trainer.race.report import write_race

        write_race(plan, final)
    return final


def race_rungs(plan: RacePlan) -> None:
    """Train rung after rung until the race is decided; each finished rung gets one line."""
    reruns = plan.reruns()
    said = 0
    while True:
        state = standings(plan, reruns.records())
        for rung in [r for r in state.rungs if r.done][said:]:
            print(rung_line(plan, rung), flush=True)
            said += 1
        rung = state.current
        if state.finished or rung is None:
            return
        run_jobs(reruns, rung.jobs)
        _wait_for_others(plan, rung)


def _wait_for_others(plan: RacePlan, rung: Rung) -> None:
    """Wait while other workers finish this rung's runs (a run released by an interrupted one is taken)."""
    reruns = plan.reruns()
    told = False
    while reruns.finished(rung.jobs) < len(rung.jobs):
        if run_jobs(reruns, rung.jobs):
            continue
        if not told:
            left = len(rung.jobs) - reruns.finished(rung.jobs)
            print(f"[race] waiting for {left} run{'s' if left != 1 else ''} of x{rung.budget:g} that other workers "
                  "are training", flush=True)
            told = True
        with interrupts.interruptible():
            time.sleep(POLL_S)


def rung_line(plan: RacePlan, rung: Rung) -> str:
    """``[race] x3 done: best #19 4.4109; dropped #6 (...); kept #17, #13``."""
    if rung.outcome is None:
        return f"[race] x{rung.budget:g} done: " + ("; ".join(f"#{t} {why}" for t, why in rung.dropped.items())
                                                   or "fewer than 2 contenders finished")
    best = rung.outcome["best"]
    kept = [t for t in rung.alive_after if t != best]
    reference = [t for t in rung.entrants if t not in rung.alive_after and t not in rung.dropped and t != best]
    dropped = "; ".join(f"#{t} {why}" for t, why in rung.dropped.items())
    return (f"[race] x{rung.budget:g} done: best #{best} {plan.sign * rung.outcome['means'][best]:.4f}"
            + (f"; dropped {dropped}" if dropped else "; nobody dropped")
            + (f"; still racing {', '.join(f'#{t}' for t in kept)}" if kept else "")
            + (f"; baselines kept as the reference {', '.join(f'#{t}' for t in reference)}" if reference else ""))
