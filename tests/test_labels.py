"""Class labels given as names (``entailment``, ``positive``) in every format: mapped to the class indices of
their integer form, in an order ``data.label_names`` can fix (which also picks F1's positive class), refused in
one line when validation or test has a name the training split does not, and named in every result."""

from __future__ import annotations

import csv
import json
import lzma
import subprocess
from pathlib import Path

import pytest
import torch

from layernas.trainer.data import DataConfig, classification_examples, get_tokenizer, load_split
from layernas.trainer.data.corpus import label_map
from tests.conftest import TINY
from tests.helpers import WANDB

SHIPPED = Path(__file__).resolve().parents[1] / "data" / "sst2" / "train.tsv.xz"
SENTIMENT = ("negative", "positive")  # SST-2's 0 and 1, and their sorted order
SMALL = [o for o in TINY if not o.startswith("logger=")] + ["data.batch_size=16"]


def sst2_rows(start: int, n: int) -> list[tuple[str, int]]:
    """``n`` (sentence, 0/1 label) rows of the shipped SST-2 training file from row ``start``."""
    lines = lzma.decompress(SHIPPED.read_bytes()).decode().splitlines()[1 + start: 1 + start + n]
    return [(line.rsplit("\t", 1)[0], int(line.rsplit("\t", 1)[1])) for line in lines]


def write_rows(path: Path, rows: list[tuple[str, int]], label=lambda y: y) -> Path:
    """``rows`` as a tsv, csv or jsonl file (by its suffix) with columns ``sentence`` and ``label``."""
    fmt = path.suffix.lstrip(".")
    if fmt == "jsonl":
        path.write_text("".join(json.dumps({"sentence": s, "label": label(y)}) + "\n" for s, y in rows))
    elif fmt == "csv":
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows([("sentence", "label"), *((s, label(y)) for s, y in rows)])
    else:
        path.write_text("sentence\tlabel\n" + "".join(f"{s}\t{label(y)}\n" for s, y in rows))
    return path


def local(tmp_path: Path, train: Path, validation: Path, **overrides) -> DataConfig:
    return DataConfig.from_dict({"name": "t", "train": str(train), "validation": str(validation),
                                 "text_column": "sentence", "label_column": "label", "seq_len": 24,
                                 "batch_size": 8, "tokenizer": {"vocab_size": 300},
                                 "cache_dir": str(tmp_path / "cache"), **overrides})


def split_pair(tmp_path: Path, fmt: str, label, tag: str) -> tuple[Path, Path]:
    return (write_rows(tmp_path / f"train-{tag}.{fmt}", sst2_rows(0, 80), label),
            write_rows(tmp_path / f"dev-{tag}.{fmt}", sst2_rows(80, 30), label))


@pytest.mark.parametrize("fmt", ["tsv", "csv", "jsonl"])
def test_word_labels_map_to_the_indices_of_their_integer_form(tmp_path, fmt):
    words = local(tmp_path, *split_pair(tmp_path, fmt, SENTIMENT.__getitem__, "words"))
    ints = local(tmp_path, *split_pair(tmp_path, fmt, lambda y: y, "ints"))
    for split in ("train", "validation"):
        assert load_split(words, split).labels == load_split(ints, split).labels == [y for _, y in (
            sst2_rows(0, 80) if split == "train" else sst2_rows(80, 30))]
    assert label_map(words).names == SENTIMENT and label_map(ints).names is None
    tokenized = [classification_examples(cfg, "validation", get_tokenizer(cfg)).labels for cfg in (words, ints)]
    assert torch.equal(*tokenized)


def hf_config(tmp_path: Path, builder: str, files: dict, **overrides) -> DataConfig:
    return DataConfig.from_dict({"name": f"hf{builder}", "source": "hf", "hf_path": builder, "train": "train",
                                 "validation": "validation", "data_files": {k: str(v) for k, v in files.items()},
                                 "text_column": "sentence", "label_column": "label",
                                 "hf_cache_dir": str(tmp_path / "hf"), "cache_dir": str(tmp_path / "cache"),
                                 **overrides})


def test_hf_word_labels_and_classlabel_names(tmp_path, monkeypatch):
    from datasets import ClassLabel, Dataset, Features, Value

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    train, dev = sst2_rows(0, 40), sst2_rows(40, 20)
    splits = ("train", "validation")
    words = hf_config(tmp_path, "csv", dict(zip(splits, split_pair(tmp_path, "csv", SENTIMENT.__getitem__, "w"),
                                                strict=True)))
    ints = hf_config(tmp_path, "csv", dict(zip(splits, split_pair(tmp_path, "csv", int, "i"), strict=True)))
    assert load_split(words, "validation").labels == load_split(ints, "validation").labels == [y for _, y in
                                                                                                sst2_rows(80, 30)]
    assert label_map(words).names == SENTIMENT
    # A ClassLabel column keeps its own order (GLUE's MRPC: 0 not_equivalent, 1 equivalent), not the sorted one
    features = Features({"sentence": Value("string"), "label": ClassLabel(names=["not_equivalent", "equivalent"])})
    files = {}
    for split, rows in (("train", train), ("validation", dev)):
        files[split] = tmp_path / f"{split}.parquet"
        Dataset.from_dict({"sentence": [s for s, _ in rows], "label": [y for _, y in rows]},
                          features=features).to_parquet(str(files[split]))
    declared = hf_config(tmp_path, "parquet", files)
    assert label_map(declared).names == ("not_equivalent", "equivalent")
    assert load_split(declared, "validation").labels == [y for _, y in dev]


