"""What an audit measured, from its runs: rank agreement of the proxy (and of cheaper signals) with each
longer budget, regret, seed noise against architecture spread, and the cheapest trustworthy proxy."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from layernas.trainer.stats.rank import bootstrap, kendall, regret, spearman, spread

TRUSTED_TAU = 0.6  # lower 95% bound of tau against the largest budget for a proxy to be recommended


@dataclass
class Arch:
    """One audited architecture: its proxy value and its values at each budget (over seeds), all signed
    so that lower is better."""

    trial: int
    arch: str
    baseline: str | None
    proxy: float
    curve: dict[int, float] = field(default_factory=dict)
    budgets: dict[float, dict[int, float]] = field(default_factory=dict)  # budget -> seed -> value

    @property
    def proxy_seeds(self) -> list[float]:
        """The proxy's values over seeds: the x1 runs (``audit.budgets`` with 1), which hold the study's
        own value on its seed; empty without them (the proxy is then held fixed in the bootstrap)."""
        return list(self.budgets.get(1.0, {}).values())


def agreement(proxy: list[float], reference: list[list[float]], n_boot: int, seed: int,
              proxy_seeds: list[list[float]] | None = None) -> dict:
    """tau and rho of ``proxy`` against the mean of ``reference`` with their bootstrap 95% intervals (which
    resample the proxy's seeds too where ``proxy_seeds`` has them)."""
    means = [statistics.fmean(r) for r in reference]
    seeds = proxy_seeds if proxy_seeds and any(proxy_seeds) else None
    return {"tau": kendall(proxy, means),
            "tau_ci": bootstrap(proxy, reference, kendall, n_boot, seed, proxy_seeds=seeds),
            "rho": spearman(proxy, means),
            "rho_ci": bootstrap(proxy, reference, spearman, n_boot, seed, proxy_seeds=seeds),
            "n": len(proxy), "proxy_seeds_resampled": seeds is not None}


def _agree(archs: list[Arch], budget: float, n_boot: int, seed: int) -> dict:
    return agreement([a.proxy for a in archs], [list(a.budgets[budget].values()) for a in archs], n_boot, seed,
                     [a.proxy_seeds for a in archs])


def family_row(archs: list[Arch], budget: float, n_boot: int, seed: int) -> dict:
    """Agreement among the searched (non-baseline) networks only: the order inside the family the search's
    pick depends on. The all-networks tau also measures how the family separates from the baselines."""
    family = [a for a in archs if not a.baseline]
    if len(family) < 3:
        return {"n": len(family), "tau": None, "tau_ci": (None, None)}
    row = _agree(family, budget, n_boot, seed)
    means = [statistics.fmean(a.budgets[budget].values()) for a in family]
    return {**row, "regret_top1": regret([a.proxy for a in family], means, 1)}


def _complete(archs: list[Arch], budget: float) -> list[Arch]:
    return [a for a in archs if a.budgets.get(budget)]


def budget_rows(archs: list[Arch], budgets: list[float], n_boot: int, seed: int) -> dict[float, dict]:
    """Per budget: agreement with the proxy, top-1/top-3 regret (in the metric's units) and seed noise."""
    out = {}
    for b in budgets:
        done = _complete(archs, b)
        if len(done) < 3:
            continue
        proxy, ref = [a.proxy for a in done], [list(a.budgets[b].values()) for a in done]
        means = [statistics.fmean(r) for r in ref]
        out[b] = {**_agree(done, b, n_boot, seed), "regret_top1": regret(proxy, means, 1),
                  "regret_top3": regret(proxy, means, 3), **spread(ref), "family": family_row(done, b, n_boot, seed)}
    return out


def ladder(archs: list[Arch], reference: float, n_boot: int, seed: int) -> list[dict]:
    """The proxy's ranking at each of its validation steps against the largest budget: what a shorter
    proxy would have found, measured for free from the stored learning curves."""
    done = _complete(archs, reference)
    steps = sorted(set.intersection(*(set(a.curve) for a in done))) if done else []
    ref = [list(a.budgets[reference].values()) for a in done]
    rows = []
    for s in steps:
        rows.append({"step": s, **agreement([a.curve[s] for a in done], ref, n_boot, seed)})
    return rows


def zero_cost_rows(archs: list[Arch], scores: dict[int, dict[str, float]], reference: float, n_boot: int,
                   seed: int) -> dict[str, dict]:
    """Each zero-cost proxy (higher predicts better, so negated) against the largest budget."""
    done = [a for a in _complete(archs, reference) if a.trial in scores]
    names = list(next(iter(scores.values()), {}))
    ref = [list(a.budgets[reference].values()) for a in done]
    out = {}
    for name in names:
        values = [-scores[a.trial][name] for a in done]
        if len(done) >= 3 and all(math.isfinite(v) for v in values):
            out[name] = agreement(values, ref, n_boot, seed)
    return out


def recommend(zero_cost: dict[str, dict], steps: list[dict], budgets: dict[float, dict], proxy_steps: int,
              reference: float, proxy: str | None = None) -> dict:
    """The cheapest signal whose tau against the largest budget has a lower 95% bound >= TRUSTED_TAU."""
    options = [(f"zero-cost {name}", row) for name, row in zero_cost.items()]
    options += [(f"the proxy's ranking at step {r['step']}", r) for r in steps if r["step"] < proxy_steps]
    if reference in budgets:
        options.append((proxy or f"the proxy ({proxy_steps} steps)", budgets[reference]))
    for name, row in options:
        low = row["tau_ci"][0]
        if math.isfinite(low) and low >= TRUSTED_TAU:
            return {"proxy": name, "tau": row["tau"], "tau_ci": row["tau_ci"],
                    "line": f"recommendation: {name} ranks like x{reference:g} training "
                            f"(tau {row['tau']:.2f}, 95% CI {row['tau_ci'][0]:.2f} to {row['tau_ci'][1]:.2f})"}
    return {"proxy": None, "line": f"recommendation: none of the measured proxies is trustworthy for this study "
                                   f"(no lower 95% bound of tau against x{reference:g} reaches {TRUSTED_TAU})"}
