"""``compare.*`` (mirrors ``conf/compare.yaml``), checked in one line each."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

ARM_NAME = re.compile(r"^[A-Za-z0-9_]+$")  # part of a study name: <name>-<arm>-s<seed>
STRATEGIES = {"supernet": ("strategy=supernet",)}
DEFAULT_ARMS = ("tpe", "random")  # compare.arms=null: does the default sampler beat random sampling?


def builtin_arms(conf_dir: Path) -> dict[str, tuple[str, ...]]:
    """Each sampler of ``conf/sampler/`` (``sampler=<name>``) and each non-default strategy, by name."""
    samplers = {p.stem: (f"sampler={p.stem}",) for p in sorted((conf_dir / "sampler").glob("*.yaml"))}
    return {**samplers, **STRATEGIES}


@dataclass(frozen=True)
class Arm:
    """A named set of search overrides (``sampler=gp pruner=hyperband``)."""

    name: str
    overrides: tuple[str, ...]


@dataclass(frozen=True)
class CompareConfig:
    """``arms`` (built-in names, or ``{name: "overrides"}``), each searched once per ``seeds`` entry (its
    own study, the sampler's and the training's seed); the arms are judged at ``budget`` training steps
    (null: the smallest total of any run); each run's answer is trained again at ``check_budget`` times
    the proxy's steps (null: no check) on ``check_seeds``; the op frequencies of each run's ``top``
    networks; ``bootstrap`` resamples for the intervals."""

    arms: tuple[Arm, ...]
    seeds: tuple[int, ...]
    budget: int | None
    check_budget: float | None
    check_seeds: tuple[int, ...]
    top: int
    bootstrap: int

    @classmethod
    def from_dict(cls, d: dict, builtin: dict[str, tuple[str, ...]]) -> CompareConfig:
        return cls(arms=_arms(d.get("arms"), builtin), seeds=_seeds("compare.seeds", d.get("seeds"), 1),
                   budget=_budget(d.get("budget")), check_budget=_check_budget(d.get("check_budget")),
                   check_seeds=_seeds("compare.check_seeds", d.get("check_seeds"), 1),
                   top=_positive("compare.top", d.get("top")),
                   bootstrap=_positive("compare.bootstrap", d.get("bootstrap")))


def _arms(raw, builtin: dict[str, tuple[str, ...]]) -> tuple[Arm, ...]:
    raw = list(DEFAULT_ARMS) if raw is None else raw  # null in the config: a list and a mapping both replace it
    allowed = (f"allowed: a list of {', '.join(builtin)}, or named overrides "
               "({mine: 'sampler=gp pruner=hyperband'})")
    if isinstance(raw, dict):
        items = list(raw.items())
    elif isinstance(raw, (list, tuple)):
        items = [(name, None) for name in raw]
    else:
        raise ValueError(f"compare.arms={raw!r} is not allowed; {allowed}")
    if len(items) < 2:
        raise ValueError(f"compare.arms={_shown(raw)} is not allowed; {allowed}, at least two of them")
    names = [str(n) for n, _ in items]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"compare.arms={_shown(raw)} is not allowed; allowed: distinct arms "
                         f"({twice[0]} is there twice)")
    arms = []
    for name, overrides in items:
        if not isinstance(name, str) or not ARM_NAME.match(name):
            raise ValueError(f"compare.arms has {name!r}, which is not an arm name; allowed: letters, digits and _")
        if overrides is None:
            if name not in builtin:
                raise ValueError(f"compare.arms has {name!r}, which is not an arm; {allowed}")
            arms.append(Arm(name, builtin[name]))
        elif isinstance(overrides, str) and overrides.split():
            arms.append(Arm(name, tuple(overrides.split())))
        else:
            raise ValueError(f"compare.arms.{name}={overrides!r} is not allowed; allowed: a string of overrides "
                             "such as 'sampler=gp pruner=hyperband'")
    return tuple(arms)


def _seeds(key: str, raw, least: int) -> tuple[int, ...]:
    seeds = list(raw) if isinstance(raw, (list, tuple)) else None
    if not seeds or len(seeds) < least or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds) \
            or len(set(seeds)) < len(seeds):
        raise ValueError(f"{key}={_shown(raw)} is not allowed; allowed: a non-empty list of distinct integers >= 0 "
                         "(e.g. [0,1,2])")
    return tuple(seeds)


def _budget(raw) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
        raise ValueError(f"compare.budget={raw!r} is not allowed; allowed: null (the smallest total of any run) or "
                         "a number of training steps >= 1")
    return raw


def _check_budget(raw) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw) or raw < 1:
        raise ValueError(f"compare.check_budget={raw!r} is not allowed; allowed: null (no check) or a multiple of "
                         "the proxy's steps >= 1 (e.g. 10)")
    return float(raw)


def _positive(key: str, raw) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
        raise ValueError(f"{key}={raw!r} is not allowed; allowed: an integer >= 1")
    return raw


def _shown(raw) -> str:
    if isinstance(raw, (list, tuple)):
        return "[" + ",".join(str(x) for x in raw) + "]"
    return repr(raw)
