"""What a finished race found, as data (race.json): every rung's rows, the winner or the tie, and the
test split for the winner and the baselines. Values are the metric's own (not signed)."""

from __future__ import annotations

import statistics

from layernas.trainer.plumbing.provenance import git_commit
from layernas.trainer.race.plan import RacePlan
from layernas.trainer.race.standings import Rung, Standings
from layernas.trainer.stats.paired import paired_p

TEST = ("one-sided paired t-test over seeds (scipy.stats.ttest_rel), Holm-corrected over the contenders "
        "compared with the rung's best")


def race_doc(plan: RacePlan, final: Standings) -> dict:
    last = final.rungs[-1]
    return {"study": plan.study.study_name, "metric": plan.run.objective.key,
            "direction": "minimize" if plan.sign > 0 else "maximize", "proxy_steps": plan.proxy_steps,
            "budgets": list(plan.settings.budgets), "seeds": list(plan.settings.seeds), "alpha": plan.settings.alpha,
            "test": TEST, "how": plan.how,
            "contenders": [{"trial": c.trial, "arch": c.arch, "baseline": c.baseline, "proxy": c.proxy}
                           for c in plan.contenders],
            "rungs": [_rung_doc(plan, r) for r in final.rungs],
            "winner": final.winner, "tie": final.tie, "probabilities": final.probabilities,
            "proxy_pick": plan.contenders[0].trial, "line": answer_line(plan, final),
            "test_split": _test_split(plan, final, last),
            "wall_s": round(sum(r.wall_s for r in final.rungs), 1), "git_commit": git_commit()}


def _rung_doc(plan: RacePlan, rung: Rung) -> dict:
    outcome = rung.outcome or {}
    rows = []
    for t in rung.entrants:
        values = {s: plan.sign * v for s, v in sorted(rung.values.get(t, {}).items())}
        rows.append({"trial": t, "mean": statistics.fmean(values.values()) if values else None,
                     "std": statistics.stdev(values.values()) if len(values) > 1 else None, "values": values,
                     "p": outcome.get("p", {}).get(t), "p_holm": outcome.get("p_holm", {}).get(t),
                     "status": _status(rung, t, outcome.get("best"))})
    return {"budget": rung.budget, "steps": int(round(plan.proxy_steps * rung.budget)), "best": outcome.get("best"),
            "wall_s": round(rung.wall_s, 1), "rows": rows}


def _status(rung: Rung, trial: int, best: int | None) -> str:
    if trial in rung.dropped:
        return "dropped: " + rung.dropped[trial]
    if trial == best:
        return "best"
    return "kept (not worse at alpha)" if trial in rung.alive_after else "reference (a baseline dropped earlier)"


def answer_line(plan: RacePlan, final: Standings) -> str:
    last = final.rungs[-1]
    seeds = list(plan.settings.seeds)
    pick = plan.contenders[0]
    if final.winner is not None:
        c = plan.contender(final.winner)
        value = f"{plan.sign * last.mean(c.trial):.4f} ± {last.std(c.trial) or 0:.4f}"
        if c.baseline:
            return (f"race winner: the baseline {c.baseline} (#{c.trial}, x{last.budget:g}: {value} over seeds "
                    f"{seeds}): no searched network beat it")
        also = "the proxy's pick too" if c.trial == pick.trial else f"the proxy's pick was #{pick.trial}"
        return f"race winner: #{c.trial} (x{last.budget:g}: {value} over seeds {seeds}); {also}"
    if final.tie:
        odds = ", ".join(f"#{t} ({final.probabilities.get(t, 0):.2f})" for t in
                         sorted(final.tie, key=lambda t: -final.probabilities.get(t, 0)))
        return (f"race: a tie at x{last.budget:g} on seeds {seeds}, no paired test separates {odds} (in brackets "
                f"each one's probability of being best, by a paired bootstrap over the {len(seeds)} seeds); any of "
                "them is as good an answer")
    return "race: no contender finished every rung"


def _test_split(plan: RacePlan, final: Standings, last: Rung) -> dict:
    """The last rung's test metrics (mean, std over seeds) of the winner (or the tie) and the baselines,
    with the paired difference of the objective's test value to each baseline."""
    metric = "test/" + plan.run.objective.key.split("/", 1)[-1]
    shown = ([final.winner] if final.winner is not None else list(final.tie)) + \
        [t for t in plan.baselines if t != final.winner and t not in final.tie]
    out = {}
    for t in shown:
        runs = last.tests.get(t, {})
        names = sorted({k for m in runs.values() for k in m})
        out[t] = {k: _summary([m[k] for m in runs.values() if k in m]) for k in names}
    for t in (final.winner,) if final.winner is not None else ():
        mine = {s: m[metric] for s, m in last.tests.get(t, {}).items() if metric in m}
        for b in plan.baselines:
            theirs = {s: m[metric] for s, m in last.tests.get(b, {}).items() if metric in m}
            seeds = sorted(set(mine) & set(theirs))
            if b == t or len(seeds) < 2:
                continue
            diffs = [mine[s] - theirs[s] for s in seeds]
            # p that the baseline is worse than the winner (signed values: lower is better)
            p = paired_p({s: plan.sign * theirs[s] for s in seeds}, {s: plan.sign * mine[s] for s in seeds})
            out[t].setdefault("versus", {})[b] = {**_summary(diffs), "metric": metric, "p_better": p}
    return out


def _summary(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values) if values else None,
            "std": statistics.stdev(values) if len(values) > 1 else None, "n": len(values)}
