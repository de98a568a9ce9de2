"""The weight-sharing supernet: every op a search space allows at every position, in one network.

``SuperEncoder(...)(input_ids, attention_mask, arch)`` runs exactly the path of ``arch``: the encoder that
``build_encoder(arch)`` makes, with weights taken from the supernet (:meth:`SuperEncoder.path_state` gives
them under that encoder's names, so they copy into it one to one). Embeddings, absolute positions, the
final LayerNorm and the masked-LM head are shared by every path.

Each path runs the built op's own code: the supernet keeps one parameter-free module per setting (a
*template*, whose parameters are replaced by ``torch.func.functional_call`` with the setting's slice of
the shared weights), so nothing of an op is written twice and every op of the registry works unchanged.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from ..config import ModelConfig
from ..heads import MaskedLMHead
from ..model import init_weights, make_sublayer
from ..positional import AbsolutePositions
from ..spec import Architecture, LayerSpec
from .choice import SharedChoice, group_settings


def space_slots(space) -> list[list[LayerSpec]]:
    """Per position, every setting a candidate of ``space`` may put there."""
    slots = space.slot_ops()
    settings = {op: space.settings(op) for op in dict.fromkeys(op for ops in slots for op in ops)}
    return [[s for op in ops for s in settings[op]] for ops in slots]


def _stateless(module: nn.Module) -> nn.Module:
    """``module`` with its parameters removed (set to None): a template for ``functional_call``, which
    puts the shared weights in their place for one call. Buffers stay (rotary tables, block indices)."""
    for sub in module.modules():
        for name in [n for n, p in sub.named_parameters(recurse=False)]:
            sub.register_parameter(name, None)
    return module


class SuperEncoder(nn.Module):
    """Token embeddings (+ absolute positions) -> one chosen sublayer per position -> LayerNorm.

    Args:
        slots: per position, the settings (LayerSpecs) the supernet holds there (:func:`space_slots`).
        vocab_size, max_len: as for :class:`~layernas.search_space.model.Encoder`.
        config: sizes, dropout and position scheme, as for a built encoder.

    Shape:
        input_ids (B, T) long, attention_mask (B, T) bool/int with 1 = real token (or None), arch: an
        :class:`Architecture` of ``len(slots)`` sublayers, each held at its position -> (B, T, D).
    """

    def __init__(self, slots: list[list[LayerSpec]], vocab_size: int, max_len: int, config: ModelConfig) -> None:
        super().__init__()
        self.config, self.max_len = config, max_len
        self.embed = nn.Embedding(vocab_size, config.d_model)
        use_table = config.position in ("learned", "sinusoidal")
        self.positions = AbsolutePositions(config.position, max_len, config.d_model) if use_table else None
        self.dropout = nn.Dropout(config.dropout)
        self.slots = nn.ModuleList()
        self.index: list[dict[LayerSpec, str]] = []  # per position: setting -> its choice's name
        for specs in slots:
            choices, index = nn.ModuleDict(), {}
            for op in dict.fromkeys(s.op for s in specs):
                for group in group_settings(op, [s for s in specs if s.op == op], config.d_model):
                    choices[group.name] = SharedChoice(group, config)
                    index.update({m: group.name for m in group.members})
            self.slots.append(choices)
            self.index.append(index)
        self.norm = nn.LayerNorm(config.d_model, eps=config.norm_eps)
        self.apply(init_weights)  # as a built encoder is initialised; templates come after, without weights
        distinct = list(dict.fromkeys(s for index in self.index for s in index))
        self.template_names = {s: f"t{i}" for i, s in enumerate(distinct)}
        self.templates = nn.ModuleDict({name: _stateless(make_sublayer(s, config).op)
                                        for s, name in self.template_names.items()})
        check_rules(self)

    @classmethod
    def from_space(cls, space, vocab_size: int, max_len: int) -> SuperEncoder:
        return cls(space_slots(space), vocab_size, max_len, space.model)

    def path(self, arch: Architecture) -> list[tuple[SharedChoice, LayerSpec]]:
        """The choice and setting each sublayer of ``arch`` runs; a sublayer tied to an earlier one
        (``^``) runs that one's choice again. A one-line ValueError when the supernet does not hold it."""
        if len(arch) != len(self.slots):
            raise ValueError(f"the supernet has {len(self.slots)} positions; the architecture has {len(arch)} "
                             f"sublayers ({arch})")
        out = []
        for i, tie in enumerate(arch.ties()):
            at = i if tie is None else tie
            spec = replace(arch[at], shared=False)
            name = self.index[at].get(spec)
            if name is None:
                held = ", ".join(str(s) for s in self.index[at])
                raise ValueError(f"{arch[i]} at sublayer {i} is not in the supernet; position {at} holds: {held}")
            out.append((self.slots[at][name], spec))
        return out

    def template(self, spec: LayerSpec) -> nn.Module:
        return self.templates[self.template_names[spec]]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None,
                arch: Architecture) -> torch.Tensor:
        path = self.path(arch)
        T = input_ids.shape[1]
        if T > self.max_len:
            raise ValueError(f"sequence length {T} exceeds max_len={self.max_len}")
        mask = None if attention_mask is None else attention_mask.bool()
        if mask is not None and bool(mask.all()):
            mask = None  # as the built encoder: lets SDPA pick its unmasked kernels
        x = self.embed(input_ids)  # (B, T, D)
        if self.positions is not None:
            x = self.positions(x)
        x = self.dropout(x)
        for choice, spec in path:
            x = choice(x, mask, spec, self.template(spec))
        return self.norm(x)

    def path_state(self, arch: Architecture) -> dict[str, torch.Tensor]:
        """The weights of ``build_encoder(arch)`` taken from the supernet, under that encoder's names."""
        out = {f"embed.{k}": v for k, v in self.embed.state_dict(keep_vars=True).items()}
        if self.positions is not None:
            out.update({f"positions.{k}": v for k, v in self.positions.state_dict(keep_vars=True).items()})
        for i, (choice, spec) in enumerate(self.path(arch)):
            out.update({f"layers.{i}.norm.{k}": v for k, v in choice.norm.state_dict(keep_vars=True).items()})
            buffers = self.template(spec).state_dict(keep_vars=True)  # persistent buffers only: no parameters
            out.update({f"layers.{i}.op.{k}": v for k, v in {**buffers, **choice.weights(spec)}.items()})
        out.update({f"norm.{k}": v for k, v in self.norm.state_dict(keep_vars=True).items()})
        return out


