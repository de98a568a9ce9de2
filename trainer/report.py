"""What a study leaves in ``results/<study>/``: trials.csv, best.yaml, report.md and plots, rebuilt from
the storage after every trial (so an interrupted search still has an up-to-date leaderboard), and the
study's summary run in W&B. ``layernas report study.name=...`` rebuilds them."""

from __future__ import annotations

import csv
import io
import math
import sys
from pathlib import Path

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from . import plots
from .files import atomic_write_text
from .metrics import REFERENCES
from .provenance import git_commit
from .seed_noise import TIE_SIGMAS, seed_noise, ties, within_noise

BASE_COLUMNS = ["number", "state", "baseline", "arch", "key"]
# params and flops: the encoder's (what space.max_params and max_flops bound); model_params: with the task head
# reference: what a predictor that ignores the input scores on the first objective (the majority class's
# accuracy, MCC, F1 or loss; the unigram loss for masked LM); flags: e.g. "constant predictor"
COST_COLUMNS = ["reference", "flags", "params", "model_params", "flops", "latency_ms", "steps", "wall_s",
                "tokens_per_s", "duplicate_of", "reason", "started", "finished", "strategy", "standalone"]
# strategy: how the trial's value was measured (standalone: its own proxy run; supernet: inherited weights);
# standalone: for a supernet-scored trial trained stand-alone too, that run's value of the first objective


def objective_names(study: optuna.Study) -> list[str]:
    return study.metric_names or [f"objective_{i}" for i in range(len(study.directions))]


def objective_labels(study: optuna.Study) -> list[str]:
    """Names with the metric behind them where it differs: ``objective (val/mlm_loss)``."""
    keys = {o["name"]: o["key"] for o in study.user_attrs.get("objectives", [])}
    return [f"{n} ({keys[n]})" if keys.get(n, n) != n else n for n in objective_names(study)]


def state_name(t: FrozenTrial) -> str:
    """Optuna's state, or why a trial did not count: ``rejected`` by a constraint, ``interrupted``."""
    if t.user_attrs.get("rejected"):
        return "rejected"
    if t.user_attrs.get("interrupted"):
        return "interrupted"
    return t.state.name.lower()


def rows(study: optuna.Study) -> tuple[list[str], list[list]]:
    """One row per trial, in trial order (the content of trials.csv and the W&B leaderboard table). Each
    column holds one type, None where a trial has no value (W&B tables refuse mixed columns; the CSV
    writes None as an empty cell)."""
    names = objective_names(study)
    columns = BASE_COLUMNS + names + COST_COLUMNS
    trials = study.get_trials(deepcopy=False)
    why = reasons(trials)
    reference = reference_metric(study)
    checked = standalone_values(study)
    out = []
    for t in trials:
        values = list(t.values) if t.values else [None] * len(names)
        u = t.user_attrs
        out.append([t.number, state_name(t), u.get("baseline"), u.get("arch"), u.get("key"),
                    *(_number(v) for v in values), _number(u.get("metrics", {}).get(reference)),
                    ", ".join(u.get("flags") or []) or None, _number(u.get("params")), _number(u.get("model_params")),
                    _number(u.get("flops")), _number(u.get("latency_ms")), _number(u.get("steps")),
                    _number(_round(u.get("wall_s"))), _number(_round(u.get("tokens_per_s"))), u.get("duplicate_of"),
                    why.get(t.number), _time(t.datetime_start), _time(t.datetime_complete),
                    u.get("strategy", "standalone"), _number(checked.get(t.number))])
    return columns, out


def standalone_values(study: optuna.Study) -> dict[int, float]:
    """A supernet study's stand-alone checks: trial number -> the stand-alone proxy value."""
    from .supernet.standalone import records

    return {n: r["value"] for n, r in records(study).items() if r.get("state") == "complete"}


def _supernet(study: optuna.Study) -> dict | None:
    """best.yaml's ``supernet`` section: rank agreement, cost and the checks (None for stand-alone studies)."""
    from .supernet.summary import summarise

    return summarise(study)


