"""Context-free reference losses for masked-LM validation: what a model must beat to be using context."""

from __future__ import annotations

import torch

from .masking import IGNORE_INDEX
from .tokenizer import MASK_ID, SPECIAL_IDS


def unigram_log_probs(train_ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """(V,) float64 log-probabilities of the training tokens, add-one smoothed, zero mass on special tokens."""
    counts = torch.bincount(train_ids.flatten(), minlength=vocab_size).double() + 1.0
    counts[list(SPECIAL_IDS)] = 0.0
    return (counts / counts.sum()).log()


def unigram_loss(train_ids: torch.Tensor, labels: torch.Tensor, vocab_size: int) -> float:
    """Cross-entropy (nats) of predicting every label (!= -100) by the training unigram distribution."""
    log_p = unigram_log_probs(train_ids, vocab_size)
    return float(-log_p[labels[labels != IGNORE_INDEX]].mean())


def context_free_loss(train_ids: torch.Tensor, inputs: torch.Tensor, labels: torch.Tensor, vocab_size: int) -> float:
    """Cross-entropy (nats) of the best predictor that sees only the token at the position itself.

    At [MASK] it predicts the unigram; at a visible token x (the 10% kept and 10% random cases) it predicts
    ``a * [y == x] + (1 - a) * unigram(y)``, with the weight ``a`` that is best on these labels. A model above
    this value has not yet learned to use context.
    """
    log_p = unigram_log_probs(train_ids, vocab_size)
    selected = labels != IGNORE_INDEX
    target, seen = labels[selected], inputs[selected]
    at_mask = seen == MASK_ID
    p_target = log_p[target[~at_mask]].exp()
    copies = (seen[~at_mask] == target[~at_mask]).double()
    weights = torch.linspace(0.01, 0.99, 99, dtype=torch.float64)[:, None]
    visible = -(weights * copies + (1 - weights) * p_target).log().sum(dim=1).min()
    return float((-log_p[target[at_mask]].sum() + visible) / len(target))
