"""What a race adds to its study's results (registered as a results extension): a line at the top of
report.md and a section after the results, best.yaml's ``race`` entry beside the proxy's pick, and the
race winner as the study's answer (retrain and analyze take it by default)."""

from __future__ import annotations

import json
from pathlib import Path

import optuna

from layernas.trainer.race.plan import RESULT
from layernas.trainer.results.extensions import Extension, register


def _result(study: optuna.Study) -> dict | None:
    found = study.user_attrs.get(RESULT)
    return found if isinstance(found, dict) else None


def summary(study: optuna.Study, study_dir: Path) -> list[str]:
    found = _result(study)
    return [f"- {found['line']} ([race/race.md](race/race.md))"] if found else []


def section(study: optuna.Study, study_dir: Path) -> list[str]:
    """The last rung's table of race.md, under a heading of report.md."""
    try:
        doc = json.loads((study_dir / "race" / "race.json").read_text())
    except (OSError, ValueError):
        return []
    last = doc["rungs"][-1] if doc.get("rungs") else None
    if last is None:
        return []
    lines = ["", "## Race", "", f"{doc['line']}. Rungs x{', x'.join(f'{b:g}' for b in doc['budgets'])} on seeds "
             f"{doc['seeds']}, {doc['test']} at alpha {doc['alpha']:g}; every rung in [race/race.md](race/race.md).",
             "",
             f"| contender | x{last['budget']:g}: mean ± std | p (Holm) | status |", "|---|---|---|---|"]
    names = {c["trial"]: f"#{c['trial']}" + (f" ({c['baseline']})" if c["baseline"] else "") for c in doc["contenders"]}
    sign = 1 if doc["direction"] == "minimize" else -1
    for row in sorted(last["rows"], key=lambda r: (r["mean"] is None, sign * (r["mean"] or 0))):
        mean = f"{row['mean']:.4f}" if row["mean"] is not None else "-"
        std = f"{row['std']:.4f}" if row["std"] is not None else "-"
        p = f"{row['p_holm']:.3g}" if row["p_holm"] is not None else "-"
        lines.append(f"| {names[row['trial']]} | {mean} ± {std} | {p} | {row['status']} |")
    return lines


def best_entry(study: optuna.Study) -> dict | None:
    """best.yaml's ``race``: the winner (or the tie) beside the proxy's pick."""
    found = _result(study)
    return {"race": found} if found else None


def answer(study: optuna.Study) -> dict | None:
    """The race winner, when the race found one (a tie leaves the proxy's pick as the answer)."""
    found = _result(study)
    if not found or found.get("winner") is None:
        return None
    trial = study.trials[found["winner"]]
    return {"trial": trial.number, "arch": trial.user_attrs["arch"],
            "line": f"retraining trial #{trial.number}: the race winner at x{found['budget']:g} on seeds "
                    f"{found['seeds']} (the proxy's pick was #{found['proxy_pick']})"}


register(Extension("race", summary=summary, after_results=section, best=best_entry, answer=answer, priority=20))
