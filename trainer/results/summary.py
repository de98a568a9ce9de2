"""report.md's top: what the study is and did (task, space, sampler, pruner, objectives; counts and
training steps; twins; commit and seed), the input-blind reference, and the seed noise with what the best
cannot be told apart from."""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial

from layernas.trainer.plan.recorded import Recorded
from layernas.trainer.results.best import search_commit
from layernas.trainer.results.extensions import extensions
from layernas.trainer.results.format import fmt
from layernas.trainer.results.noise import TIE_SIGMAS, ties
from layernas.trainer.results.table import objective_names, reference_metric, state_name

LISTED = 10  # trial numbers a report line lists before it counts the rest


def header_lines(study: optuna.Study, names: list[str], trials: list[FrozenTrial]) -> list[str]:
    """The title and the bullets on what the study is and did."""
    recorded = Recorded.of(study)
    states = [state_name(t) for t in trials]
    counts = ", ".join(f"{states.count(s)} {s}" for s in ("complete", "pruned", "failed", "rejected", "interrupted",
                                                         "running") if states.count(s) or s in ("complete",))
    return [f"# Study `{study.study_name}`", "",
            f"- task `{recorded.option('task')}` on `{recorded.option('data')}`, space `{recorded.option('space')}`, "
            f"sampler `{recorded.option('sampler')}`, {pruner_text(study, recorded)}, objectives "
            + ", ".join(f"`{n}` ({d.name.lower()})" for n, d in zip(names, study.directions, strict=True)),
            f"- {len(trials)} trials: {counts}; " + steps_line(study, trials),
            *twin_lines(trials),
            f"- git commit `{search_commit(study)}`; seed {recorded.seed}"]


def steps_line(study: optuna.Study, trials: list[FrozenTrial]) -> str:
    """How many optimizer steps the study trained, what an extension (a supernet) trained included."""
    steps = sum(t.user_attrs.get("steps") or 0 for t in trials)
    for ext in extensions():
        line = ext.steps(study, steps) if ext.steps else None
        if line:
            return line
    return f"{steps:,} training steps in all"


def reference_line(study: optuna.Study) -> str | None:
    """report.md's line on the reference, e.g. the majority class's accuracy on the validation split."""
    metric = reference_metric(study)
    values = [t.user_attrs["metrics"][metric] for t in study.get_trials(deepcopy=False)
              if metric in t.user_attrs.get("metrics", {})]
    if not values:
        return None
    majority = (study.user_attrs.get("classes") or {}).get("majority")
    what = "the unigram model" if metric == "val/unigram_loss" else "always predicting the majority class" \
        + (f" `{majority}`" if majority is not None else "")
    better = "higher" if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else "lower"
    return (f"- reference: {what} scores {objective_names(study)[0]} = {values[-1]:.4f} on the validation split "
            f"({better} is better); a result near it is no signal")


def pruner_text(study: optuna.Study, recorded: Recorded) -> str:
    """The pruner the trials ran with (a configured one that Optuna could not use is named as such)."""
    pruner = study.user_attrs.get("pruner") or {}
    asked = pruner.get("asked") or recorded.option("pruner")
    used = pruner.get("used", asked)
    if used == asked:
        return f"pruner `{used}`"
    return f"pruner `{used}` (`{asked}` was asked, but Optuna prunes only studies of one objective)"


def twins(trials: list[FrozenTrial]) -> dict[int, list[int]]:
    """Trials that reused an identical earlier network's result, by the trial they reused."""
    out: dict[int, list[int]] = {}
    for t in trials:
        if t.user_attrs.get("duplicate_of") is not None:
            out.setdefault(t.user_attrs["duplicate_of"], []).append(t.number)
    return out


def twin_lines(trials: list[FrozenTrial]) -> list[str]:
    """report.md's line on the trials the leaderboard shows once, under the trial that trained the network."""
    same = twins(trials)
    if not same:
        return []
    count = sum(map(len, same.values()))
    if count <= LISTED:
        which = ", ".join(f"#{d} same as #{n}" for n, ds in sorted(same.items()) for d in ds)
    else:  # a long search repeats a few networks many times: say which, not every trial number
        most = sorted(same.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        which = ", ".join(f"{len(ds)} of #{n}" for n, ds in most[:LISTED])
        which += f", and {count - sum(len(ds) for _, ds in most[:LISTED])} of {len(most) - LISTED} other networks" \
            if len(most) > LISTED else ""
        which += "; trials.csv's duplicate_of column lists them all"
    return [f"- {count} trials sampled a network already measured and reused its result "
            f"({which}); the leaderboard lists each network once, with its other trial numbers"]


def trial_numbers(numbers: list[int]) -> str:
    """``#1, #2`` or, for a long list, its first few and how many more."""
    shown = ", ".join(f"#{n}" for n in numbers[:LISTED])
    return shown + (f" and {len(numbers) - LISTED} more" if len(numbers) > LISTED else "")


def noise_lines(study: optuna.Study, top: list[FrozenTrial], noise: dict | None) -> list[str]:
    """report.md's lines on the seed noise at the study's budget, what the best is tied with, and the
    selection bias of the best of many noisy values."""
    name = objective_names(study)[0]
    if noise is None:
        return [f"- seed noise: not measured; `study.noise_seeds=[1,2]` trains the baselines on two more seeds "
                f"so that differences of `{name}` within the noise are marked as ties"] + selection_lines(study, top)
    per = ", ".join(f"{b} {fmt(v['mean'])} ± {fmt(v['std'])}" for b, v in noise["baselines"].items())
    left_out = f"; left out as constant predictors: {', '.join(noise['constant'])}" if noise.get("constant") else ""
    lines = [f"- seed noise at this budget: σ = {fmt(noise['std'])} with {noise['dof']} degrees of freedom (pooled "
             f"std of `{name}` over seeds {', '.join(map(str, noise['seeds']))} of the baselines: {per}{left_out}); "
             f"two single-seed values differ with std √2σ = {fmt(noise['diff_std'])}, so values within "
             f"{TIE_SIGMAS:g}√2σ = {fmt(noise['tie_within'])} of each other are ties"]
    tied = ties(top, noise)
    if len(top) >= 2:
        lines.append(_lead_line(study, top, tied))
    return lines + selection_lines(study, top)


def _lead_line(study: optuna.Study, top: list[FrozenTrial], tied: dict) -> str:
    best, second = top[0], top[1]
    if tied["all"]:
        what = [f"#{n}" + (" (runner-up)" if n == tied["runner_up"] else "")
                + (f" (baseline {study.trials[n].user_attrs.get('baseline', '')})" if n in tied["baselines"] else "")
                for n in tied["all"]]
        return (f"- the best, #{best.number}, is within the seed noise of {', '.join(what)}: at this budget that "
                "is a tie, not a win; race them on several seeds before choosing (`layernas race`)")
    gap = abs(best.values[0] - second.values[0])
    return (f"- the best, #{best.number}, leads the runner-up #{second.number} by {fmt(gap)}, more than "
            f"{TIE_SIGMAS:g} standard deviations of the difference")


def selection_lines(study: optuna.Study, top: list[FrozenTrial]) -> list[str]:
    """One line: the best of many noisy values is biased towards better (selection)."""
    if len(top) < 2:
        return []
    worse = "higher" if study.directions[0] == optuna.study.StudyDirection.MINIMIZE else "lower"
    return [f"- the best of {len(top)} noisy values is biased by selection: trained again on another seed, it "
            f"will likely score {worse} than its proxy value"]
