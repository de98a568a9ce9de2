"""``layernas export`` end to end: the weights it takes (retrained, else a proxy run, with a line saying so),
the folders it writes, transformers' ``Trainer`` fine-tuning an exported classifier, the tokenizer coming back
through ``data.tokenizer.path``, and failures that leave nothing half-written."""

from __future__ import annotations

import json
import lzma
import subprocess
from pathlib import Path

import pytest
import torch

from layernas.trainer.data import DataConfig, get_tokenizer
from tests.conftest import TINY, TINY_SST2
from tests.helpers import WANDB
from tests.test_classification import cli

ROOT = Path(__file__).resolve().parents[1]
ARCH = "sa(h=4) ffn(r=2) dconv(k=3,h=4)"
CLASSIFY = ["task=classify", "data=sst2", *TINY, *TINY_SST2]


def only_folder(parent: Path) -> Path:
    (folder,) = [p for p in parent.iterdir() if not p.name.startswith(".")]
    assert not [p for p in parent.iterdir() if p.name.startswith(".")]  # no staging folder left behind
    return folder


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> dict:
    """A classifier exported with no study and no retrained weights: a proxy run trains it first (SST-2's
    classes 0 and 1 named by data.label_names)."""
    results = tmp_path_factory.mktemp("export-classifier") / "results"
    code, out, err = cli("export", "study.name=sst", f"arch={ARCH}", *CLASSIFY, "data.label_names=[negative,positive]",
                         "logger=wandb_offline", f"results_dir={results}")
    assert code == 0, err
    return {"results": results, "out": out, "folder": only_folder(results / "sst" / "export")}


def test_without_retrained_weights_a_proxy_run_gives_them_and_says_so(classifier):
    folder, out = classifier["folder"], classifier["out"]
    doc = json.loads((folder / "export.json").read_text())
    assert folder.name == f"{doc['key']}-hf" and doc["arch"] == ARCH and doc["weights"] == "proxy"
    assert f"no retrained weights for seed 0 in {classifier['results'] / 'sst' / 'retrain' / doc['key']}: " \
           "training a 6-step proxy run" in out
    assert f"exported {ARCH} (proxy weights, seed 0) as hf to {folder}" in out
    assert doc["task"] == "classify" and doc["vocab_size"] == 400 and doc["max_len"] == 24
    config = json.loads((folder / "config.json").read_text())
    assert config["arch"] == ARCH and config["architectures"] == ["LayernasForSequenceClassification"]
    assert config["auto_map"]["AutoModelForSequenceClassification"].startswith("modeling_layernas.")
    assert config["id2label"] == {"0": "negative", "1": "positive"} and config["label2id"]["positive"] == 1
    assert doc["class_names"] == ["negative", "positive"]
    assert set(doc["files"]) | {"export.json"} == {p.name for p in folder.iterdir()}
    (run,) = (classifier["results"] / "sst" / "wandb").glob("offline-run-*")
    summary = json.loads(subprocess.run([WANDB, "leet", "inspect", "--summary", "--json", str(run)],
                                        capture_output=True, text=True, check=True).stdout)
    assert summary["name"] == f"export proxy s0 {ARCH}" and summary["state"] == "finished"
    assert summary["config"]["export/seed"] == 0


def test_five_trainer_steps_on_sst2_lower_the_exported_classifiers_loss(classifier, tmp_path):
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

    folder = classifier["folder"]
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
    rows = [line.split("\t") for line in lzma.open(ROOT / "data" / "sst2" / "train.tsv.xz", "rt").read()
            .splitlines()[1:41]]
    data = Dataset.from_dict({"sentence": [r[0] for r in rows], "label": [int(r[1]) for r in rows]})
    data = data.map(lambda b: tokenizer(b["sentence"], truncation=True), batched=True)
    model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True)

    def loss() -> float:
        batch = tokenizer(list(data["sentence"]), padding=True, truncation=True, return_tensors="pt")
        with torch.no_grad():
            return model.eval()(**batch, labels=torch.tensor(list(data["label"]))).loss.item()

    before = loss()
    args = TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=5, per_device_train_batch_size=8,
                             learning_rate=1e-3, report_to=[], use_cpu=True, save_strategy="no", seed=0)
    history = Trainer(model=model, args=args, train_dataset=data, processing_class=tokenizer).train()
    assert history.global_step == 5
    assert loss() < before


