"""The architecture grammar: ``Architecture`` (a validated sequence of ``LayerSpec`` sublayers).

Text form: whitespace-separated sublayers, each ``op`` or ``op(key=value,...)``, e.g.
``sdconv(k=9) ffn sa ffn bsa(b=4) ffn(r=2)``. ``str()`` is canonical: every key of every sublayer is
written, in the registry's order, so ``Architecture.parse(str(a)) == a``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .config import ModelConfig
from .ops import get_op

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY_DEFAULTS = ModelConfig().key_defaults


@dataclass(frozen=True)
class LayerSpec:
    """One sublayer: an op name and its keys, in canonical order, e.g. ``LayerSpec("sa", (("h", 4),))``."""

    op: str
    params: tuple[tuple[str, int], ...] = ()

    @property
    def kwargs(self) -> dict[str, int]:
        return dict(self.params)

    def __getitem__(self, key: str) -> int:
        return self.kwargs[key]

    def __str__(self) -> str:
        if not self.params:
            return self.op
        return f"{self.op}({','.join(f'{k}={v}' for k, v in self.params)})"

    @classmethod
    def make(cls, op: str, d_model: int | None = None, defaults: dict | None = None,
             source: str | None = None, **given: int) -> LayerSpec:
        """Validate an op and its keys, filling omitted keys from ``defaults`` (ModelConfig field names)."""
        source = source or str(cls(op, tuple(given.items())))
        opdef = get_op_in(op, source)
        defaults = {**_KEY_DEFAULTS, **(defaults or {})}
        unknown = [k for k in given if k not in opdef.key_names]
        if unknown:
            allowed = ", ".join(opdef.key_names) or "none"
            raise ValueError(f"unknown key {unknown[0]!r} in {source!r}; keys allowed for {op}: {allowed}")
        values = {}
        for key in opdef.keys:
            value = given.get(key.name, defaults[key.default])
            if isinstance(value, bool) or not isinstance(value, int) or not key.check(value):
                raise ValueError(f"{key.name}={value!r} in {source!r} is not allowed; {key.name} must be {key.allowed}")
            values[key.name] = value
        problem = opdef.sizes(d_model, **values)
        if problem:
            raise ValueError(f"{problem} in {source!r}")
        return cls(op, tuple(values.items()))

    @classmethod
    def parse(cls, text: str, d_model: int | None = None, defaults: dict | None = None) -> LayerSpec:
        """Parse one sublayer such as ``bsa(b=4)`` or ``ffn``."""
        token = text.strip()
        m = _NAME.match(token)
        if not m:
            raise ValueError(f"bad sublayer {text!r}: expected op or op(key=value,...)")
        op, rest = m.group(), token[m.end():]
        get_op_in(op, token)
        given = _parse_keys(rest, token) if rest else {}
        return cls.make(op, d_model, defaults, source=token, **given)

    def canonical(self) -> LayerSpec:
        """The equivalent spec that builds the same network (e.g. ``bsa(b=1,h=4)`` -> ``sa(h=4)``)."""
        opdef = get_op(self.op)
        if opdef.canonical is None:
            return self
        op, keys = opdef.canonical(**self.kwargs)
        return LayerSpec(op, tuple(keys.items()))


def get_op_in(op: str, source: str):
    try:
        return get_op(op)
    except ValueError as e:
        raise ValueError(f"{e} (in {source!r})") from None


def _parse_keys(rest: str, token: str) -> dict[str, int]:
    if not (rest.startswith("(") and rest.endswith(")")) or rest.count("(") != 1 or rest.count(")") != 1:
        raise ValueError(f"bad sublayer {token!r}: expected op or op(key=value,...)")
    given: dict[str, int] = {}
    body = rest[1:-1].strip()
    for item in body.split(",") if body else []:
        key, eq, value = (s.strip() for s in item.partition("="))
        if not eq or not _NAME.fullmatch(key) or not value:
            raise ValueError(f"bad key=value {item.strip()!r} in {token!r}: expected key=integer")
        if key in given:
            raise ValueError(f"key {key!r} given twice in {token!r}")
        try:
            given[key] = int(value)
        except ValueError:
            raise ValueError(f"{key}={value!r} in {token!r} is not an integer") from None
    return given


def split_sublayers(text: str) -> list[str]:
    """Split on whitespace outside parentheses: ``"sdconv(k=9, h=4) ffn"`` -> two sublayers."""
    parts, current, depth = [], [], 0
    for ch in text:
        if ch == "(":
            depth += 1
            if depth > 1:
                raise ValueError(f"nested parentheses in {text!r}")
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced ')' in {text!r}")
        if ch.isspace() and depth == 0:
            if current:
                parts.append("".join(current))
                current = []
        else:
            current.append(ch)
    if depth:
        raise ValueError(f"unclosed '(' in {text!r}")
    if current:
        parts.append("".join(current))
    return parts


@dataclass(frozen=True)
class Architecture:
    """A validated layer pattern: a tuple of :class:`LayerSpec`, and optionally the d_model it was
    validated against (then ``build_encoder`` uses it)."""

    layers: tuple[LayerSpec, ...]
    d_model: int | None = None

    @classmethod
    def parse(cls, text: str | Iterable[str | LayerSpec] | Architecture, d_model: int | None = None,
              **defaults: int) -> Architecture:
        """Parse and validate a pattern.

        ``text`` is a string such as ``"sdconv(k=9) ffn sa ffn"``, or a sequence of sublayer strings or
        LayerSpecs. ``defaults`` are ModelConfig fields (n_heads, ffn_ratio, kernel_size, n_blocks,
        head_ratio) used for keys a sublayer omits. With ``d_model`` given, sizes are checked against it.
        """
        if isinstance(text, Architecture):
            text = [str(layer) for layer in text.layers]
        unknown = set(defaults) - set(_KEY_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown default {sorted(unknown)[0]!r}; allowed: {', '.join(_KEY_DEFAULTS)}")
        items = split_sublayers(text) if isinstance(text, str) else [str(t) for t in text]
        if not items:
            raise ValueError(f"empty architecture {text!r}: give at least one sublayer, e.g. 'sa ffn'")
        return cls(tuple(LayerSpec.parse(item, d_model, defaults) for item in items), d_model)

    def __str__(self) -> str:
        return " ".join(str(layer) for layer in self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[LayerSpec]:
        return iter(self.layers)

    def __getitem__(self, i: int) -> LayerSpec:
        return self.layers[i]

    def to_dict(self) -> dict:
        out: dict = {"layers": [{"op": s.op, **s.kwargs} for s in self.layers]}
        if self.d_model is not None:
            out["d_model"] = self.d_model
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Architecture:
        layers = [LayerSpec.make(**{k: v for k, v in item.items()}, d_model=data.get("d_model"))
                  for item in data["layers"]]
        return cls(tuple(layers), data.get("d_model"))

    def flat(self) -> dict[str, object]:
        """Flat view for trackers: ``{"l00/op": "sa", "l00/h": 4, ...}``."""
        out: dict[str, object] = {}
        for i, spec in enumerate(self.layers):
            out[f"l{i:02d}/op"] = spec.op
            out.update({f"l{i:02d}/{k}": v for k, v in spec.params})
        return out

    def key(self) -> str:
        """Short hash shared by every architecture that builds the same network."""
        text = " ".join(str(s.canonical()) for s in self.layers)
        if self.d_model is not None:
            text += f" @d={self.d_model}"
        return hashlib.sha1(text.encode()).hexdigest()[:12]