def check_rules(encoder: SuperEncoder) -> None:
    """Every setting's slice of the shared weights must have the names and shapes its own module has: a
    rule that does not fit its op (a renamed parameter, a changed layout) is a one-line error here."""
    for choices in encoder.slots:
        for choice in choices.values():
            for spec in choice.group.members:
                if spec == choice.group.big:
                    continue  # the shared module itself: nothing is cut
                want = {n: tuple(p.shape) for n, p in make_sublayer(spec, encoder.config).op.named_parameters()}
                try:
                    got = {n: tuple(t.shape) for n, t in choice.weights(spec).items()}
                except (KeyError, RuntimeError, IndexError) as e:
                    raise ValueError(f"the sharing rules of {spec.op} do not fit its module at {spec}: "
                                     f"{type(e).__name__}: {e}") from None
                if got != want:
                    bad = sorted(n for n in set(got) | set(want) if got.get(n) != want.get(n))[0]
                    raise ValueError(f"the sharing rules of {spec.op} give {bad} the shape {got.get(bad)} at {spec}; "
                                     f"its module has {want.get(bad)}")


class SuperMaskedLM(nn.Module):
    """Supernet encoder + the tied masked-LM head of :class:`~layernas.search_space.MaskedLM`.

    Shape: as :class:`SuperEncoder`, with ``positions`` (B, T) bool: logits only there, (N, V).
    """

    def __init__(self, encoder: SuperEncoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = MaskedLMHead(encoder.embed, encoder.config.norm_eps)

    def forward(self, input_ids, attention_mask, arch: Architecture, positions=None) -> torch.Tensor:
        h = self.encoder(input_ids, attention_mask, arch)  # (B, T, D)
        return self.head(h if positions is None else h[positions])

    def path_state(self, arch: Architecture) -> dict[str, torch.Tensor]:
        """The weights of ``MaskedLM(build_encoder(arch))`` (the tied decoder included)."""
        out = {f"encoder.{k}": v for k, v in self.encoder.path_state(arch).items()}
        out.update({f"head.{k}": v for k, v in self.head.state_dict(keep_vars=True).items()})
        return out
