"""SynFlow, adapted to pre-norm Transformers."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from .nonembedding import embedding_parameters


def _affine_only(norm: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
    """LayerNorm without the normalisation: its elementwise scale and shift alone."""
    if norm.weight is not None:
        x = x * norm.weight
    return x if norm.bias is None else x + norm.bias


def synflow(model: nn.Module, batch: dict) -> float:
    """log(sum over parameters of |theta * dR/dtheta|), R the synaptic flow of an all-positive network.

    From Tanaka et al. 2020, "Pruning neural networks without any data by iteratively conserving
    synaptic flow", as used for NAS by Abdelfattah et al. 2021. Adaptation to Transformers, on a float64
    copy of ``model.encoder`` (the model is not touched): every weight is replaced by its absolute value;
    the token embedding is bypassed and an all-ones (1, T, D) tensor is fed as the embedding output
    (SynFlow is data-free; T is the batch's length, no padding mask); and every LayerNorm keeps only its
    affine part, because normalising the constant all-ones stream returns exactly zero and the score
    would vanish (the analogue of removing BatchNorm, as the zero-cost CNN code does). R is the sum of
    the encoder's output; the score sums |theta * dR/dtheta| over the non-embedding weights (the
    sublayers and the final LayerNorm) and is returned as a natural log, floored at the smallest positive
    float so that a zero sum stays finite. Higher = predicted better.
    """
    encoder = copy.deepcopy(model.encoder).to(torch.float64).eval()
    with torch.no_grad():
        for p in encoder.parameters():
            p.abs_()
    for module in encoder.modules():
        if isinstance(module, nn.LayerNorm):
            module.forward = _affine_only.__get__(module)  # bound to this copy only
    skip = {id(p) for p in embedding_parameters(encoder)}
    weights = [p for p in encoder.parameters() if p.requires_grad and id(p) not in skip]
    device = encoder.embed.weight.device
    x = torch.ones(1, batch["input_ids"].shape[1], encoder.config.d_model, dtype=torch.float64, device=device)
    for layer in encoder.layers:
        x = layer(x, None)
    grads = torch.autograd.grad(encoder.norm(x).sum(), weights, allow_unused=True)
    total = sum(float((p.detach() * g).abs().sum()) for p, g in zip(weights, grads, strict=True) if g is not None)
    return math.log(max(total, math.ulp(0.0)))
