"""One process's share of a study: claim a slot, ask Optuna for a trial and register its network, let
the slot go, run the trial; until the study holds ``study.n_trials`` counted trials or time is up."""

from __future__ import annotations

import socket
import sys
import time
import warnings

import optuna
from optuna.trial import TrialState

from .. import interrupts, optuna_private
from .format import fmt
from .plan import SearchPlan
from .slots import TrialSlots, counted, pid_alive
from .storage import StaleTrialHandler, storage_url
from .trial import TrialRunner

MAX_REJECTED_IN_A_ROW = 100  # candidates a constraint may reject one after another before the search gives up
MAX_REPEATS_IN_A_ROW = 200  # supernet trials re-proposing scored networks before the sampler counts as spent


class TooManyRejections(ValueError):
    """The sampler keeps proposing candidates that a constraint rejects."""


def run_trials(plan: SearchPlan, study: optuna.Study, runner: TrialRunner) -> bool:
    """Run trials until the study is full, ``study.timeout`` has passed or a signal stops it. True when the
    search is over: full, or (supernet scoring, where a repeat does not count) the sampler proposes only
    networks it has scored already."""
    start = time.time()
    slots = TrialSlots(study, plan.study_dir / ".trials.lock", storage_url(plan.cfg["storage"], plan.study_dir))
    rejected_in_a_row = repeats_in_a_row = 0
    while True:
        interrupts.check()
        if plan.timeout is not None and time.time() - start >= plan.timeout:
            print(f"study.timeout={plan.timeout} s reached", flush=True)
            return False
        with slots.claim(plan.n_trials, tidy=lambda: fail_dead_local_trials(study, plan)) as room:
            if not room:
                return True
            with warnings.catch_warnings():  # heartbeats are sent by TrialRunner.run, as study.optimize would
                warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
                trial = study.ask()
            candidate = runner.register(trial)
        runner.run(trial, candidate)
        rejected_in_a_row = rejected_in_a_row + 1 if candidate.rejected else 0
        repeats_in_a_row = repeats_in_a_row + 1 if plan.supernet is not None and candidate.twin is not None else 0
        if repeats_in_a_row >= MAX_REPEATS_IN_A_ROW:
            print(f"note: the last {repeats_in_a_row} candidates the sampler proposed were all scored before; "
                  f"{counted(study)} distinct networks scored (study.n_trials={plan.n_trials}): the sampler has "
                  "converged or the space holds no more", file=sys.stderr, flush=True)
            return True
        if rejected_in_a_row >= MAX_REJECTED_IN_A_ROW:
            raise TooManyRejections(f"the last {rejected_in_a_row} candidates were all rejected by the space's "
                                    f"constraints (last: {candidate.rejected}); relax space.max_params/"
                                    "space.max_flops or narrow space.domains to candidates that fit")


def fail_dead_local_trials(study: optuna.Study, plan: SearchPlan) -> list[int]:
    """Fail (and queue again once) the running trials whose worker is gone: those without a heartbeat for
    ``grace_period`` (RDB storages), and at once those whose process on this host has ended (journal
    files have no heartbeats; a killed single worker is found at the next start without waiting)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # storages with heartbeats: workers on any host
    host, failed = socket.gethostname(), []
    handler = StaleTrialHandler(plan.storage.max_retry)
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if plan.storage.kind == "journal":
        check_one_host(running, host)
    for t in running:
        if t.user_attrs.get("host") == host and not pid_alive(t.user_attrs.get("pid")):
            handler(study, optuna_private.fail(study, t))
            failed.append(t.number)
    return failed


def check_one_host(running: list, host: str) -> None:
    """A journal file has no heartbeats, so a worker that died on another machine would hold its trial
    (and a twin waiting for it) forever: journal studies are for the workers of one machine."""
    others = sorted({t.user_attrs["host"] for t in running if t.user_attrs.get("host") not in (None, host)})
    if others:
        raise ValueError(f"storage=journal is for workers on one machine, but trials run on {', '.join(others)} "
                         f"too; use storage=postgres storage.url=... for workers on several machines")


def final_line(study: optuna.Study, plan: SearchPlan) -> str:
    """``study X: 10/10 trials; best val_loss 5.1737 (#17); report: results/X/report.md``."""
    from ..report import best_trials

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
