"""A run's plan checked with its architecture, before anything heavy is imported or written."""

from __future__ import annotations

from layernas.search_space import Architecture
from layernas.trainer.plan.budget import check_budget
from layernas.trainer.plan.run import RunPlan


def check_run(arch: str | Architecture, plan: RunPlan, budget: bool = True) -> tuple[Architecture, str]:
    """The parsed architecture and, with ``budget``, the size line after checking the sizes against the
    data, the ops and the machine's memory (a search's trials skip it: the search checked its largest
    candidate once). Everything here is checked before anything heavy is imported or written."""
    plan.data.check_files()
    if plan.task.name == "pretrain_finetune":
        if plan.task.pretrain_steps < 1 or plan.task.finetune_data is None:
            raise ValueError("task=pretrain_finetune needs task.pretrain_steps >= 1 and task.finetune_data")
        plan.task.finetune_data.check_files()
    parsed = Architecture.parse(arch, plan.model.d_model, **plan.model.key_defaults)
    return parsed, check_budget(parsed, plan) if budget else ""
