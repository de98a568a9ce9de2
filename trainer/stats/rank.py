"""Rank agreement between two scorings of the same architectures, with bootstrap confidence intervals.

Every function takes values where **lower is better** (flip maximised metrics and "higher predicts better"
scores before calling). Agreement is Kendall's tau-b and Spearman's rho (scipy's, which handle ties);
regret is how much worse, on the reference scoring, the architecture a proxy picks is than the best.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np


def kendall(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b of two scorings of the same items; nan when either is constant."""
    from scipy.stats import kendalltau

    if len(a) < 2:
        return math.nan
    return float(kendalltau(a, b).statistic)


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rho of two scorings of the same items; nan when either is constant."""
    from scipy.stats import spearmanr

    if len(a) < 2 or len(set(a)) < 2 or len(set(b)) < 2:
        return math.nan
    return float(spearmanr(a, b).statistic)


def regret(proxy: Sequence[float], reference: Sequence[float], top: int = 1) -> float:
    """Reference value of the best of the proxy's ``top`` picks minus the reference's best (>= 0; 0 when
    the reference's best is among the picks)."""
    order = sorted(range(len(proxy)), key=lambda i: (proxy[i], i))[:top]
    return float(min(reference[i] for i in order) - min(reference))


def bootstrap(proxy: Sequence[float], reference: Sequence[Sequence[float]], statistic: Callable,
              n: int = 1000, seed: int = 0, level: float = 0.95,
              proxy_seeds: Sequence[Sequence[float]] | None = None) -> tuple[float, float]:
    """Percentile interval of ``statistic(proxy, mean reference)`` resampling the architectures and, within
    each, the reference's seeds (a two-level bootstrap: both the choice of architectures and the seed
    noise of each measurement are uncertain). ``reference[i]`` holds architecture i's values over seeds.
    ``proxy_seeds[i]``, when given, holds the proxy's own values over seeds: each resample then draws one of
    them for architecture i (the proxy is a single-seed measurement, so its seed noise enters the
    interval); otherwise the proxy is held fixed. Resamples where the statistic is undefined (all picks one
    architecture) are left out."""
    rng = np.random.default_rng(seed)
    proxy = np.asarray(proxy, dtype=float)
    k = len(proxy)
    values = []
    for _ in range(n):
        picks = rng.integers(0, k, size=k)
        means = [float(np.mean(rng.choice(reference[i], size=len(reference[i])))) for i in picks]
        drawn = [float(rng.choice(proxy_seeds[i])) if proxy_seeds and len(proxy_seeds[i]) else float(proxy[i])
                 for i in picks]
        value = statistic(drawn, means)
        if math.isfinite(value):
            values.append(value)
    if not values:
        return math.nan, math.nan
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def spread(values: Sequence[Sequence[float]]) -> dict[str, float]:
    """Seed noise (pooled std within architectures) against the architectures' spread (std of their means):
    a ratio near 1 or above means the seeds move a result as much as the choice of architecture does."""
    multi = [v for v in values if len(v) >= 2]
    dof = sum(len(v) - 1 for v in multi)
    noise = math.sqrt(sum(float(np.var(v, ddof=1)) * (len(v) - 1) for v in multi) / dof) if dof else math.nan
    means = [float(np.mean(v)) for v in values if len(v)]
    between = float(np.std(means, ddof=1)) if len(means) >= 2 else math.nan
    ratio = noise / between if between and math.isfinite(noise) else math.nan
    return {"seed_std": noise, "arch_std": between, "ratio": ratio}
