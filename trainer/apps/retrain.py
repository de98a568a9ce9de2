"""``layernas retrain``: the full budget for a study's best (or any) architecture; see ``trainer.retrain``."""

from __future__ import annotations

import sys

from omegaconf import DictConfig, OmegaConf

from layernas.trainer.retrain.plan import plan_retrain


def main(cfg: DictConfig) -> int:
    from layernas.trainer.plumbing.logs import quiet_lightning
    from layernas.trainer.retrain.train import RetrainFailed, retrain

    plan = plan_retrain(OmegaConf.to_container(cfg, resolve=True))
    quiet_lightning()
    try:
        retrain(plan)
    except RetrainFailed as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
