"""What a retrain writes and reads back: ``metrics.json`` (every seed's run, and mean and std of every
objective and metric beside its input-blind reference), the lines it prints, the settings its numbers
depend on (an earlier retrain of the network with other settings is not overwritten silently) and
``config.yaml``."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import yaml

from layernas.trainer.plan.metrics import beats, flags, reference_of, reference_text, with_reference
from layernas.trainer.plan.objectives import COSTS
from layernas.trainer.plan.run import RunPlan
from layernas.trainer.plumbing.provenance import git_commit


def seed_line(metrics: dict, objectives, classes: dict | None = None) -> str:
    """Each trained objective on validation and test, beside its input-blind reference (``classes``: named
    classes, whose majority class the reference names)."""
    parts = []
    for objective in objectives:
        if objective.key in COSTS:
            continue
        for split in ("val", "test"):
            name = f"{split}/{objective.key.split('/', 1)[1]}"
            if name in metrics:
                parts.append(f"{name} = {with_reference(metrics, name, classes=classes)}")
    problems = flags(metrics, objectives[0].key)
    return ", ".join(parts) + (f" [{'; '.join(problems)}]" if problems else "")


def headline(document: dict) -> str:
    """The retrain's result in one line: each objective's mean (+- std with several seeds) on validation and
    test, beside the reference's."""
    n = len(document["seeds"])
    parts = []
    for objective in document["objectives"]:
        for split in ("val", "test"):
            name = f"{split}/{objective['key'].split('/', 1)[-1]}"
            if name in document:
                parts.append(f"{name}: {mean_std(document[name], n)}" + _reference_text(document, name, n))
    seeds = f"seed {document['seeds'][0]}" if n == 1 else f"seeds {document['seeds']}"
    return "; ".join(parts) + f" over {seeds}"


def _reference_text(document: dict, name: str, n: int) -> str:
    reference = reference_of(name)
    if reference not in document:
        return ""
    value, ref = document[name]["mean"], document[reference]["mean"]
    verdict = "" if beats(name, value, ref) else "; not better"
    return f" ({reference_text(reference, f'{ref:.4f}', document.get('classes'))}{verdict})"


def mean_std(summary: dict, n: int) -> str:
    """``0.6533`` for one seed, ``0.6533 +- 0.0100`` for several."""
    return f"{summary['mean']:.4f}" if n == 1 else f"{summary['mean']:.4f} +- {summary['std']:.4f}"


def summary_document(arch, trial, runs: list[dict], objectives, val_batches: int | None, proxy_slice,
                     classes: dict | None = None) -> dict:
    """metrics.json: per seed, and mean and std of every metric and of each objective (the first one is the
    headline: ``objective``, ``mean``, ``std``); with named classes, ``classes``: their names (class 0's
    first) and the majority class, which recall_<class> and the majority_* references refer to."""
    stats = {k: _mean_std([r["metrics"][k] for r in runs if k in r["metrics"]])
             for k in sorted({k for r in runs for k in r["metrics"]})}
    listed = []
    for o in objectives:
        values = [r.get(o.key) if o.key in COSTS else r["metrics"].get(o.key) for r in runs]
        values = [v for v in values if v is not None]
        listed.append({"name": o.name, "key": o.key, "direction": o.direction,
                       **(_mean_std(values) if values else {"mean": None, "std": None})})
    first = listed[0]
    return {"arch": str(arch), "key": arch.key(), "trial": trial, "seeds": [r["seed"] for r in runs],
            "objective": first["key"], "mean": first["mean"], "std": first["std"], "objectives": listed,
            **stats, "flags": sorted({f for r in runs for f in r.get("flags", [])}),
            "val_batches": val_batches, "proxy_val_batches": proxy_slice,
            **({"classes": classes} if classes else {}), "runs": runs, "git_commit": git_commit()}


def _mean_std(values: list[float]) -> dict:
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


# What a retrain's result depends on; the rest of the config (threads, progress, logging) does not change it
SETTINGS = ("arch", "data", "task", "model", "trainer", "objectives")
NOT_SETTINGS = {"data": ("cache_dir", "data_dir", "hf_cache_dir"),
                "trainer": ("threads", "progress_bar", "status_every_s", "log_every_n_steps")}


def retrain_settings(recorded: dict, arch) -> dict:
    """The settings a retrain's numbers depend on, flattened (``trainer.max_steps``: 3000), from its recorded
    config."""
    config = {**recorded, "arch": str(arch)}
    out = {}
    for group in SETTINGS:
        value = config.get(group)
        if isinstance(value, dict):
            for k, v in _flat(value).items():
                if k.split(".", 1)[0] not in NOT_SETTINGS.get(group, ()):
                    out[f"{group}.{k}"] = v
        else:
            out[group] = value
    return out


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = list(v) if isinstance(v, tuple) else v
    return out


def earlier_runs(out: Path, settings: dict, replace: bool) -> dict[int, dict]:
    """The seeds an earlier retrain of this network in ``out`` finished with the same settings (its weights
    still there), by seed. An earlier retrain with other settings is refused in one line unless ``replace``."""
    try:
        document = json.loads((out / "metrics.json").read_text())
        saved = yaml.safe_load((out / "config.yaml").read_text())
    except (OSError, ValueError, yaml.YAMLError):
        return {}
    if replace:
        return {}
    before = retrain_settings(saved, saved.get("arch", ""))
    differ = [k for k in sorted(set(settings) | set(before)) if settings.get(k) != before.get(k)]
    if differ:
        shown = ", ".join(f"{k} {before.get(k)!r} -> {settings.get(k)!r}" for k in differ[:3])
        more = f" and {len(differ) - 3} more" if len(differ) > 3 else ""
        raise ValueError(f"{out} holds a retrain of this network with other settings ({shown}{more}; seeds "
                         f"{document.get('seeds')}); allowed: the same settings (its seeds are kept and new ones "
                         "added), or replace=true to replace it")
    return {r["seed"]: r for r in document.get("runs", []) if (out / f"model-seed{r['seed']}.safetensors").is_file()}


def remove_earlier(out: Path) -> None:
    """``replace=true``: an earlier retrain's files go before anything new is written."""
    for path in [out / "metrics.json", out / "config.yaml", *out.glob("model-seed*.safetensors")]:
        path.unlink(missing_ok=True)


def saved_config(recorded: dict, run: RunPlan, arch, model) -> dict:
    """``config.yaml``: the recorded config, the network and what loading its weights needs."""
    classifier = getattr(model.head, "classifier", None)  # None for the masked-LM head
    return {**recorded, "arch": str(arch), "vocab_size": model.encoder.embed.num_embeddings,
            "n_classes": classifier.out_features if classifier is not None else None, "model": run.model.to_dict()}


