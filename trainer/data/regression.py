"""Regression batches: the classification data module with numbers as labels (``label_type=number``)."""

from __future__ import annotations

from dataclasses import replace

from layernas.trainer.data.baselines import mean_baseline
from layernas.trainer.data.config import DataConfig
from layernas.trainer.data.datamodule import ClassificationDataModule, _ready, _wants_test, check_batches
from layernas.trainer.data.tokenizer import get_tokenizer
from layernas.trainer.data.tokens import classification_examples


class RegressionDataModule(ClassificationDataModule):
    """Batches ``{"input_ids", "attention_mask", "labels"}`` (+ ``token_type_ids`` for pairs) whose ``labels``
    (B,) are float32 targets; the input-blind reference is the training mean."""

    def __init__(self, data: DataConfig, seed: int, tokenizer=None):
        super().__init__(replace(data, label_type="number"), seed, tokenizer)

    def setup(self, stage: str | None = None) -> None:
        if self.tokenizer is None:
            self.tokenizer = get_tokenizer(self.data)
        if stage in (None, "fit", "validate") and self.val is None:
            self.train = classification_examples(self.data, "train", self.tokenizer)
            self.val = classification_examples(self.data, "validation", self.tokenizer)
            check_batches(self.data, len(self.train), len(self.val), "examples")
        if _wants_test(stage, self.data) and self.test is None:
            self.test = classification_examples(self.data, "test", self.tokenizer)

    @property
    def n_classes(self) -> int:
        return 1  # one output: the predicted number

    @property
    def classes(self) -> None:
        return None

    def references(self, split: str = "val", limit_batches: int | None = None) -> dict[str, float]:
        """Predicting the training mean on ``split`` (val, val_slice or test), on its first ``limit_batches``
        batches or all: ``<split>/mean_mse``, ``_pearson`` and ``_spearman`` (0)."""
        targets = _ready(self.test if split == "test" else self.val, f"{split} references").labels
        if limit_batches is not None:
            targets = targets[: limit_batches * self.data.batch_size]
        return mean_baseline(_ready(self.train, "references").labels, targets, split)
