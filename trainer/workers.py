"""``study.n_workers=N``: N local worker processes on one study, sharing the CPU cores.

The parent has already created the storage and the study (several processes creating one SQLite study
at once crash), tokenized the data and queued the baselines. Each worker is a fresh process
with ``cores // N`` torch threads, so the workers share the cores instead of fighting over them; each
claims trial slots from the shared storage until the study is full. Workers on other machines join the
same study by running the same command with the same ``study.name`` and a shared storage URL.

Workers are forked from a fork server (``multiprocessing``'s ``forkserver``) that imports torch, Lightning
and W&B once, in the background while this process tokenizes, instead of each worker importing them again
(about 10 s of a 2-core machine per process). The server imports but runs nothing, so no thread pool or
CUDA context is inherited. Where fork servers do not exist (Windows), workers are spawned.
"""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.connection as mp_connection
import os
import signal
import sys
import threading

from .search import SearchPlan

# What a worker needs, imported by the fork server before it forks any worker.
PRELOAD = ["torch", "lightning.pytorch", "wandb", "optuna", "layernas.trainer.trial", "layernas.trainer.workers"]


def worker_context() -> mp.context.BaseContext:
    """The multiprocessing context workers start from (see the module docstring)."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def start_importing() -> None:
    """Start the fork server now, so that its imports overlap this process's own work."""
    context = worker_context()
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def threads_per_worker(n_workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // n_workers)


def run_workers(plan: SearchPlan) -> None:
    """Start ``plan.n_workers`` workers and wait for them; Ctrl-C reaches every worker (one process
    group), each records its running trial as interrupted, and this exits with 130."""
    threads = threads_per_worker(plan.n_workers)
    context = worker_context()
    ready = context.Barrier(plan.n_workers)  # start trials together, after every worker has loaded
    workers = [context.Process(target=worker_main, args=(plan.cfg, i, threads, ready), name=f"layernas-worker-{i}")
               for i in range(plan.n_workers)]
    for w in workers:
        w.start()
    try:
        waiting = list(workers)
        while waiting:  # reap each worker as it ends: a killed one must not linger as a zombie
            for sentinel in mp_connection.wait([w.sentinel for w in waiting]):
                done = next(w for w in waiting if w.sentinel == sentinel)
                done.join()
                waiting.remove(done)
    except KeyboardInterrupt:
        for w in workers:
            w.join()
        print("\ninterrupted: running trials are recorded as failed; run the same command to resume",
              file=sys.stderr, flush=True)
        raise SystemExit(130) from None
    failed = [w.name for w in workers if w.exitcode not in (0, 130, -signal.SIGINT)]
    if failed:
        print(f"warning: {', '.join(failed)} stopped with an error (see above); finished trials are kept",
              file=sys.stderr, flush=True)


def worker_main(cfg: dict, index: int, threads: int, ready=None) -> None:
    """One worker (forked or spawned): load the study, wait for the others (``ready``), run trials until
    the study is full."""
    import optuna
    import torch

    from .logs import quiet_lightning
    from .search import open_study, plan_search, run_trials
    from .trial import TrialRunner

    torch.set_num_threads(threads)
    sampler = dict(cfg["sampler"])
    if "seed" in sampler and sampler["seed"] is not None:
        sampler["seed"] += index  # workers must not draw the same random candidates
    cfg = {**cfg, "trainer": {**cfg["trainer"], "threads": threads}, "sampler": sampler}
    quiet_lightning()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    plan = plan_search(cfg)
    study = open_study(plan)
    if ready is not None:
        try:
            ready.wait(timeout=600)
        except threading.BrokenBarrierError:
            pass  # a sibling failed to start: go on without it
    run_trials(plan, study, TrialRunner(plan, study, worker=index))
