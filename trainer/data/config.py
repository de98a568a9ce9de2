"""Data settings (pure data, mirrors the Hydra ``data/`` group one to one)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from layernas.trainer.plumbing.paths import REPO_ROOT, default_cache_dir, shipped_data_dir

SOURCES = ("local", "hf")
FORMATS = ("auto", "text", "csv", "tsv", "jsonl")
TOKENIZER_KINDS = ("wordpiece", "bpe")
SPLITS = ("train", "validation", "test")
LABEL_TYPES = ("class", "number")
DEFAULT_DATA_DIR = shipped_data_dir()
MIN_VOCAB = 16  # the 5 special tokens plus room for a few real ones


def _allowed(name: str, value, allowed) -> ValueError:
    return ValueError(f"{name}={value!r} is not allowed; allowed: {', '.join(str(a) for a in allowed)}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(name: str, value, low: int, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not _is_int(value) or value < low:
        extra = " or null" if optional else ""
        raise ValueError(f"{name}={value!r} is not allowed; allowed: an integer >= {low}{extra}")


def _check_column(name: str, value, optional: bool) -> None:
    if optional and value is None:
        return
    if (isinstance(value, str) and value) or (_is_int(value) and value >= 0):
        return
    extra = ", or null" if optional else ""
    raise ValueError(f"{name}={value!r} is not allowed; allowed: a column name or a 0-based column index{extra}")


def _check_data_files(value) -> None:
    def paths(v) -> bool:
        return isinstance(v, str) or (isinstance(v, (list, tuple)) and all(isinstance(p, str) for p in v))

    if value is None or paths(value):
        return
    if isinstance(value, dict) and all(isinstance(k, str) and paths(v) for k, v in value.items()):
        return
    raise ValueError(f"data_files={value!r} is not allowed; allowed: null, a path, a list of paths, "
                     "or a mapping from split name to path(s)")


@dataclass(frozen=True)
class TokenizerConfig:
    """Subword tokenizer trained on the training split: ``wordpiece`` (BERT) or byte-level ``bpe``; or, with
    ``path``, a pretrained one (a tokenizer.json or a Hugging Face tokenizer folder; see ``pretrained.py``),
    whose vocabulary the file sets (``kind``, ``vocab_size``, ``lowercase`` and ``min_frequency`` are then
    unused)."""

    kind: str = "wordpiece"
    vocab_size: int = 8000
    lowercase: bool = True
    min_frequency: int = 2
    path: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in TOKENIZER_KINDS:
            raise _allowed("tokenizer.kind", self.kind, TOKENIZER_KINDS)
        _check_int("tokenizer.vocab_size", self.vocab_size, MIN_VOCAB)
        _check_int("tokenizer.min_frequency", self.min_frequency, 1)
        if not isinstance(self.lowercase, bool):
            raise _allowed("tokenizer.lowercase", self.lowercase, (True, False))
        if self.path is not None and (not isinstance(self.path, str) or not self.path):
            raise ValueError(f"tokenizer.path={self.path!r} is not allowed; allowed: null (train one), or the path of "
                             "a tokenizer.json or a Hugging Face tokenizer folder")

    @classmethod
    def from_dict(cls, data: Mapping) -> TokenizerConfig:
        return cls(**_known_keys(cls, data, "tokenizer"))


@dataclass(frozen=True)
class DataConfig:
    """Where a corpus lives, how to read it, and how to cut it into model inputs.

    ``source=local``: ``train``/``validation``/``test`` are file paths (plain text, csv, tsv or jsonl,
    optionally ``.gz``/``.xz``/``.bz2``). A relative path is looked up in ``data_dir`` (default: the
    repository's ``data/``), then the repository root, then the working directory; the first hit wins.
    ``source=hf``: they are split names for ``datasets.load_dataset(hf_path, hf_name, split=..., data_files=...,
    cache_dir=hf_cache_dir)`` (``hf_cache_dir`` null: the library's own cache).
    A missing ``validation`` is carved out of train when ``validation_fraction > 0`` (seeded by
    ``split_seed``, never by the run seed, so every run sees the same split).
    ``header`` (csv/tsv): ``auto`` takes the first row as a header if it names a configured column or its label
    cell is not an integer. Labels are class indices or class names (:mod:`.labels`); ``label_names`` lists the
    class names in class order (for names: their order, else sorted; for indices: what each index is called).
    ``max_train_docs``/``max_eval_docs`` keep the first N documents of a split.
    ``text_pair_column``: the second sentence of a sentence pair (encoded ``[CLS] a [SEP] b [SEP]``), or null.
    ``label_type``: ``class`` (class indices or names) or ``number`` (a regression target; ``task=regress``).
    ``metrics``: the objective names this data is measured by (a GLUE task's official ones, e.g. ``[val_mcc]``),
    the first being what ``objectives=[objective]`` means for it; null: the task's own objective.
    ``glue_dir``: a folder in GLUE's original layout (``MRPC/train.tsv``, ...) to read a ``data=glue/<task>``
    preset from instead of the Hugging Face hub (:mod:`.glue`).
    Values are checked here; files are checked when they are read.
    """

    name: str = "custom"
    source: str = "local"
    train: str | None = None
    validation: str | None = None
    test: str | None = None
    format: str = "auto"
    header: str | bool = "auto"
    text_column: str | int = "text"
    label_column: str | int | None = None
    label_names: tuple[str, ...] | None = None
    text_pair_column: str | int | None = None
    label_type: str = "class"
    metrics: tuple[str, ...] | None = None
    glue_dir: str | None = None
    hf_path: str | None = None
    hf_name: str | None = None
    data_files: str | list | dict | None = None
    hf_cache_dir: str | None = None
    validation_fraction: float = 0.0
    split_seed: int = 0
    max_train_docs: int | None = None
    max_eval_docs: int | None = None
    seq_len: int = 128
    batch_size: int = 32
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    cache_dir: str | None = None
    data_dir: str | None = None

    def __post_init__(self) -> None:
        if self.cache_dir is None:
            object.__setattr__(self, "cache_dir", str(default_cache_dir()))
        if isinstance(self.tokenizer, Mapping):
            object.__setattr__(self, "tokenizer", TokenizerConfig.from_dict(self.tokenizer))
        if self.data_dir is None:
            object.__setattr__(self, "data_dir", str(DEFAULT_DATA_DIR))
        if not isinstance(self.tokenizer, TokenizerConfig):
            raise ValueError(f"tokenizer={self.tokenizer!r} is not allowed; allowed: a mapping of tokenizer settings")
        if self.glue_dir is not None:
            from layernas.trainer.data.glue import local_layout

            for name, value in local_layout(self).items():
                object.__setattr__(self, name, value)
        self._check_names()
        self._check_columns()
        self._check_numbers()

    def _check_names(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name={self.name!r} is not allowed; allowed: a non-empty string")
        if self.source not in SOURCES:
            raise _allowed("source", self.source, SOURCES)
        if self.format not in FORMATS:
            raise _allowed("format", self.format, FORMATS)
        for split in SPLITS:
            value = getattr(self, split)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"{split}={value!r} is not allowed; allowed: a path or split name, or null")
        if self.train is None:
            raise ValueError("train=None is not allowed; allowed: a training file (local) or split name (hf)")
        if self.source == "hf" and not (isinstance(self.hf_path, str) and self.hf_path):
            raise ValueError(f"hf_path={self.hf_path!r} is not allowed with source=hf; allowed: a dataset path "
                             "or builder name (e.g. glue, csv)")
        _check_data_files(self.data_files)
        for name in ("cache_dir", "data_dir"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name}={getattr(self, name)!r} is not allowed; allowed: a folder path")

    def _check_columns(self) -> None:
        if self.header != "auto" and not isinstance(self.header, bool):
            raise _allowed("header", self.header, ("auto", True, False))
        _check_column("text_column", self.text_column, optional=False)
        _check_column("label_column", self.label_column, optional=True)
        if self.text_column == self.label_column:
            raise ValueError(f"label_column={self.label_column!r} is not allowed; it must differ from text_column")
        _check_column("text_pair_column", self.text_pair_column, optional=True)
        if self.text_pair_column is not None and self.text_pair_column in (self.text_column, self.label_column):
            raise ValueError(f"text_pair_column={self.text_pair_column!r} is not allowed; it must differ from "
                             "text_column and label_column")
        if self.label_type not in LABEL_TYPES:
            raise _allowed("label_type", self.label_type, LABEL_TYPES)
        metrics = self.metrics
        if metrics is not None:
            if not isinstance(metrics, (list, tuple)) or not metrics or \
                    not all(isinstance(m, str) and m.startswith("val_") for m in metrics):
                raise ValueError(f"metrics={metrics!r} is not allowed; allowed: null, or a list of objective names "
                                 "(e.g. [val_mcc] or [val_f1,val_acc])")
            object.__setattr__(self, "metrics", tuple(metrics))
        self._check_label_names()

    def _check_label_names(self) -> None:
        names = self.label_names
        if names is None:
            return
        if isinstance(names, (list, tuple)) and all(isinstance(n, str) and n.strip() == n and n for n in names) \
                and len(set(names)) == len(names) >= 2:
            object.__setattr__(self, "label_names", tuple(names))
            return
        raise ValueError(f"label_names={names!r} is not allowed; allowed: null, or a list of 2 or more different "
                         "class names (non-empty, no surrounding spaces), class 0 first")

    def _check_numbers(self) -> None:
        fraction = self.validation_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 <= fraction < 1.0:
            raise ValueError(f"validation_fraction={fraction!r} is not allowed; allowed: a number in [0, 1)")
        _check_int("split_seed", self.split_seed, 0)
        _check_int("max_train_docs", self.max_train_docs, 1, optional=True)
        _check_int("max_eval_docs", self.max_eval_docs, 1, optional=True)
        _check_int("seq_len", self.seq_len, 4)
        _check_int("batch_size", self.batch_size, 1)

    @classmethod
    def from_dict(cls, data: Mapping) -> DataConfig:
        """Build from a plain mapping (e.g. ``OmegaConf.to_container(cfg.data, resolve=True)``)."""
        return cls(**_known_keys(cls, data, "data"))

    def to_dict(self) -> dict:
        out = asdict(self)
        out["label_names"] = None if self.label_names is None else list(self.label_names)
        out["metrics"] = None if self.metrics is None else list(self.metrics)
        return out

    def check_files(self) -> None:
        """Raise FileNotFoundError (one line) unless every configured local split file exists, and a one-line
        error for a pretrained tokenizer that cannot be used."""
        if self.tokenizer.path is not None:
            from layernas.trainer.data.pretrained import load_pretrained

            load_pretrained(self.tokenizer.path)
        if self.source == "local":
            for split in SPLITS:
                if getattr(self, split) is not None:
                    self.resolve(getattr(self, split))

    def resolve(self, path: str) -> Path:
        """The existing file that ``path`` names; raises FileNotFoundError naming the places looked in."""
        given = Path(os.path.expanduser(path))
        bases = [] if given.is_absolute() else list(dict.fromkeys(p.resolve() for p in (Path(self.data_dir),
                                                                                       REPO_ROOT, Path.cwd())))
        candidates = [given] if given.is_absolute() else [base / given for base in bases]
        for candidate in candidates:
            if candidate.is_file():
                return candidate.resolve()
        where = f" (looked in {', '.join(str(b) for b in bases)})" if bases else ""
        raise FileNotFoundError(f"data file '{path}' of data '{self.name}' not found{where}; give the file's path, "
                                f"e.g. data.{self._split_of(path)}=/path/to/file")

    def _split_of(self, path: str) -> str:
        return next((split for split in SPLITS if getattr(self, split) == path), "train")


def _known_keys(cls, data: Mapping, label: str) -> dict:
    """``data`` as a dict, after checking every key is a field of ``cls`` (a typo must not pass silently)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"the {label} config must be a mapping, got {type(data).__name__}")
    names = [f.name for f in fields(cls)]
    unknown = sorted(str(k) for k in set(data) - set(names))
    if unknown:
        raise ValueError(f"unknown {label} config key {unknown[0]!r}; allowed: {', '.join(names)}")
    return dict(data)
