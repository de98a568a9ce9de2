"""Readers for local corpus files: plain text, csv, tsv and jsonl, each optionally gz/xz/bz2-compressed.

Every reader yields ``(text, pair, label, line)`` records in file order; ``pair`` is the second sentence of a
sentence pair (``text_pair_column``) or None; ``label`` is the label cell as given, a class index (a non-negative
int) or a class name (a string; :mod:`.labels` maps names to indices), a number for ``label_type=number``, or None
when the config has no ``label_column``; ``line`` is the record's line in the file. Errors name the file, the
line and the bad value in one line.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import itertools
import json
import lzma
import math
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

from layernas.trainer.data.config import DataConfig

COMPRESSED = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}
EXTENSIONS = {".txt": "text", ".text": "text", ".tokens": "text", ".raw": "text", ".csv": "csv",
              ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_INT = re.compile(r"\+?\d+")
_SIGNED = re.compile(r"[+-]?\d+")
MAX_LABEL = 9_999  # a class index: 10,000 classes is far beyond any sentence-classification set
Record = tuple[str, "str | None", "int | str | float | None", int]


def infer_format(path: Path, fmt: str) -> str:
    """``fmt`` unless it is ``auto``; then the format named by the extension, after any compression suffix."""
    if fmt != "auto":
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSED:
        suffixes.pop()
    found = EXTENSIONS.get(suffixes[-1] if suffixes else "")
    if found is None:
        raise ValueError(f"cannot tell the format of '{path.name}' from its extension; set format to one of "
                         f"text, csv, tsv, jsonl (known extensions: {', '.join(EXTENSIONS)})")
    return found


def parse_label(value, path: Path | str, line: int, unit: str = "line") -> int | str:
    """A label cell as a class index (an integer in 0..MAX_LABEL, given as a number or as digits) or a class
    name (any other non-empty text, surrounding whitespace stripped); anything else is a one-line error."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_LABEL:
        return value
    text = value.strip() if isinstance(value, str) else None
    if text and not _SIGNED.fullmatch(text):
        return text
    if text and len(text) < 12 and _INT.fullmatch(text) and int(text) <= MAX_LABEL:
        return int(text)
    names = "" if isinstance(value, int) or text else ", or class names (non-empty text)"
    raise ValueError(f"bad label {value!r} in {path} {unit} {line}: labels must be class indices, integers "
                     f"in 0..{MAX_LABEL:,}{names}")


def label_of(value, cfg: DataConfig, path: Path | str, line: int, unit: str = "line") -> int | str | float:
    """A label cell as the config's ``label_type`` reads it: a class (:func:`parse_label`) or a number."""
    return parse_label(value, path, line, unit) if cfg.label_type == "class" else parse_number(value, path, line, unit)


def parse_number(value, path: Path | str, line: int, unit: str = "line") -> float:
    """A regression target: a finite number, given as a number or as text; anything else is a one-line error."""
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        number = None
    if isinstance(value, bool) or number is None or not math.isfinite(number):
        raise ValueError(f"bad label {value!r} in {path} {unit} {line}: task=regress needs numbers as labels "
                         "(label_type=number); allowed: finite numbers such as 3.8")
    return number


