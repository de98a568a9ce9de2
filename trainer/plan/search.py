"""A whole search, typed: :class:`SearchPlan` holds the run every trial trains (:class:`RunPlan`), the
study, its storage, sampler, pruner, space and strategy. ``layernas.trainer.search.plan`` builds it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from layernas.search_space.space import SearchSpace
from layernas.trainer.plan.objectives import Objective
from layernas.trainer.plan.run import RunPlan
from layernas.trainer.plan.strategy import StrategyConfig
from layernas.trainer.plan.study import StorageConfig, StudyConfig


@dataclass(frozen=True)
class ComponentConfig:
    """A sampler or pruner: its option's name, what it can do, and the class with its keyword arguments
    (``_target_`` and the rest of ``conf/sampler/<name>.yaml``) that Hydra instantiates."""

    name: str
    spec: dict
    multi_objective: bool = False  # samplers: whether it can optimise several objectives
    fixed_length: bool = False  # samplers: whether it needs every candidate to have the same parameters

    @classmethod
    def from_dict(cls, data: dict) -> ComponentConfig:
        flags = ("name", "multi_objective", "fixed_length")
        return cls(str(data.get("name", "?")), {k: v for k, v in data.items() if k not in flags},
                   bool(data.get("multi_objective", False)), bool(data.get("fixed_length", False)))

    def with_seed(self, seed: int | None) -> ComponentConfig:
        return replace(self, spec={**self.spec, "seed": seed}) if "seed" in self.spec else self


@dataclass(frozen=True)
class SearchPlan:
    """A validated search: nothing is written before this exists. ``config`` is the resolved command config
    (credentials masked) as the study records it: best.yaml and the W&B runs show it."""

    run: RunPlan
    study: StudyConfig
    storage: StorageConfig
    sampler: ComponentConfig
    pruner: ComponentConfig
    space: SearchSpace
    strategy: StrategyConfig
    study_dir: Path
    config: dict
    budget: str = ""  # the largest candidate's size, FLOPs and memory against the machine's
    classes: dict | None = None  # the labelled data's named classes, once the data is prepared

    @property
    def name(self) -> str:
        return self.study.name

    @property
    def n_trials(self) -> int:
        return self.study.n_trials

    @property
    def timeout(self) -> float | None:
        return self.study.timeout

    @property
    def n_workers(self) -> int:
        return self.study.n_workers

    @property
    def objectives(self) -> tuple[Objective, ...]:
        return self.run.objectives

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    @property
    def prunes(self) -> bool:
        return len(self.objectives) == 1 and self.pruner.name != "none"

    @property
    def pruner_note(self) -> str | None:
        """Why the configured pruner does not run, or None: Optuna prunes single-objective studies only."""
        if self.pruner.name == "none" or self.prunes:
            return None
        return (f"pruner={self.pruner.name} is not used: Optuna prunes only studies of one objective, and "
                f"objectives={[o.name for o in self.objectives]} has {len(self.objectives)}; every trial runs "
                "its whole budget")
