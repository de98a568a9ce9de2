"""``race.*`` (mirrors ``conf/race/default.yaml``), checked in one line each."""

from __future__ import annotations

import math
from dataclasses import dataclass

from layernas.trainer.plan.views import from_dict


@dataclass(frozen=True)
class RaceConfig:
    """Up to ``max_k`` distinct networks within the tie band of the study's best (at least 2), plus
    ``baselines`` (``best``: the best baseline; ``all``; or a list of baseline names), trained at each of
    ``budgets`` (multiples of the proxy's steps, a rung each, in increasing order) on every one of ``seeds``
    (paired); after a rung, a contender whose paired test says it is worse than the rung's best at
    ``alpha`` (Holm-corrected) is dropped. ``bootstrap`` resamples for a tie's probabilities of being best;
    ``n_workers`` processes on this machine with ``threads`` torch threads each (null: the cores shared);
    ``report`` writes race/ when the runs are done (extra workers leave it to the first)."""

    budgets: tuple[float, ...]
    seeds: tuple[int, ...]
    max_k: int
    alpha: float
    baselines: str | tuple[str, ...]
    bootstrap: int
    n_workers: int
    threads: int | None
    report: bool

    def __post_init__(self) -> None:
        raw = self.budgets
        budgets = [b for b in raw] if isinstance(raw, (list, tuple)) else []
        if not budgets or any(isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b)
                              or b < 1 for b in budgets) or len(set(budgets)) < len(budgets):
            raise ValueError(f"race.budgets={_shown(raw)} is not allowed; allowed: a non-empty list of distinct "
                             "multiples of the proxy's steps, each >= 1 (e.g. [3,10])")
        seeds = list(self.seeds) if isinstance(self.seeds, (list, tuple)) else []
        if len(seeds) < 2 or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds) or \
                len(set(seeds)) < len(seeds):
            raise ValueError(f"race.seeds={_shown(self.seeds)} is not allowed; allowed: a list of at least 2 distinct "
                             "integers >= 0 (a paired test over seeds needs two; e.g. [0,1,2])")
        if not isinstance(self.max_k, int) or isinstance(self.max_k, bool) or self.max_k < 2:
            raise ValueError(f"race.max_k={self.max_k!r} is not allowed; allowed: an integer >= 2 (a race needs two "
                             "contenders)")
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or not 0 < self.alpha < 1:
            raise ValueError(f"race.alpha={self.alpha!r} is not allowed; allowed: a number between 0 and 1 (e.g. 0.05)")
        if not isinstance(self.bootstrap, int) or isinstance(self.bootstrap, bool) or self.bootstrap < 1:
            raise ValueError(f"race.bootstrap={self.bootstrap!r} is not allowed; allowed: an integer >= 1")
        if not isinstance(self.n_workers, int) or isinstance(self.n_workers, bool) or self.n_workers < 1:
            raise ValueError(f"race.n_workers={self.n_workers!r} is not allowed; allowed: 1 or more")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ValueError(f"race.threads={self.threads!r} is not allowed; allowed: null or an integer >= 1")
        object.__setattr__(self, "budgets", tuple(sorted(float(b) for b in budgets)))
        object.__setattr__(self, "seeds", tuple(seeds))
        object.__setattr__(self, "baselines", _baselines(self.baselines))

    @property
    def last(self) -> float:
        return self.budgets[-1]

    @classmethod
    def from_dict(cls, data: dict) -> RaceConfig:
        return from_dict(cls, data, "race")


def _baselines(value) -> str | tuple[str, ...]:
    if value in ("best", "all"):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise ValueError(f"race.baselines={_shown(value)} is not allowed; allowed: best, all, or a list of the study's "
                     "baseline names (e.g. [bert,dynamicconv]; [] races none)")


def _shown(value) -> str:
    """A setting as the user wrote it (a list, not a tuple)."""
    return str(list(value)) if isinstance(value, tuple) else str(value)
