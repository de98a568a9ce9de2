"""The plan builder of ``layernas analyze``: which network of a study, with what settings, on which
documents and measures, checked before anything trains."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from layernas.search_space import Architecture
from layernas.trainer.plan.run import RunPlan
from layernas.trainer.plan.study import StudyRef
from layernas.trainer.search.study import load_existing_study

DEFAULT_SPANS = [3, 5, 9, 15]  # the spans of the shipped spaces, when the study's space has none


@dataclass(frozen=True)
class AnalysisPlan:
    """What an analysis will read, checked before anything trains: the study, the network (with its
    trial), the run that would train it when no retrained weights exist (the study's proxy settings with the
    command line's trainer keys over them, this command's logger), the documents and measures."""

    ref: StudyRef
    arch: Architecture
    trial: int | None
    run: RunPlan
    split: str
    n_docs: int
    spans: list[int]
    sentences: list | None  # CoNLL-U sentences
    settings: dict  # ``analyze.*`` as given (recorded in analysis.json and the W&B run)
    note: str | None = None

    @property
    def folder(self) -> Path:
        return self.ref.folder / "analysis" / self.arch.key()


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _check_settings(analyze: dict) -> None:
    from layernas.trainer.data.config import SPLITS

    if not _positive_int(analyze.get("n_docs")):
        raise ValueError(f"analyze.n_docs={analyze.get('n_docs')!r} is not allowed; allowed: an integer >= 1")
    if analyze.get("split") not in SPLITS:
        raise ValueError(f"analyze.split={analyze.get('split')!r} is not allowed; allowed: {', '.join(SPLITS)}")
    spans = analyze.get("spans")
    if spans is not None and (not spans or not all(_positive_int(k) and k % 2 for k in spans)):
        raise ValueError(f"analyze.spans={spans!r} is not allowed; allowed: null (the study space's spans) or a "
                         "non-empty list of odd integers >= 1 (e.g. [3,9])")


def _spans(analyze: dict, study_cfg: dict) -> list[int]:
    if analyze.get("spans"):
        return sorted(set(analyze["spans"]))
    domain = ((study_cfg.get("space") or {}).get("domains") or {}).get("k")
    return sorted(set(domain)) if domain else DEFAULT_SPANS


def check_attention(arch, run: RunPlan, what: str) -> None:
    """Refuse an architecture none of whose sublayers has an attention map (built small, untrained)."""
    from layernas.search_space import OPS, build_encoder
    from layernas.trainer.analyze.capture import capturable_sublayers

    encoder = build_encoder(arch, 16, run.data.seq_len, run.model)
    if not capturable_sublayers(encoder):
        ops = sorted(name for name, op in OPS.items() if callable(getattr(op.build, "attention_probs", None)))
        raise ValueError(f"{what} {str(arch)!r} has no sublayer with attention to analyse; allowed: an architecture "
                         f"with at least one of {', '.join(ops)}")


def plan_analysis(cfg: dict) -> AnalysisPlan:
    """Check the command (one-line ``ValueError`` for a bad value) and decide what to analyse."""
    from layernas.trainer.analyze.conllu import read_conllu
    from layernas.trainer.plan.checks import check_run
    from layernas.trainer.plan.run import run_plan
    from layernas.trainer.retrain.plan import choose, command_line_overrides, inherit

    ref = StudyRef.from_dict(cfg)
    analyze = cfg["analyze"]
    _check_settings(analyze)
    study = load_existing_study(ref)  # an unknown study is refused here, even with arch=...
    study_cfg = study.user_attrs.get("config", {})
    choice = choose(cfg)
    trainer = inherit("trainer", study_cfg["trainer"], cfg["trainer"], command_line_overrides()) \
        if "trainer" in study_cfg else cfg["trainer"]
    run = run_plan({**choice.config, "trainer": trainer, "logger": cfg.get("logger")})
    arch, _ = check_run(choice.arch, run, budget=False)
    check_attention(arch, run, f"trial={choice.trial}'s architecture" if choice.trial is not None else "arch")
    sentences = read_conllu(analyze["conllu"]) if analyze.get("conllu") else None
    return AnalysisPlan(ref, arch, choice.trial, run, analyze["split"], analyze["n_docs"], _spans(analyze, study_cfg),
                        sentences, dict(analyze), choice.note)
