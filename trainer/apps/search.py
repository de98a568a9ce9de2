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


def phases_of(plan: SearchPlan, cfg: dict) -> list:
    """What follows a full study: a race of the networks tied with its best when ``study.race=true`` (its
    settings checked now, before anything trains)."""
    if not plan.study.race:
        return []
    from layernas.trainer.race.settings import RaceConfig

    settings = RaceConfig.from_dict(cfg.get("race") or {})

    def race(plan: SearchPlan, study: optuna.Study) -> None:
        from layernas.trainer.plan.study import StudyRef
        from layernas.trainer.race.plan import plan_race
        from layernas.trainer.race.race import run_race

        try:
            race_plan = plan_race(StudyRef(plan.name, plan.run.results_dir, plan.storage), settings,
                                  plan.run.logger, plan.run.seed, study=study)
        except ValueError as e:  # e.g. one distinct network: the search itself succeeded
            print(f"race skipped: {e}", flush=True)
            return
        run_race(race_plan, command=False)

    return [race]


def search(cfg: dict) -> optuna.Study:
    """A whole search of a plain config (``layernas search``'s composed config as a dict)."""
    from layernas.trainer.search.loop import run_search

    plan = plan_search(cfg)
    return run_search(plan, strategy_of(plan), phases_of(plan, cfg))


def main(cfg: DictConfig) -> int:
    plain = OmegaConf.to_container(cfg, resolve=True)
    plan = plan_search(plain)  # the size line follows once data is read
    phases = phases_of(plan, plain)
    if plan.pruner_note:
        print(f"note: {plan.pruner_note}", flush=True)
    interrupts.check()  # a signal held while the config was checked stops here, before the heavy imports
    from layernas.trainer.search.loop import run_search

    run_search(plan, strategy_of(plan), phases)
    return 0
