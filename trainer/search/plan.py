"""The search's plan builder: the whole config checked and resolved into a typed :class:`SearchPlan`,
before anything is imported, tokenized or written."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from layernas.search_space.space import make_space
from layernas.trainer.plan.budget import check_budget
from layernas.trainer.plan.checks import check_run
from layernas.trainer.plan.run import run_plan
from layernas.trainer.plan.search import ComponentConfig, SearchPlan
from layernas.trainer.plan.strategy import strategy_config
from layernas.trainer.plan.study import StorageConfig, StudyConfig
from layernas.trainer.plumbing.inputs import check_writable
from layernas.trainer.plumbing.names import check_name
from layernas.trainer.plumbing.provenance import study_config
from layernas.trainer.search.samplers import make_pruner, make_sampler
from layernas.trainer.search.storage import storage_url


class TrialFailed(RuntimeError):
    """A proxy run that failed (NaN loss, out of memory, an exception); its reason is a user attr."""


def plan_search(cfg: dict) -> SearchPlan:
    """Check the whole config; one-line ValueErrors name the bad value and what is allowed. Every run of
    the study (trials, seed noise, retraining) reports and prunes on the study's first objective."""
    name = check_name("study.name", cfg["study"]["name"], cfg["results_dir"])
    study = StudyConfig.from_dict({**cfg["study"], "name": name})
    storage = StorageConfig.from_dict(cfg["storage"])
    run = run_plan(cfg)
    check_run("ffn", run, budget=False)
    strategy = strategy_config(cfg.get("strategy"), run.task.name)
    sampler, pruner = ComponentConfig.from_dict(cfg["sampler"]), ComponentConfig.from_dict(cfg["pruner"])
    space_cfg = dict(cfg["space"])
    space = make_space(space_cfg.pop("name"), space_cfg.pop("structure"), space_cfg.pop("n_sublayers"),
                       space_cfg.pop("ops"), run.model, vocab_size=run.data.tokenizer.vocab_size,
                       seq_len=run.data.seq_len, fixed_length=sampler.fixed_length, **space_cfg)
    space.check_feasible()
    study_dir = Path(cfg["results_dir"]) / name
    url = storage_url(storage, study_dir)
    local = url.removeprefix("sqlite:///") if storage.kind == "journal" or url.startswith("sqlite:///") else None
    if local is not None:  # a storage file in a folder that cannot be written fails here, not after tokenizing
        check_writable(Path(local).parent, "storage.url" if storage.url else "results_dir")
    make_sampler(sampler, len(run.objectives))
    make_pruner(pruner, len(run.objectives))
    recorded = study_config({**cfg, "task": {**cfg["task"], "objective": run.task.objective,
                                             "direction": run.task.direction}})
    return SearchPlan(run, study, storage, sampler, pruner, space, strategy, study_dir, recorded,
                      check_budget(space, run))


def with_data(plan: SearchPlan, info) -> SearchPlan:
    """The same plan with the space's costs (and constraints) for the tokenizer's real vocabulary, and the
    size line for it and the data's classes, known once the data is prepared; the check that some candidate
    fits is made again. The run and its config name the classes from here on (``data.label_names``)."""
    from layernas.trainer.plan.labels import named_classes  # reads data: not imported with the plan

    space = replace(plan.space, vocab_size=info.vocab_size)
    space.check_feasible()
    run, config = named_classes(plan.run, plan.config)  # the study's config names the classes from here on
    return replace(plan, space=space, budget=check_budget(space, plan.run, info.vocab_size, info.n_classes),
                   run=run, config=config, classes=info.classes)