def checked_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a UTF-8 file, decompressed by suffix, each line decoded on its own so that
    a bad byte or a damaged archive is a one-line error naming the file and the exact line."""
    opener = COMPRESSED.get(path.suffix.lower(), open)
    number = 0
    with opener(path, "rb") as f:
        try:
            for number, raw in enumerate(f, start=1):  # noqa: B007  (number is read after the loop fails)
                try:
                    # a byte-order mark (MRPC's files begin with one) is not part of the first cell
                    yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError as err:
                    raise ValueError(f"{path} line {number} is not valid UTF-8 ({err.reason} at byte {err.start} "
                                     "of the line); allowed: UTF-8 text") from None
        except (lzma.LZMAError, EOFError, OSError, zlib.error) as err:  # bz2: OSError; gzip: BadGzipFile, EOFError
            raise ValueError(f"{path} cannot be read as a {path.suffix} file near line {number + 1} ({err})") \
                from None


def read_records(path: Path, cfg: DataConfig) -> Iterator[Record]:
    """All records of one local file, in order."""
    fmt = infer_format(path, cfg.format)
    if fmt == "text":
        return _read_text(path, cfg)
    if fmt == "jsonl":
        return _read_jsonl(path, cfg)
    return _read_delimited(path, fmt, cfg)


def _read_text(path: Path, cfg: DataConfig) -> Iterator[Record]:
    for name in ("label_column", "text_pair_column"):
        if getattr(cfg, name) is not None:
            raise ValueError(f"{name}={getattr(cfg, name)!r} needs a csv, tsv or jsonl file; {path} is plain text")
    for number, line in checked_lines(path):
        yield line, None, None, number


def _read_jsonl(path: Path, cfg: DataConfig) -> Iterator[Record]:
    for name in ("text_column", "text_pair_column", "label_column"):
        if isinstance(getattr(cfg, name), int):
            raise ValueError(f"{name}={getattr(cfg, name)!r} is an index, but jsonl columns are named ({path})")
    for number, line in checked_lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"bad JSON in {path} line {number}: {err}") from None
        except RecursionError:
            raise ValueError(f"bad JSON in {path} line {number}: nested too deeply; allowed: one flat JSON "
                             "object per line") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path} line {number} is not a JSON object")
        text = _field(row, cfg.text_column, path, number)
        pair = None if cfg.text_pair_column is None else _field(row, cfg.text_pair_column, path, number)
        for sentence in (text, pair):
            if sentence is not None and not isinstance(sentence, str):
                raise ValueError(f"text {sentence!r} in {path} line {number} is not a string")
        label = None if cfg.label_column is None else _field(row, cfg.label_column, path, number)
        yield text, pair, None if label is None else label_of(label, cfg, path, number), number


def _field(row: dict, name: str, path: Path, line: int):
    if name not in row:
        raise ValueError(f"column {name!r} missing in {path} line {line}; it has: {', '.join(row)}")
    return row[name]


def _read_delimited(path: Path, fmt: str, cfg: DataConfig) -> Iterator[Record]:
    lines = (line for _, line in checked_lines(path))
    # GLUE's TSV files are unquoted (sentences contain bare quotes); CSV is RFC 4180.
    reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE) if fmt == "tsv" else csv.reader(lines)
    try:
        yield from _delimited_records(reader, path, cfg)
    except csv.Error as err:
        limit = csv.field_size_limit()
        reason = f"a field is longer than {limit:,} characters; allowed: fields of at most {limit:,} characters" \
            if "field larger" in str(err) else str(err)
        raise ValueError(f"{path} line {reader.line_num}: {reason}") from None


def _delimited_records(reader, path: Path, cfg: DataConfig) -> Iterator[Record]:
    first = next(reader, None)
    if first is None:
        return
    header = first if has_header(first, cfg) else None
    text_i = column_index(cfg.text_column, header, "text_column", path)
    label_i = None if cfg.label_column is None else column_index(cfg.label_column, header, "label_column", path)
    pair_i = None if cfg.text_pair_column is None else column_index(cfg.text_pair_column, header, "text_pair_column",
                                                                    path)
    rows = reader if header else itertools.chain([first], reader)
    for row in rows:
        if not row:
            continue  # a blank line
        text = _cell(row, text_i, path, reader.line_num)
        pair = None if pair_i is None else _cell(row, pair_i, path, reader.line_num)
        label = None if label_i is None else label_of(_cell(row, label_i, path, reader.line_num), cfg, path,
                                                      reader.line_num)
        yield text, pair, label, reader.line_num


def has_header(first: list[str], cfg: DataConfig) -> bool:
    """``cfg.header``, or for ``auto``: the first row names a configured column, or its label cell is not a number."""
    if cfg.header != "auto":
        return cfg.header
    names = [c for c in (cfg.text_column, cfg.text_pair_column, cfg.label_column) if isinstance(c, str)]
    if any(name in first for name in names):
        return True
    if isinstance(cfg.label_column, int) and cfg.label_column < len(first):
        return not _INT.fullmatch(first[cfg.label_column].strip())
    return False


def column_index(column: str | int, header: list[str] | None, what: str, path: Path) -> int:
    if isinstance(column, int):
        return column
    if header is None:
        raise ValueError(f"{what}={column!r} is a column name but {path} has no header row; "
                         "use a 0-based index or set header: true")
    if column not in header:
        raise ValueError(f"{what}={column!r} is not a column of {path}; its header has: {', '.join(header)}")
    return header.index(column)


def _cell(row: list[str], index: int, path: Path, line: int) -> str:
    if index >= len(row):
        raise ValueError(f"{path} line {line} has {len(row)} columns; column index {index} is missing")
    return row[index]
