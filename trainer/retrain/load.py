"""Retrained weights back as a model: :func:`load_retrained`; where a study keeps them
(:func:`retrained_folder`) and for which seeds (:func:`retrained_seeds`)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from layernas.trainer.plan.study import StudyRef


def retrained_folder(ref: StudyRef, key: str) -> Path:
    """``results/<study>/retrain/<key>/``: a network's retrain (its weights, metrics.json, config.yaml)."""
    return ref.folder / "retrain" / key


def retrained_seeds(folder: Path) -> list[int]:
    """The seeds with weights (``model-seed<N>.safetensors``) in a retrain folder, ascending."""
    found = (re.fullmatch(r"model-seed(\d+)\.safetensors", p.name) for p in folder.glob("model-seed*.safetensors"))
    return sorted(int(m.group(1)) for m in found if m)


def load_retrained(folder: str | Path, seed: int = 0):
    """The retrained model in ``folder`` (a ``results/<study>/retrain/<key>/``) with its weights loaded:
    a :class:`~layernas.search_space.MaskedLM` or :class:`~layernas.search_space.SequenceClassifier`, in eval mode."""
    from safetensors.torch import load_model

    from layernas.search_space import MaskedLM, ModelConfig, SequenceClassifier, build_encoder

    folder = Path(folder)
    saved = yaml.safe_load((folder / "config.yaml").read_text())
    n_classes, task = saved.get("n_classes"), saved.get("task") or {}
    data = (task.get("finetune_data") if n_classes else None) or saved["data"]  # a fine-tuned classifier's data
    encoder = build_encoder(saved["arch"], saved["vocab_size"], data["seq_len"], ModelConfig.from_dict(saved["model"]))
    model = SequenceClassifier(encoder, n_classes, task.get("pooling", "mean")) if n_classes else MaskedLM(encoder)
    weights = folder / f"model-seed{seed}.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"no weights for seed {seed} in {folder}: {weights.name} is missing")
    try:
        load_model(model, str(weights))
    except Exception as e:  # noqa: BLE001  (safetensors raises its own error types)
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{weights} is not a safetensors weights file of this model ({reason})") from None
    return model.eval()
