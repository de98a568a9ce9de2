"""The search loop: an Optuna study over a search space, each candidate scored by a proxy run.

    layernas search space=lvbert sampler=nsga2 objectives=[val_loss,params] study.n_trials=40
    python -m trainer.search experiment=smoke

``study.n_trials`` is the study's total: the same command run again resumes the study and tops it up.
"""

from __future__ import annotations

import logging
import math
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import TrialState

from search_space import ModelConfig
from search_space.space import SearchSpace, make_space

from .config import check_run_config
from .study import Objective, make_pruner, make_sampler, make_storage, objectives_from, storage_url, study_config

log = logging.getLogger(__name__)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


class TrialFailed(RuntimeError):
    """A proxy run that failed (NaN loss, out of memory, an exception); its reason is a user attr."""


@dataclass
class SearchPlan:
    """A validated search: nothing is written before this exists."""

    cfg: dict
    name: str
    n_trials: int
    timeout: float | None
    space: SearchSpace
    objectives: list[Objective]
    study_dir: Path

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
    name = str(study["name"])
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"study.name={name!r} must be a plain folder name (no '/', not starting with '.')")
    run = check_run_config("ffn", cfg)
    objectives = objectives_from(list(cfg["objectives"]), cfg["task"])
    space_cfg = dict(cfg["space"])
    space = make_space(space_cfg.pop("name"), space_cfg.pop("structure"), space_cfg.pop("n_sublayers"),
                       space_cfg.pop("ops"), ModelConfig.from_dict(cfg["model"]),
                       vocab_size=vocab_size or run.data.tokenizer.vocab_size, seq_len=run.data.seq_len, **space_cfg)
    space.check_feasible()
    study_dir = Path(cfg["results_dir"]) / name
    storage_url(cfg["storage"], study_dir)
    make_sampler(cfg["sampler"], len(objectives))
    make_pruner(cfg["pruner"], len(objectives))
    return SearchPlan(cfg, name, n_trials, timeout, space, objectives, study_dir)


def counted(study: optuna.Study) -> int:
    """Trials that count towards ``study.n_trials``: finished ones, except those interrupted (Ctrl-C, a
    killed worker) that are re-run."""
    return sum(1 for t in study.get_trials(deepcopy=False, states=FINISHED) if not t.user_attrs.get("interrupted"))


def open_study(plan: SearchPlan) -> optuna.Study:
    plan.study_dir.mkdir(parents=True, exist_ok=True)
    storage = make_storage(plan.cfg["storage"], plan.study_dir)
    study = optuna.create_study(
        study_name=plan.name, storage=storage, load_if_exists=True, directions=plan.directions,
        sampler=make_sampler(plan.cfg["sampler"], len(plan.objectives)),
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
    study.set_user_attr("objectives", [o.__dict__ for o in plan.objectives])
    return study


def enqueue_baselines(study: optuna.Study, space: SearchSpace) -> list[str]:
    """Queue the space's baselines as the first trials (once per study)."""
    names = []
    for name, arch in space.baseline_archs().items():
        study.enqueue_trial(space.encode(arch), user_attrs={"baseline": name}, skip_if_exists=True)
        names.append(name)
    return names


def run_search(cfg: dict) -> optuna.Study:
    """Validate, open (or resume) the study, enqueue baselines and run trials until ``study.n_trials``."""
    from .data import DataConfig, get_tokenizer

    plan = plan_search(cfg)
    vocab = get_tokenizer(DataConfig.from_dict(cfg["data"])).get_vocab_size()  # tokenize once, before trials
    plan = plan_search(cfg, vocab_size=vocab)
    study = open_study(plan)
    baselines = enqueue_baselines(study, plan.space)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # each trial gets our own one-line report instead
    start, done = time.time(), counted(study)
    print(f"study {plan.name}: {done}/{plan.n_trials} trials done; storage {_safe_url(plan)}; "
          f"baselines {', '.join(baselines) or 'none'}", flush=True)
    from .trial import TrialRunner

    runner = TrialRunner(plan, study)
    try:
        while counted(study) < plan.n_trials:
            remaining = None if plan.timeout is None else plan.timeout - (time.time() - start)
            if remaining is not None and remaining <= 0:
                print(f"study.timeout={plan.timeout} s reached", flush=True)
                break
            study.optimize(runner, n_trials=1, timeout=remaining, catch=(TrialFailed,),
                           callbacks=[runner.after_trial])
    except KeyboardInterrupt:
        runner.write_results()
        print(f"\ninterrupted: the running trial is recorded as failed; run the same command to resume "
              f"({counted(study)}/{plan.n_trials} trials done)", file=sys.stderr, flush=True)
        raise SystemExit(130) from None
    runner.finish()
    return study


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

    from .logs import quiet_lightning

    plain = OmegaConf.to_container(cfg, resolve=True)
    plan_search(plain)  # every check before anything heavy is imported or written
    quiet_lightning()
    run_search(plain)
    return 0


if __name__ == "__main__":
    from .cli import main as cli_main

    cli_main(["search", *sys.argv[1:]])
