"""How far apart two runs of one network land at a study's budget, and which results that noise cannot
tell apart.

``study.noise_seeds`` trains the study's baselines again on other seeds (see
:mod:`layernas.trainer.search.noise_runs`); each run is a study user attribute ``noise/<baseline>/<seed>``,
so the measurement lives in the storage with the trials. The seed noise sigma is the pooled standard
deviation of the first objective over the seeds of every baseline whose runs are not constant predictors
(two constant classifiers score the same majority share on every seed, and their 0 +- 0 would shrink sigma).

Two single-seed values of a study differ by a difference whose std is sqrt(2) sigma, not sigma: they are a
tie when they differ by at most ``TIE_SIGMAS`` standard deviations *of that difference* (a two-sided test at
about 5% under normal noise). A value against a fixed number (the input-blind reference, which has no seed
noise) differs with std sigma.
"""

from __future__ import annotations

import math
import statistics

import optuna
from optuna.trial import FrozenTrial, TrialState

from layernas.trainer.plan.recorded import Recorded

PREFIX = "noise/"
TIE_SIGMAS = 2.0  # standard deviations of the difference of two values
CONSTANT = "constant predictor"


def noise_key(baseline: str, seed: int) -> str:
    return f"{PREFIX}{baseline}/{seed}"


def noise_runs(study: optuna.Study) -> list[dict]:
    """The recorded extra-seed runs of the baselines."""
    return [v for k, v in sorted(study.user_attrs.items()) if k.startswith(PREFIX) and isinstance(v, dict)]


def baseline_trials(study: optuna.Study) -> dict[str, FrozenTrial]:
    """Each baseline's own complete trial (the study's seed), the first one if it ran more than once."""
    out: dict[str, FrozenTrial] = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        name = t.user_attrs.get("baseline")
        if name and "duplicate_of" not in t.user_attrs and not t.user_attrs.get("interrupted"):
            out.setdefault(name, t)
    return out


def seed_noise(study: optuna.Study) -> dict | None:
    """``{"std", "dof", "diff_std", "tie_within", "seeds", "baselines": {name: {"values", "mean", "std"}},
    "constant": [names left out]}`` or None when no baseline that learned something has two finished seeds."""
    seed = Recorded.of(study).seed
    values: dict[str, dict[int, float]] = {}
    constant: set[str] = set()
    for name, t in baseline_trials(study).items():
        values.setdefault(name, {})[seed] = t.values[0]
        if CONSTANT in (t.user_attrs.get("flags") or []):
            constant.add(name)
    for run in noise_runs(study):
        value = run.get("value")
        if run.get("state") == "complete" and isinstance(value, (int, float)) and math.isfinite(value):
            values.setdefault(run["baseline"], {})[run["seed"]] = float(value)
            if CONSTANT in (run.get("flags") or []):
                constant.add(run["baseline"])
    measured = {n: v for n, v in values.items() if len(v) >= 2 and n not in constant}
    if not measured:
        return None
    dof = sum(len(v) - 1 for v in measured.values())
    pooled = math.sqrt(sum(statistics.variance(v.values()) * (len(v) - 1) for v in measured.values()) / dof)
    seeds = sorted({s for v in measured.values() for s in v})
    return {"std": pooled, "dof": dof, "diff_std": math.sqrt(2) * pooled,
            "tie_within": TIE_SIGMAS * math.sqrt(2) * pooled, "seeds": seeds,
            "constant": sorted(n for n in constant if len(values.get(n, {})) >= 2),
            "baselines": {n: {"values": [v[s] for s in sorted(v)], "mean": statistics.fmean(v.values()),
                              "std": statistics.stdev(v.values())} for n, v in sorted(measured.items())}}


def within_noise(a: float, b: float, noise: dict | None) -> bool:
    """Whether the seed noise cannot tell two single-seed values ``a`` and ``b`` apart (their difference is
    within ``TIE_SIGMAS`` of its std)."""
    return noise is not None and abs(a - b) <= noise["tie_within"]


def within_noise_of_fixed(value: float, fixed: float, noise: dict | None) -> bool:
    """Whether a single-seed ``value`` is within ``TIE_SIGMAS`` sigma of a number without seed noise."""
    return noise is not None and abs(value - fixed) <= TIE_SIGMAS * noise["std"]


def ties(top: list[FrozenTrial], noise: dict | None) -> dict:
    """What the best (``top[0]``, the leaderboard's order) cannot be told apart from: the runner-up and
    the baselines within the noise."""
    if noise is None or not top:
        return {}
    best = top[0].values[0]
    runner_up = top[1] if len(top) > 1 else None
    return {"runner_up": runner_up.number if runner_up and within_noise(runner_up.values[0], best, noise) else None,
            "baselines": [t.number for t in top[1:] if t.user_attrs.get("baseline")
                          and within_noise(t.values[0], best, noise)],
            "all": [t.number for t in top[1:] if within_noise(t.values[0], best, noise)]}
