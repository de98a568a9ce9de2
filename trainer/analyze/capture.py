"""Run an encoder over batches with its attention maps and kernels captured, and measure them per part.

A *part* is what one capturable module of a sublayer records: the attention of ``sa``/``bsa``, the
attention half of ``mixed`` (``attention``), or the softmax kernel of a convolution or of ``mixed``'s
convolution half (``convolution``). Sublayers with neither are listed as skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch

from layernas.search_space.attention_maps import attention_modules, capture, kernel_modules
from layernas.trainer.analyze.measures import AttentionStats, KernelStats

_SUBLAYER = re.compile(r"^layers\.(\d+)(?:\.|$)")
ATTENTION, CONVOLUTION = "attention", "convolution"


@dataclass
class Part:
    """One measured part: its sublayer (index and canonical op string), kind, module name, heads, and
    ``measures``: name -> one value per head (plus ``uniform/<name>`` references and ``rows`` counted)."""

    sublayer: int
    op: str
    kind: str
    module: str
    heads: int
    measures: dict[str, list[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Batch:
    """Token ids (B, T) long and the real-token mask (B, T) bool (True = real)."""

    ids: torch.Tensor
    real: torch.Tensor


def sublayer_of(name: str) -> int:
    match = _SUBLAYER.match(name)
    if match is None:
        raise ValueError(f"module {name!r} is not inside a sublayer (layers.<i>...)")
    return int(match.group(1))


def capturable_sublayers(encoder) -> set[int]:
    """The sublayers of ``encoder`` with an attention map to capture."""
    return {sublayer_of(name) for name in attention_modules(encoder)}


def skipped(encoder) -> list[tuple[int, str, str]]:
    """(index, op, why) of the sublayers with no attention map: convolutions (their kernels are measured
    instead) and position-wise ops."""
    from layernas.search_space import OPS

    attention = capturable_sublayers(encoder)
    kernels = {sublayer_of(name) for name in kernel_modules(encoder)}
    out = []
    for i, spec in enumerate(encoder.arch):
        if i in attention:
            continue
        if i in kernels:
            why = "a convolution: no attention map (its softmax kernel is measured below)"
        elif OPS[spec.op].reach(**spec.kwargs) == 0:
            why = "position-wise: no token mixing"
        else:
            why = "mixes tokens, but its module exposes neither attention_probs nor span_kernel to read"
        out.append((i, str(spec), why))
    return out


@torch.no_grad()
def measure(encoder, batches: Iterable[Batch], spans: list[int], special: dict[str, int]) -> list[Part]:
    """Run ``encoder`` (in eval mode) over ``batches`` and return every part's measures, in sublayer order.

    ``special``: name -> token id counted as an attention target (``{"cls": 2, "sep": 3}``).
    """
    device = next(encoder.parameters()).device
    encoder.eval()
    attention, kernels = {}, {}
    with capture(encoder) as seen:
        for batch in batches:
            seen.clear()
            ids, real = batch.ids.to(device), batch.real.to(device)
            encoder(ids, real)
            tokens = {name: ids == token for name, token in special.items()}
            for name, probs in seen.maps.items():
                attention.setdefault(name, AttentionStats(probs.shape[1], spans)).add(probs, real, tokens)
            for name, kernel in seen.kernels.items():
                kernels.setdefault(name, KernelStats(kernel.shape[2], kernel.shape[3], spans)).add(kernel, real)
    parts = [_part(encoder, name, ATTENTION, stats) for name, stats in attention.items()]
    parts += [_part(encoder, name, CONVOLUTION, stats) for name, stats in kernels.items()]
    return sorted(parts, key=lambda p: (p.sublayer, p.kind != ATTENTION, p.module))


def _part(encoder, name: str, kind: str, stats) -> Part:
    i = sublayer_of(name)
    result = stats.result()
    return Part(i, str(encoder.arch[i]), kind, name, len(result["rows"]), result)
