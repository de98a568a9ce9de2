"""Analytic forward FLOPs."""

from __future__ import annotations

from torch import nn

from ..cost import flops as encoder_flops


def flops(model: nn.Module, batch: dict) -> float:
    """Forward FLOPs of the encoder's sublayer stack on one sequence of the batch's length, from the
    analytic counter :func:`layernas.search_space.cost.flops` (2 x multiply-adds of the matrix products;
    embeddings and heads excluded).

    Compute is the other axis of the scaling laws (Kaplan et al. 2020, "Scaling Laws for Neural Language
    Models"), and a standard baseline of the zero-cost literature (Abdelfattah et al. 2021). Higher =
    predicted better.
    """
    encoder = model.encoder
    return float(encoder_flops(encoder.arch, batch["input_ids"].shape[1], encoder.config))
