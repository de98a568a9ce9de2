"""Reference values a model must beat: context-free losses for masked-LM validation, and the majority
class for classification."""

from __future__ import annotations

import torch

from layernas.trainer.data.masking import IGNORE_INDEX
from layernas.trainer.data.tokenizer import MASK_ID, SPECIAL_IDS


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


def majority_baseline(train_labels: torch.Tensor, val_labels: torch.Tensor, n_classes: int,
                      split: str = "val") -> dict[str, float]:
    """What predicting the most frequent training label for every validation example scores: accuracy,
    Matthews correlation (0: it is constant), F1 of the positive class (two classes), and the loss of
    predicting the training label frequencies (their cross-entropy with the validation labels)."""
    train_freq = torch.bincount(train_labels, minlength=n_classes).double()
    train_freq /= train_freq.sum()
    val_freq = torch.bincount(val_labels, minlength=n_classes).double()
    val_freq /= val_freq.sum()
    majority = int(train_freq.argmax())
    out = {f"{split}/majority_acc": float(val_freq[majority]), f"{split}/majority_mcc": 0.0,
           f"{split}/majority_loss": float(-(val_freq * train_freq.clamp_min(1e-12).log()).sum())}
    if n_classes == 2:  # F1 of class 1: precision = recall's hit rate when class 1 is always predicted
        out[f"{split}/majority_f1"] = float(2 * val_freq[1] / (1 + val_freq[1])) if majority == 1 else 0.0
    return out


def mean_baseline(train_targets: torch.Tensor, val_targets: torch.Tensor, split: str = "val") -> dict[str, float]:
    """What predicting the training mean for every example scores on regression targets: its mean squared error,
    and Pearson and Spearman correlations of 0 (a constant has none)."""
    mean = train_targets.double().mean()
    mse = float((val_targets.double() - mean).pow(2).mean()) if len(val_targets) else float("nan")
    return {f"{split}/mean_mse": mse, f"{split}/mean_pearson": 0.0, f"{split}/mean_spearman": 0.0}
