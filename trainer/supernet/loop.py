"""A search with ``strategy=supernet``: train the study's supernet once, score ``study.n_trials`` distinct
candidates with its inherited weights (the sampler, objectives and constraints of the search; a network the
sampler proposes again reuses its score and does not count), then train the best and a random sample
stand-alone to measure how well it ranked.

    layernas search strategy=supernet space=lvbert study.n_trials=500 strategy.supernet.steps=2000

Every stage resumes: the supernet from its checkpoint, scoring from the study, the stand-alone checks from
their records. With ``study.n_workers`` the supernet is trained before the workers start and scoring is
split among them; workers on other machines (the same command on a shared storage) need the study's
``results/<study>/supernet/`` folder on a shared file system.
"""

from __future__ import annotations

import sys

import optuna

from .. import interrupts
from ..report import clear_results, log_summary_run
from ..search.plan import SearchPlan
from ..search.runner import final_line, run_trials
from ..search.slots import counted
from ..search.storage import check_storage, storage_url
from ..search.study import enqueue_baselines, open_study
from ..secrets import redact
from .scoring import SupernetTrialRunner
from .standalone import run_checks
from .train import train_supernet


def run_supernet_search(plan: SearchPlan) -> optuna.Study:
    """Train (or resume) the supernet, score ``study.n_trials`` distinct networks, check the ranking, write results."""
    settings = plan.supernet
    check_storage(plan.cfg["storage"], plan.study_dir)
    interrupts.check()
    if plan.n_workers > 1:
        from ..search.workers import start_importing

        start_importing()
    from ..logs import quiet_lightning
    from ..proxy import prepare_data

    quiet_lightning()
    with interrupts.interruptible():
        plan = plan.with_data(prepare_data(plan.cfg))
    print(plan.budget, flush=True)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = open_study(plan)
    if not study.trials:
        clear_results(plan.study_dir)
    baselines = enqueue_baselines(study, plan.space)
    print(f"study {plan.name} (supernet): {counted(study)}/{plan.n_trials} candidates scored; "
          f"storage {redact(storage_url(plan.cfg['storage'], plan.study_dir))}; "
          f"baselines {', '.join(baselines) or 'none'}"
          + (f"; {plan.n_workers} workers" if plan.n_workers > 1 else ""), flush=True)
    if plan.study.noise_seeds:
        print("note: study.noise_seeds is not used with strategy=supernet (the stand-alone checks are the "
              "measurement)", file=sys.stderr, flush=True)
    runner = SupernetTrialRunner(plan, study)
    try:
        train_supernet(plan, study, settings)
        if plan.n_workers > 1:
            from ..search.workers import run_workers

            run_workers(plan, runner_class=SupernetTrialRunner)
        over = run_trials(plan, study, runner)
        runner.done()
        runner.write_results()
        if over:
            run_checks(plan, study, settings)
    except interrupts.Interrupted:
        runner.write_results(plots=False)  # at once: the plots of the last finished trial are there
        print(f"\ninterrupted: run the same command to resume ({counted(study)}/{plan.n_trials} candidates scored)",
              file=sys.stderr, flush=True)
        raise
    runner.write_results(plots=True)
    log_summary_run(study, plan)
    print(final_line(study, plan), flush=True)
    return study
