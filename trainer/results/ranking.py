"""A study's trials in order: complete trials best first, the best (or the Pareto set), ties of equal value."""

from __future__ import annotations

import math

import optuna
from optuna.trial import FrozenTrial, TrialState


def candidates(study: optuna.Study) -> list[FrozenTrial]:
    """Complete trials that trained their own network (not reused from a twin), best proxy value first."""
    sign = -1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if "duplicate_of" not in t.user_attrs and t.values and math.isfinite(t.values[0])]
    unique = {}
    for t in sorted(done, key=lambda t: (sign * t.values[0], t.number)):
        unique.setdefault(t.user_attrs.get("key", t.number), t)
    return list(unique.values())


def ranked(study: optuna.Study) -> list[FrozenTrial]:
    """Complete trials best first (by the first objective), one per network (duplicates left out)."""
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if "duplicate_of" not in t.user_attrs]
    sign = 1 if study.directions[0] == optuna.study.StudyDirection.MINIMIZE else -1
    return sorted(done, key=lambda t: sign * t.values[0])


def tied_with_best(top: list[FrozenTrial]) -> list[FrozenTrial]:
    """The other trials whose first objective equals the best's (to 1e-9): which of them leads is a
    tie-break of Optuna's order, not a result (constant predictors all score the majority class's share)."""
    if not top:
        return []
    best = top[0].values[0]
    return [t for t in top[1:] if abs(t.values[0] - best) <= 1e-9 * max(1.0, abs(best))]


def best_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The best trial, or the Pareto set (several objectives), without duplicates."""
    if len(study.directions) == 1:
        top = ranked(study)
        return top[:1]
    return sorted((t for t in study.best_trials if "duplicate_of" not in t.user_attrs), key=lambda t: t.values[0])