def steps_line(study: optuna.Study, trials: list[FrozenTrial]) -> str:
    """How many optimizer steps the study trained, a supernet's and its stand-alone checks' included."""
    from .supernet.standalone import records
    from .supernet.summary import is_supernet

    steps = sum(t.user_attrs.get("steps") or 0 for t in trials)
    if not is_supernet(study):
        return f"{steps:,} training steps in all"
    supernet = (study.user_attrs.get("supernet") or {}).get("step") or 0  # read, not summarised: no bootstrap
    runs = [r for r in records(study).values() if r.get("state") == "complete"]
    checks = sum(r.get("steps") or 0 for r in runs)
    return (f"{steps + supernet + checks:,} training steps in all ({supernet:,} of the supernet, "
            f"{checks:,} of {len(runs)} stand-alone checks; the scored trials train nothing)")


def supernet_lines(study: optuna.Study) -> list[str]:
    """report.md's ``Weight sharing`` section (none for stand-alone studies)."""
    from .supernet.summary import lines

    return lines(_supernet(study))


def reference_metric(study: optuna.Study) -> str | None:
    """The metric that says what an input-blind predictor scores on the study's first objective."""
    objectives = study.user_attrs.get("objectives") or [{}]
    return REFERENCES.get(objectives[0].get("key"))


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


def pruner_text(study: optuna.Study) -> str:
    """The pruner the trials ran with (a configured one that Optuna could not use is named as such)."""
    pruner = study.user_attrs.get("pruner") or {}
    asked = pruner.get("asked") or study.user_attrs.get("config", {}).get("pruner", {}).get("name")
    used = pruner.get("used", asked)
    if used == asked:
        return f"pruner `{used}`"
    return f"pruner `{used}` (`{asked}` was asked, but Optuna prunes only studies of one objective)"


def search_commit(study: optuna.Study) -> str:
    """The commit of the code that last ran the search (the current one for studies that did not record it)."""
    return study.user_attrs.get("git_commit") or git_commit()


def reasons(trials: list[FrozenTrial]) -> dict[int, str]:
    """Why each failed, pruned or rejected trial ended; a trial failed by the heartbeat or restart check
    has no reason of its own (its worker died), so it gets one from the trial that re-ran it."""
    rerun = {t.system_attrs["failed_trial"]: t.number for t in trials if "failed_trial" in t.system_attrs}
    out = {t.number: t.user_attrs["reason"] for t in trials if t.user_attrs.get("reason")}
    for number, again in rerun.items():
        out.setdefault(number, f"its worker stopped during the trial; run again as #{again}")
    return out


def _round(value):
    return round(value, 2) if isinstance(value, float) else value


def _number(value):
    """A number as a float or int, anything else (missing, a stray text) as None."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _time(value) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _csv(columns: list[str], data: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if v is None else v for v in row] for row in data])
    return buffer.getvalue()


def ranked(study: optuna.Study) -> list[FrozenTrial]:
    """Complete trials best first (by the first objective), one per network (duplicates left out)."""
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if "duplicate_of" not in t.user_attrs]
    sign = 1 if study.directions[0] == optuna.study.StudyDirection.MINIMIZE else -1
    return sorted(done, key=lambda t: sign * t.values[0])


def tied_with_best(top: list[FrozenTrial]) -> list[FrozenTrial]:
    """The other trials whose first objective equals the best's (to 1e-9): which of them leads is a
    tie-break of Optuna's order, not a result (constant predictors all score the majority class's share)."""
    if not top:
        return []
    best = top[0].values[0]
    return [t for t in top[1:] if abs(t.values[0] - best) <= 1e-9 * max(1.0, abs(best))]


def best_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The best trial, or the Pareto set (several objectives), without duplicates."""
    if len(study.directions) == 1:
        top = ranked(study)
        return top[:1]
    return sorted((t for t in study.best_trials if "duplicate_of" not in t.user_attrs), key=lambda t: t.values[0])


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
    config = study.user_attrs.get("config", {})
    best = [_entry(study, t) for t in best_trials(study)]
    baselines = [_entry(study, t) for t in ranked(study) if t.user_attrs.get("baseline")]
    single = len(study.directions) == 1
    noise = seed_noise(study)
    return {"study": study.study_name, "objectives": study.user_attrs.get("objectives", []),
            "best" if single else "pareto_front": best[0] if single else best,
            "baselines": baselines, "seed_noise": noise, "ties_with_best": ties(ranked(study), noise) or None,
            "seed": config.get("seed"), "git_commit": search_commit(study), "config": config,
            **({"supernet": weight_sharing} if (weight_sharing := _supernet(study)) else {})}


