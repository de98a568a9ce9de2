"""``task.*``: what a run trains and which metric is its objective (mirrors ``conf/task/*.yaml``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from layernas.trainer.data.config import DataConfig
from layernas.trainer.plan.metrics import TASK_METRICS
from layernas.trainer.plan.views import from_dict, plain

TASKS = ("mlm", "classify", "regress", "pretrain_finetune")


@dataclass(frozen=True)
class TaskConfig:
    """What a proxy run trains and which metric is its objective.

    mlm: masked-LM on ``data``; classify: train from scratch on the labelled ``data``; regress: the same with
    numbers as labels (a one-output head, mean squared error; Pearson and Spearman correlation);
    pretrain_finetune: ``pretrain_steps`` of masked-LM on ``data`` then fine-tune on ``finetune_data``
    for the trainer's ``max_steps``.
    """

    name: str = "mlm"
    objective: str = "val/mlm_loss"
    direction: str | None = None  # None: the objective's own (loss: minimize; accuracy, MCC, F1: maximize)
    mask_prob: float = 0.15
    pooling: str = "mean"
    pretrain_steps: int = 0
    finetune_data: DataConfig | None = None  # given as the data group's mapping

    def __post_init__(self) -> None:
        if self.name not in TASKS:
            raise ValueError(f"task.name={self.name!r} is not allowed; allowed: {', '.join(TASKS)}")
        if self.direction not in ("minimize", "maximize", None):
            raise ValueError(f"task.direction={self.direction!r} is not allowed; allowed: minimize, maximize, null "
                             "(the objective's own)")
        metrics = TASK_METRICS[self.name]
        if self.objective not in metrics:
            raise ValueError(f"task.objective={self.objective!r} is not a metric of task={self.name}; allowed: "
                             f"{', '.join(metrics)}")
        if self.direction is None:
            object.__setattr__(self, "direction", metrics[self.objective])
        if self.direction != metrics[self.objective]:
            raise ValueError(f"task.direction={self.direction!r} does not fit task.objective={self.objective} "
                             f"(better when it goes down: minimize; up: maximize); allowed: {metrics[self.objective]}")
        if self.finetune_data is not None and not isinstance(self.finetune_data, (Mapping, DataConfig)):
            raise ValueError(f"task.finetune_data={self.finetune_data!r} is not a data config; pick a data option "
                             f"for it with data@task.finetune_data={self.finetune_data} (allowed options: the files "
                             "of conf/data, e.g. sst2, imdb, tsv)")
        if isinstance(self.finetune_data, Mapping):
            object.__setattr__(self, "finetune_data", DataConfig.from_dict(self.finetune_data))
        if not 0.0 < self.mask_prob < 1.0:
            raise ValueError(f"task.mask_prob={self.mask_prob!r} must be in (0, 1)")

    @classmethod
    def from_dict(cls, data: dict) -> TaskConfig:
        return from_dict(cls, data, "task")

    def to_dict(self) -> dict:
        return plain(self)

    @property
    def labelled_data(self) -> DataConfig | None:
        """The data a classifier is fine-tuned on (pre-training tasks), None when it is the run's own."""
        return self.finetune_data if self.name == "pretrain_finetune" else None
