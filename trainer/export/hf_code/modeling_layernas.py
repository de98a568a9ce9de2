"""transformers classes around a network exported by ``layernas export`` (a template: the exporter copies it
into the exported folder, beside layernas's own modules for the ops the network uses).

The encoder, its ops and heads are layernas's code, so outputs equal layernas's model on the same ids. Weight
names: ``layernas.encoder.*`` (the encoder) and ``head.*`` (the task head). A sublayer shared ALBERT-style and
the masked-LM decoder (the input embedding) are one tensor under several names, declared as tied weights.
"""

from __future__ import annotations

import re

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutput, MaskedLMOutput, SequenceClassifierOutput

from .configuration_layernas import LayernasConfig
from .layernas_heads import ClassificationHead, MaskedLMHead
from .layernas_model import Encoder
from .layernas_spec import Architecture


def build_encoder(config: LayernasConfig, vocab_size: int | None = None) -> Encoder:
    settings = config.model_config()
    arch = Architecture.parse(config.arch, settings.d_model, **settings.key_defaults)
    return Encoder(arch, vocab_size or config.vocab_size, config.max_len, settings)


class LayernasPreTrainedModel(PreTrainedModel):
    config_class = LayernasConfig
    base_model_prefix = "layernas"
    main_input_name = "input_ids"

    def _declare_shared_weights(self) -> None:
        """Every tensor reached under a second name (a shared sublayer, the tied decoder), as transformers
        expects tied weights: the later name -> the first, as exact patterns."""
        first, tied = {}, {}
        for name, tensor in self.named_parameters(remove_duplicate=False):
            if id(tensor) in first:
                tied[re.escape(name) + "$"] = re.escape(first[id(tensor)]) + "$"
            else:
                first[id(tensor)] = name
        self._tied_weights_keys = tied

    def _init_weights(self, module: nn.Module) -> None:
        """What a checkpoint does not hold: a new task head (BERT's initialisation, as layernas builds it) and
        the buffers the encoder computes from its settings (rotary frequencies, sinusoidal positions, block
        indices), which transformers leaves empty when it builds the model on the meta device."""
        super()._init_weights(module)
        if isinstance(module, MaskedLMHead):
            init.zeros_(module.bias)
        computed = [n for n in getattr(module, "_non_persistent_buffers_set", ()) if getattr(module, n) is not None]
        if computed and isinstance(self, LayernasModel):
            twin = self._twin_module(module)
            for name in computed:
                init.copy_(getattr(module, name), getattr(twin, name))

    def _twin_module(self, module: nn.Module) -> nn.Module:
        """``module``'s counterpart in an encoder built on the CPU from the config (once)."""
        if "_twin" not in self.__dict__:
            with torch.device("cpu"), torch.random.fork_rng():
                self.__dict__["_twin"] = build_encoder(self.config, vocab_size=1)  # the vocabulary holds no buffer
        path = next(name for name, m in self.encoder.named_modules() if m is module)
        return self.__dict__["_twin"].get_submodule(path)


class LayernasModel(LayernasPreTrainedModel):
    """The encoder alone: last_hidden_state (B, T, D)."""

    def __init__(self, config: LayernasConfig) -> None:
        super().__init__(config)
        self.encoder = build_encoder(config)
        self._declare_shared_weights()
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.encoder.embed

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.encoder.embed = value

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                return_dict: bool | None = None) -> BaseModelOutput | tuple:
        hidden = self.encoder(input_ids, attention_mask)  # (B, T, D)
        return BaseModelOutput(last_hidden_state=hidden) if return_dict is not False else (hidden,)


class LayernasForMaskedLM(LayernasPreTrainedModel):
    """Encoder + layernas's masked-LM head (decoder tied to the input embedding): logits (B, T, V)."""

    def __init__(self, config: LayernasConfig) -> None:
        super().__init__(config)
        self.layernas = LayernasModel(config)
        self.head = MaskedLMHead(self.layernas.encoder.embed, config.norm_eps)
        self._declare_shared_weights()
        self.post_init()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, return_dict: bool | None = None) -> MaskedLMOutput | tuple:
        logits = self.head(self.layernas.encoder(input_ids, attention_mask))  # (B, T, V)
        loss = None
        if labels is not None:  # -100: not a masked position
            loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1))
        if return_dict is False:
            return (logits,) if loss is None else (loss, logits)
        return MaskedLMOutput(loss=loss, logits=logits)


class LayernasForSequenceClassification(LayernasPreTrainedModel):
    """Encoder + layernas's classification head (pooling from the config): logits (B, num_labels); one label
    is regression (mean squared error), several are classes (cross-entropy)."""

    def __init__(self, config: LayernasConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.layernas = LayernasModel(config)
        self.head = ClassificationHead(config.d_model, config.num_labels, config.dropout, config.pooling)
        self._declare_shared_weights()
        self.post_init()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None,
                return_dict: bool | None = None) -> SequenceClassifierOutput | tuple:
        mask = None if attention_mask is None else attention_mask.bool()
        logits = self.head(self.layernas.encoder(input_ids, mask), mask)  # (B, num_labels)
        loss = None
        if labels is not None:
            loss = (nn.functional.mse_loss(logits.squeeze(-1), labels.to(logits.dtype)) if self.num_labels == 1
                    else nn.functional.cross_entropy(logits, labels.view(-1)))
        if return_dict is False:
            return (logits,) if loss is None else (loss, logits)
        return SequenceClassifierOutput(loss=loss, logits=logits)
