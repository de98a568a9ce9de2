"""``layernas export study.name=...``: a study's network as a Hugging Face folder or ONNX; see ``trainer.export``."""

from __future__ import annotations

import sys

from omegaconf import DictConfig, OmegaConf

from layernas.trainer.export.plan import plan_export


def main(cfg: DictConfig) -> int:
    from layernas.trainer.analyze.source import AnalysisFailed
    from layernas.trainer.export.export import run_export
    from layernas.trainer.export.onnx_graph import ExportFailed
    from layernas.trainer.plumbing.logs import quiet_lightning

    plan = plan_export(OmegaConf.to_container(cfg, resolve=True))
    quiet_lightning()
    try:
        run_export(plan)
    except (AnalysisFailed, ExportFailed) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
