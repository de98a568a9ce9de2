"""Corpora: the documents (and labels) of one split, from local files or a Hugging Face dataset."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from layernas.trainer.data.cache import fingerprint
from layernas.trainer.data.config import SPLITS, DataConfig
from layernas.trainer.data.hf import hf_identity, read_hf
from layernas.trainer.data.readers import read_records

READ_VERSION = 1  # bump when the reading rules change, so every cache built from the old rules is left unused


@dataclass(frozen=True)
class Corpus:
    """One split: ``texts`` (N documents, surrounding whitespace stripped), ``labels`` (N class ids) or None."""

    texts: list[str]
    labels: list[int] | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def select(self, index) -> Corpus:
        labels = None if self.labels is None else [self.labels[i] for i in index]
        return Corpus([self.texts[i] for i in index], labels)


def load_split(cfg: DataConfig, split: str) -> Corpus:
    """The documents of ``split`` (train, validation or test), at most ``max_train_docs``/``max_eval_docs``.

    Unlabelled corpora drop blank documents (plain text: blank lines); labelled rows are all kept.
    """
    limit = max_docs(cfg, split)
    if carves(cfg, split):
        full = _collect(cfg, _records(cfg, cfg.train), None)
        train, validation = carve(len(full), cfg.validation_fraction, cfg.split_seed)
        part = full.select(validation if split == "validation" else train)
        return part if limit is None else part.select(range(min(limit, len(part))))
    return _collect(cfg, _records(cfg, _source(cfg, split)), limit)


def carves(cfg: DataConfig, split: str) -> bool:
    """Whether ``split`` comes from cutting the training data in two (no validation file, fraction > 0)."""
    return split in ("train", "validation") and cfg.validation is None and cfg.validation_fraction > 0


def carve(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) row indices, each in file order; validation is round(fraction * n) >= 1 rows."""
    n_val = max(1, round(fraction * n))
    if n_val >= n:
        raise ValueError(f"validation_fraction={fraction} leaves no training documents out of {n}")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def max_docs(cfg: DataConfig, split: str) -> int | None:
    return cfg.max_train_docs if split == "train" else cfg.max_eval_docs


def split_identity(cfg: DataConfig, split: str) -> dict:
    """Everything that decides the content of ``split`` (file bytes, not names or dates): a cache key part."""
    source = cfg.train if carves(cfg, split) else _source(cfg, split)
    ident = {
        "read_version": READ_VERSION,
        "split": split,
        "source": fingerprint(cfg.resolve(source)) if cfg.source == "local" else hf_identity(cfg, source),
        "read": [cfg.format, cfg.header, cfg.text_column, cfg.label_column],
        "max_docs": max_docs(cfg, split),
    }
    if carves(cfg, split):
        ident["carve"] = [cfg.validation_fraction, cfg.split_seed]
    return ident


def _source(cfg: DataConfig, split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not allowed; allowed: {', '.join(SPLITS)}")
    source = getattr(cfg, split)
    if source is None:
        hint = " or validation_fraction > 0" if split == "validation" else ""
        raise ValueError(f"data '{cfg.name}' has no {split} split; set {split}{hint}")
    return source


def _records(cfg: DataConfig, source: str) -> Iterator[tuple[str, int | None]]:
    records = read_records(cfg.resolve(source), cfg) if cfg.source == "local" else read_hf(cfg, source)
    stripped = ((text.strip(), label) for text, label in records)
    return stripped if cfg.label_column is not None else (r for r in stripped if r[0])


def _collect(cfg: DataConfig, records: Iterator[tuple[str, int | None]], limit: int | None) -> Corpus:
    rows = list(itertools.islice(records, limit))
    labels = None if cfg.label_column is None else [label for _, label in rows]
    return Corpus([text for text, _ in rows], labels)
