"""The plan builder of ``layernas retrain`` (and of the commands that work on a study's network, such as
``analyze``): which network of a study, and with what settings. The study's data, task, model and objectives are used,
with the command line's keys over them; the network is ``arch=...``, ``trial=N``, or the study's answer
(a results extension's, e.g. a supernet's best stand-alone check, else the best trial)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import optuna

from layernas.search_space import Architecture
from layernas.trainer.plan.checks import check_run
from layernas.trainer.plan.objectives import objectives_from
from layernas.trainer.plan.recorded import Recorded
from layernas.trainer.plan.run import RunPlan, run_plan
from layernas.trainer.plan.study import StudyRef
from layernas.trainer.plumbing.inputs import check_seeds
from layernas.trainer.plumbing.provenance import study_config
from layernas.trainer.results.extensions import answer
from layernas.trainer.results.ranking import best_trials
from layernas.trainer.retrain.load import retrained_folder
from layernas.trainer.search.study import load_existing_study

INHERITED = ("data", "task", "model")


@dataclass(frozen=True)
class Choice:
    """The network (``arch``; ``trial`` when it is a study's), the merged config to train it with, the study
    (None when only ``arch=...`` was given and there is no study), and why it was chosen when the study's
    answer chose it."""

    arch: str
    config: dict
    trial: int | None
    study: optuna.Study | None
    note: str | None = None


def command_line_overrides(given: list[str] | None = None) -> list:
    """The command line's overrides (``given``, else Hydra's), parsed by Hydra (none when not run as a Hydra
    app)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if given is None:
        given = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    return OverridesParser.create().parse_overrides(given)


def inherit(group: str, searched: dict, own: dict, overrides: list) -> dict:
    """A group's config: the study's, with the command line's keys of that group applied over it
    (``data.test=other.tsv`` adds a test split to the study's data), or the command's own when the command
    line picks another option for the whole group (``data=imdb``)."""
    from omegaconf import OmegaConf

    if any(o.key_or_group == group for o in overrides):
        return own
    merged = OmegaConf.create(searched)
    for o in overrides:
        if o.key_or_group.startswith(f"{group}."):
            key = o.key_or_group.removeprefix(f"{group}.")
            if o.is_delete():
                parent, _, leaf = key.rpartition(".")
                node = OmegaConf.select(merged, parent) if parent else merged
                if node is not None and leaf in node:
                    del node[leaf]
            else:
                OmegaConf.update(merged, key, own_value(own, key), force_add=True)
    return OmegaConf.to_container(merged, resolve=True)


def own_value(own: dict, key: str):
    """The value the command composed for ``key`` (Hydra has already parsed and resolved it)."""
    node = own
    for part in key.split("."):
        node = node[part]
    return node


def with_objectives(merged: dict, searched: dict, overrides: list) -> dict:
    """The study's objectives (unless the command line gives ``objectives=``), the first one the task's
    objective: a command reports, and headlines, what the study optimised, whatever the task's default."""
    given = any(o.key_or_group == "objectives" for o in overrides)
    names = list((given and merged.get("objectives")) or searched.get("objectives") or merged.get("objectives")
                 or ["objective"])
    first = objectives_from(names, merged["task"])[0]
    return {**merged, "objectives": names,
            "task": {**merged["task"], "objective": first.key, "direction": first.direction}}


def choose(cfg: dict, given: list[str] | None = None) -> Choice:
    """The network to work on and the config to train it with."""
    overrides = command_line_overrides(given)
    try:
        study = load_existing_study(StudyRef.from_dict(cfg))
    except ValueError:
        if cfg.get("arch"):
            return Choice(cfg["arch"], with_objectives(dict(cfg), {}, overrides), None, None)
        raise
    searched = study.user_attrs.get("config", {})
    merged = dict(cfg)
    for group in INHERITED:
        if group in searched:
            merged[group] = inherit(group, searched[group], cfg[group], overrides)
    merged = with_objectives(merged, searched, overrides)
    if cfg.get("arch"):
        return Choice(cfg["arch"], merged, None, study)
    if cfg.get("trial") is not None:
        matches = [t for t in study.get_trials(deepcopy=False) if t.number == cfg["trial"]]
        if not matches or "arch" not in matches[0].user_attrs:
            raise ValueError(f"trial={cfg['trial']} is not a trial of study {study.study_name!r} with an architecture;"
                             f" trials: 0..{len(study.trials) - 1}")
        return Choice(matches[0].user_attrs["arch"], merged, cfg["trial"], study)
    found = answer(study)
    if found is not None:
        return Choice(found["arch"], merged, found["trial"], study, found.get("line"))
    best = best_trials(study)
    if not best:
        raise ValueError(f"study {study.study_name!r} has no complete trial yet; give trial=N or arch=...")
    return Choice(best[0].user_attrs["arch"], merged, best[0].number, study)


def run_settings(cfg: dict, overrides: list[str] | None = None) -> dict:
    """The config a command on a study's network runs (``--cfg job``): the study's data, task, model and
    objectives with the command line's keys over them, the chosen architecture and trial."""
    choice = choose(cfg, overrides)
    return {**choice.config, "arch": str(choice.arch), "trial": choice.trial}


@dataclass(frozen=True)
class RetrainPlan:
    """A retrain, checked: the study (``ref``), the network and its trial, the typed run it trains on every
    seed, the merged config as ``config.yaml`` records it, whether an earlier retrain with other settings
    is replaced, and the study's proxy validation slice when retraining validates on other data (so the
    retrained model is also measured where the proxy was, ``val_slice/...``)."""

    ref: StudyRef
    arch: Architecture
    trial: int | None
    run: RunPlan
    config: dict
    seeds: tuple[int, ...]
    replace: bool
    proxy_slice: int | None
    note: str | None = None

    @property
    def folder(self) -> Path:
        return retrained_folder(self.ref, self.arch.key())


def plan_retrain(cfg: dict) -> RetrainPlan:
    """Check the command (one-line ``ValueError`` for a bad value) and decide what to retrain."""
    ref = StudyRef.from_dict(cfg)  # the name is checked before a study or arch is looked up
    seeds = check_seeds("seeds", cfg.get("seeds") or [cfg["seed"]])
    choice = choose(cfg)
    run = run_plan(choice.config)
    arch, _ = check_run(choice.arch, run, budget=True)
    recorded = Recorded.of(choice.study) if choice.study else Recorded()
    batches = recorded.run.trainer.limit_val_batches if recorded.run else None
    proxy_slice = batches if isinstance(batches, int) and batches != run.trainer.limit_val_batches else None
    return RetrainPlan(ref, arch, choice.trial, run, study_config(choice.config), tuple(seeds),
                       bool(cfg.get("replace")), proxy_slice, choice.note)
