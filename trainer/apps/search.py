"""``layernas search``: plan the search (every check before anything heavy is imported or written), then
run it."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from .. import interrupts
from ..search.plan import plan_search


def main(cfg: DictConfig) -> int:
    plan = plan_search(OmegaConf.to_container(cfg, resolve=True))  # the size line follows once data is read
    if plan.pruner_note:
        print(f"note: {plan.pruner_note}", flush=True)
    interrupts.check()  # a signal held while the config was checked stops here, before the heavy imports
    from ..search.loop import run_search

    run_search(plan)
    return 0
