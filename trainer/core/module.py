"""LightningModules: masked-LM pre-training and sequence classification on a ``search_space`` encoder."""

from __future__ import annotations

import math

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torchmetrics import MeanMetric
from torchmetrics.classification import BinaryF1Score, MulticlassAccuracy, MulticlassConfusionMatrix

from layernas.search_space import MaskedLM, SequenceClassifier
from layernas.trainer.core.confusion import matthews_corrcoef, per_class_recall, predicted_classes
from layernas.trainer.plan.trainer import OptimConfig


def lr_lambda(optim: OptimConfig, total_steps: int):
    """Multiplier of the base lr at each step: linear warm-up, then linear/cosine decay or constant."""
    warmup = int(optim.warmup_ratio * total_steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if optim.schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        decay = 1.0 - progress if optim.schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))
        return optim.min_lr_ratio + (1.0 - optim.min_lr_ratio) * decay

    return factor


def adamw(model: torch.nn.Module, optim: OptimConfig, total_steps: int, grad_scaler: bool = False):
    """AdamW without weight decay on biases, norms and embeddings (1-D tensors and the embedding).

    ``grad_scaler``: the run scales its gradients (16-bit mixed precision), where Lightning clips gradients
    only with an optimizer that leaves the unscaling to it, so the fused kernel is not used by default.
    """
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "embed" in name else decay).append(p)
    groups = [{"params": decay, "weight_decay": optim.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    fused = optim.fused if optim.fused is not None else not grad_scaler and fused_kernels(decay + no_decay)
    opt = torch.optim.AdamW(groups, lr=optim.lr, betas=optim.betas, eps=optim.eps, fused=fused or None)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(optim, total_steps))
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def fused_kernels(params: list[torch.Tensor]) -> bool:
    """Whether torch has fused AdamW for all of ``params``: one kernel over every weight instead of a loop of
    small ops per tensor (about 10x less optimizer time for a proxy-sized model on the CPU)."""
    from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

    devices = _get_fused_kernels_supported_devices()
    return bool(params) and all(p.device.type in devices and p.is_floating_point() for p in params)


def scales_gradients(module: pl.LightningModule) -> bool:
    """Whether the module's trainer trains with a gradient scaler (16-bit mixed precision)."""
    trainer = module._trainer  # None outside a fit (a module used on its own)
    return trainer is not None and str(trainer.precision).startswith("16")


class _Base(pl.LightningModule):
    def __init__(self, optim: OptimConfig, total_steps: int) -> None:
        super().__init__()
        self.optim, self.total_steps = optim, total_steps

    def configure_optimizers(self):
        return adamw(self.model, self.optim, self.total_steps, grad_scaler=scales_gradients(self))


class MaskedLMModule(_Base):
    """Masked-LM: cross-entropy on the selected tokens only (logits are computed only there).

    Batches: ``input_ids`` (B, T), ``labels`` (B, T) with -100 where nothing is predicted, optional
    ``attention_mask`` (B, T). Logs train/loss, val/mlm_loss (token-weighted), val/mlm_acc, val/ppl.
    """

    def __init__(self, model: MaskedLM, optim: OptimConfig, total_steps: int) -> None:
        super().__init__(optim, total_steps)
        self.model = model
        self.val_loss = MeanMetric()
        self.val_acc = MeanMetric()

    def _logits(self, batch):
        labels = batch["labels"]
        selected = labels != -100  # (B, T)
        logits = self.model(batch["input_ids"], batch.get("attention_mask"), positions=selected)  # (N, V)
        return logits, labels[selected]

    def training_step(self, batch, batch_idx):
        logits, targets = self._logits(batch)
        loss = F.cross_entropy(logits.float(), targets)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        logits, targets = self._logits(batch)
        n = targets.numel()
        self.val_loss.update(F.cross_entropy(logits.float(), targets), weight=n)
        self.val_acc.update((logits.argmax(-1) == targets).float().mean(), weight=n)

    def on_validation_epoch_end(self):
        loss = self.val_loss.compute()
        # torchmetrics has already reduced over DDP ranks; sync_dist only averages equal values (and says so)
        self.log_dict({"val/mlm_loss": loss, "val/mlm_acc": self.val_acc.compute(), "val/ppl": loss.exp()},
                      prog_bar=True, sync_dist=True)
        self.val_loss.reset()
        self.val_acc.reset()


class ClassifierModule(_Base):
    """Sequence classification: cross-entropy; val/acc, val/loss, val/mcc (0 for a constant predictor, as
    in GLUE and scikit-learn), val/predicted_classes (1: every validation example got the same class), for two
    classes val/f1 (class 1 positive), and each class's recall val/recall_<class> (the accuracy on the
    examples of that class; see ``metrics.per_class_recall``).

    Batches: ``input_ids`` (B, T), ``attention_mask`` (B, T), ``labels`` (B,), for pairs ``token_type_ids`` (B, T).
    """

    def __init__(self, model: SequenceClassifier, optim: OptimConfig, total_steps: int, n_classes: int) -> None:
        super().__init__(optim, total_steps)
        self.model = model
        self.val_loss = MeanMetric()
        self.val_acc = MulticlassAccuracy(n_classes, average="micro")
        self.val_confusion = MulticlassConfusionMatrix(n_classes)
        self.val_f1 = BinaryF1Score() if n_classes == 2 else None

    def training_step(self, batch, batch_idx):
        logits = self.model(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
        loss = F.cross_entropy(logits.float(), batch["labels"])
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        logits = self.model(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids")).float()
        labels = batch["labels"]
        self.val_loss.update(F.cross_entropy(logits, labels), weight=labels.numel())
        preds = logits.argmax(-1)
        self.val_acc.update(preds, labels)
        self.val_confusion.update(preds, labels)
        if self.val_f1 is not None:
            self.val_f1.update(preds, labels)

    def on_validation_epoch_end(self):
        confusion = self.val_confusion.compute()
        metrics = {"val/loss": self.val_loss.compute(), "val/acc": self.val_acc.compute(),
                   "val/mcc": matthews_corrcoef(confusion).float(),
                   "val/predicted_classes": torch.tensor(float(predicted_classes(confusion)))}
        if self.val_f1 is not None:
            metrics["val/f1"] = self.val_f1.compute()
        self.log_dict(metrics, prog_bar=True, sync_dist=True)
        self.log_dict(per_class_recall(confusion), sync_dist=True)
        for m in (self.val_loss, self.val_acc, self.val_confusion, self.val_f1):
            if m is not None:
                m.reset()

