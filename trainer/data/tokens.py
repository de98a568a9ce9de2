"""Token caches: each split tokenized once and stored compactly under ``<cache_dir>/tokens/``.

Masked-LM data is one stream of documents, each followed by [SEP], cut into full rows of ``seq_len`` tokens
(RoBERTa's FULL-SENTENCES packing: no padding, the ragged tail dropped). Classification data keeps one
example per document, ``[CLS] tokens [SEP]`` truncated to ``seq_len``, packed end to end with offsets; a
sentence pair is ``[CLS] a [SEP] b [SEP]``, truncated longest-first (:func:`truncate_pairs`).
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

from layernas.trainer.data.cache import COUNTERS, CorruptCacheError, cached, digest
from layernas.trainer.data.config import DataConfig
from layernas.trainer.data.corpus import label_map, load_split, read_split, split_identity
from layernas.trainer.data.tokenizer import CLS_ID, SEP_ID, allow_parallelism, tokenizer_hash

log = logging.getLogger(__name__)

TOKENS_VERSION = 1  # bump when the packing below changes
ENCODE_CHUNK = 8192  # documents per encode_batch call: bounds the memory held by Encoding objects


@dataclass(frozen=True)
class Examples:
    """N variable-length examples packed end to end.

    ``ids`` (total,) int64; ``offsets`` (N + 1,) int64, example i is ``ids[offsets[i]:offsets[i + 1]]``;
    ``labels`` (N,) int64 class ids, or float32 regression targets; ``firsts`` (N,) int64 for sentence pairs: the
    length of ``[CLS] a [SEP]``, the first segment (the rest is segment 1), else None. Indexing gives
    ``(ids_i, label_i)``.
    """

    ids: torch.Tensor
    offsets: torch.Tensor
    labels: torch.Tensor
    firsts: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.ids[self.offsets[i]:self.offsets[i + 1]], self.labels[i]

    @property
    def lengths(self) -> torch.Tensor:
        return self.offsets[1:] - self.offsets[:-1]


def mlm_sequences(cfg: DataConfig, split: str, tokenizer: Tokenizer) -> torch.Tensor:
    """(N, seq_len) int64 rows of ``split``'s token stream, from the cache or tokenized and cached first."""
    path = token_cache_path(cfg, split, tokenizer, "mlm", ".npy")
    rows = cached(path, lambda tmp: _save(tmp, _np_save, _pack_rows(cfg, split, tokenizer)),
                  lambda p: _load_rows(p, cfg.seq_len))
    return torch.from_numpy(rows.astype(np.int64))


def classification_examples(cfg: DataConfig, split: str, tokenizer: Tokenizer) -> Examples:
    """``split``'s labelled documents as ``[CLS] tokens [SEP]`` (at most ``seq_len`` ids), cached."""
    # the labels are class ids of the training split's mapping: another mapping is another cache
    labels = {"labels": "number"} if cfg.label_type == "number" else {"labels": label_map(cfg).to_dict()}
    path = token_cache_path(cfg, split, tokenizer, "cls", ".npz", labels)
    build = lambda tmp: _save(tmp, _np_savez, _pack_examples(cfg, split, tokenizer))  # noqa: E731
    ids, offsets, targets, firsts = cached(path, build, _load_examples)
    targets = targets.astype(np.float32 if cfg.label_type == "number" else np.int64)
    return Examples(*(torch.from_numpy(a.astype(np.int64)) for a in (ids, offsets)), torch.from_numpy(targets),
                    None if firsts is None else torch.from_numpy(firsts.astype(np.int64)))


def token_cache_path(cfg: DataConfig, split: str, tokenizer: Tokenizer, kind: str, suffix: str,
                     extra: dict | None = None) -> Path:
    key = digest({"version": TOKENS_VERSION, "data": split_identity(cfg, split), "kind": kind,
                  "tokenizer": tokenizer_hash(tokenizer), "seq_len": cfg.seq_len, **(extra or {})})
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", cfg.name)
    return Path(cfg.cache_dir) / "tokens" / f"{name}-{split}-{kind}{cfg.seq_len}-{key}{suffix}"