def test_the_exported_tokenizer_comes_back_with_the_same_ids(classifier):
    """export -> data.tokenizer.path=<the exported folder> -> the ids the network was trained with."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from tests.conftest import CONF

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        data = OmegaConf.to_container(compose("export", overrides=["study.name=sst", *CLASSIFY]).data, resolve=True)
    original = get_tokenizer(DataConfig.from_dict(data))  # the one the proxy run trained with (cached)
    back = get_tokenizer(DataConfig.from_dict({**data, "tokenizer": {**data["tokenizer"],
                                                                     "path": str(classifier["folder"])}}))
    assert back.to_str() == original.to_str()  # already in this package's order: unchanged
    texts = [line.split("\t")[0] for line in lzma.open(ROOT / "data" / "sst2" / "dev.tsv.xz", "rt").read()
             .splitlines()[1:50]]
    assert [e.ids for e in back.encode_batch(texts)] == [e.ids for e in original.encode_batch(texts)]


@pytest.fixture(scope="module")
def retrained(tmp_path_factory) -> Path:
    """A masked-LM network retrained on seed 1 only (no study: ``arch=`` is enough)."""
    results = tmp_path_factory.mktemp("export-retrained") / "results"
    code, out, err = cli("retrain", "study.name=mlm", f"arch={ARCH}", *TINY, "seeds=[1]", f"results_dir={results}")
    assert code == 0, err
    return results


def test_retrained_weights_are_exported_as_onnx_checked_and_timed(retrained):
    code, out, err = cli("export", "study.name=mlm", f"arch={ARCH}", *TINY, "export.format=onnx",
                         "export.latency_runs=2", f"results_dir={retrained}")
    assert code == 0, err
    folder = only_folder(retrained / "mlm" / "export")
    doc = json.loads((folder / "export.json").read_text())
    assert doc["weights"] == "retrained" and doc["seed"] == 1  # seed 0 was not retrained: the lowest that was
    assert doc["class_names"] is None  # a masked LM
    assert "proxy run" not in out and f"(retrained weights, seed 1) as onnx to {folder}" in out
    assert max(doc["onnx"]["parity_max_abs"].values()) <= 1e-4 and list(doc["onnx"]["parity_max_abs"]) == ["17", "32"]
    assert "onnxruntime against torch: max |difference|" in out and doc["onnx"]["line"] in out
    assert doc["onnx"]["line"].startswith("latency (batch 8 x 32 tokens, ")  # the data's batch, the longest length
    assert {p.name for p in folder.iterdir()} == {"model.onnx", "export.json", "tokenizer.json",
                                                 "tokenizer_config.json", "special_tokens_map.json"}
    import onnxruntime as ort

    from layernas.trainer.retrain import load_retrained

    model = load_retrained(retrained / "mlm" / "retrain" / doc["key"], seed=1)
    ids = torch.randint(5, 500, (2, 20))
    mask = torch.ones(2, 20, dtype=torch.long)
    mask[1, 9:] = 0
    got = ort.InferenceSession(str(folder / "model.onnx")).run(None, {"input_ids": ids.numpy(),
                                                                     "attention_mask": mask.numpy()})[0]
    with torch.no_grad():
        assert abs(got - model(ids, mask).numpy()).max() <= 1e-4


def test_a_seed_that_was_not_retrained_is_one_line_and_writes_nothing(retrained, tmp_path):
    target = tmp_path / "out"
    code, out, err = cli("export", "study.name=mlm", f"arch={ARCH}", *TINY, "seed=0", f"export.dir={target}",
                         f"results_dir={retrained}")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: seed=0 has no retrained weights: ") and "allowed: seed=1" in err
    assert not target.exists()
    code, out, err = cli("export", "study.name=mlm", f"arch={ARCH}", *TINY, "seed=1", f"export.dir={target}",
                         f"results_dir={retrained}")
    assert code == 0 and "(retrained weights, seed 1) as hf" in out, err


def test_a_failure_while_writing_leaves_the_earlier_export_as_it_was(retrained, tmp_path, monkeypatch):
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from layernas.trainer.apps.overrides import quote_arch
    from layernas.trainer.export.export import run_export
    from layernas.trainer.export.plan import plan_export
    from tests.conftest import CONF

    target = tmp_path / "exports" / "net"
    args = [quote_arch(a) for a in ["study.name=mlm", f"arch={ARCH}", *TINY, f"export.dir={target}",
                                    f"results_dir={retrained}"]]
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = OmegaConf.to_container(compose("export", overrides=args), resolve=True)
    run_export(plan_export(cfg, given=args))
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("safetensors.torch.save_file", disk_full)  # after the code files were written
    with pytest.raises(OSError, match="No space left"):
        run_export(plan_export(cfg, given=args))
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert [p.name for p in target.parent.iterdir()] == ["net"]  # no staging folder left
    fresh = tmp_path / "new" / "deeper" / "net"
    with pytest.raises(OSError, match="No space left"):
        run_export(plan_export({**cfg, "export": {**cfg["export"], "dir": str(fresh)}}, given=args))
    assert not (tmp_path / "new").exists()  # nor the folders made for it


def test_a_classifier_of_word_labels_is_exported_with_their_names(tmp_path):
    """Without data.label_names, id2label holds the names the training labels give (their sorted order: the
    class ids the classifier was trained with); a masked LM has none."""
    from layernas.search_space import MaskedLM, SequenceClassifier, build_encoder
    from layernas.trainer.analyze.source import Source
    from layernas.trainer.export.export import class_names
    from layernas.trainer.export.hf import hf_config
    from tests.test_labels import local, split_pair

    data = local(tmp_path, *split_pair(tmp_path, "tsv", ("negative", "positive").__getitem__, "words"))
    classifier = SequenceClassifier(build_encoder("sa ffn", 50, 8, d_model=16), 2)
    names = class_names(Source(classifier, data, data, "proxy", ""))
    assert names == ["negative", "positive"]
    assert hf_config(classifier, classifier.encoder.arch, names)["id2label"] == {"0": "negative", "1": "positive"}
    assert hf_config(classifier, classifier.encoder.arch, None)["id2label"] == {"0": "LABEL_0", "1": "LABEL_1"}
    assert class_names(Source(MaskedLM(classifier.encoder), data, data, "proxy", "")) is None
