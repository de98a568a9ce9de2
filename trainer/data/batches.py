"""Map-style datasets that hand the DataLoader whole batches (``__getitems__``): one tensor op per batch."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from layernas.trainer.data.masking import mask_tokens
from layernas.trainer.data.tokenizer import PAD_ID
from layernas.trainer.data.tokens import Examples


class RowBatches(Dataset):
    """Rows of equally long (N, ...) tensors, given by keyword; a batch is a dict of (B, ...) tensors."""

    def __init__(self, **tensors: torch.Tensor) -> None:
        self.tensors = tensors

    def __len__(self) -> int:
        return len(next(iter(self.tensors.values())))

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.__getitems__([i])

    def __getitems__(self, index: list[int]) -> dict[str, torch.Tensor]:
        index = torch.as_tensor(index)
        return {name: t[index] for name, t in self.tensors.items()}


class PaddedBatches(Dataset):
    """Classification examples padded with [PAD] to the longest in the batch.

    Batch: ``input_ids`` (B, T_max) long, ``attention_mask`` (B, T_max) bool (True = real token), ``labels`` (B,);
    for sentence pairs also ``token_type_ids`` (B, T_max) long: 1 on ``b [SEP]``, 0 elsewhere (padding too).
    """

    def __init__(self, examples: Examples) -> None:
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.__getitems__([i])

    def __getitems__(self, index: list[int]) -> dict[str, torch.Tensor]:
        ex = self.examples
        index = torch.as_tensor(index)
        starts = ex.offsets[index]
        lengths = ex.offsets[index + 1] - starts
        positions = torch.arange(int(lengths.max()))
        mask = positions < lengths[:, None]
        gather = (starts[:, None] + positions).clamp(max=len(ex.ids) - 1)
        batch = {"input_ids": ex.ids[gather].masked_fill(~mask, PAD_ID), "attention_mask": mask,
                 "labels": ex.labels[index]}
        if ex.firsts is not None:
            batch["token_type_ids"] = ((positions >= ex.firsts[index][:, None]) & mask).long()
        return batch


def as_batch(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Collate function for the datasets above: they already return whole batches."""
    return batch


class MaskingCollate:
    """Masks each training batch with its own generator, so batches depend on the seed and nothing else.

    Input: ``{"input_ids": (B, T)}`` clean rows; output: ``{"input_ids", "labels"}`` (B, T) as in mask_tokens.
    """

    def __init__(self, seed: int, vocab_size: int, mask_prob: float) -> None:
        self.generator = torch.Generator().manual_seed(seed)
        self.vocab_size, self.mask_prob = vocab_size, mask_prob

    def __call__(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        inputs, labels = mask_tokens(batch["input_ids"], self.generator, self.vocab_size, self.mask_prob)
        return {"input_ids": inputs, "labels": labels}
