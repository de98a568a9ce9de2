"""``strategy=supernet``: train the study's supernet once, score ``study.n_trials`` distinct candidates
with its inherited weights (the sampler, objectives and constraints of the search; a network the sampler
proposes again reuses its score and does not count), then train the best and a random sample stand-alone
to measure how well it ranked.

    layernas search strategy=supernet space=lvbert study.n_trials=500 strategy.supernet.steps=2000

Every stage resumes: the supernet from its checkpoint, scoring from the study, the stand-alone checks from
their records. With ``study.n_workers`` the supernet is trained before the workers start and scoring is
split among them; workers on other machines (the same command on a shared storage) need the study's
``results/<study>/supernet/`` folder on a shared file system.
"""

from __future__ import annotations

import optuna

from layernas.trainer.plan.search import SearchPlan
from layernas.trainer.search.slots import counted
from layernas.trainer.search.strategy import Strategy
from layernas.trainer.search.trial import TrialRunner
from layernas.trainer.supernet.scoring import SupernetTrialRunner
from layernas.trainer.supernet.standalone import run_checks
from layernas.trainer.supernet.train import train_supernet


class SupernetStrategy(Strategy):
    """Candidates scored by one weight-sharing supernet; its ranking checked stand-alone at the end."""

    name = "supernet"
    runner_class = SupernetTrialRunner

    def header(self, plan: SearchPlan, study: optuna.Study) -> str:
        return f"study {plan.name} (supernet): {counted(study)}/{plan.n_trials} candidates scored"

    def notes(self, plan: SearchPlan) -> list[str]:
        if plan.study.noise_seeds:
            return ["study.noise_seeds is not used with strategy=supernet (the stand-alone checks are the "
                    "measurement)"]
        return []

    def before_trials(self, plan: SearchPlan, study: optuna.Study) -> None:
        train_supernet(plan, study, plan.strategy.supernet)

    def after_trials(self, plan: SearchPlan, study: optuna.Study, runner: TrialRunner, over: bool) -> None:
        runner.write_results()
        if over:
            run_checks(plan, study, plan.strategy.supernet)

    def interrupted(self, plan: SearchPlan, study: optuna.Study) -> str:
        return f"run the same command to resume ({counted(study)}/{plan.n_trials} candidates scored)"
