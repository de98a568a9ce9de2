"""What a study optimises: ``objectives=[...]`` resolved to metrics of the proxy run or costs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Objective:
    """One thing the study optimises: a validation metric of the proxy or a cost of the candidate."""

    name: str  # as users write it: objective, val_loss, val_acc, params, flops, latency_ms
    key: str  # where the value comes from: a metric name (val/...) or a cost (params, flops, latency_ms)
    direction: str


def objectives_from(names: list[str], task: dict) -> list[Objective]:
    """Resolve ``objectives=[...]``; the first must be a metric of the proxy run."""
    loss = "val/mlm_loss" if task["name"] == "mlm" else "val/loss"
    known = {
        "objective": (task["objective"], task["direction"]),
        "val_loss": (loss, "minimize"),
        "val_acc": ("val/acc" if task["name"] != "mlm" else "val/mlm_acc", "maximize"),
        "params": ("params", "minimize"),
        "flops": ("flops", "minimize"),
        "latency_ms": ("latency_ms", "minimize"),
    }
    if not names:
        raise ValueError("objectives=[] is empty; give at least one, e.g. objectives=[val_loss,params]")
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(f"objectives has unknown name {bad[0]!r}; allowed: {', '.join(known)}")
    if known[names[0]][0] in ("params", "flops", "latency_ms"):
        raise ValueError(f"objectives[0]={names[0]!r} must be a trained metric (objective, val_loss, val_acc); "
                         "costs can come after it")
    if len(set(names)) != len(names):
        raise ValueError(f"objectives={list(names)} repeats a name")
    return [Objective(n, *known[n]) for n in names]
