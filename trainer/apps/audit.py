"""``layernas audit study.name=...``: rank fidelity of a study's proxy; see ``trainer.audit``."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf


def main(cfg: DictConfig) -> int:
    from ..audit.audit import run_audit
    from ..logs import quiet_lightning

    quiet_lightning()
    run_audit(OmegaConf.to_container(cfg, resolve=True))
    return 0
