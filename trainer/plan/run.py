"""What one training run needs, typed: :class:`RunPlan`, built once from a command's config (or a study's
stored one) by :func:`run_plan`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from layernas.search_space import ModelConfig
from layernas.trainer.data.config import DataConfig
from layernas.trainer.plan.logger import LoggerConfig
from layernas.trainer.plan.objectives import Objective, objectives_from
from layernas.trainer.plan.task import TaskConfig
from layernas.trainer.plan.trainer import TrainerConfig
from layernas.trainer.plumbing.inputs import check_seed


@dataclass(frozen=True)
class RunPlan:
    """The model, data, task, trainer and logger of a run, its seed, where its results go, and the
    objectives it is measured on (the first is what it reports, prunes on and headlines; the task's
    ``objective`` is set to it)."""

    model: ModelConfig
    data: DataConfig
    task: TaskConfig
    trainer: TrainerConfig
    logger: LoggerConfig
    objectives: tuple[Objective, ...]
    seed: int = 0
    results_dir: Path = Path("results")

    @property
    def objective(self) -> Objective:
        return self.objectives[0]

    @property
    def labelled_data(self) -> DataConfig:
        """The data a run's classifier learns from: the fine-tuning data after pre-training, else ``data``."""
        return self.task.labelled_data or self.data

    def with_seed(self, seed: int) -> RunPlan:
        return replace(self, seed=seed)

    def with_trainer(self, **changes) -> RunPlan:
        return replace(self, trainer=replace(self.trainer, **changes))

    def to_dict(self) -> dict:
        """The plan as plain data (what a run's W&B config and a retrain's config.yaml record)."""
        return {"model": self.model.to_dict(), "data": self.data.to_dict(), "task": self.task.to_dict(),
                "trainer": self.trainer.to_dict(), "seed": self.seed, "objectives": [o.name for o in self.objectives]}


def run_plan(cfg: dict) -> RunPlan:
    """The typed plan of a run config (a command's composed config, or a study's stored one); one-line
    ValueErrors name the bad value."""
    task = TaskConfig.from_dict(cfg["task"])
    data = DataConfig.from_dict(cfg["data"])
    if task.name == "regress":
        data = replace(data, label_type="number")  # task=regress reads the labels as numbers, whatever data says
    elif task.name == "classify" and data.label_type == "number":
        raise ValueError(f"task=classify is not allowed with data '{data.name}', whose labels are numbers "
                         "(label_type=number); allowed: task=regress")
    labelled = task.labelled_data or data
    names = list(cfg.get("objectives") or ["objective"])
    if names[0] == "objective" and labelled.metrics and task.name != "mlm":
        names[0] = labelled.metrics[0]  # the data's own metric (a GLUE task's official one)
    objectives = tuple(objectives_from(names, task))
    task = replace(task, objective=objectives[0].key, direction=objectives[0].direction)
    model = ModelConfig.from_dict(cfg["model"])
    if model.segments is None:  # BERT's segment embeddings for sentence pairs, nothing for single sentences
        model = replace(model, segments=task.name != "mlm" and labelled.text_pair_column is not None)
    return RunPlan(model, data, task, TrainerConfig.from_dict(cfg["trainer"]),
                   LoggerConfig.from_dict(cfg.get("logger")), objectives, check_seed("seed", cfg.get("seed", 0)),
                   Path(cfg.get("results_dir", "results")))
