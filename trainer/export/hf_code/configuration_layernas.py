"""The configuration of a network exported by ``layernas export`` (a template: the exporter copies it into the
exported folder, next to the modules it imports)."""

from __future__ import annotations

from dataclasses import fields

from transformers import PretrainedConfig

from .layernas_config import ModelConfig

TASKS = ("mlm", "classify")
MODEL_SETTINGS = tuple(f.name for f in fields(ModelConfig))


class LayernasConfig(PretrainedConfig):
    """A layernas encoder: its architecture string (``arch``, the layernas grammar), vocabulary, longest
    sequence, the task it was trained on and its pooling, and the model settings of layernas's
    ``ModelConfig`` (d_model, n_heads, position, dropout, ...) as attributes."""

    model_type = "layernas"
    attribute_map = {"hidden_size": "d_model", "num_attention_heads": "n_heads", "max_position_embeddings": "max_len"}

    def __init__(self, arch: str = "sa ffn", vocab_size: int = 8000, max_len: int = 128, task: str = "mlm",
                 pooling: str = "mean", pad_token_id: int = 0, tie_word_embeddings: bool = True, **kwargs) -> None:
        if task not in TASKS:
            raise ValueError(f"task={task!r} is not allowed; allowed: {', '.join(TASKS)}")
        settings = {name: kwargs.pop(name) for name in MODEL_SETTINGS if name in kwargs}
        for name, value in ModelConfig(**settings).to_dict().items():  # checked, every setting written
            setattr(self, name, value)
        self.arch, self.vocab_size, self.max_len, self.task, self.pooling = arch, vocab_size, max_len, task, pooling
        super().__init__(pad_token_id=pad_token_id, tie_word_embeddings=tie_word_embeddings, **kwargs)

    def model_config(self) -> ModelConfig:
        return ModelConfig(**{name: getattr(self, name) for name in MODEL_SETTINGS})
