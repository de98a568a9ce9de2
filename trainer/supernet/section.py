"""What a supernet study adds to its results (registered as a results extension): the ``Weight sharing``
section of report.md and best.yaml, the stand-alone values in trials.csv, the supernet's and the checks'
steps in the count of training steps, and its best stand-alone check as the study's answer."""

from __future__ import annotations

from pathlib import Path

import optuna

from layernas.trainer.results.extensions import Extension, register
from layernas.trainer.supernet.standalone import records
from layernas.trainer.supernet.summary import is_supernet, lines, summarise


def standalone_values(study: optuna.Study) -> dict[str, dict[int, float]]:
    """trials.csv's ``standalone`` column: trial number -> the stand-alone proxy value of its check."""
    return {"standalone": {n: r["value"] for n, r in records(study).items() if r.get("state") == "complete"}}


def weight_sharing(study: optuna.Study, study_dir: Path) -> list[str]:
    """report.md's ``Weight sharing`` section (none for stand-alone studies)."""
    return lines(summarise(study))


def best_entry(study: optuna.Study) -> dict | None:
    """best.yaml's ``supernet`` section: rank agreement, cost and the checks."""
    summary = summarise(study)
    return {"supernet": summary} if summary else None


def steps(study: optuna.Study, trial_steps: int) -> str | None:
    """The study's training steps with the supernet's and its stand-alone checks' included."""
    if not is_supernet(study):
        return None
    supernet = (study.user_attrs.get("supernet") or {}).get("step") or 0  # read, not summarised: no bootstrap
    runs = [r for r in records(study).values() if r.get("state") == "complete"]
    checks = sum(r.get("steps") or 0 for r in runs)
    return (f"{trial_steps + supernet + checks:,} training steps in all ({supernet:,} of the supernet, "
            f"{checks:,} of {len(runs)} stand-alone checks; the scored trials train nothing)")


def answer(study: optuna.Study) -> dict | None:
    """The best of the supernet's stand-alone checks: retraining and analysis take it by default."""
    summary = summarise(study)
    best = summary["best_standalone"] if summary else None
    if best is None:
        return None
    return {"trial": best["trial"], "arch": best["arch"],
            "line": f"retraining trial #{best['trial']}: the best stand-alone value of the supernet's checked "
                    f"candidates ({best['value']:.4f}; supernet score {best['score']:.4f})"}


register(Extension("supernet", before_leaderboard=weight_sharing, best=best_entry, columns=standalone_values,
                   steps=steps, answer=answer, priority=10))
