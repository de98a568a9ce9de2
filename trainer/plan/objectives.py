"""What a study optimises: ``objectives=[...]`` resolved to metrics of the proxy run or costs."""

from __future__ import annotations

from dataclasses import dataclass

from layernas.trainer.plan.metrics import TASK_METRICS, objective_names
from layernas.trainer.plan.task import TaskConfig

COSTS = ("params", "flops", "latency_ms")


@dataclass(frozen=True)
class Objective:
    """One thing the study optimises: a validation metric of the proxy or a cost of the candidate."""

    name: str  # as users write it: objective, val_loss, val_acc, val_mcc, val_f1, params, flops, latency_ms
    key: str  # where the value comes from: a metric name (val/...) or a cost (params, flops, latency_ms)
    direction: str


def objectives_from(names: list[str], task: TaskConfig | dict) -> list[Objective]:
    """Resolve ``objectives=[...]``; the first must be a metric of the proxy run."""
    resolved = task if isinstance(task, TaskConfig) else TaskConfig.from_dict(task)
    metrics = TASK_METRICS[resolved.name]
    known = {
        "objective": (resolved.objective, resolved.direction),
        **{name: (key, metrics[key]) for name, key in objective_names(resolved.name).items()},
        "params": ("params", "minimize"),
        "flops": ("flops", "minimize"),
        "latency_ms": ("latency_ms", "minimize"),
    }
    if not names:
        raise ValueError("objectives=[] is empty; give at least one, e.g. objectives=[val_loss,params]")
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(f"objectives has unknown name {bad[0]!r} for task={resolved.name}; allowed: "
                         f"{', '.join(known)}")
    if known[names[0]][0] in COSTS:
        trained = ", ".join(n for n, (key, _) in known.items() if key not in COSTS)
        raise ValueError(f"objectives[0]={names[0]!r} must be a trained metric ({trained}); costs can come after it")
    if len(set(names)) != len(names):
        raise ValueError(f"objectives={list(names)} repeats a name")
    return [Objective(n, *known[n]) for n in names]
