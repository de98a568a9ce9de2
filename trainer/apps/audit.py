"""``layernas audit study.name=...``: rank fidelity of a study's proxy; see ``trainer.audit``."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from layernas.trainer.audit.audit import plan_audit, run_audit
from layernas.trainer.audit.settings import AuditConfig
from layernas.trainer.plan.logger import LoggerConfig
from layernas.trainer.plan.study import StudyRef


def main(cfg: DictConfig) -> int:
    from layernas.trainer.plumbing.logs import quiet_lightning

    plain = OmegaConf.to_container(cfg, resolve=True)
    ref = StudyRef.from_dict(plain)
    plan = plan_audit(ref, AuditConfig.from_dict(plain["audit"]), LoggerConfig.from_dict(plain.get("logger")),
                      plain.get("seed", 0))
    quiet_lightning()
    run_audit(plan)
    return 0
