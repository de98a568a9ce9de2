"""The compare's numbers (compare.json): per run and per arm, the arms against each other, the anytime
curves and the op frequencies of each arm's top networks."""

from __future__ import annotations

import math
import re
import statistics

import numpy as np

from layernas.trainer.compare.history import History
from layernas.trainer.stats.paired import probability_lower

OP = re.compile(r"^([a-z_]+)")
GRID = 60  # points of the anytime curve


def _ms(values: list[float]) -> dict:
    done = [v for v in values if v is not None and math.isfinite(v)]
    return {"mean": statistics.fmean(done) if done else None,
            "std": statistics.stdev(done) if len(done) > 1 else (0.0 if done else None), "n": len(done)}


def run_rows(runs, histories: dict[str, History], checks: dict[str, dict], budget: int, sign: float) -> list[dict]:
    rows = []
    for run in runs:
        h = histories[run.study]
        rows.append({"arm": run.arm, "seed": run.seed, "study": run.study, "steps": h.steps,
                     "best_at_budget": h.best_at(budget), "final_best": h.best_at(h.steps), "pick": h.pick,
                     "no_signal": h.silent,
                     "check": checks.get(run.study)})
    _regret(rows, sign)
    return rows


def _regret(rows: list[dict], sign: float) -> None:
    """Each run's regret at the check budget: how much worse its pick checked than the best pick of any run."""
    means = [r["check"]["mean"] for r in rows if r["check"] and r["check"]["mean"] is not None]
    best = min(means, key=lambda m: sign * m) if means else None
    for r in rows:
        mean = r["check"]["mean"] if r["check"] else None
        r["regret"] = sign * (mean - best) if mean is not None and best is not None else None


def arm_rows(arms, rows: list[dict]) -> list[dict]:
    out = []
    for arm in arms:
        mine = [r for r in rows if r["arm"] == arm.name]
        out.append({"arm": arm.name, "overrides": " ".join(arm.overrides), "seeds": [r["seed"] for r in mine],
                    "best": _ms([r["best_at_budget"] for r in mine]), "steps": _ms([r["steps"] for r in mine]),
                    "total_steps": sum(r["steps"] for r in mine),
                    "check": _ms([r["check"]["mean"] if r["check"] else None for r in mine]),
                    "regret": _ms([r["regret"] for r in mine])})
    return out


def pairs(arms, rows: list[dict], sign: float, n: int, seed: int, key: str = "best_at_budget") -> list[dict]:
    """For each ordered pair of arms: P(A's answer is better than B's) over every seed pair."""
    out = []
    for a in arms:
        for b in arms:
            if a.name == b.name:
                continue
            x = [sign * r[key] for r in rows if r["arm"] == a.name and r[key] is not None]
            y = [sign * r[key] for r in rows if r["arm"] == b.name and r[key] is not None]
            out.append({"a": a.name, "b": b.name, **probability_lower(x, y, n, seed)})
    return out


def anytime(arms, rows: list[dict], histories: dict[str, History], budget: int) -> dict:
    """Best-so-far against training steps: per arm the mean over seeds and a 95% t interval of that mean."""
    from scipy.stats import t as student

    grid = [int(round(budget * (i + 1) / GRID)) for i in range(GRID)]
    curves = {}
    for arm in arms:
        runs = [histories[r["study"]] for r in rows if r["arm"] == arm.name]
        table = np.array([[h.best_at(s) if h.best_at(s) is not None else np.nan for s in grid] for h in runs])
        mean, low, high = [], [], []
        for column in table.T:
            done = column[~np.isnan(column)]
            m = float(done.mean()) if len(done) == len(column) else math.nan  # until every seed has a value
            half = float(student.ppf(0.975, len(done) - 1) * done.std(ddof=1) / math.sqrt(len(done))) \
                if len(done) > 1 and len(done) == len(column) else 0.0
            mean.append(m)
            low.append(m - half)
            high.append(m + half)
        curves[arm.name] = {"mean": mean, "low": low, "high": high}
    return {"steps": grid, "arms": curves}


def op_frequency(arms, rows: list[dict], histories: dict[str, History]) -> dict:
    """Per arm, the share of its runs' top networks that put each op at each position."""
    out = {}
    for arm in arms:
        counts: dict[str, dict[str, int]] = {}
        n = 0
        for r in rows:
            if r["arm"] != arm.name:
                continue
            for arch in histories[r["study"]].top:
                n += 1
                for i, sub in enumerate(arch.split()):
                    op = OP.match(sub).group(1)
                    counts.setdefault(str(i), {}).setdefault(op, 0)
                    counts[str(i)][op] += 1
        out[arm.name] = {"n": n, "share": {i: {op: c / n for op, c in ops.items()} for i, ops in counts.items()}}
    return out
