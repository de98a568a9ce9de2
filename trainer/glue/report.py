"""``results/<study>/glue/<key>/``: glue.json, glue.csv, glue.md (each task's official metric(s) as mean +- std over
seeds for the network and its baseline, the GLUE average, the input-blind reference per task), and one W&B run
``job_type=glue``."""

from __future__ import annotations

import csv
import io
import json
import statistics
import sys

from layernas.trainer.data.glue import TASKS
from layernas.trainer.glue.plan import GluePlan
from layernas.trainer.glue.runs import jobs
from layernas.trainer.plan.metrics import beats, reference_label, reference_of
from layernas.trainer.plumbing.files import atomic_write

NAMES = {"acc": "accuracy", "f1": "F1", "mcc": "MCC", "pearson": "Pearson", "spearman": "Spearman"}


def columns(task: str) -> list[tuple[str, str]]:
    """``(column name, metric key)`` of a task: its official metrics, and MNLI's mismatched accuracy."""
    out = [(f"{task} {NAMES[m[4:]]}" if len(TASKS[task].metrics) > 1 else task, "val/" + m[4:])
           for m in TASKS[task].metrics]
    if task == "mnli":
        out = [("mnli-m", "val/acc"), ("mnli-mm", "test/acc")]
    return out


def _stats(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values) if values else None,
            "std": statistics.stdev(values) if len(values) > 1 else 0.0 if values else None,
            "n": len(values), "values": values}


def glue_document(plan: GluePlan, records: dict[str, dict]) -> dict:
    """Every network's per-task, per-metric values over seeds, the references and the GLUE averages."""
    by = {}
    for job in jobs(plan):
        record = records.get(job.name)
        if record and record.get("state") == "complete":
            by.setdefault((job.network.label, job.task), []).append(record)
    rows, references = [], {}
    for network in plan.networks:
        cells, task_means = {}, []
        for task in plan.settings.tasks:
            found = by.get((network.label, task), [])
            scores = []
            for name, key in columns(task):
                cells[name] = _stats([r["metrics"][key] for r in found if key in r["metrics"]])
                reference = reference_of(key)
                for r in found[:1]:  # the same validation examples for every network and seed
                    if reference in r["metrics"]:
                        references[name] = {"value": r["metrics"][reference], "what": reference_label(reference)}
                if cells[name]["mean"] is not None:
                    scores.append(cells[name]["mean"])
            if len(scores) == len(columns(task)):
                task_means.append(statistics.fmean(scores))  # a task of two metrics counts their mean, as GLUE does
        complete = len(task_means) == len(plan.settings.tasks)
        rows.append({"network": network.label, "role": network.role, "trial": network.trial, "arch": network.arch,
                     "cells": cells, "average": statistics.fmean(task_means) if complete else None})
    reference_scores = [statistics.fmean([references[n]["value"] for n, _ in columns(t)]) for t in plan.settings.tasks
                        if all(n in references for n, _ in columns(t))]
    settings = plan.settings
    return {"study": plan.study.study_name, "tasks": list(settings.tasks), "seeds": list(plan.seeds),
            "pretrain_steps": settings.pretrain_steps, "steps": {t: settings.steps[t] for t in settings.tasks},
            "lr": settings.lr or plan.run.trainer.optim.lr, "max_train_docs": settings.max_train_docs,
            "source": settings.glue_dir or "nyu-mll/glue (Hugging Face hub)",
            "pretraining": sorted({r["pretrained"] for r in records.values() if r.get("pretrained")}),
            "columns": [n for t in settings.tasks for n, _ in columns(t)], "rows": rows, "references": references,
            "reference_average": statistics.fmean(reference_scores) if len(reference_scores) == len(settings.tasks)
            else None, "runs": {k: v for k, v in records.items()}}


def _cell(stats: dict) -> str:
    if stats["mean"] is None:
        return "-"
    return f"{stats['mean']:.4f} ± {stats['std']:.4f}"


def markdown(doc: dict) -> str:
    names = doc["columns"]
    lines = [f"# GLUE: study {doc['study']}", "",
             f"Validation sets of {', '.join(doc['tasks'])} ({doc['source']}); mean ± std over seeds "
             f"{doc['seeds']}. Pre-training: {doc['pretrain_steps']} masked-LM steps with the study's settings "
             f"({'; '.join(doc['pretraining']) or '-'}); fine-tuning: "
             + ", ".join(f"{t} {s} steps" for t, s in doc["steps"].items())
             + f" at lr {doc['lr']:g}" + (f", the first {doc['max_train_docs']:,} training examples of each task"
                                          if doc["max_train_docs"] else "") + ". The GLUE average counts a task of "
             "two metrics by their mean.", "",
             "| network | " + " | ".join(names) + " | GLUE average |", "|---" * (len(names) + 2) + "|"]
    for row in doc["rows"]:
        average = "-" if row["average"] is None else f"{row['average']:.4f}"
        lines.append(f"| {row['network']} | " + " | ".join(_cell(row["cells"][n]) for n in names) + f" | {average} |")
    refs = doc["references"]
    ref_average = "-" if doc["reference_average"] is None else f"{doc['reference_average']:.4f}"
    lines.append("| input-blind reference | " + " | ".join(
        f"{refs[n]['value']:.4f} ({refs[n]['what']})" if n in refs else "-" for n in names) + f" | {ref_average} |")
    lines += ["", *verdicts(doc), "", "Networks:", *[f"- {r['network']}: `{r['arch']}`" for r in doc["rows"]], ""]
    return "\n".join(lines)


