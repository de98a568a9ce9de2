"""Hugging Face ``datasets`` splits as ``(text, label)`` records (imported lazily: ``datasets`` is slow to import)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from layernas.trainer.data.cache import fingerprint
from layernas.trainer.data.config import DataConfig
from layernas.trainer.data.readers import label_of


def resolved_data_files(cfg: DataConfig):
    """``cfg.data_files`` with each path that exists locally made absolute; others (globs, hub paths) as given."""

    def one(path: str) -> str:
        try:
            return str(cfg.resolve(path))
        except FileNotFoundError:
            return path

    files = cfg.data_files
    if files is None or isinstance(files, str):
        return files if files is None else one(files)
    if isinstance(files, dict):
        return {k: one(v) if isinstance(v, str) else [one(p) for p in v] for k, v in files.items()}
    return [one(p) for p in files]


def hf_identity(cfg: DataConfig, split: str) -> list:
    """What names the content of an hf split: path, name, split and the local data files' fingerprints."""

    def ident(path: str) -> str:
        return fingerprint(path) if Path(path).is_file() else path

    files = resolved_data_files(cfg)
    if isinstance(files, str):
        files = ident(files)
    elif isinstance(files, dict):
        files = {k: ident(v) if isinstance(v, str) else [ident(p) for p in v] for k, v in files.items()}
    elif files is not None:
        files = [ident(p) for p in files]
    return [cfg.hf_path, cfg.hf_name, split, files]


def _load(cfg: DataConfig, split: str):
    from datasets import load_dataset

    return load_dataset(cfg.hf_path, cfg.hf_name, split=split, data_files=resolved_data_files(cfg),
                        cache_dir=cfg.hf_cache_dir)


def hf_where(cfg: DataConfig, split: str) -> str:
    """How messages name an hf split."""
    return f"{cfg.hf_path}/{cfg.hf_name or ''}:{split}"


def hf_label_names(cfg: DataConfig, split: str) -> list[str] | None:
    """The class names a ``ClassLabel`` label column declares (GLUE's ``entailment``, ``not_entailment``), in
    its order; None for a column of plain integers or strings."""
    from datasets import ClassLabel

    ds = _load(cfg, split)
    column = _column(ds.column_names, cfg.label_column, "label_column", hf_where(cfg, split))
    feature = ds.features[column]
    return list(feature.names) if isinstance(feature, ClassLabel) else None


def read_hf(cfg: DataConfig, split: str) -> Iterator[tuple[str, str | None, int | str | float | None, int]]:
    """Records ``(text, pair, label, row)`` of ``datasets.load_dataset(hf_path, hf_name, split=split, data_files=...)``,
    read lazily (rows count from 1)."""
    ds = _load(cfg, split)
    where = hf_where(cfg, split)
    text_column = _column(ds.column_names, cfg.text_column, "text_column", where)
    label_column = None if cfg.label_column is None else _column(ds.column_names, cfg.label_column,
                                                                 "label_column", where)
    pair_column = None if cfg.text_pair_column is None else _column(ds.column_names, cfg.text_pair_column,
                                                                    "text_pair_column", where)
    row = 0
    for batch in ds.iter(batch_size=1024):
        n = len(batch[text_column])
        labels = batch[label_column] if label_column else [None] * n
        pairs = batch[pair_column] if pair_column else [None] * n
        for text, pair, label in zip(batch[text_column], pairs, labels, strict=True):
            row += 1
            for sentence in (text, pair):
                if sentence is not None and not isinstance(sentence, str):
                    raise ValueError(f"text {sentence!r} in {where} row {row} is not a string")
            yield text, pair, None if label_column is None else label_of(label, cfg, where, row, unit="row"), row


def _column(names: list[str], column: str | int, what: str, where: str) -> str:
    if isinstance(column, int):
        if column >= len(names):
            raise ValueError(f"{what}={column} is out of range for {where}; it has {len(names)} columns: "
                             f"{', '.join(names)}")
        return names[column]
    if column not in names:
        raise ValueError(f"{what}={column!r} is not a column of {where}; it has: {', '.join(names)}")
    return column
