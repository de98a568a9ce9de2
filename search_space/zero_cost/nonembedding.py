"""Parameter count without the embeddings."""

from __future__ import annotations

from torch import nn


def embedding_parameters(encoder: nn.Module) -> list[nn.Parameter]:
    """The token embedding (which is also the tied LM decoder weight) and the learned position table,
    if any, of an :class:`~layernas.search_space.Encoder`."""
    found = list(encoder.embed.parameters())
    if encoder.positions is not None:
        found += list(encoder.positions.parameters())
    return found


def nonembedding(model: nn.Module, batch: dict) -> float:
    """Trainable parameters other than the token and position embeddings.

    Kaplan et al. 2020 ("Scaling Laws for Neural Language Models") found that the non-embedding count,
    not the total, predicts the loss across depths and widths. Weights are told apart by ``id()``, so
    the LM decoder (the same tensor as the token embedding) is excluded once and counted nowhere; its
    output bias is not an embedding and is counted. Higher = predicted better. ``batch`` is unused.
    """
    skip = {id(p) for p in embedding_parameters(model.encoder)}
    return float(sum(p.numel() for p in model.parameters() if p.requires_grad and id(p) not in skip))
