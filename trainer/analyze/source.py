"""The model an analysis reads: the study's retrained weights for the architecture and seed when they
exist (``results/<study>/retrain/<key>/model-seed<N>.safetensors``), else a proxy run trained now with
the study's own settings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..search.study import study_dir


class AnalysisFailed(RuntimeError):
    """The proxy run that was to give the weights failed (e.g. NaN loss)."""


@dataclass
class Source:
    """A trained model in eval mode, its tokenizer's data, the data whose texts to read, and what it is."""

    model: object  # MaskedLM or SequenceClassifier
    tokenizer_data: dict
    text_data: dict
    kind: str  # retrained | proxy
    line: str  # one sentence for analysis.md


def retrained_folder(cfg: dict, key: str) -> Path:
    return study_dir(cfg) / "retrain" / key


def _text_data(run_cfg: dict, classifier: bool) -> dict:
    """A classifier fine-tuned after pre-training read its labelled data; every other model its data."""
    finetune = (run_cfg.get("task") or {}).get("finetune_data")
    return finetune if classifier and finetune else run_cfg["data"]


def _is_classifier(model) -> bool:
    return getattr(model.head, "classifier", None) is not None


def load_source(cfg: dict, arch, run_cfg: dict, seed: int) -> Source:
    folder = retrained_folder(cfg, arch.key())
    weights = folder / f"model-seed{seed}.safetensors"
    if weights.is_file():
        return _retrained(folder, weights, seed)
    return _proxy(cfg, arch, run_cfg, seed, folder)


def _retrained(folder: Path, weights: Path, seed: int) -> Source:
    from ..retrain import load_retrained

    model = load_retrained(folder, seed)
    saved = yaml.safe_load((folder / "config.yaml").read_text())
    line = f"Weights: retrained, seed {seed} (`retrain/{folder.name}/{weights.name}` of the study)"
    metrics = folder / "metrics.json"
    if metrics.is_file():
        doc = json.loads(metrics.read_text())
        run = next((r for r in doc.get("runs", []) if r.get("seed") == seed), None)
        if run is not None:
            line += f", {run['steps']:,} steps, validation {doc['objective']} {run['objective']:.4f}"
    return Source(model, saved["data"], _text_data(saved, _is_classifier(model)), "retrained", line + ".")


def _proxy(cfg: dict, arch, run_cfg: dict, seed: int, folder: Path) -> Source:
    from ..proxy import run_proxy
    from ..tracking import RunInfo

    trainer = {**run_cfg["trainer"], "compile": False}  # the capture wraps the eager modules
    seeded = {**run_cfg, "trainer": trainer, "seed": seed, "logger": cfg.get("logger")}
    info = RunInfo(name=f"analysis proxy s{seed} {arch}", group=str(cfg["study"]["name"]), job_type="proxy",
                   save_dir=study_dir(cfg), config={"analysis/seed": seed})
    print(f"no retrained weights for seed {seed} in {folder}: training a {trainer['max_steps']}-step proxy run",
          flush=True)
    result = run_proxy(arch, seeded, run=info, keep_model=True)
    if result.state != "complete":
        raise AnalysisFailed(f"the proxy run for the analysis failed: {result.reason}")
    model = result.model.eval()
    line = (f"Weights: no retrained weights for seed {seed} in `retrain/{folder.name}/` of the study, so a proxy "
            f"run was trained for this analysis with the study's settings: {result.steps:,} steps, seed {seed}, "
            f"validation {result.objective_name} {result.objective:.4f}.")
    return Source(model, run_cfg["data"], _text_data(run_cfg, _is_classifier(model)), "proxy", line)
