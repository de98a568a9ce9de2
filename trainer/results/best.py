"""best.yaml: the best architecture (or the Pareto set), its metrics, the baselines, the seed noise and
ties, the resolved config, seed and git commit: everything needed to reproduce it; and what features add."""

from __future__ import annotations

import math

import optuna
from optuna.trial import FrozenTrial

from layernas.trainer.plan.recorded import Recorded
from layernas.trainer.plumbing.provenance import git_commit
from layernas.trainer.results.extensions import extensions
from layernas.trainer.results.noise import seed_noise, ties
from layernas.trainer.results.ranking import best_trials, ranked
from layernas.trainer.results.table import objective_names


def search_commit(study: optuna.Study) -> str:
    """The commit of the code that last ran the search (the current one for studies that did not record it)."""
    return study.user_attrs.get("git_commit") or git_commit()


def _entry(study: optuna.Study, t: FrozenTrial) -> dict:
    names = objective_names(study)
    return {"trial": t.number, "arch": t.user_attrs.get("arch"), "key": t.user_attrs.get("key"),
            "baseline": t.user_attrs.get("baseline"), "values": dict(zip(names, t.values, strict=True)),
            "params": t.user_attrs.get("params"), "flops": t.user_attrs.get("flops"),
            "metrics": t.user_attrs.get("metrics", {}),
            **({"classes": classes} if (classes := study.user_attrs.get("classes")) else {}),
            "retrain": f"layernas retrain study.name={study.study_name} trial={t.number}"}


def best_document(study: optuna.Study) -> dict:
    """best.yaml: the best architecture (or the Pareto set), its metrics, baselines, the resolved config,
    seed and git commit: everything needed to reproduce it."""
    recorded = Recorded.of(study)
    best = [_entry(study, t) for t in best_trials(study)]
    baselines = [_entry(study, t) for t in ranked(study) if t.user_attrs.get("baseline")]
    single = len(study.directions) == 1
    noise = seed_noise(study)
    return {"study": study.study_name, "objectives": study.user_attrs.get("objectives", []),
            "best" if single else "pareto_front": best[0] if single else best,
            "baselines": baselines, "seed_noise": noise, "ties_with_best": ties(ranked(study), noise) or None,
            "seed": recorded.seed, "git_commit": search_commit(study), "config": recorded.config,
            **{k: v for ext in extensions() if ext.best for k, v in (ext.best(study) or {}).items()}}


def yaml_safe(obj):
    """YAML-safe: tuples as lists, NaN as null."""
    if isinstance(obj, dict):
        return {str(k): yaml_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [yaml_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