def write_results(study: optuna.Study, study_dir: Path, with_plots: bool = False) -> None:
    """Rewrite trials.csv, best.yaml and report.md (and the plots when asked) atomically."""
    study_dir.mkdir(parents=True, exist_ok=True)
    columns, data = rows(study)
    atomic_write_text(study_dir / "trials.csv", _csv(columns, data))
    if best_trials(study):
        atomic_write_text(study_dir / "best.yaml", yaml.safe_dump(_plain(best_document(study)), sort_keys=False,
                                                                   width=120))
    else:
        (study_dir / "best.yaml").unlink(missing_ok=True)  # it would name a best the storage does not have
    images = draw(study, study_dir / "plots") if with_plots else _existing_images(study_dir / "plots")
    from .search.format import fmt

    extra = {"audit": audit_lines(study_dir), "retrain": retrain_lines(study, study_dir, fmt),
             "supernet": supernet_lines(study)}
    atomic_write_text(study_dir / "report.md", markdown(study, images, extra))


DERIVED = ("trials.csv", "best.yaml", "report.md")


def clear_results(study_dir: Path) -> None:
    """Remove the results files of a study that is no longer in the storage (its storage was deleted and
    a new study of the same name begins): they would describe trials that do not exist."""
    import shutil

    for name in DERIVED:
        (study_dir / name).unlink(missing_ok=True)
    shutil.rmtree(study_dir / "plots", ignore_errors=True)


def _plain(obj):
    """YAML-safe: tuples as lists, NaN as null."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _existing_images(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.glob("*.png"))} if folder.exists() else {}


def draw(study: optuna.Study, folder: Path) -> dict[str, Path]:
    """All plots of the study; returns the PNGs by name."""
    names = objective_labels(study)
    trials = study.get_trials(deepcopy=False)
    direction = study.directions[0].name.lower()
    images = {"history": plots.history(trials, names[0], direction, folder / "history.png")}
    if len(names) > 1 and study.best_trials:
        images["pareto"] = plots.pareto(study, names, folder / "pareto.png")
    heat = plots.op_by_position(trials, names[0], folder / "op_by_position.png")
    if heat:
        images["op_by_position"] = heat
    plots.interactive(study, names, folder)
    return images


LISTED = 10  # trial numbers a report line lists before it counts the rest


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


def retrain_lines(study: optuna.Study, study_dir: Path, fmt) -> list[str]:
    """report.md's section on the study's retrained architectures (``layernas retrain``): the study's first
    objective as the proxy measured it and as retraining did, on validation and test, each number named
    and beside its input-blind reference, and the other test metrics below."""
    import json

    docs = []
    for path in sorted((study_dir / "retrain").glob("*/metrics.json")):
        try:
            docs.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    if not docs:
        return []
    config = study.user_attrs.get("config", {}).get("trainer", {})
    metric = (study.user_attrs.get("objectives") or [{}])[0].get("key") or docs[0].get("objective", "")
    test, sliced = (f"{split}/{metric.split('/', 1)[-1]}" for split in ("test", "val_slice"))
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    lines = ["", "## Retrained", "",
             f"`{metric}`, the study's first objective: the proxy's value on {_slice(config.get('limit_val_batches'))}"
             f" of the validation split after {config.get('max_steps')} steps, and the retrained values (mean +- std "
             "over seeds) on the validation data named in the row, on the proxy's slice and on the test split; in "
             "brackets what an input-blind predictor scores on the same examples.", "",
             f"| trial | {metric}, proxy | {metric}, retrained | validation | {metric} on the proxy's slice | {test} "
             "| steps | seeds | flags | architecture |", "|---" * 10 + "|"]
    for d in docs:
        trial = by_number.get(d.get("trial"))
        proxy = fmt(trial.values[0]) if trial is not None and trial.values else "-"
        proxy += _reference_cell(trial.user_attrs.get("metrics", {}), metric, fmt, d.get("classes")) \
            if trial is not None else ""
        steps = sorted({r.get("steps") for r in d.get("runs", []) if r.get("steps")})
        lines.append(f"| {d.get('trial') if d.get('trial') is not None else '-'} | {proxy} | "
                     f"{_retrained_cell(d, metric, fmt)} | {_slice(d.get('val_batches', 'unknown'))} | "
                     f"{_retrained_cell(d, sliced, fmt)} | {_retrained_cell(d, test, fmt)} | "
                     f"{', '.join(map(str, steps)) or '-'} | {len(d.get('seeds', []))} | "
                     f"{', '.join(d.get('flags') or [])} | `{d.get('arch', '')}` |")
    return lines + _other_test_lines(docs, test, fmt) + _per_class_lines(docs, fmt)


def _per_class_lines(docs: list[dict], fmt) -> list[str]:
    """Each retrained model's recall of each class (the mean over seeds), named where the classes have names."""
    from .metrics import per_class_text

    out = []
    for d in docs:
        means = {k: v["mean"] for k, v in d.items() if "/recall_" in k and isinstance(v, dict)}
        texts = [f"{what} {text}" for split, what in (("val", "validation"), ("test", "test"))
                 if (text := per_class_text(means, split, d.get("classes"), fmt))]
        if texts:
            trial = d.get("trial") if d.get("trial") is not None else "-"
            out.append(f"- recall by class, trial {trial}: " + "; ".join(texts))
    return ["", *out] if out else []


