"""Task heads on top of an :class:`~layernas.search_space.model.Encoder`: masked LM and sequence classification."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .model import Encoder, init_weights


class MaskedLMHead(nn.Module):
    """BERT's LM head: dense -> GELU -> LayerNorm -> decoder tied to the input embedding (+ bias).

    h: (N, D) or (B, T, D) -> logits (..., V).
    """

    def __init__(self, embedding: nn.Embedding, norm_eps: float = 1e-5) -> None:
        super().__init__()
        d_model = embedding.embedding_dim
        self.dense = nn.Linear(d_model, d_model)
        self.norm = nn.LayerNorm(d_model, eps=norm_eps)
        self.embedding = embedding
        self.bias = nn.Parameter(torch.zeros(embedding.num_embeddings))
        init_weights(self.dense)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(self.norm(F.gelu(self.dense(h))), self.embedding.weight, self.bias)


class ClassificationHead(nn.Module):
    """Pool the real tokens, then dense -> tanh -> dropout -> Linear(D, n_classes).

    ``pooling="mean"`` averages the real tokens (fair to convolution-only patterns, whose first token
    only sees a local window); ``"first"`` takes position 0 like BERT's [CLS].
    h: (B, T, D), mask: (B, T) or None -> logits (B, n_classes).
    """

    def __init__(self, d_model: int, n_classes: int, dropout: float = 0.1, pooling: str = "mean") -> None:
        super().__init__()
        if pooling not in ("mean", "first"):
            raise ValueError(f"pooling={pooling!r} is not allowed; allowed: mean, first")
        self.pooling = pooling
        self.dense = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(d_model, n_classes)
        self.apply(init_weights)

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.pooling == "first":
            pooled = h[:, 0]
        elif mask is None:
            pooled = h.mean(dim=1)
        else:
            m = mask.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
            pooled = (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)
        return self.classifier(self.dropout(torch.tanh(self.dense(pooled))))


class MaskedLM(nn.Module):
    """Encoder + tied LM head. Returns logits only at ``positions`` (a (B, T) bool) when given: (N, V)."""

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = MaskedLMHead(encoder.embed, encoder.config.norm_eps)

    def forward(self, input_ids, attention_mask=None, positions=None) -> torch.Tensor:
        h = self.encoder(input_ids, attention_mask)  # (B, T, D)
        return self.head(h if positions is None else h[positions])


class SequenceClassifier(nn.Module):
    """Encoder + classification head (one output: a regressor). input_ids (B, T), attention_mask (B, T),
    token_type_ids (B, T) of a sentence pair (or None) -> logits (B, n_classes)."""

    def __init__(self, encoder: Encoder, n_classes: int, pooling: str = "mean") -> None:
        super().__init__()
        self.encoder = encoder
        self.head = ClassificationHead(encoder.config.d_model, n_classes, encoder.config.dropout, pooling)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None) -> torch.Tensor:
        mask = None if attention_mask is None else attention_mask.bool()
        return self.head(self.encoder(input_ids, mask, token_type_ids), mask)
