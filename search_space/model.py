"""Build sublayers and encoders from an :class:`Architecture`.

Every sublayer is pre-norm residual: ``x + dropout(op(LayerNorm(x), mask))``. The encoder adds token
embeddings (and absolute positions when the model config asks for them), runs the sublayer stack and
a final LayerNorm. A sublayer tied to an earlier one (``^``, :meth:`Architecture.ties`) is that one's
``Sublayer`` object again, LayerNorm included, as ALBERT shares a whole layer.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig
from .ops import get_op
from .ops.functional import exporting
from .positional import AbsolutePositions
from .spec import Architecture, LayerSpec


class Sublayer(nn.Module):
    """Pre-norm residual wrapper around one op. x: (B, T, D), mask: (B, T) bool or None -> (B, T, D)."""

    def __init__(self, op: nn.Module, d_model: int, dropout: float = 0.0, norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model, eps=norm_eps)
        self.op = op
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return x + self.dropout(self.op(self.norm(x), mask))


def make_sublayer(spec: LayerSpec, config: ModelConfig) -> Sublayer:
    """One registry lookup builds any op; the model config supplies dropout and position options."""
    op = get_op(spec.op).make(
        config.d_model,
        spec.kwargs,
        attn_dropout=config.attn_dropout,
        weight_dropout=config.weight_dropout,
        rotary=config.position == "rotary",
    )
    return Sublayer(op, config.d_model, config.dropout, config.norm_eps)


def build_layer(spec: str | LayerSpec, d_model: int, **settings) -> Sublayer:
    """Build one pre-norm residual sublayer, e.g. ``build_layer("bsa(b=4)", d_model=64, n_heads=4)``.

    ``settings`` are :class:`ModelConfig` fields (n_heads, position, dropout, ...).
    """
    config = ModelConfig(d_model=d_model, **settings)
    if isinstance(spec, str):
        spec = LayerSpec.parse(spec, d_model, config.key_defaults)
    else:
        spec = LayerSpec.make(spec.op, d_model, **spec.kwargs)
    return make_sublayer(spec, config)


class Encoder(nn.Module):
    """Token embeddings (+ absolute positions, + segment embeddings if configured) -> sublayers -> LayerNorm.

    input_ids: (B, T) long, attention_mask: (B, T) bool/int with 1 = real token (or None), token_type_ids:
    (B, T) long in {0, 1} (or None: all 0; ignored without ``config.segments``) -> (B, T, D).
    """

    def __init__(self, arch: Architecture, vocab_size: int, max_len: int, config: ModelConfig) -> None:
        super().__init__()
        self.arch, self.config, self.max_len = arch, config, max_len
        self.embed = nn.Embedding(vocab_size, config.d_model)
        use_table = config.position in ("learned", "sinusoidal")
        self.positions = AbsolutePositions(config.position, max_len, config.d_model) if use_table else None
        self.segments = nn.Embedding(2, config.d_model) if config.segments else None
        self.dropout = nn.Dropout(config.dropout)
        layers: list[Sublayer] = []
        for spec, tie in zip(arch, arch.ties(), strict=True):
            layers.append(make_sublayer(spec, config) if tie is None else layers[tie])
        self.layers = nn.ModuleList(layers)
        self.norm = nn.LayerNorm(config.d_model, eps=config.norm_eps)
        self.apply(init_weights)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        T = input_ids.shape[1]
        if T > self.max_len:
            raise ValueError(f"sequence length {T} exceeds max_len={self.max_len}")
        mask = None if attention_mask is None else attention_mask.bool()
        if mask is not None and not exporting() and bool(mask.all()):
            mask = None  # lets SDPA pick its unmasked kernels (an exported graph keeps the mask: one graph for both)
        x = self.embed(input_ids)  # (B, T, D)
        if self.segments is not None:
            x = x + (self.segments.weight[0] if token_type_ids is None else self.segments(token_type_ids))
        if self.positions is not None:
            x = self.positions(x)
        x = self.dropout(x)
        for layer in self.layers:
            x = layer(x, mask)
        return self.norm(x)


def add_segments(encoder: Encoder) -> Encoder:
    """Give an encoder trained without segment embeddings (masked LM on packed rows) the two of a sentence pair,
    in place: segment 0 zero, so the trained encoder computes exactly what it did on segment 0, segment 1
    BERT-initialised. An encoder that has them is returned as it is."""
    if encoder.segments is None:
        weight = encoder.embed.weight
        encoder.segments = nn.Embedding(2, encoder.config.d_model, device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            encoder.segments.weight[0].zero_()
            nn.init.normal_(encoder.segments.weight[1], std=0.02)
    return encoder


def init_weights(module: nn.Module) -> None:
    """BERT initialisation: N(0, 0.02) weights, zero biases (LayerNorm and op-specific params untouched)."""
    if isinstance(module, (nn.Linear, nn.Embedding, nn.Conv1d)):
        nn.init.normal_(module.weight, std=0.02)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)


def encoder_config(arch: str | Architecture, config: ModelConfig | None = None,
                   **settings) -> tuple[Architecture, ModelConfig]:
    """The validated architecture and the model config an encoder is built with.

    ``config`` is a whole :class:`ModelConfig` (e.g. ``ModelConfig.from_dict(cfg["model"])``); without it,
    ``settings`` (ModelConfig fields) make one, ``d_model`` defaulting to the one the architecture was
    validated against. A string ``arch`` is parsed with the config's key defaults.
    """
    if config is not None and settings:
        raise TypeError(f"give a ModelConfig or model settings, not both (got {', '.join(sorted(settings))})")
    if config is None:
        d_model = settings.pop("d_model", None)
        if d_model is None and isinstance(arch, Architecture):
            d_model = arch.d_model
        config = ModelConfig(**({"d_model": d_model} if d_model else {}), **settings)
    if isinstance(arch, Architecture) and arch.d_model not in (None, config.d_model):
        raise ValueError(f"d_model={config.d_model} differs from the architecture's d_model={arch.d_model}")
    return Architecture.parse(arch, config.d_model, **config.key_defaults), config


def build_encoder(arch: str | Architecture, vocab_size: int, max_len: int, config: ModelConfig | None = None,
                  **settings) -> Encoder:
    """Build an :class:`Encoder` from a :class:`ModelConfig` or from ModelConfig fields as keywords:
    ``build_encoder(arch, vocab, max_len, ModelConfig.from_dict(cfg["model"]))`` or
    ``build_encoder("sa ffn", vocab_size=8000, max_len=512, d_model=64)`` (see :func:`encoder_config`)."""
    arch, config = encoder_config(arch, config, **settings)
    return Encoder(arch, vocab_size, max_len, config)