def _other_test_lines(docs: list[dict], shown: str, fmt) -> list[str]:
    """The retrained models' other test metrics, each beside its reference."""
    from .metrics import reference_of

    references = {reference_of(k) for d in docs for k in d if k.startswith("test/")}
    names = sorted({k for d in docs for k in d if k.startswith("test/") and k != shown and k not in references
                    and k != "test/predicted_classes" and "/recall_" not in k})
    if not names:
        return []
    return ["", "| trial | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|",
            *[f"| {d.get('trial') if d.get('trial') is not None else '-'} | "
              + " | ".join(_retrained_cell(d, n, fmt) for n in names) + " |" for d in docs]]


def _retrained_cell(d: dict, name: str, fmt) -> str:
    """A retrained metric's mean (+- std over several seeds) beside its reference; an earlier retrain that
    headlined another metric shows that one, named."""
    from .metrics import reference_of

    value = d.get(name)
    if not isinstance(value, dict):
        if name == d.get("objective"):
            value = {"mean": d["mean"], "std": d["std"]}
        elif name.startswith("val/") and d.get("objective") and "mean" in d:
            return f"- ({d['objective']}: {fmt(d['mean'])})"
        else:
            return "-"
    text = fmt(value["mean"]) if len(d.get("seeds", [])) == 1 else f"{fmt(value['mean'])} +- {fmt(value['std'])}"
    reference = d.get(reference_of(name) or "")
    means = {name: value["mean"], reference_of(name): reference["mean"]} if isinstance(reference, dict) else {}
    return text + _reference_cell(means, name, fmt, d.get("classes"))


def _reference_cell(metrics: dict, name: str, fmt, classes: dict | None = None) -> str:
    """`` (majority class 0.6959; not better)`` (with named classes: ``majority class `entailment`: 0.5270``),
    or nothing when the run logged no reference."""
    from .metrics import beats, reference_of, reference_text

    reference = reference_of(name)
    if reference is None or reference not in metrics or name not in metrics:
        return ""
    verdict = "" if beats(name, metrics[name], metrics[reference]) else "; not better"
    return f" ({reference_text(reference, fmt(metrics[reference]), classes)}{verdict})"


def _slice(batches) -> str:
    if batches == "unknown":
        return "not recorded"
    return "the whole split" if batches in (None, 1.0) else f"the first {batches} batches"


def audit_lines(study_dir: Path) -> list[str]:
    """report.md's lines on the study's audit (``layernas audit``), if it has one."""
    import json

    path = study_dir / "audit" / "audit.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    taus = ", ".join(f"{name}: tau {r['tau']:.2f} (95% CI {r['tau_ci'][0]:.2f} to {r['tau_ci'][1]:.2f})"
                     for name, r in doc.get("agreement", {}).items() if r.get("tau") is not None)
    return [f"- audit of the proxy ranking ([audit/audit.md](audit/audit.md), {len(doc.get('archs', []))} "
            f"architectures, seeds {doc.get('seeds')}): {taus or 'no budget finished'}",
            f"- {doc.get('recommendation', {}).get('line', '')}"]


