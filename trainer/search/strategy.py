"""How a search measures its candidates, behind one seam: the loop (:mod:`.loop`) calls a strategy's
hooks in order, whichever strategy the command chose (``strategy=standalone`` here, ``strategy=supernet``
in :mod:`layernas.trainer.supernet`). Phases that follow a full study (the seed noise here; a race of the
tied best) run after the strategy's own end."""

from __future__ import annotations

import optuna

from layernas.trainer.plan.search import SearchPlan
from layernas.trainer.search.noise_runs import run_noise_runs
from layernas.trainer.search.slots import counted
from layernas.trainer.search.trial import TrialRunner


class Strategy:
    """Stand-alone scoring: every candidate trained by a proxy run of its own (the default). A subclass
    changes what it must; each hook gets the plan and the open study."""

    name = "standalone"
    runner_class: type[TrialRunner] = TrialRunner
    unit = "trials"  # what the progress counts: trials, or (scoring without training) candidates scored

    def header(self, plan: SearchPlan, study: optuna.Study) -> str:
        """The start line's head: where the study stands."""
        return f"study {plan.name}: {counted(study)}/{plan.n_trials} {self.unit} done"

    def notes(self, plan: SearchPlan) -> list[str]:
        """Settings the strategy does not use, said once at start."""
        return []

    def before_trials(self, plan: SearchPlan, study: optuna.Study) -> None:
        """Work the trials need first (a supernet's training)."""

    def after_trials(self, plan: SearchPlan, study: optuna.Study, runner: TrialRunner, over: bool) -> None:
        """Once this process has no trial left: the baselines' seed-noise runs, when the study is full (not
        after a timeout: the resumed search measures them)."""
        if counted(study) >= plan.n_trials:
            run_noise_runs(plan, study)

    def interrupted(self, plan: SearchPlan, study: optuna.Study) -> str:
        return (f"the running trial is recorded as interrupted; run the same command to resume "
                f"({counted(study)}/{plan.n_trials} trials done)")