def encode(tokenizer: Tokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All documents' ids (no special tokens) concatenated, and each document's length: (total,), (N,)."""
    allow_parallelism()
    # encode_batch_fast (tokenizers >= 0.21) skips the character offsets this package never reads.
    encode_batch = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)
    ids, lengths = [], []
    for start in range(0, len(texts), ENCODE_CHUNK):
        id_lists = [e.ids for e in encode_batch(texts[start:start + ENCODE_CHUNK], add_special_tokens=False)]
        COUNTERS["encode_batch"] += 1
        lengths.append(np.array([len(x) for x in id_lists], dtype=np.int64))
        ids.append(np.fromiter(itertools.chain.from_iterable(id_lists), dtype=np.int64, count=int(lengths[-1].sum())))
    if not ids:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(ids), np.concatenate(lengths)


def storage_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.int32)


def _pack_rows(cfg: DataConfig, split: str, tokenizer: Tokenizer) -> np.ndarray:
    start = time.perf_counter()
    ids, lengths = encode(tokenizer, read_split(cfg, split).texts)
    stream = np.full(len(ids) + len(lengths), SEP_ID, dtype=storage_dtype(tokenizer.get_vocab_size()))
    is_sep = np.zeros(len(stream), dtype=bool)
    is_sep[np.cumsum(lengths + 1) - 1] = True
    stream[~is_sep] = ids
    n_rows = len(stream) // cfg.seq_len
    if n_rows == 0:
        raise ValueError(f"the {split} split of '{cfg.name}' has {len(stream)} tokens, fewer than "
                         f"seq_len={cfg.seq_len}; lower seq_len or use more documents")
    log.info("tokenized %s/%s: %d documents, %d tokens, %d rows of %d in %.1f s", cfg.name, split, len(lengths),
             len(stream), n_rows, cfg.seq_len, time.perf_counter() - start)
    return stream[: n_rows * cfg.seq_len].reshape(n_rows, cfg.seq_len)


def truncate_pairs(first: np.ndarray, second: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """Kept lengths of each pair of sentences of ``first`` and ``second`` tokens (N,) when together they may
    have ``budget``: longest-first, as the ``tokenizers`` library (a fast tokenizer of ``run_glue``) truncates: a
    shorter sentence that fits in half the budget is kept whole and the other gets the rest, else they split it,
    the longer (the second on a tie) taking the odd token."""
    over = first + second > budget
    fits_half = 2 * np.minimum(first, second) <= budget
    keep_first = np.where(first <= second, first, budget - second)
    keep_first = np.where(fits_half, keep_first, np.where(first > second, budget - budget // 2, budget // 2))
    return np.where(over, keep_first, first), np.where(over, budget - keep_first, second)


def _kept(ids: np.ndarray, lengths: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The first ``keep[i]`` of document i's ids, for every document, concatenated."""
    position = np.arange(len(ids)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return ids[position < np.repeat(keep, lengths)]


def _pack_examples(cfg: DataConfig, split: str, tokenizer: Tokenizer) -> dict[str, np.ndarray]:
    corpus = load_split(cfg, split)
    if corpus.labels is None:
        raise ValueError(f"data '{cfg.name}' has no label_column; classification needs labels")
    ids, lengths = encode(tokenizer, corpus.texts)
    if corpus.pairs is None:
        body, second, pair_ids = np.minimum(lengths, cfg.seq_len - 2), np.zeros_like(lengths), ids[:0]
        truncated = lengths > body
    else:
        pair_ids, pair_lengths = encode(tokenizer, corpus.pairs)
        body, second = truncate_pairs(lengths, pair_lengths, cfg.seq_len - 3)
        truncated = (lengths > body) | (pair_lengths > second)
        pair_ids = _kept(pair_ids, pair_lengths, second)
    extra = 2 if corpus.pairs is None else 3  # [CLS] a [SEP] (b [SEP])
    sizes = body + second + extra
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    firsts = body + 2  # the first segment: [CLS] a [SEP]
    position = np.arange(offsets[-1]) - np.repeat(offsets[:-1], sizes)  # within its example
    end_first, size = np.repeat(firsts, sizes), np.repeat(sizes, sizes)
    packed = np.full(offsets[-1], SEP_ID, dtype=storage_dtype(tokenizer.get_vocab_size()))
    packed[offsets[:-1]] = CLS_ID
    packed[(position >= 1) & (position < end_first - 1)] = _kept(ids, lengths, body)
    labels = np.asarray(corpus.labels, dtype=np.float64 if cfg.label_type == "number" else np.int64)
    out = {"ids": packed, "offsets": offsets, "labels": labels}
    if corpus.pairs is not None:
        packed[(position >= end_first) & (position < size - 1)] = pair_ids
        out["firsts"] = firsts
    log.info("tokenized %s/%s: %d examples, %d truncated to %d", cfg.name, split, len(lengths),
             int(truncated.sum()), cfg.seq_len)
    return out


def _save(tmp: str, saver, data) -> None:
    with open(tmp, "wb") as f:
        saver(f, data)


def _np_save(f, array: np.ndarray) -> None:
    np.save(f, array, allow_pickle=False)


def _np_savez(f, arrays: dict[str, np.ndarray]) -> None:
    np.savez(f, **arrays)


def _load_rows(path: Path, seq_len: int) -> np.ndarray:
    try:
        rows = np.load(path, allow_pickle=False)
    except Exception as err:  # numpy raises ValueError, EOFError or OSError depending on where the damage is
        raise CorruptCacheError(path, err) from None
    if rows.ndim != 2 or rows.shape[1] != seq_len or rows.dtype.kind not in "iu":
        raise CorruptCacheError(path, f"expected integer rows of {seq_len}, found {rows.dtype} {rows.shape}")
    return rows


def _load_examples(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    try:
        with np.load(path, allow_pickle=False) as z:
            ids, offsets, labels = z["ids"], z["offsets"], z["labels"]
            firsts = z["firsts"] if "firsts" in z.files else None
    except Exception as err:  # a damaged zip fails in zipfile, numpy or on a missing key
        raise CorruptCacheError(path, err) from None
    if len(offsets) != len(labels) + 1 or offsets[0] != 0 or offsets[-1] != len(ids) or np.any(np.diff(offsets) < 2):
        raise CorruptCacheError(path, "ids, offsets and labels do not fit together")
    if firsts is not None and (len(firsts) != len(labels) or np.any(firsts > np.diff(offsets))):
        raise CorruptCacheError(path, "the first segments do not fit the examples")
    return ids, offsets, labels, firsts
