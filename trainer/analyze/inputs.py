"""What an analysis reads: documents of a split, tokenized as the model saw text in training, in padded
batches.

Masked-LM training rows are packed documents, each ending in [SEP], with no [CLS] and no padding (see
``trainer/data/tokens.py``), so a document is read as ``tokens [SEP]``; a classifier read
``[CLS] tokens [SEP]``. Either is cut to ``seq_len`` and padded with [PAD] to ``seq_len``, with the
real-token mask the ops respect. Padding to the full length, not to the batch's longest, keeps ``bsa``'s
blocks where training put them (blocks of seq_len/b positions of a full row), so no measure depends on
which documents share a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from layernas.trainer.analyze.capture import Batch
from layernas.trainer.data.tokenizer import CLS_ID, PAD_ID, SEP_ID
from layernas.trainer.data.tokens import encode


@dataclass(frozen=True)
class InputFormat:
    """How a sequence of word-piece ids becomes a model input: with a leading [CLS] (classifiers) or not
    (masked LM), at most ``seq_len`` ids with the closing [SEP]."""

    cls: bool
    seq_len: int

    @property
    def room(self) -> int:
        return self.seq_len - 1 - int(self.cls)

    def wrap(self, ids: list[int]) -> list[int]:
        return ([CLS_ID] if self.cls else []) + list(ids[: self.room]) + [SEP_ID]

    @property
    def offset(self) -> int:
        """Position of the first text token."""
        return int(self.cls)


def documents(tokenizer, texts: list[str], fmt: InputFormat, n_docs: int) -> list[list[int]]:
    """The first ``n_docs`` documents with at least one token, as model inputs."""
    ids, lengths = encode(tokenizer, texts)
    out, start = [], 0
    for length in lengths.tolist():
        if length and len(out) < n_docs:
            out.append(fmt.wrap(ids[start:start + length].tolist()))
        start += length
    return out


def batches(sequences: list[list[int]], batch_size: int, width: int | None = None) -> list[Batch]:
    """Consecutive sequences, ``batch_size`` at a time, right-padded with [PAD] to ``width`` (None: to the
    batch's longest)."""
    out = []
    for first in range(0, len(sequences), batch_size):
        chunk = sequences[first:first + batch_size]
        width_here = width or max(len(s) for s in chunk)
        ids = torch.full((len(chunk), width_here), PAD_ID, dtype=torch.long)  # (B, width)
        real = torch.zeros(len(chunk), width_here, dtype=torch.bool)
        for row, seq in enumerate(chunk):
            ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            real[row, : len(seq)] = True
        out.append(Batch(ids, real))
    return out
