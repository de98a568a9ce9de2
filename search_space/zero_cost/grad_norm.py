"""Gradient norm at initialisation."""

from __future__ import annotations

import torch
from torch import nn

from .loss import mlm_loss


def grad_norm(model: nn.Module, batch: dict) -> float:
    """L2 norm of the gradient of the masked-LM loss with respect to every trainable parameter (a tied
    weight once), at the model's current (initial) weights.

    From Abdelfattah et al. 2021, "Zero-Cost Proxies for Lightweight NAS". The gradients come from
    ``torch.autograd.grad``, so no ``.grad`` of the model is touched. Higher = predicted better (the
    sign under which the paper reports its positive rank correlation).
    """
    weights = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(mlm_loss(model, batch), weights, allow_unused=True)
    total = sum(g.double().pow(2).sum() for g in grads if g is not None)
    return float(torch.as_tensor(total, dtype=torch.float64).sqrt())
