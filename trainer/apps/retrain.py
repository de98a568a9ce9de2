"""``layernas retrain``: the full budget for a study's best (or any) architecture; see ``trainer.retrain``."""

from __future__ import annotations

import sys

from omegaconf import DictConfig, OmegaConf

from ..retrain import RetrainFailed, retrain


def main(cfg: DictConfig) -> int:
    from ..logs import quiet_lightning

    plain = OmegaConf.to_container(cfg, resolve=True)
    quiet_lightning()
    try:
        retrain(plain)
    except RetrainFailed as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
