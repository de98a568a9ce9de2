"""How well a supernet ranked its study, and what it cost: Kendall tau (with a bootstrap 95% interval)
between supernet scores and stand-alone proxy values for the top-k, the random sample and both, and the
cost ratio of the supernet (training + scoring) against the stand-alone proxies of every scored network,
estimated from the measured stand-alone runs. Read from the study's storage only (report and audit use it
long after the search)."""

from __future__ import annotations

import math
import statistics

import optuna

from layernas.trainer.plan.recorded import Recorded
from layernas.trainer.stats.rank import bootstrap, kendall, spearman
from layernas.trainer.supernet.settings import SCORING_PREFIX, STRATEGY
from layernas.trainer.supernet.standalone import records

N_BOOT = 1000


def is_supernet(study: optuna.Study) -> bool:
    return Recorded.of(study).strategy.name == STRATEGY


def _agreement(pairs: list[tuple[float, float]], sign: float) -> dict:
    """tau and rho of supernet scores against stand-alone values (signed: lower is better)."""
    if len(pairs) < 3:
        return {"n": len(pairs), "tau": None, "tau_ci": [None, None], "rho": None}
    score, value = [sign * s for s, _ in pairs], [sign * v for _, v in pairs]
    low, high = bootstrap(score, [[v] for v in value], kendall, N_BOOT, 0)
    finite = [x if math.isfinite(x) else None for x in (kendall(score, value), low, high, spearman(score, value))]
    return {"n": len(pairs), "tau": finite[0], "tau_ci": finite[1:3], "rho": finite[3]}


def summarise(study: optuna.Study) -> dict | None:
    """The supernet section of report.md and best.yaml, or None for a stand-alone study."""
    if not is_supernet(study):
        return None
    sign = -1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    runs = [r for r in records(study).values() if r.get("state") == "complete"]
    trained = study.user_attrs.get("supernet") or {}
    scoring_s = sum(v.get("wall_s", 0.0) for k, v in study.user_attrs.items() if k.startswith(SCORING_PREFIX))
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    scored = {t.user_attrs.get("key") for t in complete if t.user_attrs.get("strategy") == STRATEGY}
    per_run = statistics.fmean(r["wall_s"] for r in runs) if runs else None
    supernet_s = trained["wall_s"] + scoring_s if trained.get("wall_s") is not None else None  # None: no ratio
    replaced = per_run * len(scored) if per_run and supernet_s is not None else None
    checks_s = sum(r["wall_s"] for r in runs)
    best = min(runs, key=lambda r: sign * r["value"]) if runs else None
    return {
        "steps": trained.get("step"), "train_s": trained.get("wall_s"), "scoring_s": scoring_s,
        "scored": len(scored), "standalone_runs": len(runs), "standalone_mean_s": per_run,
        "standalone_s": checks_s, "replaced_s": replaced,
        "cost_ratio": supernet_s / replaced if replaced else None,
        "cost_ratio_with_checks": (supernet_s + checks_s) / replaced if replaced else None,
        "agreement": {role: _agreement([(r["score"], r["value"]) for r in runs if role in ("all", r["role"])],
                                 sign)
                      for role in ("top", "random", "all")},
        "best_standalone": {k: best[k] for k in ("trial", "arch", "score", "value")} if best else None,
        "runs": sorted(runs, key=lambda r: sign * r["score"]),
    }


def _num(value, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and math.isfinite(value) else "-"


def _tau(row: dict) -> str:
    if row["tau"] is None:
        return f"- (n = {row['n']}: too few)"
    low, high = row["tau_ci"]
    return f"{_num(row['tau'], 2)} (95% CI {_num(low, 2)} to {_num(high, 2)}; n = {row['n']})"


def lines(doc: dict | None) -> list[str]:
    """report.md's ``Weight sharing`` section."""
    if doc is None:
        return []
    out = ["", "## Weight sharing", "",
           f"Every candidate was scored by one supernet ({doc['steps']} steps, {_num(doc['train_s'], 0)} s of "
           f"training) with inherited weights: {doc['scored']:,} distinct networks in {_num(doc['scoring_s'], 0)} s. "
           "The leaderboard's values are those scores; the rows below were also trained stand-alone with the "
           "proxy budget, on the same validation slice.", "",
           f"- Kendall tau, supernet score against stand-alone value: top-k {_tau(doc['agreement']['top'])}; random "
           f"sample {_tau(doc['agreement']['random'])}; both {_tau(doc['agreement']['all'])}"]
    if doc["cost_ratio"] is not None:
        out.append(f"- cost: supernet training + scoring {_num(doc['train_s'] + doc['scoring_s'], 0)} s against "
                   f"{doc['scored']:,} stand-alone proxies of {_num(doc['standalone_mean_s'], 1)} s each (the mean of "
                   f"the {doc['standalone_runs']} measured) = {_num(doc['replaced_s'], 0)} s: ratio "
                   f"{_num(doc['cost_ratio'], 3)} ({_num(doc['cost_ratio_with_checks'], 3)} with the stand-alone "
                   "checks)")
    if doc["best_standalone"]:
        b = doc["best_standalone"]
        out.append(f"- best stand-alone: #{b['trial']} {_num(b['value'])} (supernet {_num(b['score'])}); "
                   "`layernas retrain` trains it by default")
    if doc["runs"]:
        out += ["", "| trial | sample | supernet score | stand-alone | steps | s | architecture |",
                "|---|---|---|---|---|---|---|"]
        out += [f"| {r['trial']} | {r['role']} | {_num(r['score'])} | {_num(r['value'])} | {r['steps']} | "
                f"{_num(r['wall_s'], 0)} | `{r['arch']}` |" for r in doc["runs"]]
    return out
