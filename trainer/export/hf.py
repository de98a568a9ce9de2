"""``export.format=hf``: a folder transformers loads with ``AutoModel``/``AutoModelForMaskedLM``/
``AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True)``, with no layernas
installed: config.json, model.safetensors, the modeling code of the network's ops (``code.py``) and the
tokenizer (``tokenizer.py``). Written without transformers: the exporter needs only torch and safetensors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from layernas.trainer.data.tokenizer import PAD_ID
from layernas.trainer.export.code import modeling_sources
from layernas.trainer.export.tokenizer import write_tokenizer

TEMPLATES = Path(__file__).parent / "hf_code"  # configuration_layernas.py, modeling_layernas.py
CLASSES = {"mlm": "LayernasForMaskedLM", "classify": "LayernasForSequenceClassification"}
AUTO_MAP = {"AutoConfig": "configuration_layernas.LayernasConfig", "AutoModel": "modeling_layernas.LayernasModel",
            "AutoModelForMaskedLM": "modeling_layernas.LayernasForMaskedLM",
            "AutoModelForSequenceClassification": "modeling_layernas.LayernasForSequenceClassification"}


def task_of(model) -> str:
    return "classify" if getattr(model.head, "classifier", None) is not None else "mlm"


def hf_config(model, arch, class_names: list[str] | None = None) -> dict:
    """config.json: the arch string, vocabulary, longest sequence, task and pooling, every model setting, and a
    classifier's ``id2label`` (its data's class names, else ``LABEL_<i>``)."""
    encoder, task = model.encoder, task_of(model)
    doc = {"architectures": [CLASSES[task]], "auto_map": AUTO_MAP, "model_type": "layernas", "arch": str(arch),
           "vocab_size": encoder.embed.num_embeddings, "max_len": encoder.max_len, "task": task,
           "pooling": getattr(model.head, "pooling", "mean"), **encoder.config.to_dict(), "pad_token_id": PAD_ID,
           "tie_word_embeddings": True, "dtype": "float32"}
    if task == "classify":
        n = model.head.classifier.out_features
        names = list(class_names) if class_names and len(class_names) == n else [f"LABEL_{i}" for i in range(n)]
        doc["id2label"] = {str(i): name for i, name in enumerate(names)}
        doc["label2id"] = {name: i for i, name in enumerate(names)}
        if n == 1:
            doc["problem_type"] = "regression"
    return doc


def hf_state_dict(model) -> dict:
    """The weights under the HF classes' names (``encoder.*`` -> ``layernas.encoder.*``, ``head.*`` as is), each
    tensor once: a shared sublayer and the tied decoder are stored under their first name only, as
    transformers' tied weights are (the classes declare the other names)."""
    out, seen = {}, set()
    for name, tensor in model.state_dict(keep_vars=True).items():
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        out[f"layernas.{name}" if name.startswith("encoder.") else name] = tensor.detach().contiguous()
    return out


def write_hf(model, arch, tokenizer, folder: Path, class_names: list[str] | None = None) -> list[str]:
    """Everything in ``folder`` (which exists and is empty); returns the file names written."""
    from safetensors.torch import save_file

    files = []
    for name, text in modeling_sources({spec.op for spec in arch}).items():
        (folder / name).write_text(text, encoding="utf-8")
        files.append(name)
    for template in ("configuration_layernas.py", "modeling_layernas.py"):
        shutil.copyfile(TEMPLATES / template, folder / template)
        files.append(template)
    config = hf_config(model, arch, class_names)
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    save_file(hf_state_dict(model), str(folder / "model.safetensors"), metadata={"format": "pt"})
    files += ["config.json", "model.safetensors", *write_tokenizer(tokenizer, folder, model.encoder.max_len)]
    return files
