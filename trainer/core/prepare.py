"""A run's data made ready before any training: the tokenizer and token caches built (or loaded) once,
so data errors are one-line errors of the command, not failed trials."""

from __future__ import annotations

from dataclasses import dataclass

from layernas.trainer.data import ClassificationDataModule, MLMDataModule
from layernas.trainer.plan.run import RunPlan


@dataclass(frozen=True)
class DataInfo:
    """What preparing a run's data tells about its model: the tokenizer's vocabulary and, for a labelled
    task, the number of classes and, when they have names, the classes."""

    vocab_size: int
    n_classes: int | None = None
    classes: dict | None = None  # named classes: ``ClassificationDataModule.classes``


def prepare_data(plan: RunPlan, test: bool = False) -> DataInfo:
    """Build (or load) the tokenizer and every token cache a run of ``plan`` needs (``test``: the test split's
    too, when the data has one)."""
    stage = None if test else "fit"  # None: the test split too, where one is configured
    if plan.task.name in ("classify", "regress"):
        from layernas.trainer.data.regression import RegressionDataModule

        dm = (RegressionDataModule if plan.task.name == "regress" else ClassificationDataModule)(plan.data, plan.seed)
    else:
        dm = MLMDataModule(plan.data, plan.seed, mask_prob=plan.task.mask_prob)
    dm.setup(stage)
    labelled = dm
    if plan.task.name == "pretrain_finetune":
        labelled = ClassificationDataModule(plan.task.finetune_data, plan.seed, dm.tokenizer)
        labelled.setup(stage)
    return DataInfo(dm.vocab_size, getattr(labelled, "n_classes", None), getattr(labelled, "classes", None))
