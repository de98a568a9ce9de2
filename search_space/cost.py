"""Costs of an architecture: exact parameter counts, forward FLOPs as a function of sequence length,
and measured latency.

FLOPs are 2 x the multiply-adds of the matrix products and convolutions (attention scores included;
element-wise work such as softmax, LayerNorm and activations is not counted), the convention of
``torch.utils.flop_counter.FlopCounterMode``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from .config import ModelConfig
from .model import encoder_config
from .ops import get_op
from .spec import Architecture, LayerSpec


def op_params(spec: LayerSpec, d_model: int) -> int:
    """Parameters of the op alone."""
    return get_op(spec.op).params(d_model, **spec.kwargs)


def sublayer_params(spec: LayerSpec, d_model: int) -> int:
    """Parameters of a pre-norm residual sublayer: the op and its LayerNorm."""
    return op_params(spec, d_model) + 2 * d_model


def op_flops(spec: LayerSpec, seq_len: int, d_model: int) -> int:
    """Forward FLOPs of the op on one sequence of ``seq_len`` tokens."""
    return get_op(spec.op).flops(seq_len, d_model, **spec.kwargs)


def encoder_params(arch: str | Architecture, vocab_size: int, max_len: int, config: ModelConfig | None = None,
                   **settings) -> int:
    """Exact parameter count of ``build_encoder(arch, vocab_size, max_len, config, **settings)``: a sublayer
    tied to an earlier one (``^``) adds none (its FLOPs and activations count at every use)."""
    arch, config = encoder_config(arch, config, **settings)
    own = (s for s, tie in zip(arch, arch.ties(), strict=True) if tie is None)
    return base_params(vocab_size, max_len, config) + sum(sublayer_params(s, config.d_model) for s in own)


def base_params(vocab_size: int, max_len: int, config: ModelConfig) -> int:
    """What every encoder has whatever its sublayers: embeddings (and a learned position table, and the two
    segment embeddings) and the final LayerNorm."""
    d = config.d_model
    return vocab_size * d + (max_len * d if config.position == "learned" else 0) + 2 * d + \
        (2 * d if config.segments else 0)


def mlm_head_params(d_model: int, vocab_size: int) -> int:
    """The tied LM head adds its dense layer, LayerNorm and output bias (the decoder weight is shared)."""
    return d_model * d_model + d_model + 2 * d_model + vocab_size


def classifier_head_params(d_model: int, n_classes: int) -> int:
    return d_model * d_model + d_model + d_model * n_classes + n_classes


def flops(arch: str | Architecture, seq_len: int, config: ModelConfig | None = None, **settings) -> int:
    """Forward FLOPs of the sublayer stack on one sequence of ``seq_len`` tokens (embeddings and heads
    excluded: they do not depend on the architecture)."""
    arch, config = encoder_config(arch, config, **settings)
    return sum(op_flops(s, seq_len, config.d_model) for s in arch)


FLOAT_BYTES = 4  # fp32 master weights and activations: an upper bound under mixed precision


def op_activations(spec: LayerSpec, seq_len: int, d_model: int) -> int:
    """Floats one sublayer keeps for the backward pass on one sequence: the op's, plus its LayerNorm's
    input and output."""
    return get_op(spec.op).activations(seq_len, d_model, **spec.kwargs) + 2 * seq_len * d_model


def activation_bytes(arch: str | Architecture, seq_len: int, batch_size: int, vocab_size: int,
                     config: ModelConfig | None = None, **settings) -> int:
    """Estimated bytes of the activations a training step on ``batch_size`` sequences keeps for backward:
    every sublayer's (attention's T^2 scores where they may be materialised), the embeddings, and the
    head's hidden states and vocabulary logits with their gradient (the masked-LM head's, the larger)."""
    arch, config = encoder_config(arch, config, **settings)
    d = config.d_model
    per_sequence = sum(op_activations(s, seq_len, d) for s in arch) + 4 * seq_len * d + 2 * seq_len * vocab_size
    return batch_size * per_sequence * FLOAT_BYTES


def training_bytes(arch: str | Architecture, vocab_size: int, seq_len: int, batch_size: int,
                   config: ModelConfig | None = None, **settings) -> int:
    """Estimated memory of one training step: parameters, their gradients and AdamW's two moments
    (4 x params x 4 bytes, the masked-LM head included) plus :func:`activation_bytes`."""
    arch, config = encoder_config(arch, config, **settings)
    params = encoder_params(arch, vocab_size, seq_len, config) + mlm_head_params(config.d_model, vocab_size)
    return 4 * params * FLOAT_BYTES + activation_bytes(arch, seq_len, batch_size, vocab_size, config)


def count_params(module: nn.Module) -> int:
    """``sum(p.numel())`` over the module's distinct parameters (tied weights counted once)."""
    return sum(p.numel() for p in module.parameters())


def measure_latency(fn: Callable[[], object], repeats: int = 10, warmup: int = 3) -> float:
    """Median wall time of ``fn()`` in milliseconds, after ``warmup`` untimed calls.

    On CUDA the device is synchronised around every call, so the time covers the kernels.
    """
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def forward_latency_ms(module: nn.Module, *inputs, backward: bool = False, **kw) -> float:
    """Median latency of ``module(*inputs)`` (and its backward pass when ``backward``)."""

    def step():
        if backward:
            module.zero_grad(set_to_none=True)
            out = module(*inputs)
            out.float().pow(2).mean().backward()
        else:
            with torch.no_grad():
                module(*inputs)

    return measure_latency(step, **kw)


def saved_tensor_bytes(module: nn.Module, *inputs) -> int:
    """Bytes of the tensors one forward of ``module(*inputs)`` keeps for its backward pass: every tensor
    autograd packs (``torch.autograd.graph.saved_tensors_hooks``), each storage counted once, the module's
    own parameters left out (they are there anyway). Deterministic, unlike a process's memory peak; what a
    backward allocates and frees while it runs is not in it."""
    params = {p.untyped_storage().data_ptr() for p in module.parameters()}
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = module(*inputs)
    del out
    return sum(storages.values())
