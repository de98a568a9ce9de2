"""Sizes checked before anything trains: what a run asks for must fit the data, the ops and the machine.

``check_budget`` refuses, in one line, sequence lengths and depths beyond the bounds below, spans and
block counts that do not fit a sequence, and models whose estimated training memory (parameters, their
gradients and AdamW state, and activations: ``layernas.search_space.cost.training_bytes``) exceeds
``MEMORY_FRACTION`` of what the machine has free. It returns the line a run prints at start.
"""

from __future__ import annotations

import math
import os

from layernas.search_space import Architecture
from layernas.search_space.cost import (
    activation_bytes,
    classifier_head_params,
    encoder_params,
    flops,
    mlm_head_params,
    op_activations,
    training_bytes,
)
from layernas.search_space.ops import get_op
from layernas.search_space.ops.registry import BLOCKS, SPAN
from layernas.search_space.space import SearchSpace
from layernas.search_space.spec import LayerSpec
from layernas.trainer.plan.run import RunPlan

# seq_len is also the model's max_len (position tables and rotary are built for it). 16,384 is 4x the
# longest encoder contexts in the literature (Longformer/BigBird: 4,096); one head's T^2 fp32 scores of
# one sequence are then 1 GiB already.
MAX_SEQ_LEN = 16_384
# 1,000 sublayers is 20x BERT-large's 48 and as deep as DeepNet's 1,000-layer Transformers; the search
# samples one parameter per slot, so deeper spaces are also far beyond what a study can explore.
MAX_SUBLAYERS = 1_000
MEMORY_FRACTION = 0.8
LOWER = "lower data.batch_size, data.seq_len, model.d_model or the number of sublayers"


def check_budget(arch_or_space: Architecture | SearchSpace, plan: RunPlan, vocab_size: int | None = None,
                 n_classes: int | None = None) -> str:
    """Raise a one-line ValueError when ``arch_or_space`` (for a space: its largest candidate) cannot run
    with ``plan``; else return the line a run prints at start (:func:`budget_line`). ``vocab_size`` and
    ``n_classes``: the tokenizer's and the data's, once known (before, the configured vocabulary size)."""
    mcfg = plan.model
    seq_len, batch = plan.data.seq_len, plan.data.batch_size
    vocab = vocab_size or plan.data.tokenizer.vocab_size
    if seq_len > MAX_SEQ_LEN:
        raise ValueError(f"data.seq_len={seq_len:,} is not allowed; allowed: 4..{MAX_SEQ_LEN:,} (seq_len is also the "
                         "model's max_len)")
    if isinstance(arch_or_space, SearchSpace):
        space = arch_or_space
        _check_depth(f"model.n_sublayers={space.n_sublayers:,}", space.n_sublayers)
        for op in space.ops:
            for spec in space.settings(op):
                check_fits(spec, seq_len)
        arch = space.largest(lambda s: op_activations(s, seq_len, mcfg.d_model))
        what = f"the largest candidate of space={space.name}"
    else:
        arch = arch_or_space
        _check_depth(f"the architecture's {len(arch):,} sublayers", len(arch))
        for spec in arch:
            check_fits(spec, seq_len)
        what = "the model"
    need = training_bytes(arch, vocab, seq_len, batch, mcfg)
    available, where = available_memory(plan.trainer.accelerator)
    limit = int(MEMORY_FRACTION * available)
    if need > limit:
        acts = activation_bytes(arch, seq_len, batch, vocab, mcfg)
        raise ValueError(f"{what} needs ~{_bytes(need)} for a training step ({_bytes(acts)} of it activations at "
                         f"data.batch_size={batch}, data.seq_len={seq_len}, model.d_model={mcfg.d_model}, "
                         f"{len(arch):,} sublayers); allowed: at most {_bytes(limit)} "
                         f"({MEMORY_FRACTION:.0%} of the {_bytes(available)} {where}); {LOWER}")
    label = "largest candidate" if isinstance(arch_or_space, SearchSpace) else "model"
    return budget_line(label, arch, plan, vocab_size, n_classes) + f", ~{_bytes(need)} estimated " \
                                                                        f"(limit {_bytes(limit)})"


def budget_line(label: str, arch: Architecture, plan: RunPlan, vocab_size: int | None, n_classes: int | None) -> str:
    """``model: N params (...), ~G GFLOPs/step (...)``, saying what the numbers assume: the vocabulary (the
    tokenizer's, or the configured size before it is trained), the task head, and for classification that
    batches are padded to their longest example (the FLOPs are for full-length sequences, an upper bound)."""
    mcfg, task = plan.model, plan.task.name
    seq_len, batch = plan.data.seq_len, plan.data.batch_size
    vocab = vocab_size or plan.data.tokenizer.vocab_size
    classifier = task in ("classify", "regress", "pretrain_finetune")
    head = classifier_head_params(mcfg.d_model, n_classes or 2) if classifier else mlm_head_params(mcfg.d_model,
                                                                                                   vocab)
    params = encoder_params(arch, vocab, seq_len, mcfg) + head
    vocabulary = f"vocabulary {vocab:,}" if vocab_size else \
        f"vocabulary of at most {vocab:,}, data.tokenizer.vocab_size until the tokenizer is trained"
    head_text = (f"classifier head of {n_classes} classes" if n_classes else "classifier head") if classifier \
        else "masked-LM head"
    step_flops = 3 * batch * flops(arch, seq_len, mcfg)  # forward + backward of one batch
    shape = f"batch {batch} x {seq_len} tokens" + (
        "; an upper bound: classification batches are padded to their longest example" if classifier else "")
    return f"{label}: {params:,} params ({vocabulary}; {head_text}), ~{step_flops / 1e9:.2f} GFLOPs/step ({shape})"


def _check_depth(what: str, n: int) -> None:
    if n > MAX_SUBLAYERS:
        raise ValueError(f"{what} is too deep; allowed: 1..{MAX_SUBLAYERS:,} sublayers")


def check_fits(spec: LayerSpec, seq_len: int) -> None:
    """A span ``k`` must fit in a sequence; ``b`` blocks must each hold at least one of its tokens."""
    for key in get_op(spec.op).keys:
        value = spec[key.name]
        if key == SPAN and value > seq_len:
            largest = seq_len if seq_len % 2 else seq_len - 1
            raise ValueError(f"k={value} in '{spec}' is larger than data.seq_len={seq_len}; allowed: an odd k "
                             f"<= {largest}")
        if key == BLOCKS and (value > seq_len or (value - 1) * math.ceil(seq_len / value) >= seq_len):
            raise ValueError(f"b={value} in '{spec}' does not fit data.seq_len={seq_len}: bsa pads the sequence "
                             f"to b blocks of ceil({seq_len}/{value}) tokens and some would hold none; allowed: "
                             f"b <= {seq_len} with no empty block (any divisor of {seq_len})")


def available_memory(accelerator: str) -> tuple[int, str]:
    """Free bytes where the model trains: the CUDA device's free memory when training runs there, else
    the host's available memory (psutil if installed, else /proc/meminfo's MemAvailable)."""
    import torch

    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info()
        return int(free), "free on cuda:0"
    try:
        import psutil

        return int(psutil.virtual_memory().available), "available memory"
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "available memory"
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "physical memory"


def _bytes(n: float) -> str:
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n / 1024:,.1f} KiB"
