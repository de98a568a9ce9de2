"""``layernas analyze study.name=...``: attention-head analysis of a study's model; see ``trainer.analyze``."""

from __future__ import annotations

import sys

from omegaconf import DictConfig, OmegaConf


def main(cfg: DictConfig) -> int:
    from ..analyze.analyze import run_analysis
    from ..analyze.source import AnalysisFailed
    from ..logs import quiet_lightning

    quiet_lightning()
    try:
        run_analysis(OmegaConf.to_container(cfg, resolve=True))
    except AnalysisFailed as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
