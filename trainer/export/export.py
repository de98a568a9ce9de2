"""``layernas export``: a study's network (its best trial, ``trial=N`` or ``arch=...``) as a Hugging Face folder
(``export.format=hf``, see ``hf.py``) or an ONNX graph (``export.format=onnx``, see ``onnx_graph.py``), each with
its tokenizer and an ``export.json`` saying what was exported; default folder
``results/<study>/export/<key>-<format>/``. The plan is built by ``plan.py``."""

from __future__ import annotations

import json

from layernas.trainer.export.plan import ExportPlan


def run_export(plan: ExportPlan) -> dict:
    """Get the weights (retrained, or a proxy run), write the export; returns its export.json."""
    from layernas.search_space import ModelConfig
    from layernas.trainer.analyze.source import load_source
    from layernas.trainer.data.tokenizer import get_tokenizer
    from layernas.trainer.export.folder import MARK, staged
    from layernas.trainer.export.hf import task_of, write_hf
    from layernas.trainer.plumbing.provenance import git_commit

    if plan.note:
        print(plan.note, flush=True)
    source = load_source(plan.ref, plan.arch, plan.run, purpose="export")
    model = source.model.cpu().eval()
    tokenizer = get_tokenizer(source.tokenizer_data)
    doc = {"format": plan.fmt, "study": plan.ref.name, "trial": plan.trial, "arch": str(plan.arch),
           "key": plan.arch.key(), "seed": plan.run.seed, "weights": source.kind, "weights_line": source.line,
           "task": task_of(model), "vocab_size": model.encoder.embed.num_embeddings,
           "max_len": model.encoder.max_len, "model": ModelConfig.to_dict(model.encoder.config),
           "class_names": class_names(source), "git_commit": git_commit()}
    with staged(plan.folder) as tmp:
        if plan.fmt == "hf":  # the architecture the weights were built as
            doc["files"] = write_hf(model, model.encoder.arch, tokenizer, tmp, doc["class_names"])
        else:
            from layernas.trainer.export.onnx_graph import write_onnx
            from layernas.trainer.export.tokenizer import write_tokenizer

            doc["onnx"] = write_onnx(model, tmp, plan.run.data.batch_size, plan.latency_runs)
            doc["files"] = [doc["onnx"]["file"], *write_tokenizer(tokenizer, tmp, model.encoder.max_len)]
            print(f"onnxruntime against torch: max |difference| {max(doc['onnx']['parity_max_abs'].values()):.1e} "
                  f"at lengths {', '.join(doc['onnx']['parity_max_abs'])}\n{doc['onnx']['line']}", flush=True)
        (tmp / MARK).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"exported {plan.arch} ({source.kind} weights, seed {plan.run.seed}) as {plan.fmt} to {plan.folder}")
    return doc


def class_names(source) -> list[str] | None:
    """A classifier's class names, class i the i-th (what its data was trained with: ``data.label_names``, or
    the names the labels themselves give); None for a masked LM or classes that are unnamed indices."""
    from layernas.trainer.data.corpus import label_map
    from layernas.trainer.export.hf import task_of

    if task_of(source.model) != "classify":
        return None
    data = source.text_data
    names = data.label_names or label_map(data).names  # the mapping its training cached
    return None if names is None else list(names)
