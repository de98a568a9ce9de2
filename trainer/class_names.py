"""The class names of a run's labelled data, written into its config: every record of the config (a run's W&B
config, a study's best.yaml, a retrain's config.yaml) then says which name each class id stands for, and a
later run of the same config (a resumed search, a retrain) maps the labels the same way."""

from __future__ import annotations

from .data import DataConfig
from .data.corpus import label_map


def labelled_data(cfg: dict) -> tuple[str, ...] | None:
    """Where the task's labelled data sits in ``cfg``: ``("data",)`` for classify, ``("task", "finetune_data")``
    when fine-tuning; None for masked LM."""
    task = (cfg.get("task") or {}).get("name")
    if task == "classify":
        return ("data",)
    if task == "pretrain_finetune" and isinstance(cfg["task"].get("finetune_data"), dict):
        return ("task", "finetune_data")
    return None


def with_label_names(cfg: dict) -> dict:
    """``cfg`` with ``label_names`` of its labelled data set to the class names the training split gives (sorted,
    or the dataset's declared names) where it has none; unchanged when it has them, when the labels are unnamed
    class indices, or for masked LM. Reads the training labels once (the mapping is cached)."""
    where = labelled_data(cfg)
    if where is None:
        return cfg
    data = cfg[where[0]] if len(where) == 1 else cfg[where[0]][where[1]]
    if data.get("label_names") or data.get("label_column") is None:
        return cfg
    names = label_map(DataConfig.from_dict(data)).names
    if names is None:
        return cfg
    data = {**data, "label_names": list(names)}
    if len(where) == 1:
        return {**cfg, "data": data}
    return {**cfg, "task": {**cfg["task"], "finetune_data": data}}
