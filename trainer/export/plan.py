"""The plan builder of ``layernas export``: which network of a study, with whose weights, in which format and
folder, checked before anything trains or is written."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from layernas.search_space import Architecture
from layernas.trainer.plan.run import RunPlan
from layernas.trainer.plan.study import StudyRef

FORMATS = ("hf", "onnx")
ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")


@dataclass(frozen=True)
class ExportPlan:
    """What an export will write, checked: the study (``ref``), the network and its trial, the run that
    would train it when no retrained weights exist (the study's proxy settings with the command line's
    trainer keys over them; its seed is the weights' seed), the format, the folder, the timed runs of an
    ONNX export, and why the network was chosen when the study's answer chose it."""

    ref: StudyRef
    arch: Architecture
    trial: int | None
    run: RunPlan
    fmt: str
    folder: Path
    latency_runs: int
    note: str | None = None


def _check_settings(export: dict) -> None:
    if export.get("format") not in FORMATS:
        raise ValueError(f"export.format={export.get('format')!r} is not allowed; allowed: {', '.join(FORMATS)}")
    runs = export.get("latency_runs")
    if not isinstance(runs, int) or isinstance(runs, bool) or runs < 1:
        raise ValueError(f"export.latency_runs={runs!r} is not allowed; allowed: an integer >= 1")
    missing = [p for p in ONNX_PACKAGES if importlib.util.find_spec(p) is None] if export["format"] == "onnx" else []
    if missing:
        raise ValueError(f"export.format=onnx needs {', '.join(missing)}, which is not installed; allowed: "
                         f"pip install 'layernas[export]' (or {' '.join(missing)}), or export.format=hf")


def _trainer(cfg: dict, study, overrides: list) -> dict:
    """The study's proxy settings (for a proxy run when there are no retrained weights), with the command
    line's trainer keys over them; the command's own without a study."""
    from layernas.trainer.retrain.plan import inherit

    searched = study.user_attrs.get("config", {}) if study is not None else {}
    return inherit("trainer", searched["trainer"], cfg["trainer"], overrides) if "trainer" in searched \
        else cfg["trainer"]


def plan_export(cfg: dict, given: list[str] | None = None) -> ExportPlan:
    """Check the command (one-line ``ValueError`` for a bad value) and decide what to export. ``given``: the
    command line's overrides (None: Hydra's)."""
    from layernas.trainer.export.folder import check_folder, default_folder
    from layernas.trainer.export.weights import weights_seed
    from layernas.trainer.plan.checks import check_run
    from layernas.trainer.plan.run import run_plan
    from layernas.trainer.retrain.plan import choose, command_line_overrides

    ref = StudyRef.from_dict(cfg)  # the name is checked before a study or arch is looked up
    _check_settings(cfg["export"])
    overrides = command_line_overrides(given)
    choice = choose(cfg, given)  # an unknown trial is refused here; arch=... needs no study
    trainer = _trainer(cfg, choice.study, overrides)
    run = run_plan({**choice.config, "trainer": trainer, "logger": cfg.get("logger")})
    arch, _ = check_run(choice.arch, run, budget=False)
    fmt, given_dir = cfg["export"]["format"], cfg["export"].get("dir")
    folder = check_folder(Path(given_dir) if given_dir else default_folder(ref.folder, arch.key(), fmt),
                          "export.dir" if given_dir else "results_dir")
    seed_given = any(o.key_or_group == "seed" for o in overrides)
    run = run.with_seed(weights_seed(ref, arch.key(), run.seed, seed_given))
    return ExportPlan(ref, arch, choice.trial, run, fmt, folder, cfg["export"]["latency_runs"], choice.note)
