"""A study's recorded config (the study user attribute ``config``, written by ``layernas search``) read back
as typed views: what reports, retraining, audits and the stale-trial handler need of it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from layernas.trainer.plan.logger import LoggerConfig
from layernas.trainer.plan.run import RunPlan, run_plan
from layernas.trainer.plan.strategy import StrategyConfig, strategy_config


@dataclass(frozen=True)
class Recorded:
    """What a study was searched with. ``run`` is None for a study not made by ``layernas search`` (no
    config recorded); ``config`` is the record itself (best.yaml and retraining start from it)."""

    config: dict = field(default_factory=dict)
    run: RunPlan | None = None
    logger: LoggerConfig = field(default_factory=lambda: LoggerConfig.from_dict(None))
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    results_dir: Path = Path("results")

    @classmethod
    def from_dict(cls, config: dict | None) -> Recorded:
        """The typed record; a record without the groups of a run (a study made by other means, or a
        test's) keeps what it has: its logger and results folder."""
        config = dict(config or {})
        try:
            run = run_plan(config)
        except (KeyError, TypeError, ValueError):
            run = None
        logger = run.logger if run else LoggerConfig.from_dict(config.get("logger"))
        strategy = strategy_config(config.get("strategy"), run.task.name) if run else StrategyConfig()
        return cls(config, run, logger, strategy, Path(config.get("results_dir", "results")))

    @classmethod
    def of(cls, study) -> Recorded:
        """The record of an Optuna study (its user attribute ``config``), built once per distinct record."""
        return _recorded(json.dumps(study.user_attrs.get("config") or {}, default=str))

    def option(self, group: str) -> str | None:
        """The option a config group was searched with (``space``, ``sampler``, ``pruner``, ``data``...)."""
        node = self.config.get(group) or {}
        return node.get("name") if isinstance(node, dict) else None

    @property
    def seed(self) -> int | None:
        return self.run.seed if self.run else self.config.get("seed")


@lru_cache(maxsize=32)
def _recorded(config: str) -> Recorded:
    return Recorded.from_dict(json.loads(config))
