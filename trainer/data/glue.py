"""The GLUE tasks: where each lives in GLUE's original folder layout (the one the ``download_glue_data.py`` and
``run_glue`` scripts use: ``MRPC/train.tsv``, ``STS-B/dev.tsv``, ...), which columns hold the sentences and the
label there, and its official metrics.

A ``data=glue/<task>`` preset reads ``nyu-mll/glue`` from the Hugging Face hub (split and column names as the hub
gives them); with ``data.glue_dir`` set, :func:`local_layout` points the same preset at the local files instead.
The label names are the hub's, class 0 first; the local files give the same classes as indices (CoLA, SST-2,
MRPC, QQP, WNLI) or as names (MNLI, QNLI, RTE), which ``data.label_names`` maps in both cases. GLUE's TSV files
are read unquoted (``csv.QUOTE_NONE``, as GLUE's own scripts read them: a quote in an MRPC or STS-B sentence is
text), and a byte-order mark at the start of a file (MRPC's) is dropped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

HUB_PATHS = ("nyu-mll/glue", "glue")


@dataclass(frozen=True)
class GlueTask:
    """One task: its folder in GLUE's layout, each split's file there, the local columns (names in the file's
    header, or 0-based indices when it has none) and its official metrics (objective names, the first the
    headline)."""

    folder: str
    files: dict[str, str]
    text: str | int
    pair: str | int | None
    label: str | int
    metrics: tuple[str, ...]
    header: bool = True


TASKS = {
    "cola": GlueTask("CoLA", {"train": "train.tsv", "validation": "dev.tsv"}, 3, None, 1, ("val_mcc",), header=False),
    "sst2": GlueTask("SST-2", {"train": "train.tsv", "validation": "dev.tsv"}, "sentence", None, "label",
                     ("val_acc",)),
    "mrpc": GlueTask("MRPC", {"train": "train.tsv", "validation": "dev.tsv"}, "#1 String", "#2 String", "Quality",
                     ("val_f1", "val_acc")),
    "stsb": GlueTask("STS-B", {"train": "train.tsv", "validation": "dev.tsv"}, "sentence1", "sentence2", "score",
                     ("val_pearson", "val_spearman")),
    "qqp": GlueTask("QQP", {"train": "train.tsv", "validation": "dev.tsv"}, "question1", "question2",
                    "is_duplicate", ("val_f1", "val_acc")),
    # MNLI's two validation sets: matched as the validation split, mismatched in the test slot (GLUE's test
    # labels are not public, so the slot is free; the glue command reports it as mnli-mm)
    "mnli": GlueTask("MNLI", {"train": "train.tsv", "validation": "dev_matched.tsv", "test": "dev_mismatched.tsv"},
                     "sentence1", "sentence2", "gold_label", ("val_acc",)),
    "qnli": GlueTask("QNLI", {"train": "train.tsv", "validation": "dev.tsv"}, "question", "sentence", "label",
                     ("val_acc",)),
    "rte": GlueTask("RTE", {"train": "train.tsv", "validation": "dev.tsv"}, "sentence1", "sentence2", "label",
                    ("val_acc",)),
    "wnli": GlueTask("WNLI", {"train": "train.tsv", "validation": "dev.tsv"}, "sentence1", "sentence2", "label",
                     ("val_acc",)),
}


def glue_task(cfg) -> str | None:
    """The GLUE task a data config is a preset of (its hub name), or None."""
    return cfg.hf_name if cfg.hf_path in HUB_PATHS and cfg.hf_name in TASKS else None


def local_layout(cfg) -> dict:
    """The data settings that read ``cfg``'s GLUE task from ``cfg.glue_dir`` (nothing to change when they already
    do); a one-line ValueError when ``cfg`` is not a GLUE preset."""
    task = glue_task(cfg)
    if task is None:
        raise ValueError(f"glue_dir={cfg.glue_dir!r} is not allowed with data '{cfg.name}'; allowed: a "
                         f"data=glue/<task> preset ({', '.join(TASKS)}), or glue_dir=null")
    if cfg.source == "local":
        return {}
    if not isinstance(cfg.glue_dir, str) or not cfg.glue_dir:
        raise ValueError(f"glue_dir={cfg.glue_dir!r} is not allowed; allowed: a folder in GLUE's layout "
                         "(MRPC/train.tsv, STS-B/dev.tsv, ...), or null")
    spec = TASKS[task]
    folder = os.path.join(os.path.expanduser(cfg.glue_dir), spec.folder)
    files = {split: os.path.join(folder, name) for split, name in spec.files.items()}
    return {"source": "local", "format": "tsv", "header": spec.header, "text_column": spec.text,
            "text_pair_column": spec.pair, "label_column": spec.label, "validation_fraction": 0.0,
            "train": files["train"], "validation": files["validation"],
            "test": files.get("test") if cfg.test is not None else None}
