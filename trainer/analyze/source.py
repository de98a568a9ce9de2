"""The model an analysis (or an export) reads: the study's retrained weights for the architecture and seed
when they exist (``results/<study>/retrain/<key>/model-seed<N>.safetensors``), else a proxy run trained now
with the study's own settings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from layernas.search_space import Architecture
from layernas.trainer.data.config import DataConfig
from layernas.trainer.plan.run import RunPlan, run_plan
from layernas.trainer.plan.study import StudyRef
from layernas.trainer.retrain.load import retrained_folder


class AnalysisFailed(RuntimeError):
    """The proxy run that was to give the weights failed (e.g. NaN loss)."""


@dataclass
class Source:
    """A trained model in eval mode, its tokenizer's data, the data whose texts to read, and what it is."""

    model: object  # MaskedLM or SequenceClassifier
    tokenizer_data: DataConfig
    text_data: DataConfig
    kind: str  # retrained | proxy
    line: str  # one sentence for analysis.md


def _text_data(run: RunPlan, classifier: bool) -> DataConfig:
    """A classifier fine-tuned after pre-training read its labelled data; every other model its data."""
    return run.labelled_data if classifier else run.data


def _is_classifier(model) -> bool:
    return getattr(model.head, "classifier", None) is not None


def load_source(ref: StudyRef, arch: Architecture, run: RunPlan, purpose: str = "analysis") -> Source:
    """The weights of ``arch`` for ``run.seed`` in study ``ref``: retrained, else a proxy run of ``run``;
    ``purpose`` (analysis, export) names the proxy run and says what it was trained for."""
    folder = retrained_folder(ref, arch.key())
    weights = folder / f"model-seed{run.seed}.safetensors"
    if weights.is_file():
        return _retrained(folder, weights, run.seed)
    return _proxy(ref, arch, run, folder, purpose)


def _retrained(folder: Path, weights: Path, seed: int) -> Source:
    from layernas.trainer.retrain.load import load_retrained

    model = load_retrained(folder, seed)
    saved = run_plan(yaml.safe_load((folder / "config.yaml").read_text()))
    line = f"Weights: retrained, seed {seed} (`retrain/{folder.name}/{weights.name}` of the study)"
    metrics = folder / "metrics.json"
    if metrics.is_file():
        doc = json.loads(metrics.read_text())
        run = next((r for r in doc.get("runs", []) if r.get("seed") == seed), None)
        if run is not None:
            line += f", {run['steps']:,} steps, validation {doc['objective']} {run['objective']:.4f}"
    return Source(model, saved.data, _text_data(saved, _is_classifier(model)), "retrained", line + ".")


def _proxy(ref: StudyRef, arch: Architecture, run: RunPlan, folder: Path, purpose: str) -> Source:
    from layernas.trainer.core.proxy import RunSpec, run_proxy
    from layernas.trainer.core.tracking import RunInfo

    # eager modules: the capture wraps them, and the exporters trace them
    seed, run = run.seed, run.with_trainer(compile=False)
    info = RunInfo(name=f"{purpose} proxy s{seed} {arch}", group=ref.name, job_type="proxy",
                   save_dir=ref.folder, config={f"{purpose}/seed": seed})
    print(f"no retrained weights for seed {seed} in {folder}: training a {run.trainer.max_steps}-step proxy run",
          flush=True)
    result = run_proxy(RunSpec(arch, run, run=info, keep_model=True))
    if result.state != "complete":
        raise AnalysisFailed(f"the proxy run for the {purpose} failed: {result.reason}")
    model = result.model.eval()
    line = (f"Weights: no retrained weights for seed {seed} in `retrain/{folder.name}/` of the study, so a proxy "
            f"run was trained for this {purpose} with the study's settings: {result.steps:,} steps, seed {seed}, "
            f"validation {run.task.objective} {result.objective:.4f}.")
    return Source(model, run.data, _text_data(run, _is_classifier(model)), "proxy", line)
