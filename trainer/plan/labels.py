"""The class names of a run's labelled data, written into its plan and its recorded config: every record of
the config (a run's W&B config, a study's best.yaml, a retrain's config.yaml) then says which name each class
id stands for, and a later run of the same config (a resumed search, a retrain) maps the labels the same way."""

from __future__ import annotations

from dataclasses import replace

from layernas.trainer.data.corpus import label_map
from layernas.trainer.plan.run import RunPlan


def named_classes(run: RunPlan, config: dict) -> tuple[RunPlan, dict]:
    """``run`` and its recorded ``config`` with ``label_names`` of the labelled data set to the class names its
    training split gives (sorted, or the dataset's declared names) where it has none; unchanged when it has
    them, when the labels are unnamed class indices, or for masked LM. Reads the training labels once (the
    mapping is cached)."""
    finetune = run.task.name == "pretrain_finetune"
    if run.task.name not in ("classify", "pretrain_finetune") or (finetune and run.task.finetune_data is None):
        return run, config
    data = run.labelled_data
    if data.label_names or data.label_column is None:
        return run, config
    names = label_map(data).names
    if names is None:
        return run, config
    named = replace(data, label_names=tuple(names))
    if finetune:
        task = replace(run.task, finetune_data=named)
        recorded = {**config.get("task", {}), "finetune_data": {**config.get("task", {}).get("finetune_data", {}),
                                                                  "label_names": list(names)}}
        return replace(run, task=task), {**config, "task": recorded}
    return replace(run, data=named), {**config, "data": {**config.get("data", {}), "label_names": list(names)}}
