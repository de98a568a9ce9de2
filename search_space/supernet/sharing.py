"""Weight-sharing rules: how one module of an op, built at the largest value of a key, gives the weights of
the same op at a smaller value (the elastic layers of HAT, AutoTinyBERT and Once-for-All).

A rule maps the op's parameters (name -> tensor, at the current values of every key) to the parameters at
another value of one key. Slices are views of the shared tensors (or differentiable gathers of them), so a
path's gradient reaches exactly the entries it used. The rules are data, registered per op with
:func:`share` in the table :data:`SHARING`; a key without a rule gets one module per value (no sharing),
so every op of the registry works in a supernet, with or without rules.

Keys, values and layouts the rules below rely on (checked against the built modules whenever a supernet is
made, and by the tests for every op of the registry):

- spans ``k`` are centre crops of the largest kernel: taps on a tensor's last dimension (depthwise
  convolutions (C, 1, k), lightweight kernels (h, k)), or per head in a kernel-predicting layer whose
  outputs are (heads, k) flattened head-major (weights (h*k, in), biases (h*k,));
- heads ``h`` are the first h heads of such per-head tensors; where the parameters do not depend on h
  (attention splits the same D channels into h heads), they are shared as they are;
- the FFN ratio ``r`` keeps the first r*D hidden units of each output group: rows of the up projection,
  rows and columns of the inner layers, columns of the down projection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

State = dict[str, torch.Tensor]
# (parameters at ``keys``, the current value of every key, the new value of this rule's key) -> parameters
Slicer = Callable[[State, dict, object], State]


@dataclass(frozen=True)
class Share:
    """How the settings of one key of an op share weights. ``slice`` None: the parameters do not depend on
    the key, and every value uses them as they are; otherwise the module is built at the largest value
    and ``slice`` cuts the others out of it."""

    slice: Slicer | None = None


SAME = Share()
SHARING: dict[str, dict[str, Share]] = {}


def share(op: str, **rules: Share) -> None:
    """Register the sharing rules of ``op``'s keys (``share("ffn", r=ratio(...))``)."""
    SHARING.setdefault(op, {}).update(rules)


def rule(op: str, key: str) -> Share | None:
    """The rule for ``key`` of ``op``, or None (one module per value)."""
    return SHARING.get(op, {}).get(key)


def centre(t: torch.Tensor, dim: int, size: int) -> torch.Tensor:
    """The middle ``size`` entries of ``t`` along ``dim`` (a view)."""
    return t.narrow(dim, (t.shape[dim] - size) // 2, size)


def spans(taps: Sequence[str] = (), kernels: Sequence[str] = (), key: str = "k") -> Share:
    """Span ``key`` as a centre crop: ``taps`` hold the k taps on their last dimension; ``kernels`` are
    (n*k, ...) tensors of n heads' k taps each, head-major."""

    def cut(state: State, keys: dict, k: int) -> State:
        big = keys[key]
        out = dict(state)
        for name in taps:
            out[name] = centre(state[name], -1, k)
        for name in kernels:
            t = state[name]
            n = t.shape[0] // big
            out[name] = centre(t.reshape(n, big, *t.shape[1:]), 1, k).reshape(n * k, *t.shape[1:])  # (n*k, ...)
        return out

    return Share(cut)


def heads(rows: Sequence[str] = (), kernels: Sequence[str] = (), span: str = "k") -> Share:
    """Heads ``h`` as the first h heads: ``rows`` have one row per head ((h, k)); ``kernels`` have
    ``keys[span]`` rows per head ((h*k, ...))."""

    def cut(state: State, keys: dict, h: int) -> State:
        out = dict(state)
        for name in rows:
            out[name] = state[name][:h]
        for name in kernels:
            out[name] = state[name][: h * keys[span]]
        return out

    return Share(cut)


def rows_centre(names: Sequence[str], per: int = 2, key: str = "p") -> Share:
    """A table of ``per * value`` rows centred on its middle row (relative positions: the nearest
    offsets of a smaller table are the middle rows of a larger one)."""

    def cut(state: State, keys: dict, value: int) -> State:
        return {**state, **{name: centre(state[name], 0, per * value) for name in names}}

    return Share(cut)


def ratio(up: str = "up", inner: str = "inner", down: str = "down", key: str = "r", groups: str = "g",
          depth: str = "n") -> Share:
    """FFN width ``key`` (hidden units r*D): the first r*D/g units of each of the g groups the down
    projection reads (g=1: the first r*D units), in the up projection, the ``n-1`` inner layers and the
    down projection (a linear (D, rD) or a grouped 1x1 convolution (D, rD/g, 1))."""

    def cut(state: State, keys: dict, r: int) -> State:
        d = state[f"{up}.weight"].shape[1]
        g = keys.get(groups, 1)
        wide, narrow = keys[key] * d // g, r * d // g  # units per group, before and after
        keep = torch.cat([torch.arange(narrow) + i * wide for i in range(g)]).to(state[f"{up}.weight"].device)

        def units(t: torch.Tensor, dim: int) -> torch.Tensor:
            return t.narrow(dim, 0, narrow) if g == 1 else t.index_select(dim, keep)

        out = dict(state)
        out[f"{up}.weight"], out[f"{up}.bias"] = units(state[f"{up}.weight"], 0), units(state[f"{up}.bias"], 0)
        for j in range(keys.get(depth, 1) - 1):
            w, b = f"{inner}.{j}.weight", f"{inner}.{j}.bias"
            out[w], out[b] = units(units(state[w], 0), 1), units(state[b], 0)
        weight = state[f"{down}.weight"]
        out[f"{down}.weight"] = units(weight, 1) if g == 1 else weight[:, :narrow]  # grouped: (D, rD/g, 1)
        return out

    return Share(cut)


# ---- the rules of the registry's ops -------------------------------------------------------------------
_SPAN_CONV = ("span.key_conv.depthwise.weight",)
_SPAN_KERNEL = ("span.conv_kernel.weight", "span.conv_kernel.bias")

share("sa", h=SAME)
share("bsa", b=SAME, h=SAME, i=SAME)
share("ffn", r=ratio(), a=SAME)
share("sdconv", k=spans(_SPAN_CONV, _SPAN_KERNEL), h=heads(kernels=_SPAN_KERNEL))
share("mixed", k=spans(_SPAN_CONV, _SPAN_KERNEL))
share("lconv", k=spans(taps=("weight",)), h=heads(rows=("weight",)))
share("dconv", k=spans(kernels=("weight_linear.weight",)), h=heads(kernels=("weight_linear.weight",)))
share("lvconv", k=spans(("key_conv.depthwise.weight",), ("conv_kernel.weight", "conv_kernel.bias")),
      h=heads(kernels=("conv_kernel.weight", "conv_kernel.bias")))
share("csa", k=spans(taps=("fixed_kernel", "query_kernel")))
share("gconv", k=spans(taps=("conv.weight",)))
share("dsa", p=rows_centre(("rel_embeddings.weight",)), h=SAME)
