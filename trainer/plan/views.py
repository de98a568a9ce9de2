"""Typed views of config groups: a frozen dataclass per group, built from the group's mapping with every
unknown key refused in one line (the YAML holds the defaults; the dataclass mirrors it one to one)."""

from __future__ import annotations

from dataclasses import MISSING, asdict, fields


def from_dict(cls, data: dict | None, what: str):
    """``cls(**data)``, or a one-line ValueError naming the first unknown key and the allowed ones."""
    data = dict(data or {})
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown {what} key {unknown[0]!r}; allowed: {', '.join(sorted(names))}")
    required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    missing = [name for name in required if name not in data]
    if missing:
        raise ValueError(f"{what} config has no {missing[0]!r}; it needs: {', '.join(required)}")
    return cls(**data)


def plain(view) -> dict:
    """A typed view as plain YAML- and JSON-safe data (tuples as lists)."""

    def listed(value):
        if isinstance(value, dict):
            return {k: listed(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [listed(v) for v in value]
        return value

    return listed(asdict(view))