def test_label_names_fix_the_order_and_the_token_cache_follows(tmp_path):
    train, dev = split_pair(tmp_path, "tsv", SENTIMENT.__getitem__, "words")
    default = local(tmp_path, train, dev)
    reversed_ = local(tmp_path, train, dev, label_names=["positive", "negative"])
    assert label_map(reversed_).names == ("positive", "negative")
    assert load_split(reversed_, "validation").labels == [1 - y for y in load_split(default, "validation").labels]
    # the same files and tokenizer, another mapping: another token cache, not the first one's labels
    first = classification_examples(default, "validation", get_tokenizer(default)).labels
    second = classification_examples(reversed_, "validation", get_tokenizer(reversed_)).labels
    assert torch.equal(second, 1 - first)
    # integer labels: data.label_names names the indices and leaves them as they are
    named = local(tmp_path, *split_pair(tmp_path, "tsv", int, "ints"), label_names=list(SENTIMENT))
    assert label_map(named).names == SENTIMENT and label_map(named).by_name is False
    assert load_split(named, "validation").labels == load_split(default, "validation").labels
    with pytest.raises(ValueError, match=r"^label 'positive' in .*train-words\.tsv line \d+ is not one of "
                                         r"data\.label_names \(good, negative\); allowed: data.label_names listing "
                                         r"every class$"):
        load_split(local(tmp_path, train, dev, label_names=["good", "negative"]), "train")


@pytest.fixture
def always_class_one(monkeypatch):
    """Every classifier predicts class 1 for every example."""
    from layernas.search_space.heads import ClassificationHead

    original = ClassificationHead.forward
    monkeypatch.setattr(ClassificationHead, "forward",
                        lambda self, h, mask=None: original(self, h, mask) * 1e-6 + torch.tensor([-10.0, 10.0]))


def test_label_names_choose_f1s_positive_class(tmp_path, proxy_cfg, always_class_one):
    from tests.helpers import proxy as run_proxy

    train, dev = split_pair(tmp_path, "tsv", SENTIMENT.__getitem__, "words")
    share = {name: sum(SENTIMENT[y] == name for _, y in sst2_rows(80, 30)) / 30 for name in SENTIMENT}
    data = ["task=classify", "data=tsv", f"data.train={train}", f"data.validation={dev}",
            "data.text_column=sentence", "trainer.limit_val_batches=null", "logger=wandb_offline"]
    for order in (None, ["positive", "negative"]):
        given = [f"data.label_names=[{','.join(order)}]"] if order else []
        result = run_proxy("sa ffn", proxy_cfg(*data, *given))
        positive = (order or SENTIMENT)[1]  # class 1: the last name, sorted unless data.label_names orders them
        assert result.classes["names"] == list(order or SENTIMENT)
        assert result.metrics["val/f1"] == pytest.approx(2 * share[positive] / (1 + share[positive]), abs=1e-6)
        assert result.metrics["val/recall_1"] == 1.0 and result.metrics["val/recall_0"] == 0.0
        config = json.loads(subprocess.run([WANDB, "leet", "inspect", "--summary", "--json", result.run_dir],
                                           capture_output=True, text=True, check=True).stdout)["config"]
        assert config["data"]["label_names"] == list(order or SENTIMENT)


def cli(*args) -> tuple[int, str, str]:
    from tests.test_classification import cli as run

    return run(*args)


def glue_style(folder: Path) -> dict[str, Path]:
    """GLUE-style TSVs (index, sentence1, sentence2, label) with RTE's word labels, on shipped SST-2 text."""
    out = {}
    for name, start, n in (("train", 0, 160), ("dev", 160, 48), ("test", 208, 48)):
        rows = sst2_rows(start, 2 * n)
        out[name] = folder / f"{name}.tsv"
        out[name].write_text("index\tsentence1\tsentence2\tlabel\n" + "".join(
            f"{i}\t{rows[2 * i][0]}\t{rows[2 * i + 1][0]}\t{'entailment' if rows[2 * i][1] else 'not_entailment'}\n"
            for i in range(n)))
    return out


def majority(path: Path) -> str:
    labels = [line.rsplit("\t", 1)[1] for line in path.read_text().splitlines()[1:]]
    return max(sorted(set(labels)), key=labels.count)


