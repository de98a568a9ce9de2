"""What a compare will run: one search config per (arm, seed), each checked before anything trains."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from layernas.trainer.compare.settings import Arm, CompareConfig
from layernas.trainer.plan.logger import LoggerConfig
from layernas.trainer.plan.search import SearchPlan
from layernas.trainer.search.plan import plan_search

# overrides a compare sets for each of its studies (a user's own are left out of them)
OWN = ("compare.", "study.name=", "seed=", "study.race=")


@dataclass(frozen=True)
class CompareRun:
    """One whole search: ``arm`` on ``seed``, its study ``<name>-<arm>-s<seed>``, its config and plan."""

    arm: str
    seed: int
    cfg: dict
    plan: SearchPlan

    @property
    def study(self) -> str:
        return self.plan.name


@dataclass(frozen=True)
class ComparePlan:
    name: str
    folder: Path  # results/<name>/compare
    settings: CompareConfig
    runs: tuple[CompareRun, ...]
    logger: LoggerConfig
    seed: int

    def arm(self, name: str) -> Arm:
        return next(a for a in self.settings.arms if a.name == name)


def study_name(name: str, arm: str, seed: int) -> str:
    return f"{name}-{arm}-s{seed}"


def plan_compare(name: str, overrides: list[str], settings: CompareConfig, compose: Callable[[list[str]], dict],
                 results_dir: Path, logger: LoggerConfig, seed: int) -> ComparePlan:
    """Every (arm, seed)'s search config from the command's ``overrides`` and the arm's, as ``compose`` (Hydra's
    compose of ``search``) makes it, planned (and so checked) now: a bad arm fails before any study starts."""
    base = [o for o in overrides if not o.lstrip("+~").startswith(OWN)]
    runs = []
    for arm in settings.arms:
        for s in settings.seeds:
            try:
                cfg = compose([*base, *arm.overrides, f"study.name={study_name(name, arm.name, s)}", f"seed={s}",
                               "study.race=false"])
                plan = plan_search(cfg)
            except Exception as e:  # noqa: BLE001  (Hydra's composition errors are not ValueErrors)
                reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
                raise ValueError(f"arm {arm.name!r} ({' '.join(arm.overrides)}): {reason}") from None
            runs.append(CompareRun(arm.name, s, cfg, plan))
    return ComparePlan(name, Path(results_dir) / name / "compare", settings, tuple(runs), logger, seed)
