"""Which trials of a study the audit trains again: ``audit.select`` over the proxy ranking."""

from __future__ import annotations

import math
import random

import optuna
from optuna.trial import FrozenTrial, TrialState

SELECTIONS = ("stratified", "top", "random")


def candidates(study: optuna.Study) -> list[FrozenTrial]:
    """Complete trials that trained their own network (not reused from a twin), best proxy value first."""
    sign = -1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if "duplicate_of" not in t.user_attrs and t.values and math.isfinite(t.values[0])]
    unique = {}
    for t in sorted(done, key=lambda t: (sign * t.values[0], t.number)):
        unique.setdefault(t.user_attrs.get("key", t.number), t)
    return list(unique.values())


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
