"""The search loop: an Optuna study over a search space, each candidate scored by a proxy run.

    layernas search space=lvbert sampler=nsga2 objectives=[val_loss,params] study.n_trials=40
    python -m trainer.search experiment=smoke

``study.n_trials`` is the study's total: the same command run again resumes the study and tops it up.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna

from layernas.search_space import ModelConfig
from layernas.search_space.space import SearchSpace, make_space

from .budget import check_budget
from .config import check_run_config
from .names import check_name
from .slots import TrialSlots, counted
from .study import (
    Objective,
    check_storage,
    git_commit,
    make_pruner,
    make_sampler,
    make_storage,
    objectives_from,
    storage_url,
    study_config,
)


class TrialFailed(RuntimeError):
    """A proxy run that failed (NaN loss, out of memory, an exception); its reason is a user attr."""


@dataclass
class SearchPlan:
    """A validated search: nothing is written before this exists."""

    cfg: dict
    name: str
    n_trials: int
    timeout: float | None
    n_workers: int
    space: SearchSpace
    objectives: list[Objective]
    study_dir: Path
    budget: str = ""

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    @property
    def prunes(self) -> bool:
        return len(self.objectives) == 1 and self.cfg["pruner"].get("name", "none") != "none"


def plan_search(cfg: dict, vocab_size: int | None = None) -> SearchPlan:
    """Check the whole config; one-line ValueErrors name the bad value and what is allowed."""
    study = cfg["study"]
    n_trials, timeout = study["n_trials"], study.get("timeout")
    if not isinstance(n_trials, int) or isinstance(n_trials, bool) or n_trials < 1:
        raise ValueError(f"study.n_trials={n_trials!r} must be a positive integer")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"study.timeout={timeout!r} must be a positive number of seconds or null")
    n_workers = study.get("n_workers", 1)
    if not isinstance(n_workers, int) or isinstance(n_workers, bool) or n_workers < 1:
        raise ValueError(f"study.n_workers={n_workers!r} must be a positive integer")
    name = check_name("study.name", study["name"], cfg["results_dir"])
    run = check_run_config("ffn", cfg, budget=False)
    objectives = objectives_from(list(cfg["objectives"]), cfg["task"])
    space_cfg = dict(cfg["space"])
    space = make_space(space_cfg.pop("name"), space_cfg.pop("structure"), space_cfg.pop("n_sublayers"),
                       space_cfg.pop("ops"), ModelConfig.from_dict(cfg["model"]),
                       vocab_size=vocab_size or run.data.tokenizer.vocab_size, seq_len=run.data.seq_len, **space_cfg)
    space.check_feasible()
    budget = check_budget(space, cfg, vocab_size)
    study_dir = Path(cfg["results_dir"]) / name
    storage_url(cfg["storage"], study_dir)
    make_sampler(cfg["sampler"], len(objectives))
    make_pruner(cfg["pruner"], len(objectives))
    return SearchPlan(cfg, name, n_trials, timeout, n_workers, space, objectives, study_dir, budget)


def open_study(plan: SearchPlan) -> optuna.Study:
    plan.study_dir.mkdir(parents=True, exist_ok=True)
    storage = make_storage(plan.cfg["storage"], plan.study_dir)
    study = optuna.create_study(
        study_name=plan.name, storage=storage, load_if_exists=True, directions=plan.directions,
        sampler=make_sampler(_resumed_seed(plan.cfg["sampler"], storage, plan.name), len(plan.objectives)),
        pruner=make_pruner(plan.cfg["pruner"], len(plan.objectives)),
    )
    if [d.name.lower() for d in study.directions] != plan.directions:
        raise ValueError(f"study {plan.name!r} exists with directions {[d.name.lower() for d in study.directions]}; "
                         f"objectives={[o.name for o in plan.objectives]} asks for {plan.directions}: "
                         "use another study.name")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([o.name for o in plan.objectives])
    study.set_user_attr("config", study_config(plan.cfg))
    study.set_user_attr("git_commit", git_commit())  # the code that ran the trials, for best.yaml and report.md
    study.set_user_attr("objectives", [o.__dict__ for o in plan.objectives])
    return study


def _resumed_seed(sampler: dict, storage, name: str) -> dict:
    """The sampler config with its seed moved on by the trials the study already has: a resumed search
    (or one more worker) must not draw the same random candidates again."""
    if sampler.get("seed") is None:
        return sampler
    existing = next((s.n_trials for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
                     if s.study_name == name), 0)
    return {**sampler, "seed": sampler["seed"] + existing}


def enqueue_baselines(study: optuna.Study, space: SearchSpace) -> list[str]:
    """Queue the space's baselines as the first trials (once per study)."""
    names = []
    for name, arch in space.baseline_archs().items():
        study.enqueue_trial(space.encode(arch), user_attrs={"baseline": name}, skip_if_exists=True)
        names.append(name)
    return names


