"""A whole search: an Optuna study over a search space, each candidate scored by a proxy run.

    layernas search space=lvbert sampler=nsga2 objectives=[val_loss,params] study.n_trials=40

``study.n_trials`` is the study's total: the same command run again resumes the study and tops it up.
"""

from __future__ import annotations

import sys

import optuna

from .. import interrupts
from ..report import clear_results, log_summary_run
from ..secrets import redact
from .noise_runs import run_noise_runs
from .plan import SearchPlan, plan_search
from .runner import final_line, run_trials
from .slots import counted
from .storage import check_storage, storage_url
from .study import enqueue_baselines, open_study
from .trial import TrialRunner


def run_search(plan: SearchPlan) -> optuna.Study:
    """Open (or resume) the study, queue the baselines and run trials until ``study.n_trials``, in this
    process or in ``study.n_workers`` worker processes; then the final results and the summary run.
    A signal stops it between two storage writes, with the results files up to date. With
    ``strategy=supernet`` the candidates are scored by one weight-sharing supernet instead
    (:mod:`layernas.trainer.supernet.loop`)."""
    if plan.supernet is not None:
        from ..supernet.loop import run_supernet_search

        return run_supernet_search(plan)
    check_storage(plan.cfg["storage"], plan.study_dir)
    interrupts.check()  # before the seconds of importing torch and Lightning, which a signal waits for
    if plan.n_workers > 1:
        from .workers import start_importing

        start_importing()  # before the imports below, so that the workers' imports overlap them
    from ..logs import quiet_lightning
    from ..proxy import prepare_data

    quiet_lightning()
    with interrupts.interruptible():  # an interrupted cache write leaves no file behind
        plan = plan.with_data(prepare_data(plan.cfg))  # tokenize once, before any trial or worker
    print(plan.budget, flush=True)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # each trial gets our own one-line report instead
    study = open_study(plan)
    if not study.trials:
        clear_results(plan.study_dir)  # left by an earlier study of this name whose storage is gone
    baselines = enqueue_baselines(study, plan.space)
    print(f"study {plan.name}: {counted(study)}/{plan.n_trials} trials done; "
          f"storage {redact(storage_url(plan.cfg['storage'], plan.study_dir))}; "
          f"baselines {', '.join(baselines) or 'none'}"
          + (f"; {plan.n_workers} workers" if plan.n_workers > 1 else ""), flush=True)
    runner = TrialRunner(plan, study)
    try:
        if plan.n_workers > 1:
            from .workers import run_workers

            run_workers(plan)
        # Alone, or after the workers: a worker that died after its siblings stopped leaves its trial
        # running; failing it here queues it again, and this process runs what is left.
        run_trials(plan, study, runner)
        if counted(study) >= plan.n_trials:  # not after a timeout: the resumed search measures it
            run_noise_runs(plan, study)
    except interrupts.Interrupted:
        runner.write_results(plots=False)  # at once: the plots of the last finished trial are there
        print(f"\ninterrupted: the running trial is recorded as interrupted; run the same command to resume "
              f"({counted(study)}/{plan.n_trials} trials done)", file=sys.stderr, flush=True)
        raise
    finish(study, plan, runner)
    return study


def finish(study: optuna.Study, plan: SearchPlan, runner: TrialRunner) -> None:
    """Final results with plots, the study's summary run in W&B, and the line that says where they are."""
    runner.write_results(plots=True)
    log_summary_run(study, plan)
    print(final_line(study, plan), flush=True)


def search(cfg: dict) -> optuna.Study:
    """:func:`run_search` of a plain config (``layernas search``'s composed config as a dict)."""
    return run_search(plan_search(cfg))