def test_the_issues_command_runs_as_written(tmp_path):
    files = glue_style(tmp_path)
    code, out, err = cli("proxy", "task=classify", "data=tsv", f"data.train={files['train']}",
                         f"data.validation={files['dev']}", "data.header=true", "data.text_column=sentence1",
                         "data.label_column=label", *TINY, f"results_dir={tmp_path / 'results'}")
    assert code == 0, err
    assert f"(majority class `{majority(files['train'])}`: " in out
    assert [line for line in out.splitlines() if line.startswith("val recall by class")][0].split(None, 4)[4] \
        .startswith("`entailment` ")


def test_an_unseen_validation_label_is_refused_in_one_line_before_training(tmp_path):
    files = glue_style(tmp_path)
    dev = files["dev"].read_text().splitlines()
    dev[2] = dev[2].rsplit("\t", 1)[0] + "\tneutral"  # MNLI's third class, which this training split lacks
    files["dev"].write_text("\n".join(dev) + "\n")
    code, out, err = cli("proxy", "task=classify", "data=tsv", f"data.train={files['train']}",
                         f"data.validation={files['dev']}", "data.text_column=sentence1", *TINY,
                         f"results_dir={tmp_path / 'results'}")
    assert code == 2 and err.strip().splitlines() == [
        f"error: label 'neutral' in {files['dev']} line 3 is not a class of the training split ({files['train']}); "
        "allowed: entailment, not_entailment"]
    assert not (tmp_path / "results").exists()


def test_an_unseen_test_label_stops_a_retrain_before_it_trains(tmp_path):
    files = glue_style(tmp_path)
    files["test"].write_text(files["test"].read_text().replace("\tentailment\n", "\tcontradiction\n", 1))
    code, out, err = cli("retrain", "arch=sa ffn", "study.name=r", "task=classify", "data=tsv",
                         f"data.train={files['train']}", f"data.validation={files['dev']}",
                         f"data.test={files['test']}", "data.text_column=sentence1", *TINY,
                         f"results_dir={tmp_path / 'results'}")
    assert code == 2 and err.strip().startswith(f"error: label 'contradiction' in {files['test']} line ")
    assert len(err.strip().splitlines()) == 1 and "seed 0" not in out
    assert not list(tmp_path.rglob("*.safetensors"))


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A search (W&B offline), a retrain and a report on a word-labelled GLUE-style TSV."""
    root = tmp_path_factory.mktemp("words")
    files = glue_style(root)
    data = ["task=classify", "data=tsv", f"data.train={files['train']}", f"data.validation={files['dev']}",
            f"data.test={files['test']}", "data.text_column=sentence1"]
    common = [f"results_dir={root / 'results'}", "study.name=words"]
    search = cli("search", *SMALL, "model.n_sublayers=2", *data, *common, "study.n_trials=2",
                 "logger=wandb_offline")
    retrain = cli("retrain", *common, "trainer.max_steps=4", "trainer.val_check_interval=2", "logger=none")
    report = cli("report", *common)
    return {"files": files, "folder": root / "results" / "words", "search": search, "retrain": retrain,
            "report": report, "majority": majority(files["train"])}


def test_a_study_on_word_labels_names_its_classes_everywhere(study):
    import yaml

    from layernas.trainer.retrain import load_retrained

    assert [r[0] for r in (study["search"], study["retrain"], study["report"])] == [0, 0, 0], study["search"][2]
    names, top = ["entailment", "not_entailment"], study["majority"]
    best = yaml.safe_load((study["folder"] / "best.yaml").read_text())
    assert best["config"]["data"]["label_names"] == names
    assert best["best"]["classes"] == {"names": names, "majority": top}
    folder = next((study["folder"] / "retrain").iterdir())
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["classes"] == {"names": names, "majority": top}
    assert {"val/recall_0", "val/recall_1", "test/recall_0", "test/recall_1"} <= set(metrics)
    assert yaml.safe_load((folder / "config.yaml").read_text())["data"]["label_names"] == names
    assert load_retrained(folder).head.classifier.out_features == 2
    report = (study["folder"] / "report.md").read_text()
    assert f"always predicting the majority class `{top}` scores objective = " in report
    assert f"(majority class `{top}`: " in report
    recall = [line for line in report.splitlines() if line.startswith("- recall by class, trial")]
    assert len(recall) == 1 and "validation `entailment` " in recall[0] and "; test `entailment` " in recall[0] \
        and "`not_entailment` " in recall[0]
    assert f"(majority class `{top}`: " in study["retrain"][1]  # the console's seed lines and headline
    runs = sorted((study["folder"] / "wandb").glob("offline-run-*"))
    configs = [json.loads(subprocess.run([WANDB, "leet", "inspect", "--summary", "--json", str(r)],
                                         capture_output=True, text=True, check=True).stdout)["config"] for r in runs]
    trials = [c for c in configs if "trial/number" in c]
    assert trials and all(c["data"]["label_names"] == names for c in trials)
