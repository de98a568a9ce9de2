"""``layernas analyze study.name=...``: attention-head analysis of a study's model; see ``trainer.analyze``."""

from __future__ import annotations

import sys

from omegaconf import DictConfig, OmegaConf

from layernas.trainer.analyze.plan import plan_analysis


def main(cfg: DictConfig) -> int:
    from layernas.trainer.analyze.analyze import run_analysis
    from layernas.trainer.analyze.source import AnalysisFailed
    from layernas.trainer.plumbing.logs import quiet_lightning

    plan = plan_analysis(OmegaConf.to_container(cfg, resolve=True))
    quiet_lightning()
    try:
        run_analysis(plan)
    except AnalysisFailed as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
