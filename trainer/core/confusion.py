"""Classification scores from a confusion matrix, defined as GLUE and scikit-learn define them.

torchmetrics' ``MulticlassMatthewsCorrCoef`` gives a small non-zero value (e.g. 0.036) for a model that
predicts one class for every example, which made constant predictors look like weak signal; here the
Matthews correlation of a constant predictor (or of constant labels) is 0, as in
``sklearn.metrics.matthews_corrcoef``.
"""

from __future__ import annotations

import torch


def matthews_corrcoef(confusion: torch.Tensor) -> torch.Tensor:
    """Multiclass Matthews correlation from a (C, C) confusion matrix (rows: true, columns: predicted);
    0 when the true or the predicted labels take one value only (the denominator is 0)."""
    c = confusion.double()
    t, p = c.sum(1), c.sum(0)  # (C,) true and predicted counts
    n, correct = c.sum(), c.trace()
    cov_tp = correct * n - t @ p
    cov_pp, cov_tt = n * n - p @ p, n * n - t @ t
    denominator = (cov_pp * cov_tt).sqrt()
    return torch.where(denominator > 0, cov_tp / denominator.clamp_min(1e-300), torch.zeros((), dtype=c.dtype))


def predicted_classes(confusion: torch.Tensor) -> int:
    """How many classes the model predicted at least once (1: a constant predictor)."""
    return int((confusion.sum(0) > 0).sum())


PER_CLASS = 32  # classes beyond this many get no per-class metrics: a line of figures, not a table


def per_class_recall(confusion: torch.Tensor) -> dict[str, torch.Tensor]:
    """``val/recall_<c>``: the share of class c's validation examples predicted as c, for each class that
    validation has, from a (C, C) confusion matrix (rows: true); none for more than PER_CLASS classes."""
    if len(confusion) > PER_CLASS:
        return {}
    true = confusion.sum(1)
    return {f"val/recall_{c}": (confusion[c, c] / true[c]).float() for c in range(len(confusion)) if true[c] > 0}
