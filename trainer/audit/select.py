"""Which trials of a study the audit trains again: ``audit.select`` over the proxy ranking."""

from __future__ import annotations

import random

from optuna.trial import FrozenTrial

SELECTIONS = ("stratified", "top", "random")


def select(trials: list[FrozenTrial], k: int, how: str = "stratified", seed: int = 0) -> list[FrozenTrial]:
    """``k`` of the ranked ``trials``. ``stratified``: the best, every baseline, then evenly spaced ranks
    so the audit covers the whole ranking (a ranking is judged on its bad end too); ``top``: the k best;
    ``random``: k drawn with ``seed``. Returned in proxy-rank order."""
    if how not in SELECTIONS:
        raise ValueError(f"audit.select={how!r} is not allowed; allowed: {', '.join(SELECTIONS)}")
    if how == "top":
        return trials[:k]
    if how == "random":
        picked = set(random.Random(seed).sample(range(len(trials)), k))
        return [t for i, t in enumerate(trials) if i in picked]
    picked = {0} | {i for i, t in enumerate(trials) if t.user_attrs.get("baseline")}
    picked = set(sorted(picked)[:k])
    rest = [i for i in range(len(trials)) if i not in picked]
    need = k - len(picked)
    if need > 0:
        step = len(rest) / need
        picked |= {rest[min(len(rest) - 1, int((j + 0.5) * step))] for j in range(need)}
    return [t for i, t in enumerate(trials) if i in picked]