def markdown(study: optuna.Study, images: dict[str, Path], extra: dict[str, list[str]] | None = None) -> str:
    """report.md: counts, leaderboard, baselines against the best, the Pareto set, failures, plots."""
    from .search.format import fmt

    names = objective_labels(study)
    trials = study.get_trials(deepcopy=False)
    config = study.user_attrs.get("config", {})
    states = [state_name(t) for t in trials]
    lines = [f"# Study `{study.study_name}`", "",
             f"- task `{config.get('task', {}).get('name')}` on `{config.get('data', {}).get('name')}`, "
             f"space `{config.get('space', {}).get('name')}`, sampler `{config.get('sampler', {}).get('name')}`, "
             f"{pruner_text(study)}, objectives "
             + ", ".join(f"`{n}` ({d.name.lower()})" for n, d in zip(names, study.directions, strict=True)),
             f"- {len(trials)} trials: "
             + ", ".join(f"{states.count(s)} {s}" for s in ("complete", "pruned", "failed", "rejected", "interrupted",
                                                             "running") if states.count(s) or s in ("complete",))
             + "; " + steps_line(study, trials),
             *twin_lines(trials),
             f"- git commit `{search_commit(study)}`; seed {config.get('seed')}"]
    reference = reference_line(study)
    lines += [reference] if reference else []
    top = ranked(study)
    noise = seed_noise(study)
    extra = extra or {}
    lines += noise_lines(study, top, noise, fmt) + extra.get("audit", []) + extra.get("supernet", []) + [""]
    tied = tied_with_best(top)
    if tied:
        lines.insert(len(lines) - 1, f"- the best, #{top[0].number}, is tied with "
                     + ", ".join(f"#{t.number}" for t in tied) + " (the same value): their order is a tie-break")
    head = ("| rank | trial | " + " | ".join(names)
            + " | vs best | params | FLOPs/seq | baseline | flags | architecture |")
    sep = "|---" * (7 + len(names)) + "|---|"
    row = _Row(top[0].values[0] if top else None, noise, fmt, twins(trials))
    lines += ["## Leaderboard", "", head, sep]
    for i, t in enumerate(top[:15], 1):
        lines.append(row(i, t))
    base = [t for t in top if t.user_attrs.get("baseline")]
    if base and top:
        lines += ["", "## Baselines against the best", "", head, sep]
        for t in [top[0], *[b for b in base if b.number != top[0].number]]:
            lines.append(row(top.index(t) + 1, t))
    if len(names) > 1:
        lines += ["", "## Pareto front", "", head, sep]
        for t in best_trials(study):
            lines.append(row(top.index(t) + 1 if t in top else "-", t))
    lines += extra.get("retrain", [])
    why = reasons(trials)
    problems = [t for t in trials if t.state in (TrialState.FAIL, TrialState.PRUNED) and t.number in why]
    if problems:
        lines += ["", "## Failed, pruned and rejected trials", "", "| trial | state | reason | architecture |",
                  "|---|---|---|---|"]
        lines += [f"| {t.number} | {state_name(t)} | {why[t.number]} | "
                  f"`{t.user_attrs.get('arch', '')}` |" for t in problems]
    if images:
        lines += ["", "## Plots", ""]
        lines += [f"![{name}](plots/{path.name})" for name, path in images.items()]
        lines += ["", "Interactive versions: `plots/*.html`."]
    return "\n".join(lines) + "\n"


