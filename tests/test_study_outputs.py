"""What a classification study searched on ``val_mcc`` prints and writes, from search to retrain to report:
every number names its metric, the input-blind reference stands beside every validation and test number
with a flag when a result does not beat it, and the console says what the files say."""

from __future__ import annotations

import csv
import json
import lzma
import re
import subprocess
from pathlib import Path

import pytest
import torch

from tests.conftest import TINY
from tests.helpers import WANDB

SHIPPED = Path(__file__).resolve().parents[1] / "data" / "sst2"
SMALL = [o for o in TINY if not o.startswith("logger=")] + ["model.n_sublayers=2", "data.batch_size=16"]


def write_tsvs(folder: Path) -> dict[str, Path]:
    """train/dev/test TSVs in GLUE's layout: rows of the shipped SST-2, never seen as these splits."""
    rows = lzma.decompress((SHIPPED / "train.tsv.xz").read_bytes()).decode().splitlines()
    header, body = rows[0], rows[1:]
    parts = {"train": body[:480], "dev": body[480:600], "test": body[600:720]}
    out = {}
    for name, part in parts.items():
        out[name] = folder / f"{name}.tsv"
        out[name].write_text("\n".join([header, *part]) + "\n")
    return out


def cli(*args) -> tuple[int, str, str]:
    from tests.test_classification import cli as run

    return run(*args)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A search on a labelled TSV with ``objectives=[val_mcc]`` (every classifier a constant predictor, so
    each value is the majority class's), its seed noise, a retrain and a report; W&B offline."""
    from layernas.search_space.heads import ClassificationHead

    root = tmp_path_factory.mktemp("cls")
    files = write_tsvs(root)
    data = ["task=classify", "data=tsv", f"data.train={files['train']}", f"data.validation={files['dev']}",
            f"data.test={files['test']}", "data.text_column=sentence", "data.tokenizer.vocab_size=400"]
    common = [f"results_dir={root / 'results'}", "study.name=cls"]
    original = ClassificationHead.forward
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ClassificationHead, "forward",
                   lambda self, h, mask=None: original(self, h, mask) * 1e-6 + torch.tensor([10.0, -10.0]))
        search = cli("search", *SMALL, *data, *common, "objectives=[val_mcc]", "study.n_trials=2",
                     "study.noise_seeds=[1]", "logger=wandb_offline")
        retrain = cli("retrain", *common, "trainer.max_steps=4", "trainer.val_check_interval=2", "logger=none")
        report = cli("report", *common)
    return {"root": root, "folder": root / "results" / "cls", "search": search, "retrain": retrain,
            "report": report}


def test_the_commands_ran(study):
    for name in ("search", "retrain", "report"):
        assert study[name][0] == 0, (name, study[name][2])


def test_a_retrain_headlines_the_studys_objective_and_records_every_one(study):
    (folder,) = (study["folder"] / "retrain").iterdir()
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["objective"] == "val/mcc" and [o["key"] for o in metrics["objectives"]] == ["val/mcc"]
    assert metrics["mean"] == metrics["val/mcc"]["mean"] and "val/acc" in metrics  # the other metrics too
    out = study["retrain"][1]
    assert re.search(r"^val/mcc: 0\.0000 \(majority class 0\.0000; not better\); test/mcc: ", out, re.M), out
    assert "val/acc:" not in out


def test_report_numbers_name_their_metric_and_compare_the_same_one(study):
    section = (study["folder"] / "report.md").read_text().split("## Retrained", 1)[1]
    assert "| trial | val/mcc, proxy | val/mcc, retrained | validation | val/mcc on the proxy's slice | test/mcc |" \
        in section
    row = next(line for line in section.splitlines() if line.startswith("| 0 | "))
    assert row.startswith("| 0 | 0.0000 (majority class 0.0000; not better) | 0.0000 (majority class 0.0000; "
                          "not better) |"), row


def test_the_reference_stands_beside_validation_and_test_numbers(study):
    (folder,) = (study["folder"] / "retrain").iterdir()
    metrics = json.loads((folder / "metrics.json").read_text())
    for split in ("val", "test"):
        for name in ("acc", "mcc", "f1", "loss"):
            assert f"{split}/majority_{name}" in metrics, (split, name)
    assert metrics["test/acc"]["mean"] <= metrics["test/majority_acc"]["mean"] + 1e-6  # a constant predictor
    section = (study["folder"] / "report.md").read_text().split("## Retrained", 1)[1]
    assert re.search(r"\| \d\.\d{4} \(majority class \d\.\d{4}; not better\) \|", section.split("test/acc")[1])
    assert "test/mcc = 0.0000 (majority class 0.0000; not better)" in study["retrain"][1]


def test_every_console_line_with_a_value_shows_its_flags(study):
    out = study["search"][1]
    trial_lines = [line for line in out.splitlines() if re.match(r"\[\s*\d+/2\] #\d+ complete", line)]
    noise_lines = [line for line in out.splitlines() if line.startswith("[noise ")]
    assert len(trial_lines) == 2 and len(noise_lines) == 2, out
    for line in trial_lines + noise_lines:
        assert "(constant predictor; val/mcc not better than the majority class)" in line, line
    with open(study["folder"] / "trials.csv", newline="") as f:
        assert all(r["flags"].startswith("constant predictor") for r in csv.DictReader(f) if r["state"] == "complete")


