"""Corpora: the documents (and labels) of one split, from local files or a Hugging Face dataset."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from layernas.trainer.data.cache import CorruptCacheError, cached, digest, fingerprint
from layernas.trainer.data.config import SPLITS, DataConfig
from layernas.trainer.data.hf import hf_identity, hf_label_names, hf_where, read_hf
from layernas.trainer.data.labels import LabelMap, build
from layernas.trainer.data.readers import read_records

READ_VERSION = 1  # bump when the reading rules change, so every cache built from the old rules is left unused
LABELS_VERSION = 1  # bump when the mapping of labels to class ids changes


@dataclass(frozen=True)
class Corpus:
    """One split: ``texts`` (N documents, surrounding whitespace stripped), ``labels`` (N class ids; as read:
    class indices or names; numbers for ``label_type=number``) or None, ``lines``: where each document is in its
    file (line; hf: row), and ``pairs``: each document's second sentence (``text_pair_column``) or None."""

    texts: list[str]
    labels: list[int] | list[int | str] | list[float] | None = None
    lines: list[int] | None = None
    pairs: list[str] | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def select(self, index) -> Corpus:
        index = list(index)
        labels = None if self.labels is None else [self.labels[i] for i in index]
        lines = None if self.lines is None else [self.lines[i] for i in index]
        pairs = None if self.pairs is None else [self.pairs[i] for i in index]
        return Corpus([self.texts[i] for i in index], labels, lines, pairs)


def load_split(cfg: DataConfig, split: str) -> Corpus:
    """:func:`read_split` with its labels as class ids: the training split's mapping (:mod:`.labels`) applied."""
    corpus = read_split(cfg, split)
    if corpus.labels is None or cfg.label_type == "number":
        return corpus
    mapping = label_map(cfg, corpus if split == "train" else None)
    classes = "data.label_names" if cfg.label_names else f"the training split ({source_name(cfg, 'train')})"
    unit = "line" if cfg.source == "local" else "row"
    ids = mapping.class_ids(corpus.labels, corpus.lines, source_name(cfg, split), unit, classes)
    return Corpus(corpus.texts, ids, corpus.lines, corpus.pairs)


def label_map(cfg: DataConfig, train: Corpus | None = None) -> LabelMap:
    """The mapping from the labels the files give to class ids, built from the training split (``train``, when
    the caller has read it already) and ``label_names``, and cached under ``<cache_dir>/labels/``."""
    key = digest({"version": LABELS_VERSION, "train": split_identity(cfg, "train"), "label_names": cfg.label_names})
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", cfg.name)
    path = Path(cfg.cache_dir) / "labels" / f"{name}-{key}.json"

    def make(tmp: str) -> None:
        corpus = train if train is not None else read_split(cfg, "train")
        if corpus.labels is None:
            raise ValueError(f"data '{cfg.name}' has no label_column; classification needs labels")
        declared = hf_label_names(cfg, cfg.train) if cfg.source == "hf" else None
        mapping = build(corpus.labels, corpus.lines, source_name(cfg, "train"), "line" if cfg.source == "local"
                        else "row", cfg.label_names, declared)
        Path(tmp).write_text(json.dumps(mapping.to_dict()))

    return cached(path, make, _load_map)


def _load_map(path: Path) -> LabelMap:
    try:
        return LabelMap.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CorruptCacheError(path, err) from None


def read_split(cfg: DataConfig, split: str) -> Corpus:
    """The documents of ``split`` (train, validation or test), at most ``max_train_docs``/``max_eval_docs``,
    with their labels as the files give them (class indices or names).

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
        "read": [cfg.format, cfg.header, cfg.text_column, cfg.label_column]
        + ([cfg.text_pair_column, cfg.label_type] if cfg.text_pair_column is not None or cfg.label_type != "class"
           else []),  # only where they are set: the caches of single-sentence class data keep their keys
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


def source_name(cfg: DataConfig, split: str) -> str:
    """The file (local) or dataset split (hf) that ``split`` reads, as messages name it."""
    source = cfg.train if carves(cfg, split) else _source(cfg, split)
    return str(cfg.resolve(source)) if cfg.source == "local" else hf_where(cfg, source)


Record = tuple[str, "str | None", "int | str | float | None", int]


def _records(cfg: DataConfig, source: str) -> Iterator[Record]:
    records = read_records(cfg.resolve(source), cfg) if cfg.source == "local" else read_hf(cfg, source)
    stripped = ((text.strip(), None if pair is None else pair.strip(), label, line)
                for text, pair, label, line in records)
    return stripped if cfg.label_column is not None else (r for r in stripped if r[0])


def _collect(cfg: DataConfig, records: Iterator[Record], limit: int | None) -> Corpus:
    rows = list(itertools.islice(records, limit))
    labels = None if cfg.label_column is None else [label for _, _, label, _ in rows]
    pairs = None if cfg.text_pair_column is None else [pair for _, pair, _, _ in rows]
    return Corpus([text for text, _, _, _ in rows], labels, [line for _, _, _, line in rows], pairs)
