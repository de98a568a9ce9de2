"""What every search does before its first trial, whatever its strategy: the storage checked, the data
tokenized once, the study opened (or resumed) and its baselines queued, and one line on where it stands."""

from __future__ import annotations

import sys

import optuna

from layernas.trainer.plan.search import SearchPlan
from layernas.trainer.plumbing import interrupts
from layernas.trainer.plumbing.secrets import redact
from layernas.trainer.results.writer import clear_results
from layernas.trainer.search.plan import with_data
from layernas.trainer.search.storage import check_storage, storage_url
from layernas.trainer.search.strategy import Strategy
from layernas.trainer.search.study import enqueue_baselines, open_study


def start(plan: SearchPlan, strategy: Strategy) -> tuple[SearchPlan, optuna.Study]:
    """The plan with the data's real vocabulary, and the open study."""
    check_storage(plan.storage, plan.study_dir)
    interrupts.check()  # before the seconds of importing torch and Lightning, which a signal waits for
    if plan.n_workers > 1:
        from layernas.trainer.search.workers import start_importing

        start_importing()  # before the imports below, so that the workers' imports overlap them
    from layernas.trainer.core.prepare import prepare_data
    from layernas.trainer.plumbing.logs import quiet_lightning

    quiet_lightning()
    with interrupts.interruptible():  # an interrupted cache write leaves no file behind
        plan = with_data(plan, prepare_data(plan.run))  # tokenize once, before any trial or worker
    print(plan.budget, flush=True)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # each trial gets our own one-line report instead
    study = open_study(plan)
    if not study.trials:
        clear_results(plan.study_dir)  # left by an earlier study of this name whose storage is gone
    baselines = enqueue_baselines(study, plan.space)
    print(f"{strategy.header(plan, study)}; storage {redact(storage_url(plan.storage, plan.study_dir))}; "
          f"baselines {', '.join(baselines) or 'none'}"
          + (f"; {plan.n_workers} workers" if plan.n_workers > 1 else ""), flush=True)
    for note in strategy.notes(plan):
        print(f"note: {note}", file=sys.stderr, flush=True)
    return plan, study
