"""``layernas search``: plan the search (every check before anything heavy is imported or written), choose
its strategy, then run it."""

from __future__ import annotations

import optuna
from omegaconf import DictConfig, OmegaConf

from layernas.trainer.plan.search import SearchPlan
from layernas.trainer.plumbing import interrupts
from layernas.trainer.search.plan import plan_search


def strategy_of(plan: SearchPlan):
    """The strategy object ``strategy=<name>`` names (the loop knows none of them by name)."""
    from layernas.trainer.search.strategy import Strategy

    if plan.strategy.name == "supernet":
        from layernas.trainer.supernet.strategy import SupernetStrategy

        return SupernetStrategy()
    return Strategy()


def search(cfg: dict) -> optuna.Study:
    """A whole search of a plain config (``layernas search``'s composed config as a dict)."""
    from layernas.trainer.search.loop import run_search

    plan = plan_search(cfg)
    return run_search(plan, strategy_of(plan))


def main(cfg: DictConfig) -> int:
    plan = plan_search(OmegaConf.to_container(cfg, resolve=True))  # the size line follows once data is read
    if plan.pruner_note:
        print(f"note: {plan.pruner_note}", flush=True)
    interrupts.check()  # a signal held while the config was checked stops here, before the heavy imports
    from layernas.trainer.search.loop import run_search

    run_search(plan, strategy_of(plan))
    return 0
