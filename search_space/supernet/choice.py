"""One op at one position of a supernet: the settings of the op that share one set of weights.

The settings an op may take at a position are grouped: settings that differ only in keys with a sharing
rule (:mod:`.sharing`) share one module, built at the largest value of each sliced key; every distinct
value of a key without a rule starts a group of its own (no sharing).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from ..config import ModelConfig
from ..model import make_sublayer
from ..ops import get_op
from ..spec import LayerSpec
from .sharing import State, rule


@dataclass(frozen=True)
class Group:
    """Settings of one op that share weights: ``big`` is the setting the shared module is built at;
    ``shared`` the keys whose values the members may differ in (in the op's key order)."""

    name: str
    big: LayerSpec
    shared: tuple[str, ...]
    members: tuple[LayerSpec, ...]


def group_settings(op: str, specs: list[LayerSpec], d_model: int) -> list[Group]:
    """Split the settings ``specs`` of ``op`` into groups that share weights."""
    keys = get_op(op).key_names
    varying = [k for k in keys if len({s.kwargs[k] for s in specs}) > 1]
    shared = tuple(k for k in varying if rule(op, k) is not None)
    split = [k for k in varying if k not in shared]
    groups: dict[tuple, list[LayerSpec]] = {}
    for s in specs:
        groups.setdefault(tuple(s.kwargs[k] for k in split), []).append(s)
    out = []
    for values, members in groups.items():
        name = op + "".join(f"_{k}{v}" for k, v in zip(split, values, strict=True))
        big = _largest(op, members, shared, d_model)
        if big is not None:
            out.append(Group(name, big, shared, tuple(members)))
        else:  # the largest values do not fit together: one module per setting
            out += [Group(f"{name}_{i}", m, (), (m,)) for i, m in enumerate(members)]
    return out


def _largest(op: str, members: list[LayerSpec], shared: tuple[str, ...], d_model: int) -> LayerSpec | None:
    """The valid setting with the largest value of every sliced key (None when they do not fit together);
    keys whose rule shares the weights as they are keep a member's value."""
    sliced = [k for k in shared if rule(op, k).slice is not None]
    top = {k: max(m.kwargs[k] for m in members) for k in sliced}
    for m in members:
        try:
            return LayerSpec.make(op, d_model, **{**m.kwargs, **top})
        except ValueError:
            continue
    return None


class SharedChoice(nn.Module):
    """A pre-norm residual sublayer like :class:`~layernas.search_space.model.Sublayer` whose op serves a
    group of settings: ``forward(x, mask, spec, template)`` runs ``template`` (a module of ``spec``'s
    class and keys, whose own parameters are unused) with ``spec``'s slice of the shared weights.

    Args:
        group: the settings served and how they share (:class:`Group`).
        config: model width, dropout and position options, as for a built encoder.

    Shape:
        x: (B, T, D), mask: (B, T) bool (True = real token) or None -> (B, T, D).
    """

    def __init__(self, group: Group, config: ModelConfig) -> None:
        super().__init__()
        built = make_sublayer(group.big, config)
        self.norm, self.op, self.dropout = built.norm, built.op, built.dropout
        self.group = group

    def weights(self, spec: LayerSpec) -> State:
        """The op's parameters for ``spec``, cut from the shared ones (names as in a built module)."""
        state = dict(self.op.named_parameters())
        keys = dict(self.group.big.kwargs)
        for key in self.group.shared:
            value = spec.kwargs[key]
            share = rule(spec.op, key)
            if value != keys[key] and share.slice is not None:
                state = share.slice(state, keys, value)
            keys[key] = value
        return state

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, spec: LayerSpec,
                template: nn.Module) -> torch.Tensor:
        return x + self.dropout(functional_call(template, self.weights(spec), (self.norm(x), mask)))
