"""``layernas retrain``: train a chosen architecture with the full budget, evaluate it on the test split,
and export it.

    layernas retrain study.name=cpu_demo                     # the study's best trial, seed 0
    layernas retrain study.name=cpu_demo trial=3 seeds=[0,1,2]
    layernas retrain arch="sdconv(k=9) ffn sa ffn" study.name=mine
    layernas retrain study.name=cpu_demo task=pretrain_finetune   # then fine-tune on a labelled set

The study's model, data and task settings are used unless the command overrides them. Writes
``results/<study>/retrain/<key>/``: ``model-seed<N>.safetensors``, ``metrics.json``, ``config.yaml``,
``arch.txt``; load a model back with :func:`load_retrained`.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import yaml

from .files import atomic_write, atomic_write_text
from .inputs import check_seeds
from .metrics import beats, flags, reference_of, reference_text, with_reference
from .names import check_name
from .provenance import git_commit, study_config
from .report import best_trials
from .search.objectives import COSTS, objectives_from
from .search.study import load_existing_study, study_dir

INHERITED = ("data", "task", "model")


class RetrainFailed(RuntimeError):
    """A seed's training failed (e.g. NaN loss); nothing for that seed is written."""


def _command_line_overrides(given: list[str] | None = None) -> list:
    """The command line's overrides (``given``, else Hydra's), parsed by Hydra (none when not run as a Hydra
    app)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if given is None:
        given = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    return OverridesParser.create().parse_overrides(given)


def inherit(group: str, searched: dict, own: dict, overrides: list) -> dict:
    """A group's config for retraining: the study's, with the command line's keys of that group applied
    over it (``data.test=other.tsv`` adds a test split to the study's data), or the command's own when
    the command line picks another option for the whole group (``data=imdb``)."""
    from omegaconf import OmegaConf

    if any(o.key_or_group == group for o in overrides):
        return own
    merged = OmegaConf.create(searched)
    for o in overrides:
        if o.key_or_group.startswith(f"{group}."):
            key = o.key_or_group.removeprefix(f"{group}.")
            if o.is_delete():
                parent, _, leaf = key.rpartition(".")
                node = OmegaConf.select(merged, parent) if parent else merged
                if node is not None and leaf in node:
                    del node[leaf]
            else:
                OmegaConf.update(merged, key, own_value(own, key), force_add=True)
    return OmegaConf.to_container(merged, resolve=True)


def own_value(own: dict, key: str):
    """The value the command composed for ``key`` (Hydra has already parsed and resolved it)."""
    node = own
    for part in key.split("."):
        node = node[part]
    return node


def with_objectives(merged: dict, searched: dict, overrides: list) -> dict:
    """The study's objectives (unless the command line gives ``objectives=``), the first one the task's
    objective: a retrain reports, and headlines, what the study optimised, whatever the task's default."""
    given = any(o.key_or_group == "objectives" for o in overrides)
    names = list((given and merged.get("objectives")) or searched.get("objectives") or merged.get("objectives")
                 or ["objective"])
    first = objectives_from(names, merged["task"])[0]
    return {**merged, "objectives": names,
            "task": {**merged["task"], "objective": first.key, "direction": first.direction}}


def run_settings(cfg: dict, overrides: list[str] | None = None) -> dict:
    """The config ``layernas retrain`` runs (``--cfg job``): the study's data, task, model and objectives with
    the command line's keys over them, the chosen architecture and trial."""
    arch, merged, trial = choose(cfg, overrides, quiet=True)
    return {**merged, "arch": str(arch), "trial": trial}


def choose(cfg: dict, given: list[str] | None = None, quiet: bool = False) -> tuple[str, dict, int | None]:
    """The architecture to retrain, the config to train it with, and its trial number (if from a study)."""
    overrides = _command_line_overrides(given)
    try:
        study = load_existing_study(cfg)
    except ValueError:
        if cfg.get("arch"):
            return cfg["arch"], with_objectives(dict(cfg), {}, overrides), None
        raise
    searched = study.user_attrs.get("config", {})
    merged = dict(cfg)
    for group in INHERITED:
        if group in searched:
            merged[group] = inherit(group, searched[group], cfg[group], overrides)
    merged = with_objectives(merged, searched, overrides)
    if cfg.get("arch"):
        return cfg["arch"], merged, None
    if cfg.get("trial") is not None:
        matches = [t for t in study.get_trials(deepcopy=False) if t.number == cfg["trial"]]
        if not matches or "arch" not in matches[0].user_attrs:
            raise ValueError(f"trial={cfg['trial']} is not a trial of study {study.study_name!r} with an architecture;"
                             f" trials: 0..{len(study.trials) - 1}")
        return matches[0].user_attrs["arch"], merged, cfg["trial"]
    checked = standalone_best(study)
    if checked is not None:  # a supernet study: the best of its candidates trained stand-alone
        if not quiet:
            print(f"retraining trial #{checked['trial']}: the best stand-alone value of the supernet's checked "
                  f"candidates ({checked['value']:.4f}; supernet score {checked['score']:.4f})", flush=True)
        return checked["arch"], merged, checked["trial"]
    best = best_trials(study)
    if not best:
        raise ValueError(f"study {study.study_name!r} has no complete trial yet; give trial=N or arch=...")
    return best[0].user_attrs["arch"], merged, best[0].number


def standalone_best(study) -> dict | None:
    """A supernet study's best stand-alone check (trial, arch, value, score), or None."""
    from .supernet.summary import summarise

    summary = summarise(study)
    return summary["best_standalone"] if summary else None


def retrain(cfg: dict) -> dict:
    """Train once per seed; write weights, metrics (per seed, mean and std of every objective and metric,
    each beside its input-blind reference) and the config. Seeds already retrained with the same settings
    are kept; a retrain of this network with other settings is refused unless ``replace=true``."""
    from layernas.search_space import Architecture

    from .class_names import with_label_names
    from .config import check_run_config

    check_name("study.name", cfg["study"]["name"], cfg["results_dir"])  # before a study or arch is looked up
    seeds = check_seeds("seeds", cfg.get("seeds") or [cfg["seed"]])
    arch_text, run_cfg, trial = choose(cfg)
    checked = check_run_config(arch_text, run_cfg)
    run_cfg = with_label_names(run_cfg)  # config.yaml and the runs name the classes, as the study did
    arch = Architecture.parse(str(checked.arch), checked.model.d_model)
    out = study_dir(cfg) / "retrain" / arch.key()
    settings = retrain_settings(run_cfg, arch)
    kept = earlier_runs(out, settings, bool(cfg.get("replace")))
    if cfg.get("replace"):
        _remove_earlier(out)
    objectives = objectives_from(run_cfg["objectives"], run_cfg["task"])
    from .budget import check_budget
    from .proxy import prepare_data

    info = prepare_data(run_cfg, test=True)  # a test label that is not a class fails here, before training
    print(check_budget(checked.arch, run_cfg, info.vocab_size, info.n_classes), flush=True)
    proxy_slice = _proxy_slice(cfg, run_cfg)
    runs, model = dict(kept), None
    for seed in seeds:
        if seed in kept:
            print(f"seed {seed}: kept from the earlier retrain with the same settings "
                  f"({objectives[0].key} = {kept[seed]['metrics'].get(objectives[0].key, float('nan')):.4f})")
            continue
        runs[seed], model = _train_seed(cfg, run_cfg, arch, trial, seed, proxy_slice, out, objectives, info.classes)
    document = summary_document(arch, trial, [runs[s] for s in sorted(runs)], objectives, run_cfg, proxy_slice,
                                info.classes)
    atomic_write_text(out / "metrics.json", json.dumps(document, indent=2))
    atomic_write_text(out / "arch.txt", str(arch) + "\n")
    if model is not None:
        atomic_write_text(out / "config.yaml", yaml.safe_dump(_saved_config(run_cfg, arch, model), sort_keys=False))
    print(f"{arch}\n{headline(document)}; wrote {out}")
    return document


def _train_seed(cfg, run_cfg, arch, trial, seed, proxy_slice, out, objectives, classes=None) -> tuple[dict, object]:
    """One seed's run: trained, its weights saved, its line printed; returns its record and the model."""
    from .proxy import run_proxy
    from .tracking import RunInfo

    info = RunInfo(name=f"retrain s{seed} {arch}", group=str(cfg["study"]["name"]), job_type="retrain",
                   save_dir=study_dir(cfg), config={"retrain/trial": trial, "retrain/seed": seed})
    result = run_proxy(arch, {**run_cfg, "seed": seed}, run=info, test=True, keep_model=True,
                       val_slice=proxy_slice)
    if result.state != "complete":
        raise RetrainFailed(f"retraining seed {seed} failed: {result.reason}")
    _save_weights(result.model, out / f"model-seed{seed}.safetensors")
    record = {"seed": seed, "objective": result.objective, "metrics": result.metrics, "steps": result.steps,
              "params": result.params, "flops": result.flops, "wall_s": result.wall_s, "run_dir": result.run_dir,
              "flags": flags(result.metrics, objectives[0].key)}
    print(f"seed {seed}: {seed_line(result.metrics, objectives, classes)}", flush=True)
    return record, result.model


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


def summary_document(arch, trial, runs: list[dict], objectives, run_cfg: dict, proxy_slice,
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
            "val_batches": run_cfg["trainer"].get("limit_val_batches"), "proxy_val_batches": proxy_slice,
            **({"classes": classes} if classes else {}), "runs": runs, "git_commit": git_commit()}


def _mean_std(values: list[float]) -> dict:
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


# What a retrain's result depends on; the rest of the config (threads, progress, logging) does not change it
SETTINGS = ("arch", "data", "task", "model", "trainer", "objectives")
NOT_SETTINGS = {"data": ("cache_dir", "data_dir", "hf_cache_dir"),
                "trainer": ("threads", "progress_bar", "status_every_s", "log_every_n_steps")}


def retrain_settings(run_cfg: dict, arch) -> dict:
    """The settings a retrain's numbers depend on, flattened (``trainer.max_steps``: 3000)."""
    config = {**run_cfg, "arch": str(arch)}
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


def _remove_earlier(out: Path) -> None:
    """``replace=true``: an earlier retrain's files go before anything new is written."""
    for path in [out / "metrics.json", out / "config.yaml", *out.glob("model-seed*.safetensors")]:
        path.unlink(missing_ok=True)


def _saved_config(run_cfg: dict, arch, model) -> dict:
    from layernas.search_space import ModelConfig

    classifier = getattr(model.head, "classifier", None)  # None for the masked-LM head
    return {**study_config(run_cfg), "arch": str(arch), "vocab_size": model.encoder.embed.num_embeddings,
            "n_classes": classifier.out_features if classifier is not None else None,
            "model": ModelConfig.from_dict(run_cfg["model"]).to_dict()}


def _proxy_slice(cfg: dict, run_cfg: dict) -> int | None:
    """The study's proxy validation slice (``limit_val_batches``) when retraining validates on other data,
    so the retrained model is also measured where the proxy was (``val_slice/...``); else None."""
    try:
        searched = load_existing_study(cfg).user_attrs.get("config", {}).get("trainer", {})
    except ValueError:
        return None
    batches = searched.get("limit_val_batches")
    own = run_cfg["trainer"].get("limit_val_batches")
    if not isinstance(batches, int) or isinstance(batches, bool) or batches == own:
        return None
    return batches


def _save_weights(model, path: Path) -> None:
    from safetensors.torch import save_model

    atomic_write(path, lambda tmp: save_model(model, tmp))


def load_retrained(folder: str | Path, seed: int = 0):
    """The retrained model in ``folder`` (a ``results/<study>/retrain/<key>/``) with its weights loaded:
    a :class:`~layernas.search_space.MaskedLM` or :class:`~layernas.search_space.SequenceClassifier`, in eval mode."""
    from safetensors.torch import load_model

    from layernas.search_space import MaskedLM, ModelConfig, SequenceClassifier, build_encoder

    folder = Path(folder)
    cfg = yaml.safe_load((folder / "config.yaml").read_text())
    data = cfg["data"]
    if cfg.get("n_classes") and cfg["task"].get("finetune_data"):
        data = cfg["task"]["finetune_data"]  # a fine-tuned classifier reads its labelled data
    encoder = build_encoder(cfg["arch"], cfg["vocab_size"], data["seq_len"], ModelConfig.from_dict(cfg["model"]))
    model = SequenceClassifier(encoder, cfg["n_classes"], cfg["task"].get("pooling", "mean")) if cfg.get("n_classes") \
        else MaskedLM(encoder)
    weights = folder / f"model-seed{seed}.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"no weights for seed {seed} in {folder}: {weights.name} is missing")
    try:
        load_model(model, str(weights))
    except Exception as e:  # noqa: BLE001  (safetensors raises its own error types)
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{weights} is not a safetensors weights file of this model ({reason})") from None
    return model.eval()