def test_the_size_line_counts_the_real_vocabulary_and_head_and_says_what_it_assumes(study, tmp_path):
    files = write_tsvs(tmp_path)
    code, out, err = cli("proxy", *SMALL, "logger=none", "task=classify", "data=tsv", f"data.train={files['train']}",
                         f"data.validation={files['dev']}", "data.text_column=sentence",
                         "data.tokenizer.vocab_size=5000", f"results_dir={tmp_path}")
    assert code == 0, err
    line = next(line for line in out.splitlines() if line.startswith("model: "))
    vocab = int(re.search(r"vocabulary ([\d,]+);", line).group(1).replace(",", ""))
    assert vocab < 5000  # the trained tokenizer's, not the configured size
    params = int(re.search(r"model: ([\d,]+) params", line).group(1).replace(",", ""))
    measured = int(re.search(r"parameters\s+[\d,]+ in the encoder, ([\d,]+) with the task head", out).group(1)
                   .replace(",", ""))
    assert params == measured
    assert "classifier head of 2 classes" in line and "an upper bound: classification batches are padded" in line


def test_a_study_of_several_objectives_says_its_pruner_is_not_used(tmp_path):
    code, out, err = cli("search", *SMALL, "logger=none", f"results_dir={tmp_path}", "study.name=p",
                         "study.n_trials=1", "objectives=[val_loss,params]", "pruner=hyperband")
    assert code == 0, err
    assert "note: pruner=hyperband is not used: Optuna prunes only studies of one objective" in out
    assert "pruner `none` (`hyperband` was asked, but Optuna prunes only studies of one objective)" in \
        (tmp_path / "p" / "report.md").read_text()


def summary_of(run: Path) -> dict:
    return json.loads(subprocess.run([WANDB, "leet", "inspect", "--summary", "--json", str(run)],
                                     capture_output=True, text=True, check=True).stdout)


def test_params_means_the_same_in_wandb_and_trials_csv(study):
    with open(study["folder"] / "trials.csv", newline="") as f:
        rows = {r["number"]: r for r in csv.DictReader(f)}
    runs = [summary_of(r) for r in (study["folder"] / "wandb").glob("offline-run-*")]
    trials = [r for r in runs if r["name"].startswith("t00")]
    assert len(trials) == 2
    for run in trials:
        row = rows[str(int(run["name"][1:4]))]
        assert run["summary"]["params"] == int(row["params"])
        assert run["summary"]["model_params"] == int(row["model_params"]) > int(row["params"])


def test_an_interrupted_run_is_interrupted_in_wandb_too(tmp_path, proxy_cfg):
    import lightning.pytorch as pl

    from layernas.trainer.plumbing import interrupts
    from tests.helpers import proxy

    class Stop(pl.Callback):
        def on_train_batch_end(self, trainer, *args):
            if trainer.global_step == 2:
                raise interrupts.Interrupted(15)

    with pytest.raises(interrupts.Interrupted):
        proxy("sa ffn", proxy_cfg("logger=wandb_offline"), callbacks=[Stop()])
    (run,) = (tmp_path / "results" / "proxy" / "wandb").glob("offline-run-*")
    summary = summary_of(run)
    assert summary["summary"]["state"] == "interrupted" and summary["summary"]["reason"] == "interrupted by SIGTERM"
    assert summary["exit_code"] == 143


def test_plots_are_there_after_the_first_trial(tmp_path, monkeypatch):
    from layernas.trainer.search.trial import TrialRunner

    seen = []
    after = TrialRunner.after_trial

    def record(self, frozen):
        after(self, frozen)
        report = (self.plan.study_dir / "report.md").read_text()
        seen.append(((self.plan.study_dir / "plots" / "history.png").exists(), "## Plots" in report))

    monkeypatch.setattr(TrialRunner, "after_trial", record)
    code, _, err = cli("search", *SMALL, "logger=none", f"results_dir={tmp_path}", "study.name=s", "study.n_trials=2")
    assert code == 0, err
    assert seen[0] == (True, True)


def test_a_search_ends_with_where_its_report_is_and_measures_its_speed(study):
    out = study["search"][1]
    last = out.strip().splitlines()[-1]
    assert last.startswith("study cls: 2/2 trials; best val_mcc 0.0000 (#") and \
        last.endswith(f"report: {study['folder'] / 'report.md'}"), last
    assert re.search(r"^speed: [\d,]+ tokens/s \([\d.]+ s a step\) in this trial's first steps: about .+ a trial, "
                     r".+ for the 4 runs left$", out, re.M), out
    assert re.search(r"\| ~\d+ s left$", out, re.M), out  # kept in the status line


def test_one_seed_is_shown_without_a_std(study):
    assert "+-" not in study["retrain"][1]


def test_a_pretraining_that_did_not_learn_is_flagged_before_finetuning(tmp_path):
    from tests.conftest import TINY_SST2

    code, out, err = cli("proxy", *TINY, *[o.replace("data.", "task.finetune_data.") for o in TINY_SST2],
                         "task=pretrain_finetune", "task.pretrain_steps=2", f"results_dir={tmp_path}")
    assert code == 0, err
    note = out.index("note: pre-training did not beat the context-free reference (val/mlm_loss ")
    assert note < out.index("pretrain/mlm_loss")  # before the fine-tuning's result
    flags = next(line for line in out.splitlines() if line.startswith("flags"))
    assert "pre-training did not beat the context-free reference" in flags
