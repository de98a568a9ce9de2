"""The retrained architectures' section of report.md (registered as a results extension): the study's first
objective as the proxy measured it and as retraining did, beside the input-blind references."""

from __future__ import annotations

import json
from pathlib import Path

import optuna

from layernas.trainer.plan.metrics import beats, per_class_text, reference_of, reference_text
from layernas.trainer.plan.recorded import Recorded
from layernas.trainer.results.extensions import Extension, register
from layernas.trainer.results.format import fmt


def retrain_lines(study: optuna.Study, study_dir: Path) -> list[str]:
    """report.md's section on the study's retrained architectures (``layernas retrain``): the study's first
    objective as the proxy measured it and as retraining did, on validation and test, each number named
    and beside its input-blind reference, and the other test metrics below."""
    docs = []
    for path in sorted((study_dir / "retrain").glob("*/metrics.json")):
        try:
            docs.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    if not docs:
        return []
    recorded = Recorded.of(study)
    trainer = recorded.run.trainer if recorded.run else None
    proxy_slice = _slice(trainer.limit_val_batches if trainer else "unknown")
    metric = (study.user_attrs.get("objectives") or [{}])[0].get("key") or docs[0].get("objective", "")
    test, sliced = (f"{split}/{metric.split('/', 1)[-1]}" for split in ("test", "val_slice"))
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    lines = ["", "## Retrained", "",
             f"`{metric}`, the study's first objective: the proxy's value on {proxy_slice} of the validation split "
             f"after {trainer.max_steps if trainer else None} steps, and the retrained values (mean +- std over seeds)"
             " on the validation data named in the row, on the proxy's slice and on the test split; in "
             "brackets what an input-blind predictor scores on the same examples.", "",
             f"| trial | {metric}, proxy | {metric}, retrained | validation | {metric} on the proxy's slice | {test} "
             "| steps | seeds | flags | architecture |", "|---" * 10 + "|"]
    for d in docs:
        trial = by_number.get(d.get("trial"))
        proxy = fmt(trial.values[0]) if trial is not None and trial.values else "-"
        proxy += _reference_cell(trial.user_attrs.get("metrics", {}), metric, d.get("classes")) \
            if trial is not None else ""
        steps = sorted({r.get("steps") for r in d.get("runs", []) if r.get("steps")})
        lines.append(f"| {d.get('trial') if d.get('trial') is not None else '-'} | {proxy} | "
                     f"{_retrained_cell(d, metric)} | {_slice(d.get('val_batches', 'unknown'))} | "
                     f"{_retrained_cell(d, sliced)} | {_retrained_cell(d, test)} | "
                     f"{', '.join(map(str, steps)) or '-'} | {len(d.get('seeds', []))} | "
                     f"{', '.join(d.get('flags') or [])} | `{d.get('arch', '')}` |")
    return lines + _other_test_lines(docs, test) + _per_class_lines(docs)


def _per_class_lines(docs: list[dict]) -> list[str]:
    """Each retrained model's recall of each class (the mean over seeds), named where the classes have names."""
    out = []
    for d in docs:
        means = {k: v["mean"] for k, v in d.items() if "/recall_" in k and isinstance(v, dict)}
        texts = [f"{what} {text}" for split, what in (("val", "validation"), ("test", "test"))
                 if (text := per_class_text(means, split, d.get("classes"), fmt))]
        if texts:
            trial = d.get("trial") if d.get("trial") is not None else "-"
            out.append(f"- recall by class, trial {trial}: " + "; ".join(texts))
    return ["", *out] if out else []


def _other_test_lines(docs: list[dict], shown: str) -> list[str]:
    """The retrained models' other test metrics, each beside its reference."""
    references = {reference_of(k) for d in docs for k in d if k.startswith("test/")}
    names = sorted({k for d in docs for k in d if k.startswith("test/") and k != shown and k not in references
                    and k != "test/predicted_classes" and "/recall_" not in k})
    if not names:
        return []
    return ["", "| trial | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|",
            *[f"| {d.get('trial') if d.get('trial') is not None else '-'} | "
              + " | ".join(_retrained_cell(d, n) for n in names) + " |" for d in docs]]


def _retrained_cell(d: dict, name: str) -> str:
    """A retrained metric's mean (+- std over several seeds) beside its reference; an earlier retrain that
    headlined another metric shows that one, named."""
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
    return text + _reference_cell(means, name, d.get("classes"))


def _reference_cell(metrics: dict, name: str, classes: dict | None = None) -> str:
    """`` (majority class 0.6959; not better)`` (with named classes: ``majority class `entailment`: 0.5270``),
    or nothing when the run logged no reference."""
    reference = reference_of(name)
    if reference is None or reference not in metrics or name not in metrics:
        return ""
    verdict = "" if beats(name, metrics[name], metrics[reference]) else "; not better"
    return f" ({reference_text(reference, fmt(metrics[reference]), classes)}{verdict})"


def _slice(batches) -> str:
    if batches == "unknown":
        return "not recorded"
    return "the whole split" if batches in (None, 1.0) else f"the first {batches} batches"


register(Extension("retrain", after_results=retrain_lines))
