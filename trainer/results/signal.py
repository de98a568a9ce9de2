"""Whether a study's first objective says anything about the architectures: a study whose best is within
the noise of the input-blind reference (the majority class, the unigram model), or whose networks are
mostly constant predictors, ranks noise, and its report says so at the top ("no signal at this budget")."""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial

from layernas.trainer.plan.metrics import beats
from layernas.trainer.results.format import fmt
from layernas.trainer.results.noise import CONSTANT, TIE_SIGMAS, within_noise_of_fixed
from layernas.trainer.results.table import reference_metric

VERDICT = "no signal at this budget"


def objective_key(study: optuna.Study) -> str | None:
    """The metric behind the first objective (``val/acc``), None for a study without a recorded one."""
    return ((study.user_attrs.get("objectives") or [{}])[0]).get("key")


def reference_value(study: optuna.Study, t: FrozenTrial) -> float | None:
    """What the input-blind reference scores on ``t``'s first objective (the same for every trial)."""
    metric = reference_metric(study)
    value = t.user_attrs.get("metrics", {}).get(metric) if metric else None
    return float(value) if isinstance(value, (int, float)) else None


def no_signal(study: optuna.Study, t: FrozenTrial, noise: dict | None) -> bool:
    """Whether ``t``'s first objective is not better than the reference, or within ``TIE_SIGMAS`` seed
    sigmas of it (the reference has no seed noise: the difference's std is sigma)."""
    key, reference = objective_key(study), reference_value(study, t)
    if key is None or reference is None or not t.values:
        return False
    return not beats(key, t.values[0], reference) or within_noise_of_fixed(t.values[0], reference, noise)


def verdict(study: optuna.Study, top: list[FrozenTrial], noise: dict | None) -> str | None:
    """The study-level line when its answer is no signal, with why; None when the best carries signal."""
    if not top:
        return None
    why = []
    best, reference = top[0], reference_value(study, top[0])
    if reference is not None and no_signal(study, best, noise):
        how = "is not better than" if not beats(objective_key(study), best.values[0], reference) else \
            f"is within {TIE_SIGMAS:g}σ = {fmt(TIE_SIGMAS * noise['std'])} of"
        why.append(f"the best, #{best.number} ({fmt(best.values[0])}), {how} the input-blind reference "
                   f"({fmt(reference)})")
    constant = [t for t in top if CONSTANT in (t.user_attrs.get("flags") or [])]
    if 2 * len(constant) > len(top):
        why.append(f"{len(constant)} of its {len(top)} networks are constant predictors")
    if not why:
        return None
    return (f"{VERDICT}: {'; '.join(why)}; the ranking says nothing about the architectures (train longer, "
            "or on more data, before reading it)")
