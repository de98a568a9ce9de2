"""``layernas analyze``: what a study's model (its best trial, ``trial=N`` or ``arch=...``) does with its
heads: the measures of :mod:`.measures` over validation documents, and optionally Htut et al.'s dependency
relations from a CoNLL-U file; writes ``results/<study>/analysis/<key>/``."""

from __future__ import annotations

from dataclasses import dataclass

from ..names import check_name
from ..search.study import load_existing_study, study_dir

DEFAULT_SPANS = [3, 5, 9, 15]  # the spans of the shipped spaces, when the study's space has none


@dataclass(frozen=True)
class AnalysisPlan:
    """What an analysis will read, checked before anything trains."""

    arch: object  # Architecture
    run_cfg: dict
    trial: int | None
    split: str
    n_docs: int
    spans: list[int]
    sentences: list | None  # CoNLL-U sentences


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _check_settings(analyze: dict) -> None:
    from ..data.config import SPLITS

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


def _trainer(cfg: dict, study_cfg: dict) -> dict:
    """The study's proxy settings, with the command line's trainer keys over them."""
    from ..retrain import _command_line_overrides, inherit

    if "trainer" not in study_cfg:
        return cfg["trainer"]
    return inherit("trainer", study_cfg["trainer"], cfg["trainer"], _command_line_overrides())


def check_attention(arch, run_cfg: dict, what: str) -> None:
    """Refuse an architecture none of whose sublayers has an attention map (built small, untrained)."""
    from layernas.search_space import OPS, ModelConfig, build_encoder

    from .capture import capturable_sublayers

    encoder = build_encoder(arch, 16, run_cfg["data"]["seq_len"], ModelConfig.from_dict(run_cfg["model"]))
    if not capturable_sublayers(encoder):
        ops = sorted(name for name, op in OPS.items() if callable(getattr(op.build, "attention_probs", None)))
        raise ValueError(f"{what} {str(arch)!r} has no sublayer with attention to analyse; allowed: an architecture "
                         f"with at least one of {', '.join(ops)}")


def plan_analysis(cfg: dict) -> AnalysisPlan:
    """Check the command (one-line ``ValueError`` for a bad value) and decide what to analyse."""
    from layernas.search_space import Architecture

    from ..config import check_run_config
    from ..retrain import choose
    from .conllu import read_conllu

    check_name("study.name", cfg["study"]["name"], cfg["results_dir"])
    analyze = cfg["analyze"]
    _check_settings(analyze)
    study = load_existing_study(cfg)  # an unknown study is refused here, even with arch=...
    study_cfg = study.user_attrs.get("config", {})
    arch_text, run_cfg, trial = choose(cfg)
    run_cfg = {**run_cfg, "trainer": _trainer(cfg, study_cfg)}
    checked = check_run_config(arch_text, run_cfg, budget=False)
    arch = Architecture.parse(str(checked.arch), checked.model.d_model)
    check_attention(arch, run_cfg, f"trial={trial}'s architecture" if trial is not None else "arch")
    sentences = read_conllu(analyze["conllu"]) if analyze.get("conllu") else None
    return AnalysisPlan(arch, run_cfg, trial, analyze["split"], analyze["n_docs"], _spans(analyze, study_cfg),
                        sentences)


def run_analysis(cfg: dict) -> dict:
    """Plan, get the weights (retrained, or a proxy run), measure, write ``results/<study>/analysis/<key>/``."""
    from dataclasses import replace

    from layernas.search_space import SequenceClassifier

    from ..data import DataConfig
    from ..data.corpus import load_split
    from ..data.tokenizer import CLS_ID, SEP_ID, get_tokenizer
    from ..provenance import git_commit
    from .capture import measure, skipped
    from .conllu import dependency_table
    from .inputs import InputFormat, batches, documents
    from .report import write_analysis
    from .source import load_source

    plan = plan_analysis(cfg)
    source = load_source(cfg, plan.arch, plan.run_cfg, cfg["seed"])
    tokenizer = get_tokenizer(DataConfig.from_dict(source.tokenizer_data))
    text_data = DataConfig.from_dict(source.text_data)
    encoder = source.model.encoder
    fmt = InputFormat(cls=isinstance(source.model, SequenceClassifier), seq_len=encoder.max_len)
    texts = load_split(replace(text_data, max_train_docs=None, max_eval_docs=None), plan.split).texts
    docs = documents(tokenizer, texts, fmt, plan.n_docs)
    if not docs:
        raise ValueError(f"the {plan.split} split of '{text_data.name}' has no document with a token to analyse")
    print(f"analysing {plan.arch} on {len(docs)} {plan.split} documents ({source.kind} weights)", flush=True)
    special = {"cls": CLS_ID, "sep": SEP_ID}
    parts = measure(encoder, batches(docs, text_data.batch_size, fmt.seq_len), plan.spans, special)
    doc = {"study": str(cfg["study"]["name"]), "arch": str(plan.arch), "key": plan.arch.key(), "trial": plan.trial,
           "source": {"kind": source.kind, "line": source.line}, "seed": cfg["seed"], "data": text_data.name,
           "split": plan.split, "documents": len(docs), "tokens": sum(len(d) for d in docs), "seq_len": fmt.seq_len,
           "input_format": ("[CLS] " if fmt.cls else "") + "tokens [SEP]", "spans": plan.spans,
           "parts": [vars(p) for p in parts],
           "skipped": [{"sublayer": i, "op": op, "why": why} for i, op, why in skipped(encoder)],
           "conllu": cfg["analyze"].get("conllu"), "git_commit": git_commit()}
    if plan.sentences is not None:
        doc["dependencies"] = dependency_table(encoder, tokenizer, plan.sentences, fmt, text_data.batch_size)
    return write_analysis(doc, cfg, study_dir(cfg) / "analysis" / plan.arch.key())

