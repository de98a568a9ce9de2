"""A whole search: an Optuna study over a search space, each candidate measured by the chosen strategy.

    layernas search space=lvbert sampler=nsga2 objectives=[val_loss,params] study.n_trials=40

``study.n_trials`` is the study's total: the same command run again resumes the study and tops it up.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import optuna

from layernas.trainer.plan.search import SearchPlan
from layernas.trainer.plumbing import interrupts
from layernas.trainer.results.format import fmt
from layernas.trainer.results.noise import seed_noise
from layernas.trainer.results.ranking import best_trials, ranked
from layernas.trainer.results.signal import verdict
from layernas.trainer.results.summary_run import log_summary_run
from layernas.trainer.search.runner import run_trials
from layernas.trainer.search.slots import counted
from layernas.trainer.search.startup import start
from layernas.trainer.search.strategy import Strategy

Phase = Callable[[SearchPlan, optuna.Study], None]  # work after a full study (a race of the tied best)


def run_search(plan: SearchPlan, strategy: Strategy | None = None, phases: Sequence[Phase] = ()) -> optuna.Study:
    """Open (or resume) the study, queue the baselines and run trials until ``study.n_trials``, in this
    process or in ``study.n_workers`` worker processes; then the strategy's last work, the phases, the
    final results and the summary run. A signal stops it between two storage writes, with the results
    files up to date."""
    strategy = strategy or Strategy()
    plan, study = start(plan, strategy)
    runner = strategy.runner_class(plan, study)
    try:
        strategy.before_trials(plan, study)
        if plan.n_workers > 1:
            from layernas.trainer.search.workers import run_workers

            run_workers(plan, runner_class=strategy.runner_class)
        # Alone, or after the workers: a worker that died after its siblings stopped leaves its trial
        # running; failing it here queues it again, and this process runs what is left.
        over = run_trials(plan, study, runner)
        runner.done()
        strategy.after_trials(plan, study, runner, over)
        if over:
            for phase in phases:
                phase(plan, study)
    except interrupts.Interrupted:
        runner.write_results(plots=False)  # at once: the plots of the last finished trial are there
        print(f"\ninterrupted: {strategy.interrupted(plan, study)}", file=sys.stderr, flush=True)
        raise
    runner.write_results(plots=True)
    log_summary_run(study, plan.study_dir, plan.run.logger)
    said = verdict(study, ranked(study), seed_noise(study))
    if said:
        print(said, flush=True)
    print(final_line(study, plan), flush=True)
    return study


def final_line(study: optuna.Study, plan: SearchPlan) -> str:
    """``study X: 10/10 trials; best val_loss 5.1737 (#17); report: results/X/report.md``."""
    best = best_trials(study)
    name = plan.objectives[0].name
    if len(plan.objectives) > 1:
        what = f"Pareto front of {len(best)} trials"
    elif best:
        flags = best[0].user_attrs.get("flags")
        what = f"best {name} {fmt(best[0].values[0])} (#{best[0].number})" + (f" ({'; '.join(flags)})" if flags else "")
    else:
        what = "no complete trial"
    return f"study {plan.name}: {counted(study)}/{plan.n_trials} trials; {what}; report: {plan.study_dir / 'report.md'}"
