"""``audit.*`` (mirrors ``conf/audit.yaml``), checked in one line each."""

from __future__ import annotations

import math
from dataclasses import dataclass

from layernas.trainer.audit.select import SELECTIONS
from layernas.trainer.plan.views import from_dict


@dataclass(frozen=True)
class AuditConfig:
    """k architectures of the study (from 3 to its completed trials with distinct networks), each trained
    at every budget (multiples of the proxy's steps; 1 re-runs the proxy itself, so that its seed noise
    enters the intervals) on every seed, chosen by ``select``; ``bootstrap``
    resamples for the 95% intervals; ``zero_cost`` scores the zero-cost proxies too; ``n_workers`` processes
    on this machine with ``threads`` torch threads each (null: the cores shared among them); ``report``
    writes audit/ when the runs are done (extra workers leave it to the first)."""

    k: int
    budgets: tuple[float, ...]
    seeds: tuple[int, ...]
    select: str
    bootstrap: int
    zero_cost: bool
    n_workers: int
    threads: int | None
    report: bool

    def __post_init__(self) -> None:
        raw = self.budgets
        budgets = [float(b) for b in raw or []] if isinstance(raw, (list, tuple)) else []
        if not budgets or any(not math.isfinite(b) or b < 1 for b in budgets) or budgets == [1.0]:
            raise ValueError(f"audit.budgets={_shown(raw)} is not allowed; allowed: a non-empty list of multiples of "
                             "the proxy's steps, each >= 1, one of them > 1 (e.g. [3,10]; 1 trains the proxy itself "
                             "again on audit.seeds)")
        seeds = list(self.seeds or []) if isinstance(self.seeds, (list, tuple)) else []
        if not seeds or any(not isinstance(s, int) or isinstance(s, bool) for s in seeds) or \
                len(set(seeds)) < len(seeds):
            raise ValueError(f"audit.seeds={_shown(self.seeds)} is not allowed; allowed: a non-empty list of distinct "
                             "integers (e.g. [0,1])")
        if self.select not in SELECTIONS:
            raise ValueError(f"audit.select={self.select!r} is not allowed; allowed: {', '.join(SELECTIONS)}")
        if not isinstance(self.n_workers, int) or self.n_workers < 1:
            raise ValueError(f"audit.n_workers={self.n_workers} is not allowed; allowed: 1 or more")
        object.__setattr__(self, "budgets", tuple(sorted(set(budgets))))
        object.__setattr__(self, "seeds", tuple(seeds))

    @classmethod
    def from_dict(cls, data: dict) -> AuditConfig:
        return from_dict(cls, data, "audit")


def _shown(value) -> str:
    """A setting as the user wrote it (a list, not a tuple)."""
    return str(list(value)) if isinstance(value, tuple) else str(value)
