"""Regression on a ``search_space`` encoder: a one-output head trained on the mean squared error, measured by
the correlations GLUE reports for STS-B (Pearson and Spearman, computed by ``scipy.stats``)."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torchmetrics import CatMetric, MeanMetric

from layernas.search_space import SequenceClassifier
from layernas.trainer.core.module import _Base
from layernas.trainer.plan.trainer import OptimConfig


def correlations(predictions, targets) -> dict[str, float]:
    """``pearson`` and ``spearman`` of predictions against targets (1-D arrays or tensors); 0 for a constant
    on either side, as a predictor that ignores its input has no correlation (scipy gives nan there)."""
    from scipy.stats import pearsonr, spearmanr

    x, y = (np.asarray(torch.as_tensor(v).detach().double().cpu()).ravel() for v in (predictions, targets))
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"pearson": 0.0, "spearman": 0.0}
    values = {"pearson": float(pearsonr(x, y).statistic), "spearman": float(spearmanr(x, y).statistic)}
    return {k: v if math.isfinite(v) else 0.0 for k, v in values.items()}


class RegressorModule(_Base):
    """Regression: MSE on one output; logs train/loss, val/mse, val/pearson, val/spearman.

    Batches: ``input_ids`` (B, T), ``attention_mask`` (B, T), ``labels`` (B,) float targets, for pairs
    ``token_type_ids`` (B, T).
    """

    def __init__(self, model: SequenceClassifier, optim: OptimConfig, total_steps: int) -> None:
        super().__init__(optim, total_steps)
        self.model = model
        self.val_mse = MeanMetric()
        self.val_predictions, self.val_targets = CatMetric(), CatMetric()  # gathered over DDP ranks too

    def _predict(self, batch) -> torch.Tensor:
        return self.model(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids")).float()[:, 0]

    def training_step(self, batch, batch_idx):
        loss = F.mse_loss(self._predict(batch), batch["labels"].float())
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        predicted, targets = self._predict(batch), batch["labels"].float()
        self.val_mse.update(F.mse_loss(predicted, targets), weight=targets.numel())
        self.val_predictions.update(predicted)
        self.val_targets.update(targets)

    def on_validation_epoch_end(self):
        found = correlations(self.val_predictions.compute(), self.val_targets.compute())
        self.log_dict({"val/mse": self.val_mse.compute(), "val/pearson": torch.tensor(found["pearson"]),
                       "val/spearman": torch.tensor(found["spearman"])}, prog_bar=True, sync_dist=True)
        for m in (self.val_mse, self.val_predictions, self.val_targets):
            m.reset()
