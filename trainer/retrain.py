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
from .names import check_name
from .provenance import git_commit, study_config
from .report import best_trials
from .search.study import load_existing_study, study_dir

INHERITED = ("data", "task", "model")


class RetrainFailed(RuntimeError):
    """A seed's training failed (e.g. NaN loss); nothing for that seed is written."""


def _command_line_overrides() -> list:
    """The command line's overrides, parsed by Hydra (none when not run as a Hydra app)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if not HydraConfig.initialized():
        return []
    return OverridesParser.create().parse_overrides(list(HydraConfig.get().overrides.task))


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


def choose(cfg: dict) -> tuple[str, dict, int | None]:
    """The architecture to retrain, the config to train it with, and its trial number (if from a study)."""
    try:
        study = load_existing_study(cfg)
    except ValueError:
        if cfg.get("arch"):
            return cfg["arch"], cfg, None
        raise
    searched = study.user_attrs.get("config", {})
    merged, overrides = dict(cfg), _command_line_overrides()
    for group in INHERITED:
        if group in searched:
            merged[group] = inherit(group, searched[group], cfg[group], overrides)
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
    """Train once per seed; write weights, metrics (per seed, mean and std) and the config."""
    from layernas.search_space import Architecture, ModelConfig

    from .config import check_run_config
    from .proxy import run_proxy
    from .tracking import RunInfo

    check_name("study.name", cfg["study"]["name"], cfg["results_dir"])  # before a study or arch is looked up
    seeds = list(cfg.get("seeds") or [cfg["seed"]])
    arch_text, run_cfg, trial = choose(cfg)
    checked = check_run_config(arch_text, run_cfg)
    print(checked.budget, flush=True)
    arch = Architecture.parse(str(checked.arch), checked.model.d_model)
    out = study_dir(cfg) / "retrain" / arch.key()
    proxy_slice = _proxy_slice(cfg, run_cfg)
    runs = []
    for seed in seeds:
        seeded = {**run_cfg, "seed": seed}
        info = RunInfo(name=f"retrain s{seed} {arch}", group=str(cfg["study"]["name"]), job_type="retrain",
                       save_dir=study_dir(cfg), config={"retrain/trial": trial, "retrain/seed": seed})
        result = run_proxy(arch, seeded, run=info, test=True, keep_model=True, val_slice=proxy_slice)
        if result.state != "complete":
            raise RetrainFailed(f"retraining seed {seed} failed: {result.reason}")
        _save_weights(result.model, out / f"model-seed{seed}.safetensors")
        runs.append({"seed": seed, "objective": result.objective, "metrics": result.metrics, "steps": result.steps,
                     "wall_s": result.wall_s, "run_dir": result.run_dir})
        print(f"seed {seed}: {result.objective_name} = {result.objective:.4f}"
              + "".join(f", {k} = {v:.4f}" for k, v in result.metrics.items() if k.startswith("test/")), flush=True)
    metrics = _summarise(runs, result.objective_name)
    document = {"arch": str(arch), "key": arch.key(), "trial": trial, "seeds": seeds, **metrics,
                "val_batches": run_cfg["trainer"].get("limit_val_batches"), "proxy_val_batches": proxy_slice,
                "runs": runs, "git_commit": git_commit()}
    atomic_write_text(out / "metrics.json", json.dumps(document, indent=2))
    atomic_write_text(out / "arch.txt", str(arch) + "\n")
    classifier = getattr(result.model.head, "classifier", None)  # None for the masked-LM head
    saved = {**study_config(run_cfg), "arch": str(arch), "vocab_size": result.model.encoder.embed.num_embeddings,
             "n_classes": classifier.out_features if classifier is not None else None,
             "model": ModelConfig.from_dict(run_cfg["model"]).to_dict()}
    atomic_write_text(out / "config.yaml", yaml.safe_dump(saved, sort_keys=False))
    print(f"{arch}\n{result.objective_name}: {metrics['mean']:.4f} +- {metrics['std']:.4f} over seeds {seeds}; "
          f"wrote {out}")
    return document


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


def _summarise(runs: list[dict], objective: str) -> dict:
    values = [r["objective"] for r in runs]
    out = {"objective": objective, "mean": statistics.mean(values),
           "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    for key in sorted({k for r in runs for k in r["metrics"] if k.startswith(("test/", "val_slice/"))}):
        vals = [r["metrics"][key] for r in runs if key in r["metrics"]]
        out[key] = {"mean": statistics.mean(vals), "std": statistics.stdev(vals) if len(vals) > 1 else 0.0}
    return out


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
