"""``layernas analyze``: what a study's model (its best trial, ``trial=N`` or ``arch=...``) does with its
heads: the measures of :mod:`.measures` over validation documents, and optionally Htut et al.'s dependency
relations from a CoNLL-U file; writes ``results/<study>/analysis/<key>/``."""

from __future__ import annotations

from layernas.trainer.analyze.plan import AnalysisPlan


def run_analysis(plan: AnalysisPlan) -> dict:
    """Get the weights (retrained, or a proxy run), measure, write ``results/<study>/analysis/<key>/``."""
    from dataclasses import replace

    from layernas.search_space import SequenceClassifier
    from layernas.trainer.analyze.capture import measure, skipped
    from layernas.trainer.analyze.conllu import dependency_table
    from layernas.trainer.analyze.inputs import InputFormat, batches, documents
    from layernas.trainer.analyze.report import write_analysis
    from layernas.trainer.analyze.source import load_source
    from layernas.trainer.data.corpus import load_split
    from layernas.trainer.data.tokenizer import CLS_ID, SEP_ID, get_tokenizer
    from layernas.trainer.plumbing.provenance import git_commit

    if plan.note:
        print(plan.note, flush=True)
    source = load_source(plan.ref, plan.arch, plan.run)
    tokenizer = get_tokenizer(source.tokenizer_data)
    text_data = source.text_data
    encoder = source.model.encoder
    fmt = InputFormat(cls=isinstance(source.model, SequenceClassifier), seq_len=encoder.max_len)
    texts = load_split(replace(text_data, max_train_docs=None, max_eval_docs=None), plan.split).texts
    docs = documents(tokenizer, texts, fmt, plan.n_docs)
    if not docs:
        raise ValueError(f"the {plan.split} split of '{text_data.name}' has no document with a token to analyse")
    print(f"analysing {plan.arch} on {len(docs)} {plan.split} documents ({source.kind} weights)", flush=True)
    special = {"cls": CLS_ID, "sep": SEP_ID}
    parts = measure(encoder, batches(docs, text_data.batch_size, fmt.seq_len), plan.spans, special)
    doc = {"study": plan.ref.name, "arch": str(plan.arch), "key": plan.arch.key(), "trial": plan.trial,
           "source": {"kind": source.kind, "line": source.line}, "seed": plan.run.seed, "data": text_data.name,
           "split": plan.split, "documents": len(docs), "tokens": sum(len(d) for d in docs), "seq_len": fmt.seq_len,
           "input_format": ("[CLS] " if fmt.cls else "") + "tokens [SEP]", "spans": plan.spans,
           "parts": [vars(p) for p in parts],
           "skipped": [{"sublayer": i, "op": op, "why": why} for i, op, why in skipped(encoder)],
           "conllu": plan.settings.get("conllu"), "git_commit": git_commit()}
    if plan.sentences is not None:
        doc["dependencies"] = dependency_table(encoder, tokenizer, plan.sentences, fmt, text_data.batch_size)
    return write_analysis(doc, plan)

