"""``layernas race study.name=...``: the study's tied best raced at growing budgets; see ``trainer.race``."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from layernas.trainer.plan.logger import LoggerConfig
from layernas.trainer.plan.study import StudyRef
from layernas.trainer.race.plan import plan_race
from layernas.trainer.race.race import run_race
from layernas.trainer.race.settings import RaceConfig


def main(cfg: DictConfig) -> int:
    from layernas.trainer.plumbing.logs import quiet_lightning

    plain = OmegaConf.to_container(cfg, resolve=True)
    ref = StudyRef.from_dict(plain)
    plan = plan_race(ref, RaceConfig.from_dict(plain["race"]), LoggerConfig.from_dict(plain.get("logger")),
                     plain.get("seed", 0))
    quiet_lightning()
    run_race(plan)
    return 0
