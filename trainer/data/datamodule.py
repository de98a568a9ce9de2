"""Lightning DataModules: masked-LM pre-training and sentence classification.

Every random choice comes from generators seeded here (never the global RNG), so two models trained with
the same seed see exactly the same batches and masks, and every run is validated on the same masked tokens.
"""

from __future__ import annotations

import torch
from lightning.pytorch import LightningDataModule
from tokenizers import Tokenizer
from torch.utils.data import DataLoader

from layernas.trainer.data.baselines import context_free_loss, majority_baseline, unigram_loss
from layernas.trainer.data.batches import MaskingCollate, PaddedBatches, RowBatches, as_batch
from layernas.trainer.data.config import DataConfig
from layernas.trainer.data.corpus import label_map
from layernas.trainer.data.labels import LabelMap
from layernas.trainer.data.masking import mask_tokens
from layernas.trainer.data.tokenizer import check_special_ids, get_tokenizer
from layernas.trainer.data.tokens import Examples, classification_examples, mlm_sequences

EVAL_MASK_SEED = 1234  # validation/test masks: the same for every run seed and every architecture


class MLMDataModule(LightningDataModule):
    """Masked-LM batches ``{"input_ids", "labels"}`` (B, seq_len) of packed, unpadded rows (no attention mask).

    ``val_sequences`` keeps the first rows of validation (all if None); they are masked once, at setup.
    """

    def __init__(self, data: DataConfig, seed: int, mask_prob: float = 0.15, val_sequences: int | None = None):
        super().__init__()
        self.data, self.seed, self.mask_prob, self.val_sequences = data, seed, mask_prob, val_sequences
        self.tokenizer: Tokenizer | None = None
        self.train_ids: torch.Tensor | None = None  # (N, seq_len) clean rows
        self.val: dict[str, torch.Tensor] | None = None  # masked once: input_ids, labels (N, seq_len)
        self.test: dict[str, torch.Tensor] | None = None
        self._baselines: dict[tuple, dict[str, float]] = {}

    def setup(self, stage: str | None = None) -> None:
        """Load (or build once) the tokenizer and token caches; repeated calls are free."""
        if self.tokenizer is None:
            self.tokenizer = get_tokenizer(self.data)
        if stage in (None, "fit", "validate") and self.val is None:
            self.train_ids = mlm_sequences(self.data, "train", self.tokenizer)
            self.val = self._masked("validation", self.val_sequences)
            rows = f"rows of {self.data.seq_len} tokens"
            check_batches(self.data, len(self.train_ids), len(self.val["input_ids"]), rows)
        if _wants_test(stage, self.data) and self.test is None:
            self.test = self._masked("test", None)

    def _masked(self, split: str, limit: int | None) -> dict[str, torch.Tensor]:
        # Mask every row, then keep `limit`: a row's mask then never depends on how many rows are kept.
        rows = mlm_sequences(self.data, split, self.tokenizer)
        generator = torch.Generator().manual_seed(EVAL_MASK_SEED)
        inputs, labels = mask_tokens(rows, generator, self.vocab_size, self.mask_prob)
        return {"input_ids": inputs[:limit], "labels": labels[:limit]}

    @property
    def vocab_size(self) -> int:
        return _ready(self.tokenizer, "vocab_size").get_vocab_size()

    @property
    def unigram_loss(self) -> float:
        """Validation loss (nats) of predicting every masked token by the training unigram distribution."""
        return self.references("val")["val/unigram_loss"]

    @property
    def context_free_loss(self) -> float:
        """Validation loss (nats) of the best predictor that sees only the token at each position."""
        return self.references("val")["val/context_free_loss"]

    def references(self, split: str = "val", limit_batches: int | None = None) -> dict[str, float]:
        """What input-blind predictors score on the masked tokens of ``split`` (val, val_slice or test), on its first
        ``limit_batches`` batches or all: ``<split>/unigram_loss`` and ``<split>/context_free_loss``."""
        key = (split, limit_batches)
        if key not in self._baselines:
            rows = _ready(self.test if split == "test" else self.val, f"{split} references")
            end = None if limit_batches is None else limit_batches * self.data.batch_size
            inputs, labels = rows["input_ids"][:end], rows["labels"][:end]
            self._baselines[key] = {
                f"{split}/unigram_loss": unigram_loss(self.train_ids, labels, self.vocab_size),
                f"{split}/context_free_loss": context_free_loss(self.train_ids, inputs, labels, self.vocab_size)}
        return self._baselines[key]

    def train_dataloader(self) -> DataLoader:
        rows = RowBatches(input_ids=_ready(self.train_ids, "train_dataloader"))
        collate = MaskingCollate(self.seed, self.vocab_size, self.mask_prob)
        return DataLoader(rows, batch_size=self.data.batch_size, shuffle=True,
                          generator=torch.Generator().manual_seed(self.seed), collate_fn=collate, num_workers=0)

    def val_dataloader(self) -> DataLoader:
        return _eval_loader(RowBatches(**_ready(self.val, "val_dataloader")), self.data.batch_size)

    def test_dataloader(self) -> DataLoader:
        return _eval_loader(RowBatches(**_ready(self.test, "test_dataloader")), self.data.batch_size)


