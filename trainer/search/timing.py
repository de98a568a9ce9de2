"""How long a search will take: a proxy run's time from its measured step time, in words."""

from __future__ import annotations

from layernas.trainer.plan.run import RunPlan


def estimated_run_s(plan: RunPlan, step_s: float) -> float:
    """A proxy run's seconds at ``step_s`` a training step: its steps (pre-training's too), its validations
    (a forward pass over ``limit_val_batches`` batches, about a third of a training step each) and a few
    seconds of start-up."""
    trainer = plan.trainer
    steps = trainer.max_steps + (plan.task.pretrain_steps if plan.task.name == "pretrain_finetune" else 0)
    validations = -(-trainer.max_steps // trainer.val_check_interval)
    return step_s * (steps + validations * (trainer.limit_val_batches or 0) / 3) + 2.0


def duration(seconds: float) -> str:
    """``45 s``, ``11 min``, ``2 h 05 min``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
