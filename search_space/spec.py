"""The architecture grammar: ``Architecture`` (a validated sequence of ``LayerSpec`` sublayers).

Text form: whitespace-separated sublayers, each ``op`` or ``op(key=value,...)``, e.g.
``sdconv(k=9) ffn sa ffn bsa(b=4) ffn(r=2)``. ``str()`` is canonical: every key of every sublayer is
written, in the registry's order (keys with a fixed default only when they differ from it), so
``Architecture.parse(str(a)) == a``. A value is an integer, or a word for a key that takes names
(``ffn(a=relu)``). A trailing ``^`` ties a sublayer's weights to the nearest earlier sublayer with the
same op and keys (ALBERT's cross-layer sharing): ``sa ffn sa^ ffn^`` applies one layer's weights twice.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from .config import ModelConfig
from .ops import OPS, get_op

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY_DEFAULTS = ModelConfig().key_defaults
SHARE = "^"  # suffix: the sublayer reuses the weights of the nearest earlier one with the same op and keys


@dataclass(frozen=True)
class LayerSpec:
    """One sublayer: an op name and its keys, in canonical order, e.g. ``LayerSpec("sa", (("h", 4),))``.

    ``params`` holds the keys a canonical string writes (a fixed-default key only off its default);
    ``kwargs`` every key's value. ``shared``: the ``^`` mark (see :meth:`Architecture.ties`).
    """

    op: str
    params: tuple[tuple[str, int | str], ...] = ()
    shared: bool = False

    @property
    def kwargs(self) -> dict[str, int | str]:
        """Every key's value, the fixed-default keys that ``params`` leaves out included."""
        given = dict(self.params)
        opdef = OPS.get(self.op)
        if opdef is None:
            return given
        return {k.name: given.get(k.name, k.fixed) for k in opdef.keys if k.name in given or k.fixed is not None}

    def __getitem__(self, key: str) -> int | str:
        return self.kwargs[key]

    def __str__(self) -> str:
        mark = SHARE if self.shared else ""
        if not self.params:
            return self.op + mark
        return f"{self.op}({','.join(f'{k}={v}' for k, v in self.params)}){mark}"

    @classmethod
    def make(cls, op: str, d_model: int | None = None, defaults: dict | None = None,
             source: str | None = None, shared: bool = False, **given: int | str) -> LayerSpec:
        """Validate an op and its keys, filling omitted keys from ``defaults`` (ModelConfig field names) or
        their fixed default."""
        source = source or str(cls(op, tuple(given.items())))
        opdef = get_op_in(op, source)
        defaults = {**_KEY_DEFAULTS, **(defaults or {})}
        unknown = [k for k in given if k not in opdef.key_names]
        if unknown:
            allowed = ", ".join(opdef.key_names) or "none"
            raise ValueError(f"unknown key {unknown[0]!r} in {source!r}; keys allowed for {op}: {allowed}")
        values = {}
        for key in opdef.keys:
            value = given.get(key.name, key.fixed if key.default is None else defaults[key.default])
            if value is None and key.derive is not None:
                value = key.derive(**values)
            if not key.accepts(value):
                raise ValueError(f"{key.name}={value!r} in {source!r} is not allowed; {key.name} must be {key.allowed}")
            values[key.name] = value
        problem = opdef.sizes(d_model, **values)
        if problem:
            raise ValueError(f"{problem} in {source!r}")
        return cls(op, _written(op, values), shared)

    @classmethod
    def parse(cls, text: str, d_model: int | None = None, defaults: dict | None = None) -> LayerSpec:
        """Parse one sublayer such as ``bsa(b=4)`` or ``ffn``."""
        token = text.strip()
        shared = token.endswith(SHARE)
        body = token[:-len(SHARE)] if shared else token
        m = _NAME.match(body)
        if not m:
            raise ValueError(f"bad sublayer {text!r}: expected op or op(key=value,...)")
        op, rest = m.group(), body[m.end():]
        get_op_in(op, token)
        given = _parse_keys(rest, token) if rest else {}
        return cls.make(op, d_model, defaults, source=token, shared=shared, **given)

    def canonical(self) -> LayerSpec:
        """The equivalent spec that builds the same network (e.g. ``bsa(b=1,h=4)`` -> ``sa(h=4)``)."""
        opdef = get_op(self.op)
        if opdef.canonical is None:
            return self
        op, keys = opdef.canonical(**self.kwargs)
        return LayerSpec(op, _written(op, keys), self.shared)


def _written(op: str, values: dict) -> tuple[tuple[str, int | str], ...]:
    """The keys a canonical string of ``op`` writes, in the registry's order."""
    return tuple((key.name, values[key.name]) for key in get_op(op).keys
                 if key.name in values and key.written(values[key.name]))


def get_op_in(op: str, source: str):
    try:
        return get_op(op)
    except ValueError as e:
        raise ValueError(f"{e} (in {source!r})") from None


def _parse_keys(rest: str, token: str) -> dict[str, int | str]:
    if not (rest.startswith("(") and rest.endswith(")")) or rest.count("(") != 1 or rest.count(")") != 1:
        raise ValueError(f"bad sublayer {token!r}: expected op or op(key=value,...)")
    given: dict[str, int | str] = {}
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
            if not _NAME.fullmatch(value):  # a word is kept for the keys that take names; make() checks
                raise ValueError(f"{key}={value!r} in {token!r} is not an integer") from None
            given[key] = value
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
        out: dict = {"layers": [{"op": s.op, **dict(s.params), **({"shared": True} if s.shared else {})}
                                for s in self.layers]}
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
            if spec.shared:
                out[f"l{i:02d}/shared"] = True
        return out

    def ties(self) -> tuple[int | None, ...]:
        """For each sublayer, the index of the earlier sublayer whose module (weights) it reuses, else None.

        A sublayer marked ``^`` reuses the module of the nearest earlier sublayer that builds the same one
        (the same canonical op and keys), and so that one's own tie: ``sa ffn sa^ ffn^ sa^ ffn^`` gives
        (None, None, 0, 1, 0, 1), ALBERT's all-shared layer. A mark with no such earlier sublayer ties
        nothing (``sa^ ffn`` is ``sa ffn``).
        """
        plain = [(c.op, c.params) for c in (s.canonical() for s in self.layers)]
        ties: list[int | None] = []
        for i, spec in enumerate(self.layers):
            j = next((j for j in range(i - 1, -1, -1) if plain[j] == plain[i]), None) if spec.shared else None
            ties.append(None if j is None else (j if ties[j] is None else ties[j]))
        return tuple(ties)

    def key(self) -> str:
        """Short hash shared by every architecture that builds the same network."""
        text = " ".join(str(replace(s.canonical(), shared=tie is not None))
                        for s, tie in zip(self.layers, self.ties(), strict=True))
        if self.d_model is not None:
            text += f" @d={self.d_model}"
        return hashlib.sha1(text.encode()).hexdigest()[:12]
