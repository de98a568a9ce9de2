"""``study.n_workers=N``: N local worker processes on one study, sharing the CPU cores.

The parent has already created the storage and the study (several processes creating one SQLite study
at once crash), tokenized the data and queued the baselines, and hands each worker its plan. Each worker
is a fresh process with ``cores // N`` torch threads, so the workers share the cores instead of fighting
over them; each claims trial slots from the shared storage until the study is full. Workers on other machines join the
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
import sys
import threading
from dataclasses import replace

from layernas.trainer.plan.search import SearchPlan
from layernas.trainer.plumbing import interrupts

# What a worker needs, imported by the fork server before it forks any worker.
PRELOAD = ["torch", "lightning.pytorch", "wandb", "optuna", "layernas.trainer.search.runner",
           "layernas.trainer.search.workers"]


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


def run_workers(plan: SearchPlan, runner_class: type | None = None) -> None:
    """Start ``plan.n_workers`` workers (each running its trials with ``runner_class``, a
    :class:`~.trial.TrialRunner` by default) and wait for them. A signal to this process (Ctrl-C reaches the
    whole process group; ``kill`` or SLURM's SIGTERM may reach only this one) is passed on to every
    worker, each records its running trial as interrupted, and this raises :class:`Interrupted`."""
    threads = threads_per_worker(plan.n_workers)
    context = worker_context()
    ready = context.Barrier(plan.n_workers)  # start trials together, after every worker has loaded
    workers = [context.Process(target=worker_main, args=(plan, i, threads, ready, runner_class),
                               name=f"layernas-worker-{i}")
               for i in range(plan.n_workers)]
    for w in workers:
        w.start()
    supervise(workers, _reap, lambda w: w.exitcode, lambda w: w.name, "trials")


def supervise(workers: list, wait_all, exit_code, name, what: str, work=None) -> None:
    """Do this process's ``work`` (if any), then wait for ``workers`` (processes with a ``pid``) with
    ``wait_all(workers)``; a signal to this process meanwhile is passed on to each of them (then they are
    waited for and :class:`Interrupted` raised). Warn, in one line, of those whose ``exit_code`` says they
    failed. Search and audit workers alike."""
    try:
        if work is not None:
            work()
        with interrupts.interruptible():
            wait_all(workers)
    except interrupts.Interrupted as stop:
        interrupts.pass_on(stop, [w.pid for w in workers])
        wait_all(workers)
        raise
    failed = [name(w) for w in workers if exit_code(w) not in interrupts.CLEAN_EXITS]
    if failed:
        print(f"warning: {', '.join(failed)} stopped with an error (see above); finished {what} are kept",
              file=sys.stderr, flush=True)


def command_workers(command: str, key: str, n: int, threads: int, work, what: str = "runs") -> None:
    """``<key>.n_workers=n`` of a command whose runs are claims (an audit, a race): ``n - 1`` more processes
    run this same command line (one worker each, ``threads`` torch threads, no report: this process writes
    it), while this one does its ``work``; a signal is passed on to them."""
    import subprocess

    from hydra.core.hydra_config import HydraConfig

    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    line = [sys.executable, "-m", _program(), command,
            *[o for o in overrides if not o.startswith((f"{key}.n_workers=", f"{key}.threads=", f"{key}.report="))],
            f"{key}.n_workers=1", f"{key}.threads={threads}", f"{key}.report=false"]
    extra = [subprocess.Popen(line) for _ in range(n - 1)]
    supervise(extra, lambda ps: [p.wait() for p in ps], lambda p: p.returncode, lambda p: f"{command} worker {p.pid}",
              what, work=work)


def _program() -> str:
    """The module this process runs as (``python -m <module>``), which the workers run too; the console
    script ``layernas`` runs :mod:`layernas.trainer.cli`."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return spec.name if spec is not None and spec.name not in ("__main__", "") else "layernas.trainer.cli"


def _reap(workers: list) -> None:
    """Reap each worker as it ends: a killed one must not linger as a zombie."""
    waiting = [w for w in workers if w.exitcode is None]
    while waiting:
        for sentinel in mp_connection.wait([w.sentinel for w in waiting]):
            done = next(w for w in waiting if w.sentinel == sentinel)
            done.join()
            waiting.remove(done)
    for w in workers:
        w.join()


def worker_main(plan: SearchPlan, index: int, threads: int, ready=None, runner_class: type | None = None) -> None:
    """One worker (forked or spawned): load the study, wait for the others (``ready``), run trials until
    the study is full; a signal ends it with the shell's code for it (130, 143)."""
    import optuna
    import torch

    from layernas.trainer.plumbing.logs import quiet_lightning
    from layernas.trainer.search.runner import run_trials
    from layernas.trainer.search.study import open_study
    from layernas.trainer.search.trial import TrialRunner

    interrupts.install()
    os.setpgid(0, 0)  # a Ctrl-C at the terminal reaches the parent only, which passes it on exactly once
    torch.set_num_threads(threads)
    plan = _worker_plan(plan, index, threads)
    quiet_lightning()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        study = open_study(plan)
        if ready is not None:
            try:
                with interrupts.interruptible():
                    ready.wait(timeout=600)
            except threading.BrokenBarrierError:
                pass  # a sibling failed to start: go on without it
        runner = (runner_class or TrialRunner)(plan, study, worker=index)
        run_trials(plan, study, runner)
        runner.done()
    except interrupts.Interrupted as stop:
        raise SystemExit(stop.exit_code) from None


def _worker_plan(plan: SearchPlan, index: int, threads: int) -> SearchPlan:
    """The plan as worker ``index`` runs it: its own sampler seed (workers must not draw the same random
    candidates) and its share of the cores."""
    seed = plan.sampler.spec.get("seed")
    sampler = plan.sampler.with_seed(seed + index) if seed is not None else plan.sampler
    return replace(plan, run=plan.run.with_trainer(threads=threads), sampler=sampler)