def run_search(cfg: dict) -> optuna.Study:
    """Validate, open (or resume) the study, enqueue baselines and run trials until ``study.n_trials``,
    in this process or in ``study.n_workers`` worker processes."""
    plan = plan_search(cfg)
    check_storage(cfg["storage"], plan.study_dir)
    if plan.n_workers > 1:
        from .workers import start_importing

        start_importing()  # before the imports below, so that the workers' imports overlap them
    from .logs import quiet_lightning
    from .proxy import prepare_data
    from .trial import TrialRunner

    quiet_lightning()
    plan = plan_search(cfg, vocab_size=prepare_data(cfg))  # tokenize once, before any trial or worker
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # each trial gets our own one-line report instead
    study = open_study(plan)
    baselines = enqueue_baselines(study, plan.space)
    print(f"study {plan.name}: {counted(study)}/{plan.n_trials} trials done; storage {_safe_url(plan)}; "
          f"baselines {', '.join(baselines) or 'none'}"
          + (f"; {plan.n_workers} workers" if plan.n_workers > 1 else ""), flush=True)
    if plan.n_workers > 1:
        from .workers import run_workers

        run_workers(plan)
    # Alone, or after the workers: a worker that died after its siblings stopped leaves its trial running;
    # failing it here queues it again, and this process runs what is left.
    run_trials(plan, study, TrialRunner(plan, study))
    TrialRunner(plan, study).finish()
    return study


def run_trials(plan: SearchPlan, study: optuna.Study, runner) -> None:
    """This process's share of the trials: claim a slot, run a trial, until the study is full."""
    from .trial import fail_dead_local_trials

    start = time.time()
    slots = TrialSlots(study, plan.study_dir / ".trials.lock", storage_url(plan.cfg["storage"], plan.study_dir))
    runner.slots = slots
    try:
        while True:
            remaining = None if plan.timeout is None else plan.timeout - (time.time() - start)
            if remaining is not None and remaining <= 0:
                print(f"study.timeout={plan.timeout} s reached", flush=True)
                return
            if not slots.claim(plan.n_trials, tidy=lambda: fail_dead_local_trials(study, plan)):
                return
            try:
                study.optimize(runner, n_trials=1, catch=(TrialFailed,), callbacks=[runner.after_trial])
            finally:
                slots.release()
    except KeyboardInterrupt:
        runner.write_results()
        print(f"\ninterrupted: the running trial is recorded as failed; run the same command to resume "
              f"({counted(study)}/{plan.n_trials} trials done)", file=sys.stderr, flush=True)
        raise SystemExit(130) from None


def _safe_url(plan: SearchPlan) -> str:
    from .tracking import redact

    return redact(storage_url(plan.cfg["storage"], plan.study_dir))


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) and abs(value) < 1e5 else f"{value:.4g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def main(cfg) -> int:
    """``layernas search`` body."""
    from omegaconf import OmegaConf

    plain = OmegaConf.to_container(cfg, resolve=True)
    print(plan_search(plain).budget, flush=True)  # every check before anything heavy is imported or written
    run_search(plain)
    return 0


if __name__ == "__main__":
    from .cli import main as cli_main

    cli_main(["search", *sys.argv[1:]])
