"""The masked-LM loss of a batch, shared by the proxies that need gradients."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IGNORE = -100  # label of a position that is not predicted


def mlm_loss(model: nn.Module, batch: dict) -> torch.Tensor:
    """Mean cross-entropy of ``model`` (a :class:`~layernas.search_space.MaskedLM`) at the positions whose
    ``batch["labels"]`` is not -100. ``batch``: ``input_ids`` (B, T) long, ``attention_mask`` (B, T) or
    None, ``labels`` (B, T) long -> a scalar."""
    labels = batch["labels"]
    positions = labels != IGNORE  # (B, T) bool
    if not bool(positions.any()):
        raise ValueError("the batch has no labelled position (every label is -100)")
    logits = model(batch["input_ids"], batch.get("attention_mask"), positions=positions)  # (N, V)
    return F.cross_entropy(logits.float(), labels[positions])
