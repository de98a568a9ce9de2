"""race.md: the contenders, each rung's table (mean +- std over seeds, p-value against the rung's best,
where each was dropped), the answer, and the test split of the winner against the baselines."""

from __future__ import annotations

import math
from pathlib import Path


def _num(value, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and math.isfinite(value) else "-"


def _p(value) -> str:
    return f"{value:.3g}" if isinstance(value, (int, float)) else "-"


def markdown(doc: dict, images: dict[str, Path]) -> str:
    names = {c["trial"]: f"#{c['trial']}" + (f" ({c['baseline']})" if c["baseline"] else "") for c in doc["contenders"]}
    lines = [f"# Race of study `{doc['study']}`", "",
             f"**{doc['line']}**", "",
             f"- contenders: {doc['how']}; the baselines run every rung as the reference",
             f"- rungs x{', x'.join(f'{b:g}' for b in doc['budgets'])} of the {doc['proxy_steps']}-step proxy, each on "
             f"seeds {doc['seeds']} (paired: the same data order and initialisation seed for every contender); "
             f"`{doc['metric']}` ({doc['direction']}) on the validation split",
             f"- a contender is dropped when a {doc['test']} says it is worse at alpha {doc['alpha']:g}; "
             "selection is on validation only, the test split is read once, at the last rung",
             "- a tie's probabilities of being best come from resampling the seeds (the same draw for every "
             "contender); with few seeds they are coarse (3 seeds allow 10 distinct resamples)",
             f"- {doc['wall_s']:.0f} s of training in all; git commit `{doc['git_commit']}`", ""]
    for rung in doc["rungs"]:
        lines += [f"## x{rung['budget']:g} ({rung['steps']} steps)", "",
                  "| contender | proxy | mean ± std | " + " | ".join(f"seed {s}" for s in doc["seeds"])
                  + " | p vs best | p (Holm) | status |", "|---" * (6 + len(doc["seeds"])) + "|"]
        proxy = {c["trial"]: c["proxy"] for c in doc["contenders"]}
        for row in sorted(rung["rows"], key=lambda r: (r["mean"] is None, _order(doc, r["mean"]))):
            values = " | ".join(_num(row["values"].get(s, row["values"].get(str(s)))) for s in doc["seeds"])
            lines.append(f"| {names[row['trial']]} | {_num(proxy[row['trial']])} | {_num(row['mean'])} ± "
                         f"{_num(row['std'])} | {values} | {_p(row['p'])} | {_p(row['p_holm'])} | {row['status']} |")
        lines.append("")
    lines += _test_lines(doc, names)
    lines += [*[f"![{name}](plots/{path.name})" for name, path in images.items()], ""]
    return "\n".join(lines)


def _order(doc: dict, mean) -> float:
    return mean if doc["direction"] == "minimize" else -mean


def _test_lines(doc: dict, names: dict) -> list[str]:
    split = doc.get("test_split") or {}
    if not split:
        return []
    metrics = sorted({k for v in split.values() for k in v if k != "versus"})
    lines = ["## Test split at the last rung", "",
             "The winner (or the tied) and the baselines, mean ± std over the seeds; the `majority_*`, `unigram_loss` "
             "and `context_free_loss` columns are the input-blind references (the same for every network).", "",
             "| contender | " + " | ".join(f"`{m}`" for m in metrics) + " |", "|---" * (1 + len(metrics)) + "|"]
    for trial, row in split.items():
        cells = " | ".join(f"{_num(row[m]['mean'])} ± {_num(row[m]['std'])}" if m in row else "-" for m in metrics)
        lines.append(f"| {names[int(trial)]} | {cells} |")
    lines.append("")
    for trial, row in split.items():
        for base, v in (row.get("versus") or {}).items():
            lines.append(f"- {names[int(trial)]} against {names[int(base)]} on `{v['metric']}`: paired difference "
                         f"{_num(v['mean'])} ± {_num(v['std'])} over {v['n']} seeds (one-sided paired t-test that the "
                         f"winner is better: p = {_p(v['p_better'])})")
    return lines + [""]
