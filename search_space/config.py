"""Model-wide settings shared by every sublayer (pure data, mirrors the Hydra ``model/`` group)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

POSITIONS = ("rotary", "learned", "sinusoidal", "none")


@dataclass(frozen=True)
class ModelConfig:
    """Sizes and defaults of an encoder.

    ``n_heads``, ``ffn_ratio``, ``kernel_size``, ``n_blocks`` and ``head_ratio`` are the defaults of the
    grammar keys ``h``, ``r``, ``k``, ``b`` and ``hr`` when a sublayer does not set them.
    ``identity_heads`` is the default of ``bsa``'s key ``i`` (heads on the identity block permutation); None
    gives BlockBERT's assignment for the sublayer's h and b.
    ``position_buckets`` is the default of ``dsa``'s key ``p`` (DeBERTa's relative position buckets each
    way; 256 as in DeBERTa-v3).
    ``n_sublayers`` is the depth the search spaces fill (``space.n_sublayers`` defaults to it); an encoder
    built from an architecture takes its depth from the architecture.
    ``position`` is where order information enters: ``rotary`` inside the attention ops, ``learned`` or
    ``sinusoidal`` absolute embeddings added to the tokens, or ``none`` (convolutions carry position).
    ``segments``: BERT's segment (token type) embeddings, two of them, added to the tokens of a sentence pair
    (``[CLS] a [SEP]`` segment 0, ``b [SEP]`` segment 1). None or False: none (a single segment would only add
    the same vector to every token); the trainer turns them on for sentence-pair data.
    """

    d_model: int = 128
    n_heads: int = 4
    n_sublayers: int = 8
    ffn_ratio: int = 4
    kernel_size: int = 9
    n_blocks: int = 2
    head_ratio: int = 2
    identity_heads: int | None = None
    position_buckets: int = 256
    position: str = "rotary"
    dropout: float = 0.1
    attn_dropout: float = 0.0
    weight_dropout: float = 0.0
    norm_eps: float = 1e-5
    segments: bool | None = None

    def __post_init__(self) -> None:
        if self.position not in POSITIONS:
            raise ValueError(f"position={self.position!r} is not allowed; allowed: {', '.join(POSITIONS)}")
        for name in ("d_model", "n_heads", "n_sublayers", "ffn_ratio", "kernel_size", "n_blocks", "head_ratio",
                     "position_buckets"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        if self.segments not in (None, True, False):
            raise ValueError(f"segments={self.segments!r} is not allowed; allowed: true, false, or null (on for "
                             "sentence-pair data)")
        heads = self.identity_heads
        if heads is not None and (not isinstance(heads, int) or isinstance(heads, bool) or heads < 0):
            raise ValueError(f"identity_heads={heads!r} must be null (BlockBERT's assignment) or an integer >= 0")
        for name in ("dropout", "attn_dropout", "weight_dropout"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name}={value!r} must be in [0, 1)")

    @classmethod
    def from_dict(cls, data: Mapping) -> ModelConfig:
        """Build from the ``model`` config; a key that is not a field is a mistake (a misspelt setting would
        otherwise be silently replaced by its default), so it is refused in one line."""
        names = sorted(f.name for f in fields(cls))
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"unknown model key {unknown[0]!r}; allowed: {', '.join(names)}")
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def key_defaults(self) -> dict[str, int | None]:
        """Defaults of the grammar keys, by model-config field name."""
        return {
            "n_heads": self.n_heads,
            "ffn_ratio": self.ffn_ratio,
            "kernel_size": self.kernel_size,
            "n_blocks": self.n_blocks,
            "head_ratio": self.head_ratio,
            "identity_heads": self.identity_heads,
            "position_buckets": self.position_buckets,
        }
