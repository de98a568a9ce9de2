"""layernas search space: the layer zoo, the architecture grammar and the model builder (pure PyTorch)."""

from .config import ModelConfig
from .heads import ClassificationHead, MaskedLM, MaskedLMHead, SequenceClassifier
from .model import Encoder, Sublayer, add_segments, build_encoder, build_layer
from .ops import OPS, get_op, register
from .spec import Architecture, LayerSpec

__all__ = [
    "OPS",
    "Architecture",
    "ClassificationHead",
    "Encoder",
    "LayerSpec",
    "MaskedLM",
    "MaskedLMHead",
    "ModelConfig",
    "SequenceClassifier",
    "Sublayer",
    "add_segments",
    "build_encoder",
    "build_layer",
    "get_op",
    "register",
]
