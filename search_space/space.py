"""Search spaces: which sublayer goes where, sampled define-by-run from an Optuna-style trial.

A space is data: a structure (``free``: every slot picks any allowed op, LV-BERT's free order;
``interleaved``: mixer/feed-forward pairs with the mixer searched, ConvBERT/BlockBERT style;
``sandwich``: the Sandwich transformer's s^k (sf)^(n-k) f^k with k in 0..n-1 searched; k=n would repeat
k=n-1), the allowed ops, the value
domains of their keys, cost constraints and the named baselines to enqueue first. Trial parameters have
flat, stable names (``l03.op``, ``l03.k``; ``sandwich.k``). With ``share`` (free and interleaved), every
slot after the first also picks whether it reuses the weights of the nearest earlier sublayer with the
same op and keys (``l03.share``; ALBERT's cross-layer sharing, the ``^`` of the grammar).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import product

from .config import ModelConfig
from .cost import base_params, encoder_params, flops, op_flops, sublayer_params
from .ops import OPS, get_op
from .spec import Architecture, LayerSpec

STRUCTURES = ("free", "interleaved", "sandwich")


def _sandwich(n: int, k: int) -> list[str]:
    """s^k (sf)^(n-k) f^k with n attention and n feed-forward sublayers."""
    return ["sa"] * k + ["sa", "ffn"] * (n - k) + ["ffn"] * k


BASELINES: dict[str, Callable[[int], list[str]]] = {
    "bert": lambda n: ["sa", "ffn"] * (n // 2),
    "convbert": lambda n: ["mixed(k=9)", "ffn"] * (n // 2),
    "dynamicconv": lambda n: ["dconv(k=9)", "ffn"] * (n // 2),
    "lvconv": lambda n: ["lvconv(k=9)", "ffn"] * (n // 2),
    "blockbert": lambda n: ["bsa(b=2)", "ffn"] * (n // 2),
    "sandwich": lambda n: _sandwich(n // 2, n // 4),
    "all_ffn": lambda n: ["ffn"] * n,
    # Chelombiev et al. 2021: convolution module, grouped FFN, attention, grouped FFN (span 7, 4 FFN groups)
    "groupbert": lambda n: ["gconv(k=7)", "ffn(g=4)", "sa", "ffn(g=4)"] * (n // 4),
    # Lan et al. 2020: one attention + FFN layer's weights applied at every depth (all-shared ALBERT)
    "albert": lambda n: ["sa", "ffn"] + ["sa^", "ffn^"] * (n // 2 - 1) if n >= 4 else [],
}


@dataclass(frozen=True)
class SearchSpace:
    """A search space over ``n_sublayers`` sublayers (see the module docstring for the structures).

    ``domains`` maps grammar keys (h, k, b, r, hr) to the values the search may pick; a key without a
    domain keeps the model config's default. ``max_params`` bounds the encoder's parameters (embeddings
    included) and ``max_flops`` its forward FLOPs per sequence of ``seq_len`` tokens. ``fixed_length``
    makes every trial suggest the same parameters (see :meth:`sample`). ``share`` searches which sublayers
    reuse an earlier one's weights (see the module docstring).
    """

    name: str
    structure: str
    n_sublayers: int
    ops: tuple[str, ...]
    model: ModelConfig = field(default_factory=ModelConfig)
    domains: dict[str, tuple[int, ...]] = field(default_factory=dict)
    baselines: tuple[str, ...] = ("bert",)
    max_params: int | None = None
    max_flops: int | None = None
    vocab_size: int = 8000
    seq_len: int = 128
    fixed_length: bool = False
    share: bool = False

    def __post_init__(self) -> None:
        if self.structure not in STRUCTURES:
            raise ValueError(f"space.structure={self.structure!r} is not allowed; allowed: {', '.join(STRUCTURES)}")
        if self.n_sublayers < 1 or (self.structure != "free" and self.n_sublayers % 2):
            raise ValueError(f"space.n_sublayers={self.n_sublayers} must be >= 1 (and even for {self.structure})")
        for op in self.ops:
            get_op(op)
        keys = {k.name for op in OPS.values() for k in op.keys}
        for key, values in self.domains.items():
            if key not in keys:
                raise ValueError(f"space.domains has unknown key {key!r}; allowed: {', '.join(sorted(keys))}")
            if not values:
                raise ValueError(f"space.domains.{key} is empty; give at least one value")
            specs = [k for op in OPS.values() for k in op.keys if k.name == key]
            bad = [v for v in values if not any(k.accepts(v) for k in specs)]
            if bad:
                raise ValueError(f"space.domains.{key} has {bad[0]!r}; allowed: {specs[0].allowed}")
        if self.share and self.structure == "sandwich":
            raise ValueError("space.share=true is not allowed with structure=sandwich; allowed: free, interleaved")
        unknown = [b for b in self.baselines if b not in BASELINES]
        if unknown:
            raise ValueError(f"unknown baseline {unknown[0]!r}; allowed: {', '.join(BASELINES)}")
        # ascending and without repeats: a key's position in its domain is what samplers see
        object.__setattr__(self, "domains", {k: tuple(sorted(set(v))) for k, v in self.domains.items()})

    # ---- sampling -------------------------------------------------------------------------------
    def sample(self, trial) -> Architecture:
        """Suggest an architecture (define-by-run): ``suggest_categorical`` for a slot's op, and
        ``suggest_int`` over the position in its domain for an ordered key (``h``, ``k``, ``b``, ``r``,
        ``hr``), so that samplers see that k=9 lies between k=5 and k=15.

        With ``fixed_length`` every slot suggests every key any of its ops has, whichever op it picks,
        so the space is the same for every trial (what GP and CMA-ES need); the keys the op does not
        have are ignored. Raises ValueError when the sampled keys do not fit together (e.g. a head ratio
        that does not divide the heads); the caller records such a candidate as rejected.
        """
        if self.structure == "sandwich":
            k = trial.suggest_int("sandwich.k", 0, self.n_sublayers // 2 - 1)
            return self._arch(_sandwich(self.n_sublayers // 2, k))
        specs = []
        for i, slot_ops in enumerate(self._slots()):
            name = f"l{i:02d}"
            op = trial.suggest_categorical(f"{name}.op", list(slot_ops)) if len(slot_ops) > 1 else slot_ops[0]
            asked = self._slot_keys(slot_ops) if self.fixed_length else get_op(op).key_names
            chosen = {key: self._suggest_key(trial, f"{name}.{key}", key) for key in asked}
            keys = {k: v for k, v in chosen.items() if k in get_op(op).key_names and v is not None}
            shared = self.share and i > 0 and trial.suggest_categorical(f"{name}.share", [False, True])
            specs.append(LayerSpec.make(op, self.model.d_model, self.model.key_defaults, shared=shared, **keys))
        return Architecture(tuple(specs), self.model.d_model)

    def _suggest_key(self, trial, name: str, key: str) -> int | str | None:
        """A key's value from its domain (None: no domain, the model config's default applies). A key that
        takes names (``a``) is categorical: its values have no order."""
        values = self.domains.get(key, ())
        if len(values) > 1 and _named(values):
            return trial.suggest_categorical(name, list(values))
        if len(values) > 1:
            index = trial.suggest_int(name, 0, len(values) - 1)
            if not 0 <= index < len(values):  # a queued trial may fix any value
                raise ValueError(f"{name}={index} is not a position in space.domains.{key}={list(values)}; "
                                 f"allowed: 0..{len(values) - 1}")
            return values[index]
        return values[0] if values else None

    def _slot_keys(self, slot_ops: tuple[str, ...]) -> list[str]:
        return sorted({key for op in slot_ops for key in get_op(op).key_names})

    def _slots(self) -> list[tuple[str, ...]]:
        if self.structure == "free":
            return [self.ops] * self.n_sublayers
        return [self.ops, ("ffn",)] * (self.n_sublayers // 2)

    def slot_ops(self) -> list[tuple[str, ...]]:
        """The ops each position may hold in some candidate (a sandwich's positions hold either op,
        depending on its k): what a weight-sharing supernet must hold at each position."""
        if self.structure == "sandwich":
            return [self.ops] * self.n_sublayers
        return self._slots()

    def _arch(self, items: list[str]) -> Architecture:
        return Architecture.parse(items, self.model.d_model, **self.model.key_defaults)

    # ---- baselines --------------------------------------------------------------------------------
    def encode(self, arch: Architecture) -> dict | None:
        """The trial parameters that make ``sample`` return ``arch``, or None if the space cannot."""
        if len(arch) != self.n_sublayers:
            return None
        if self.structure == "sandwich":
            for k in range(self.n_sublayers // 2):
                if self._arch(_sandwich(self.n_sublayers // 2, k)) == arch:
                    return {"sandwich.k": k}
            return None
        params: dict = {}
        for i, (spec, slot_ops) in enumerate(zip(arch, self._slots(), strict=True)):
            if spec.op not in slot_ops:
                return None
            if len(slot_ops) > 1:
                params[f"l{i:02d}.op"] = spec.op
            if self.share and i > 0:
                params[f"l{i:02d}.share"] = spec.shared
            elif spec.shared:
                return None
            for key, value in spec.kwargs.items():
                values = self.domains.get(key, ())
                default = values[0] if len(values) == 1 else self._default(spec, key)
                if len(values) > 1 and value in values:
                    params[f"l{i:02d}.{key}"] = value if _named(values) else values.index(value)
                elif (len(values) > 1 and value not in values) or (len(values) <= 1 and value != default):
                    return None
        return params

    def _default(self, spec: LayerSpec, key: str) -> int:
        """The value ``key`` takes in ``spec`` when a trial does not set it (derived keys depend on the rest)."""
        rest = {k: v for k, v in spec.params if k != key}
        return LayerSpec.make(spec.op, self.model.d_model, self.model.key_defaults, **rest)[key]

    def baseline_archs(self) -> dict[str, Architecture]:
        """The named baselines this space can express (the others are left out)."""
        out = {}
        for name in self.baselines:
            try:
                arch = self._arch(BASELINES[name](self.n_sublayers))
            except ValueError:
                continue
            if self.encode(arch) is not None:
                out[name] = arch
        return out

    # ---- constraints ------------------------------------------------------------------------------
    def cost(self, arch: Architecture) -> dict[str, int]:
        return {"params": encoder_params(arch, self.vocab_size, self.seq_len, self.model),
                "flops": flops(arch, self.seq_len, self.model)}

    def _limits(self) -> dict[str, int]:
        return {name: limit for name, limit in (("params", self.max_params), ("flops", self.max_flops))
                if limit is not None}

    def violations(self, arch: Architecture) -> dict[str, int]:
        """By how much ``arch`` exceeds each set constraint (``max_params``, ``max_flops``): > 0 breaks
        it, <= 0 meets it (Optuna's convention for constraint values)."""
        cost = self.cost(arch)
        return {f"max_{name}": cost[name] - limit for name, limit in self._limits().items()}

    def violation(self, arch: Architecture) -> str | None:
        """Why ``arch`` breaks a constraint, or None."""
        cost = self.cost(arch)
        for name, limit in self._limits().items():
            if cost[name] > limit:
                return f"{name} {cost[name]:,} > max_{name} {limit:,}"
        return None

    def smallest(self) -> dict[str, int]:
        """Lower bounds of params and FLOPs over the space (each minimised slot by slot)."""
        if self.structure == "sandwich":
            costs = [self.cost(self._arch(_sandwich(self.n_sublayers // 2, k))) for k in
                     range(self.n_sublayers // 2)]
            return {name: min(c[name] for c in costs) for name in ("params", "flops")}
        best = {"params": base_params(self.vocab_size, self.seq_len, self.model), "flops": 0}
        for i, slot_ops in enumerate(self._slots()):
            options = [self._cheapest(op) for op in slot_ops]
            for name in best:
                if not (name == "params" and self.share and i > 0):  # a tied sublayer adds no parameters
                    best[name] += min(o[name] for o in options)
        return best

    def settings(self, op: str) -> list[LayerSpec]:
        """Every valid sublayer of ``op`` over its key domains (keys without a domain keep the default)."""
        keys = get_op(op).key_names
        choices = [self.domains.get(k) or (self._unsearched(op, k),) for k in keys]
        specs = []
        for combo in product(*choices):
            try:
                specs.append(LayerSpec.make(op, self.model.d_model, **dict(zip(keys, combo, strict=True))))
            except ValueError:
                continue
        if not specs:
            raise ValueError(f"space={self.name}: no valid setting of {op} under the given domains")
        return specs

    def _unsearched(self, op: str, key: str) -> int | str | None:
        """The value of ``key`` of ``op`` without a domain: the model config's, or the key's fixed default."""
        spec = next(k for k in get_op(op).keys if k.name == key)
        return spec.fixed if spec.default is None else getattr(self.model, spec.default)

    def _cheapest(self, op: str) -> dict[str, int]:
        """Smallest params and FLOPs of one sublayer of ``op`` over its key domains."""
        specs = self.settings(op)
        return {"params": min(sublayer_params(s, self.model.d_model) for s in specs),
                "flops": min(op_flops(s, self.seq_len, self.model.d_model) for s in specs)}

    def largest(self, size: Callable[[LayerSpec], float]) -> Architecture:
        """A candidate with the largest ``sum(size(sublayer))``: each slot takes its largest setting (every
        sandwich has the same sublayers, so any k will do). A bound for memory checks."""
        if self.structure == "sandwich":
            return self._arch(_sandwich(self.n_sublayers // 2, 0))
        best = {ops: max((s for op in ops for s in self.settings(op)), key=size) for ops in set(self._slots())}
        return Architecture(tuple(best[ops] for ops in self._slots()), self.model.d_model)

    def check_feasible(self) -> None:
        """Raise a one-line ValueError when no candidate can meet the constraints."""
        low = self.smallest()
        for name, limit in (("params", self.max_params), ("flops", self.max_flops)):
            if limit is not None and low[name] > limit:
                raise ValueError(f"space={self.name} has no candidate with max_{name}={limit:,}: the smallest "
                                 f"has {low[name]:,} {name}; raise space.max_{name} or shrink the model")


def _named(values: tuple) -> bool:
    """Whether a domain holds names (a key such as ``a``) rather than ordered integers."""
    return isinstance(values[0], str)


def make_space(name: str, structure: str, n_sublayers: int, ops, model: ModelConfig, **kwargs) -> SearchSpace:
    """Build a space from config values (lists become tuples; a key set to null is not searched, so a
    config can name it and ``space.domains.k=[3,9]`` overrides it without a ``+``)."""
    domains = {k: tuple(v) for k, v in (kwargs.pop("domains", None) or {}).items() if v is not None}
    baselines = tuple(kwargs.pop("baselines", None) or ())
    return SearchSpace(name, structure, n_sublayers, tuple(ops), model, domains, baselines, **kwargs)
