"""Paired comparisons over seeds: which contenders of a race are worse than the best, and, among those
that are not, each one's probability of being the best.

Every function takes values where **lower is better**, ``values[name][seed]``; contenders are paired by
seed (the same data order and initialisation seed), so the comparison of two networks is a test on the
differences of their runs, seed by seed.

The test is a one-sided paired t-test (scipy's ``ttest_rel``, ``alternative="greater"``: is contender c
worse than the best?), with Holm's step-down correction for the several contenders compared to the best
at once (it controls the family-wise error rate at ``alpha`` without assuming independent tests). Why a
t-test and not the Wilcoxon signed-rank test, which assumes less: with the 3 seeds a race affords, the
signed-rank test's smallest one-sided p-value is 1/8 = 0.125, so it could never drop anything at 0.05.
The t-test assumes the seed-to-seed differences are roughly normal, which training noise usually is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

Values = Mapping[object, Mapping[int, float]]


def paired_p(worse: Mapping[int, float], best: Mapping[int, float]) -> float:
    """One-sided p-value that ``worse`` is worse (higher) than ``best`` over their shared seeds; 1.0 with
    fewer than 2 shared seeds. Differences that are all equal give 0.0 when positive (no noise to doubt
    them), 1.0 otherwise."""
    from scipy.stats import ttest_rel

    seeds = sorted(set(worse) & set(best))
    if len(seeds) < 2:
        return 1.0
    a, b = [worse[s] for s in seeds], [best[s] for s in seeds]
    diffs = {round(x - y, 12) for x, y in zip(a, b, strict=True)}
    if len(diffs) == 1:
        return 0.0 if next(iter(diffs)) > 0 else 1.0
    return float(ttest_rel(a, b, alternative="greater").pvalue)


def holm(pvalues: Mapping[object, float]) -> dict[object, float]:
    """Holm's step-down adjusted p-values: the i-th smallest of m is multiplied by (m - i + 1), and the
    adjusted values are made non-decreasing in that order (capped at 1)."""
    order = sorted(pvalues, key=lambda k: (pvalues[k], str(k)))
    m, running, out = len(order), 0.0, {}
    for i, key in enumerate(order):
        running = max(running, min(1.0, (m - i) * pvalues[key]))
        out[key] = running
    return out


def compare_to_best(values: Values, alpha: float) -> dict:
    """The rung's best (lowest mean) and, for every other contender, its raw and Holm-adjusted p-value of
    being worse and whether that drops it (adjusted p < ``alpha``)."""
    means = {k: float(np.mean(list(v.values()))) for k, v in values.items() if v}
    best = min(means, key=lambda k: (means[k], str(k)))
    raw = {k: paired_p(values[k], values[best]) for k in means if k != best}
    adjusted = holm(raw)
    return {"best": best, "means": means, "p": raw, "p_holm": adjusted,
            "worse": sorted((k for k in adjusted if adjusted[k] < alpha), key=str)}


def probability_best(values: Values, n: int = 1000, seed: int = 0) -> dict[object, float]:
    """Each contender's probability of having the lowest mean, by a paired bootstrap over seeds: every
    resample draws seeds with replacement, the same draw for every contender; a tie in a resample splits
    its credit. Seeds some contender lacks are left out."""
    names = list(values)
    seeds = sorted(set.intersection(*(set(values[k]) for k in names)))
    if not seeds:
        return {k: math.nan for k in names}
    table = np.array([[values[k][s] for s in seeds] for k in names])  # (contenders, seeds)
    rng = np.random.default_rng(seed)
    wins = np.zeros(len(names))
    for _ in range(n):
        means = table[:, rng.integers(0, len(seeds), size=len(seeds))].mean(axis=1)
        best = np.flatnonzero(np.isclose(means, means.min(), rtol=0, atol=1e-12))
        wins[best] += 1.0 / len(best)
    return {k: float(w / n) for k, w in zip(names, wins, strict=True)}


def probability_lower(a: Sequence[float], b: Sequence[float], n: int = 1000, seed: int = 0) -> dict:
    """P(a value of ``a`` is lower than one of ``b``) over every pair (ties count half): the common-language
    effect size of two independent samples (the arms of a comparison are searched independently, so every
    seed of one is paired with every seed of the other), with a bootstrap 95% interval that resamples each
    sample on its own, and the one-sided Mann-Whitney U test's p-value for "a is lower" (exact for small
    samples)."""
    from scipy.stats import mannwhitneyu

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) == 0 or len(y) == 0:
        return {"p_lower": math.nan, "ci": [math.nan, math.nan], "p_value": math.nan, "n": [len(x), len(y)]}

    def share(u: np.ndarray, v: np.ndarray) -> float:
        diff = u[:, None] - v[None, :]
        return float(((diff < 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)

    rng = np.random.default_rng(seed)
    draws = [share(rng.choice(x, len(x)), rng.choice(y, len(y))) for _ in range(n)]
    low, high = np.percentile(draws, [2.5, 97.5])
    p_value = float(mannwhitneyu(x, y, alternative="less").pvalue)
    return {"p_lower": share(x, y), "ci": [float(low), float(high)], "p_value": p_value, "n": [len(x), len(y)]}