def noise_lines(study: optuna.Study, top: list[FrozenTrial], noise: dict | None, fmt) -> list[str]:
    """report.md's lines on the seed noise at the study's budget and what the best is tied with."""
    name = objective_names(study)[0]
    if noise is None:
        return [f"- seed noise: not measured; `study.noise_seeds=[1,2]` trains the baselines on two more seeds "
                f"so that differences of `{name}` within the noise are marked as ties"]
    per = ", ".join(f"{b} {fmt(v['mean'])} ± {fmt(v['std'])}" for b, v in noise["baselines"].items())
    lines = [f"- seed noise at this budget: σ = {fmt(noise['std'])} (pooled std of `{name}` over seeds "
             f"{', '.join(map(str, noise['seeds']))} of the baselines: {per}); values within {TIE_SIGMAS:g}σ = "
             f"{fmt(noise['tie_within'])} of each other are ties"]
    tied = ties(top, noise)
    if len(top) < 2:
        return lines
    best, second = top[0], top[1]
    gap = abs(best.values[0] - second.values[0])
    if tied["all"]:
        what = [f"#{n}" + (" (runner-up)" if n == tied["runner_up"] else "")
                + (f" (baseline {_baseline(study, n)})" if n in tied["baselines"] else "") for n in tied["all"]]
        lines.append(f"- the best, #{best.number}, is within the seed noise of {', '.join(what)}: at this budget "
                     "that is a tie, not a win; retrain them on several seeds before choosing")
    else:
        lines.append(f"- the best, #{best.number}, leads the runner-up #{second.number} by {fmt(gap)}, more than "
                     f"{TIE_SIGMAS:g}σ")
    return lines


def _baseline(study: optuna.Study, number: int) -> str:
    return study.trials[number].user_attrs.get("baseline", "")


class _Row:
    """One leaderboard row; ``vs best`` is the difference to the best's first objective, ``(tie)`` when
    the seed noise cannot tell them apart."""

    def __init__(self, best: float | None, noise: dict | None, fmt, same: dict[int, list[int]] | None = None) -> None:
        self.best, self.noise, self.fmt, self.same = best, noise, fmt, same or {}

    def __call__(self, rank, t: FrozenTrial) -> str:
        u, fmt = t.user_attrs, self.fmt
        values = " | ".join(fmt(v) for v in t.values)
        number = f"{t.number} (= {trial_numbers(self.same[t.number])})" if t.number in self.same else str(t.number)
        return (f"| {rank} | {number} | {values} | {self._versus(t)} | {fmt(u.get('params'))} | "
                f"{fmt(u.get('flops'))} | {u.get('baseline', '')} | {', '.join(u.get('flags') or [])} | "
                f"`{u.get('arch', '')}` |")

    def _versus(self, t: FrozenTrial) -> str:
        if self.best is None or t.values[0] == self.best:
            return "best" if self.best is not None else "-"
        delta = t.values[0] - self.best
        text = f"{delta:+.4f}"
        return f"{text} (tie)" if within_noise(t.values[0], self.best, self.noise) else text


def log_summary_run(study: optuna.Study, plan) -> str | None:
    """The study's summary run in W&B: leaderboard table, plots and the best values. It is a record of
    results already written, so a failure is a one-line warning, never a failed search."""
    try:
        written = _log_summary_run(study, plan)
    except Exception as e:  # noqa: BLE001  (W&B raises many types; none may fail a finished search)
        from .secrets import redact

        reason = (str(e).strip().splitlines() or [""])[0]
        print(f"warning: the W&B summary run of study {study.study_name!r} was not written "
              f"({type(e).__name__}: {redact(reason)}); `layernas report study.name={study.study_name}` writes it",
              file=sys.stderr, flush=True)
        _mark_summary_run(study, "failed")
        return None
    if written is not None:
        _mark_summary_run(study, "written")
    return written


def _mark_summary_run(study: optuna.Study, state: str) -> None:
    """Kept in the study, so that ``layernas report`` knows to write a summary run that failed."""
    try:
        study.set_user_attr("summary_run", state)
    except Exception as e:  # noqa: BLE001  (a storage that refuses writes must not fail the report either)
        print(f"warning: could not record the summary run's state ({type(e).__name__})", file=sys.stderr)


def _log_summary_run(study: optuna.Study, plan) -> str | None:
    from .tracking import RunInfo, log_summary

    best = best_trials(study)
    names = objective_names(study)
    summary = {"n_trials": len(study.trials), "best_trials": [t.number for t in best]}
    noise = seed_noise(study)
    if noise:
        summary["seed_noise/std"] = noise["std"]
    if best:
        summary.update({f"best/{n}": v for n, v in zip(names, best[0].values, strict=True)})
        summary["best/arch"] = best[0].user_attrs.get("arch")
    run = RunInfo(name=f"{study.study_name} summary", group=study.study_name, job_type="summary",
                  save_dir=plan.study_dir, config=study.user_attrs.get("config", {}))
    return log_summary(plan.cfg.get("logger"), run, rows(study), _existing_images(plan.study_dir / "plots"), summary)