class ClassificationDataModule(LightningDataModule):
    """Classification batches ``{"input_ids", "attention_mask", "labels"}``, padded to the batch's longest.

    ``tokenizer``: reuse one (e.g. the pre-training tokenizer when fine-tuning); None trains or loads one
    on this data's own training split.
    """

    def __init__(self, data: DataConfig, seed: int, tokenizer: Tokenizer | None = None):
        super().__init__()
        if tokenizer is not None:
            check_special_ids(tokenizer)
        self.data, self.seed, self.tokenizer = data, seed, tokenizer
        self.labels: LabelMap | None = None  # the training split's mapping of labels to class ids
        self.train: Examples | None = None
        self.val: Examples | None = None
        self.test: Examples | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.tokenizer is None:
            self.tokenizer = get_tokenizer(self.data)
        if stage in (None, "fit", "validate") and self.val is None:
            self.train = classification_examples(self.data, "train", self.tokenizer)
            self.val = classification_examples(self.data, "validation", self.tokenizer)
            self.labels = label_map(self.data)
            check_batches(self.data, len(self.train), len(self.val), "examples")
            if self.labels.names is None:  # indices without names: the classes are 0..the largest training label
                check_labels(self.data, self.train.labels, self.val.labels)
        if _wants_test(stage, self.data) and self.test is None:
            self.test = classification_examples(self.data, "test", self.tokenizer)

    @property
    def vocab_size(self) -> int:
        return _ready(self.tokenizer, "vocab_size").get_vocab_size()

    @property
    def n_classes(self) -> int:
        """The named classes, or the training labels' classes 0..n-1 (``check_labels`` made sure each is
        used), at least 2."""
        labels = _ready(self.train, "n_classes").labels
        if _ready(self.labels, "n_classes").names:
            return len(self.labels.names)
        return max(2, int(labels.max()) + 1) if len(labels) else 2

    @property
    def classes(self) -> dict | None:
        """What results record of named classes: ``{"names": [class 0's, ...], "majority": the most frequent
        training class's name}``; None when the classes are unnamed indices."""
        if _ready(self.labels, "classes").names is None:
            return None
        counts = torch.bincount(_ready(self.train, "classes").labels, minlength=self.n_classes)
        return {"names": list(self.labels.names), "majority": self.labels.name(int(counts.argmax()))}

    def majority(self, limit_batches: int | None = None) -> dict[str, float]:
        """The majority-class baseline (``val/majority_acc``, ``_mcc``, ``_f1``, ``_loss``) on the validation
        examples a run validates on: the first ``limit_batches`` batches (the loader keeps their order), or
        all. It is the reference every classification result is shown beside."""
        return self.references("val", limit_batches)

    def references(self, split: str = "val", limit_batches: int | None = None) -> dict[str, float]:
        """The majority-class baseline of the training labels on ``split`` (val, val_slice or test):
        ``<split>/majority_acc``, ``_mcc``, ``_f1``, ``_loss``, on the first ``limit_batches`` batches or all."""
        labels = _ready(self.test if split == "test" else self.val, f"{split} references").labels
        if limit_batches is not None:
            labels = labels[: limit_batches * self.data.batch_size]
        return majority_baseline(_ready(self.train, "majority").labels, labels, self.n_classes, split)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(PaddedBatches(_ready(self.train, "train_dataloader")), batch_size=self.data.batch_size,
                          shuffle=True, generator=torch.Generator().manual_seed(self.seed), collate_fn=as_batch,
                          num_workers=0)

    def val_dataloader(self) -> DataLoader:
        return _eval_loader(PaddedBatches(_ready(self.val, "val_dataloader")), self.data.batch_size)

    def test_dataloader(self) -> DataLoader:
        return _eval_loader(PaddedBatches(_ready(self.test, "test_dataloader")), self.data.batch_size)


def check_batches(data: DataConfig, n_train: int, n_val: int, unit: str) -> None:
    """At least one full training batch and one validation batch, before anything trains."""
    if n_train < data.batch_size:
        raise ValueError(f"the train split of '{data.name}' has {n_train:,} {unit}, fewer than data.batch_size="
                         f"{data.batch_size}; allowed: data.batch_size <= {n_train:,} (or use more documents"
                         f"{', a shorter data.seq_len' if unit.startswith('rows') else ''})")
    if n_val == 0:
        raise ValueError(f"the validation split of '{data.name}' has no {unit}, so no validation batch; use more "
                         "documents (data.max_eval_docs)")


def check_labels(data: DataConfig, train: torch.Tensor, val: torch.Tensor) -> None:
    """Classes are the training labels 0..n-1, each used (a label is an index, not a count); validation
    labels must be among them."""
    where = _source(data, "train")
    present = torch.unique(train).tolist()
    missing = sorted(set(range(int(present[-1]) + 1)) - set(present)) if present else []
    if missing:
        raise ValueError(f"labels of {where} are not the classes 0..{present[-1]}: {len(missing):,} of them "
                         f"(first {missing[0]}) never occur; allowed: labels 0..n-1 with every class used")
    unknown = sorted(set(torch.unique(val).tolist()) - set(present))
    if unknown:
        raise ValueError(f"label {unknown[0]} of {_source(data, 'validation')} is not a class of {where} "
                         f"(0..{present[-1]}); allowed: labels the train split has")


def _source(data: DataConfig, split: str) -> str:
    """The file (local) or dataset split (hf) that ``split`` reads, for messages."""
    name = getattr(data, split) or data.train  # a carved validation split comes from train
    if data.source != "local":
        return f"split {name!r} of {data.hf_path}"
    return str(data.resolve(name))


def _eval_loader(dataset, batch_size: int) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=as_batch, num_workers=0)


def _wants_test(stage: str | None, data: DataConfig) -> bool:
    """stage "test" always loads the test split (a missing one is an error); stage None only if configured."""
    return stage == "test" or (stage is None and data.test is not None)


def _ready(value, what: str):
    if value is None:
        raise RuntimeError(f"{what} needs setup() first (with a stage that loads it)")
    return value
