"""Classification metrics from a confusion matrix, defined as GLUE and scikit-learn define them.

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


# The validation metrics each task reports and the direction in which each is better. ``task.objective``
# names one of them; ``objectives=[...]`` names them as val_<name> (val_loss is the task's loss).
TASK_METRICS = {
    "mlm": {"val/mlm_loss": "minimize", "val/mlm_acc": "maximize", "val/ppl": "minimize"},
    "classify": {"val/loss": "minimize", "val/acc": "maximize", "val/mcc": "maximize", "val/f1": "maximize"},
}
TASK_METRICS["pretrain_finetune"] = TASK_METRICS["classify"]

# What a predictor that ignores the input scores on each metric, logged beside it
REFERENCES = {"val/mlm_loss": "val/unigram_loss", "val/acc": "val/majority_acc", "val/mcc": "val/majority_mcc",
              "val/f1": "val/majority_f1", "val/loss": "val/majority_loss"}


def objective_names(task: str) -> dict[str, str]:
    """``objectives=[...]`` names of a task's metrics: val_loss, val_acc, val_mcc... -> val/<metric>."""
    return {"val_" + key.removeprefix("val/").removeprefix("mlm_"): key for key in TASK_METRICS[task]}


def flags(metrics: dict[str, float]) -> list[str]:
    """What a result's numbers say about the run itself: ``constant predictor`` when every validation
    example got the same class (its accuracy is the majority class's, not signal)."""
    out = []
    if metrics.get("val/predicted_classes") == 1:
        out.append("constant predictor")
    return out
