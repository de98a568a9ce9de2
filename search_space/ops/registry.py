"""The op registry: one place that maps an op name to its module, grammar keys, size checks and costs.

Adding an op is one new file that defines the module and calls :func:`register`, plus one import line in
``ops/__init__.py``. Nothing outside this module branches on op names.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn


@dataclass(frozen=True)
class Key:
    """A grammar key of an op, e.g. ``k`` (span).

    ``default`` names the :class:`~layernas.search_space.config.ModelConfig` field that supplies the value
    when a sublayer string omits the key. ``check`` returns True when the value is allowed (``allowed``
    says which values are, for messages). ``example`` is a small allowed value that fits any d_model
    divisible by 4 (for :attr:`OpDef.example`). ``derive``, for a key whose good default depends on the
    sublayer's other keys, computes it from them (``derive(**keys_before_it)``) when the ModelConfig field
    is None.

    A key added to an op after strings without it were written has ``default=None`` and a ``fixed`` value
    instead: an omitted key takes it whatever the model config says, and canonical strings leave the key
    out at that value, so every older string keeps its meaning, its text and its ``key()``. ``names``
    makes a key take one of these words (``ffn(a=relu)``) instead of an integer.
    """

    name: str
    default: str | None
    allowed: str
    check: Callable[[int], bool]
    example: int | str
    derive: Callable[..., int] | None = None
    fixed: int | str | None = None
    names: tuple[str, ...] = ()

    def accepts(self, value: object) -> bool:
        """Whether ``value`` is allowed: one of ``names`` for a named key, else an int that passes ``check``."""
        if self.names:
            return isinstance(value, str) and value in self.names
        return isinstance(value, int) and not isinstance(value, bool) and self.check(value)

    def written(self, value: object) -> bool:
        """Whether a canonical string writes this key at ``value`` (a fixed-default key only off it)."""
        return self.fixed is None or value != self.fixed


def _positive(v: int) -> bool:
    return v >= 1


def _odd(v: int) -> bool:
    return v >= 1 and v % 2 == 1


HEADS = Key("h", "n_heads", "an integer >= 1 that divides d_model", _positive, 4)
SPAN = Key("k", "kernel_size", "an odd integer >= 1", _odd, 5)
BLOCKS = Key("b", "n_blocks", "an integer >= 1", _positive, 4)
RATIO = Key("r", "ffn_ratio", "an integer >= 1", _positive, 2)
HEAD_RATIO = Key("hr", "head_ratio", "an integer >= 1 that divides h", _positive, 2)

def heads_divide(d_model: int | None, h: int, **_) -> str | None:
    """Size check shared by the ops whose heads split d_model evenly (skipped when d_model is unknown)."""
    return None if d_model is None or d_model % h == 0 else f"heads h={h} must divide d_model={d_model}"


SizeCheck = Callable[..., "str | None"]
Count = Callable[..., int]


@dataclass(frozen=True)
class OpDef:
    """Everything the rest of the package knows about an op.

    build:   the ``nn.Module`` class; called as ``build(d_model, **keys, **options)`` where options are the
             subset of ``dropout``/``attn_dropout``/``weight_dropout``/``rotary`` its signature accepts.
    params:  ``params(d_model, **keys)`` -> exact parameter count of the module.
    flops:   ``flops(T, d_model, **keys)`` -> forward FLOPs (2 x multiply-adds of matrix products) for one
             sequence of length T.
    sizes:   ``sizes(d_model, **keys)`` -> an error text when the keys do not fit together or do not fit
             d_model (None when unknown: only the checks between keys apply), else None.
    canonical: maps keys to an equivalent ``(op, keys)`` that builds the same network (used by ``key()``).
    activations: ``activations(T, d_model, **keys)`` -> floats the op keeps for the backward pass on one
             sequence of length T (an estimate: its matmul inputs and outputs, and score matrices where a
             kernel may materialise them); the default is 8 x T x d_model.
    reach:   ``reach(**keys)`` -> how far a position's output reaches: the output at t depends only on
             inputs t-reach .. t+reach (0 for position-wise ops), or None for global mixers (attention).
    """

    name: str
    summary: str
    keys: tuple[Key, ...]
    build: type[nn.Module]
    params: Count
    flops: Count
    sizes: SizeCheck = lambda d_model, **keys: None  # noqa: E731
    canonical: Callable[..., tuple[str, dict]] | None = None
    reach: Callable[..., int | None] = lambda **keys: None  # noqa: E731
    activations: Count = lambda T, d_model, **keys: 8 * T * d_model  # noqa: E731
    options: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        accepted = inspect.signature(self.build).parameters
        names = ("dropout", "attn_dropout", "weight_dropout", "rotary")
        object.__setattr__(self, "options", tuple(n for n in names if n in accepted))

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.keys)

    @property
    def example(self) -> str:
        """A small sublayer string that sets every key, e.g. ``bsa(b=4,h=4)``: tests build each registered
        op from it, so a new op is exercised without being listed anywhere."""
        keys = ",".join(f"{k.name}={k.example}" for k in self.keys)
        return f"{self.name}({keys})" if keys else self.name

    def make(self, d_model: int, keys: dict[str, int], **options) -> nn.Module:
        """Instantiate the module, passing only the options this op uses."""
        return self.build(d_model, **keys, **{k: v for k, v in options.items() if k in self.options})


OPS: dict[str, OpDef] = {}


def register(op: OpDef) -> OpDef:
    if op.name in OPS:
        raise ValueError(f"op {op.name!r} is already registered")
    OPS[op.name] = op
    return op


def get_op(name: str) -> OpDef:
    try:
        return OPS[name]
    except KeyError:
        raise ValueError(f"unknown op {name!r}; allowed ops: {', '.join(sorted(OPS))}") from None
