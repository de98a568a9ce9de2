"""Parameter count."""

from __future__ import annotations

from torch import nn


def params(model: nn.Module, batch: dict) -> float:
    """Number of trainable parameters of the whole model, a tied weight counted once.

    The baseline every zero-cost proxy is compared with (larger models reach lower loss for the same
    number of steps in the scaling regime of Kaplan et al. 2020, "Scaling Laws for Neural Language
    Models"). Higher = predicted better. ``batch`` is unused.
    """
    return float(sum(p.numel() for p in model.parameters() if p.requires_grad))