def verdicts(doc: dict) -> list[str]:
    """Per network, the cells that do not beat the input-blind reference; and the network against the baseline."""
    out = []
    for row in doc["rows"]:
        behind = [n for n in doc["columns"] if n in doc["references"] and row["cells"][n]["mean"] is not None
                  and not beats(_key(doc, n), row["cells"][n]["mean"], doc["references"][n]["value"])]
        if behind:
            out.append(f"- {row['network']} is not better than the input-blind reference on {', '.join(behind)}"
                       + (" (on every task: no signal at this budget)" if len(behind) == len(doc["columns"]) else ""))
        else:
            out.append(f"- {row['network']} beats the input-blind reference on every task")
    if len(doc["rows"]) > 1 and all(r["average"] is not None for r in doc["rows"][:2]):
        first, second = doc["rows"][0], doc["rows"][1]
        ahead = [n for n in doc["columns"] if first["cells"][n]["mean"] is not None and second["cells"][n]["mean"]
                 is not None and first["cells"][n]["mean"] > second["cells"][n]["mean"]]
        out.append(f"- {first['network']} against {second['network']}: GLUE average {first['average']:.4f} against "
                   f"{second['average']:.4f}; ahead on {len(ahead)} of {len(doc['columns'])} metrics"
                   + (f" ({', '.join(ahead)})" if ahead else ""))
    return out


def _key(doc: dict, name: str) -> str:
    task = next(t for t in doc["tasks"] if name in [n for n, _ in columns(t)])
    return dict(columns(task))[name]


def csv_text(doc: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["network", "arch", "metric", "mean", "std", "n", "values", "reference", "reference_value"])
    for row in doc["rows"]:
        for name in doc["columns"]:
            s, ref = row["cells"][name], doc["references"].get(name, {})
            writer.writerow([row["network"], row["arch"], name, s["mean"], s["std"], s["n"],
                             " ".join(f"{v:.6f}" for v in s["values"]), ref.get("what", ""), ref.get("value", "")])
        writer.writerow([row["network"], row["arch"], "GLUE average", row["average"], "", "", "", "", ""])
    return out.getvalue()


def write_glue(plan: GluePlan, records: dict[str, dict]) -> dict:
    doc = glue_document(plan, records)
    folder = plan.folder
    atomic_write(folder / "glue.json", lambda tmp: open(tmp, "w").write(json.dumps(doc, indent=1) + "\n"))
    atomic_write(folder / "glue.csv", lambda tmp: open(tmp, "w").write(csv_text(doc)))
    atomic_write(folder / "glue.md", lambda tmp: open(tmp, "w").write(markdown(doc)))
    _log_run(plan, doc)
    return doc


def _log_run(plan: GluePlan, doc: dict) -> None:
    """The command's W&B run: a record of files already written, so a failure is a warning."""
    from layernas.trainer.core.tracking import RunInfo, log_summary
    from layernas.trainer.plumbing.secrets import redact

    table = (["network", *doc["columns"], "GLUE average"],
             [[r["network"], *[r["cells"][n]["mean"] for n in doc["columns"]], r["average"]] for r in doc["rows"]])
    summary = {f"{r['network']}/{n}": r["cells"][n]["mean"] for r in doc["rows"] for n in doc["columns"]}
    summary.update({f"{r['network']}/average": r["average"] for r in doc["rows"]})
    summary.update({f"reference/{n}": v["value"] for n, v in doc["references"].items()})
    run = RunInfo(name=f"{doc['study']} glue", group=doc["study"], job_type="glue", save_dir=plan.folder,
                  config={"glue": {k: doc[k] for k in ("tasks", "seeds", "pretrain_steps", "steps", "lr")}})
    try:
        log_summary(plan.run.logger, run, table, {}, summary)
    except Exception as e:  # noqa: BLE001  (W&B raises many types; none may fail finished results)
        reason = (str(e).strip().splitlines() or [""])[0]
        print(f"warning: the W&B glue run was not written ({type(e).__name__}: {redact(reason)})", file=sys.stderr)
