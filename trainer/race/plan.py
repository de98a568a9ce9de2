"""What a race will do, checked before anything trains (one-line ``ValueError`` for a bad value)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import optuna

from layernas.trainer.plan.logger import LoggerConfig
from layernas.trainer.plan.recorded import Recorded
from layernas.trainer.plan.run import RunPlan
from layernas.trainer.plan.study import StorageConfig, StudyRef
from layernas.trainer.race.contenders import Contender, choose
from layernas.trainer.race.settings import RaceConfig
from layernas.trainer.search.reruns import Reruns
from layernas.trainer.search.study import load_existing_study

PREFIX = "race/"
STORED = "race_plan"  # the contenders a race started with: a resumed race and other workers race the same
RESULT = "race_result"  # the finished race's answer (read by best.yaml, report.md, retrain and analyze)


@dataclass(frozen=True)
class RacePlan:
    """The study, its recorded run (with this command's logger and results folder), the settings, the
    contenders in proxy order (searched networks, then baselines) and how they were chosen."""

    study: optuna.Study
    folder: Path  # results/<study>/race
    storage: StorageConfig
    run: RunPlan
    settings: RaceConfig
    contenders: tuple[Contender, ...]
    how: str
    sign: float  # 1 when the first objective is minimised, -1 when maximised: signed values are lower-better
    seed: int  # this command's: the bootstrap

    @property
    def proxy_steps(self) -> int:
        return self.run.trainer.max_steps

    @property
    def baselines(self) -> list[int]:
        return [c.trial for c in self.contenders if c.baseline]

    def contender(self, trial: int) -> Contender:
        return next(c for c in self.contenders if c.trial == trial)

    def reruns(self, threads: int | None = None) -> Reruns:
        return Reruns(self.study, PREFIX, "race", "race", self.folder, self.storage, self.run,
                      threads or self.settings.threads)


def plan_race(ref: StudyRef, settings: RaceConfig, logger: LoggerConfig, seed: int,
              study: optuna.Study | None = None) -> RacePlan:
    """The race of ``ref``'s study (``study`` when the caller has it open: a search's last phase)."""
    study = study or load_existing_study(ref)
    recorded = Recorded.of(study)
    if "config" not in study.user_attrs or recorded.run is None:
        raise ValueError(f"study {study.study_name!r} was not made by `layernas search` (it has no run config)")
    contenders, how = stored(study, settings) or choose(study, settings.max_k, settings.baselines)
    sign = -1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    run = replace(recorded.run, logger=logger, results_dir=ref.results_dir)
    return RacePlan(study, ref.folder / "race", ref.storage, run, settings, tuple(contenders), how, sign, seed)


def stored(study: optuna.Study, settings: RaceConfig) -> tuple[list[Contender], str] | None:
    """The contenders the study's race started with, when it was chosen with the same ``max_k`` and
    ``baselines``: a resumed race (or another worker) races the same networks even if the study has grown."""
    doc = study.user_attrs.get(STORED)
    if not isinstance(doc, dict) or doc.get("max_k") != settings.max_k or \
            doc.get("baselines") != _plain(settings.baselines):
        return None
    return [Contender(**c) for c in doc["contenders"]], doc["how"]


def record_plan(plan: RacePlan) -> None:
    """Store the contenders (once): see :func:`stored`."""
    doc = {"max_k": plan.settings.max_k, "baselines": _plain(plan.settings.baselines), "how": plan.how,
           "contenders": [{"trial": c.trial, "arch": c.arch, "baseline": c.baseline, "proxy": c.proxy}
                          for c in plan.contenders]}
    if plan.study.user_attrs.get(STORED) != doc:
        plan.study.set_user_attr(STORED, doc)


def _plain(baselines) -> str | list[str]:
    return list(baselines) if isinstance(baselines, tuple) else baselines
