"""Attention maps and convolution kernels recorded during a forward, for analysis.

Training never forms a (T, T) attention matrix (the ops call the fused ``scaled_dot_product_attention``).
For analysis, an op makes its maps readable by implementing one method, found by its presence, never by
the op's name:

- ``attention_probs(q, k, mask) -> (B, h, T, T)``: the probabilities its ``attend(q, k, v, mask)`` applies
  to v, from the same arguments. While :func:`capture` is active, each call of ``attend`` also records
  ``attention_probs`` of its q, k and mask; its output is the fused path's, unchanged.
- ``span_kernel(*args) -> (B, T, h, k)``: for a convolution, the normalised kernel its ``forward(*args)``
  applies (tap j of position t weighs position t + j - (k-1)/2). A forward hook records it.

    with capture(model.encoder) as seen:
        model.encoder(input_ids, attention_mask)
    seen.maps["layers.3.op"]          # (B, h, T, T)
    seen.kernels["layers.0.op"]       # (B, T, h, k)

A module used at several positions (a tied sublayer) is recorded under each position's name: its n-th call
in a forward is its n-th name in module order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import nn


def _modules_with(module: nn.Module, method: str) -> dict[str, nn.Module]:
    return {name: m for name, m in module.named_modules(remove_duplicate=False)
            if callable(getattr(m, method, None))}


def attention_modules(module: nn.Module) -> dict[str, nn.Module]:
    """The submodules (by name, relative to ``module``; a shared one under each of its names) whose attention
    maps can be captured."""
    return _modules_with(module, "attention_probs")


def kernel_modules(module: nn.Module) -> dict[str, nn.Module]:
    """The submodules (by name, as above) whose softmax kernels can be captured."""
    return _modules_with(module, "span_kernel")


def _by_object(named: dict[str, nn.Module]) -> list[tuple[nn.Module, list[str]]]:
    """Each distinct module once, with its names in module order."""
    groups: dict[int, tuple[nn.Module, list[str]]] = {}
    for name, m in named.items():
        groups.setdefault(id(m), (m, []))[1].append(name)
    return list(groups.values())


@dataclass
class Captured:
    """What the forwards inside :func:`capture` recorded, by module name: the last call of each."""

    maps: dict[str, torch.Tensor] = field(default_factory=dict)  # (B, h, T, T)
    kernels: dict[str, torch.Tensor] = field(default_factory=dict)  # (B, T, h, k)
    calls: dict[tuple[str, int], int] = field(default_factory=dict)  # calls of each module since clear()

    def clear(self) -> None:
        self.maps.clear()
        self.kernels.clear()
        self.calls.clear()

    def name(self, kind: str, module: nn.Module, names: list[str]) -> str:
        """The name of this call of ``module``: the n-th call is at its n-th position."""
        key = (kind, id(module))
        n = self.calls.get(key, 0)
        self.calls[key] = n + 1
        return names[n % len(names)]


def _recording_attend(module: nn.Module, names: list[str], seen: Captured):
    fused = module.attend  # the bound method of the class

    def attend(q, k, v, mask):
        seen.maps[seen.name("maps", module, names)] = module.attention_probs(q, k, mask).detach()
        return fused(q, k, v, mask)

    return attend


@contextlib.contextmanager
def capture(module: nn.Module, maps: bool = True, kernels: bool = True) -> Iterator[Captured]:
    """Record attention maps and convolution kernels of every capturable submodule of ``module`` while
    the context is active; everything is restored on exit. Outputs are unchanged (the fused path runs)."""
    seen = Captured()
    patched, handles = [], []
    try:
        for m, names in _by_object(attention_modules(module)) if maps else []:
            if not callable(getattr(m, "attend", None)):
                raise TypeError(f"{type(m).__name__} ({names[0]}) has attention_probs but no attend(q, k, v, mask) "
                                "to record it from")
            m.attend = _recording_attend(m, names, seen)  # an instance attribute, shadowing the class's
            patched.append(m)
        for m, names in _by_object(kernel_modules(module)) if kernels else []:
            def hook(mod, args, kwargs, output, names=names):
                seen.kernels[seen.name("kernels", mod, names)] = mod.span_kernel(*args, **kwargs).detach()

            handles.append(m.register_forward_hook(hook, with_kwargs=True))
        yield seen
    finally:
        for m in patched:
            del m.attend
        for handle in handles:
            handle.remove()
