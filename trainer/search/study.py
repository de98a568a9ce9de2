"""Opening a search's study (creating or resuming it), queueing its baselines, and finding an existing
study from another command's config (report, retrain) without creating one by mistake."""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState

from layernas.search_space.space import SearchSpace
from layernas.trainer.plan.search import ComponentConfig, SearchPlan
from layernas.trainer.plan.study import StudyRef
from layernas.trainer.plumbing.inputs import existing_studies
from layernas.trainer.plumbing.provenance import git_commit
from layernas.trainer.plumbing.secrets import storage_url_from_env
from layernas.trainer.search.samplers import make_pruner, make_sampler
from layernas.trainer.search.storage import make_storage, storage_url

# A baseline in one of these states needs no new attempt; a failed or interrupted one is queued again.
SETTLED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)


def open_study(plan: SearchPlan) -> optuna.Study:
    plan.study_dir.mkdir(parents=True, exist_ok=True)
    storage = make_storage(plan.storage, plan.study_dir)
    study = optuna.create_study(
        study_name=plan.name, storage=storage, load_if_exists=True, directions=plan.directions,
        sampler=make_sampler(_resumed_seed(plan.sampler, storage, plan.name), len(plan.objectives)),
        pruner=make_pruner(plan.pruner, len(plan.objectives)),
    )
    if [d.name.lower() for d in study.directions] != plan.directions:
        raise ValueError(f"study {plan.name!r} exists with directions {[d.name.lower() for d in study.directions]}; "
                         f"objectives={[o.name for o in plan.objectives]} asks for {plan.directions}: "
                         "use another study.name")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([o.name for o in plan.objectives])
    study.set_user_attr("config", plan.config)
    study.set_user_attr("git_commit", git_commit())  # the code that ran the trials, for best.yaml and report.md
    study.set_user_attr("objectives", [o.__dict__ for o in plan.objectives])
    if plan.classes:  # the classes' names and the majority class, for the reports
        study.set_user_attr("classes", plan.classes)
    study.set_user_attr("pruner", {"asked": plan.pruner.name, "used": plan.pruner.name if plan.prunes else "none"})
    return study


def _resumed_seed(sampler: ComponentConfig, storage, name: str) -> ComponentConfig:
    """The sampler with its seed moved on by the trials the study already has: a resumed search (or one
    more worker) must not draw the same random candidates again."""
    seed = sampler.spec.get("seed")
    if seed is None:
        return sampler
    existing = next((s.n_trials for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
                     if s.study_name == name), 0)
    return sampler.with_seed(seed + existing)


def enqueue_baselines(study: optuna.Study, space: SearchSpace) -> list[str]:
    """Queue the space's baselines as the first trials; on a resumed study, queue again every baseline
    that has no complete, pruned, running or waiting trial (its attempt failed or was interrupted)."""
    settled = {t.user_attrs.get("baseline") for t in study.get_trials(deepcopy=False, states=SETTLED)
               if not t.user_attrs.get("interrupted")}
    names = []
    for name, arch in space.baseline_archs().items():
        if name not in settled:
            study.enqueue_trial(space.encode(arch), user_attrs={"baseline": name})
        names.append(name)
    return names


def load_existing_study(ref: StudyRef) -> optuna.Study:
    """The study ``ref`` names in its storage; a one-line error if there is none."""
    url = storage_url(ref.storage, ref.folder)
    local = ref.storage.kind in ("sqlite", "journal") and not storage_url_from_env(ref.storage.kind, ref.storage.url)
    if local and not Path(url.removeprefix("sqlite:///")).exists():
        raise ValueError(f"study.name={ref.name!r} has no study in {ref.folder}; existing studies: "
                         f"{', '.join(existing_studies(ref.results_dir)) or 'none'}")
    storage = make_storage(ref.storage, ref.folder)
    try:
        return optuna.load_study(study_name=ref.name, storage=storage)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise ValueError(f"study.name={ref.name!r} is not in the storage; studies there: "
                         f"{', '.join(names) or 'none'}") from None
