"""Classification results that tell the truth: Matthews correlation as scikit-learn defines it, the
majority-class baseline beside every result, constant predictors flagged, objectives checked up front."""

from __future__ import annotations

import contextlib
import csv
import io

import numpy as np
import pytest
import torch
from sklearn.metrics import matthews_corrcoef as sk_mcc

from layernas.search_space.heads import ClassificationHead
from layernas.trainer.core.confusion import matthews_corrcoef, predicted_classes
from layernas.trainer.data import majority_baseline
from tests.conftest import TINY, TINY_SST2


def confusion(y_true, y_pred, n: int) -> torch.Tensor:
    c = torch.zeros(n, n, dtype=torch.long)
    for t, p in zip(y_true, y_pred, strict=True):
        c[t, p] += 1
    return c


rng = np.random.default_rng(0)
LABELS = rng.integers(0, 2, 200)
CASES = {
    "constant": (LABELS, np.zeros_like(LABELS)),
    "perfect": (LABELS, LABELS),
    "inverted": (LABELS, 1 - LABELS),
    "random": (LABELS, rng.integers(0, 2, 200)),
    "three classes, random": (rng.integers(0, 3, 300), rng.integers(0, 3, 300)),
    "three classes, constant": (rng.integers(0, 3, 300), np.full(300, 2)),
    "constant labels": (np.ones(50, dtype=int), rng.integers(0, 2, 50)),
}


@pytest.mark.parametrize("case", CASES)
def test_matthews_correlation_equals_scikit_learn(case):
    y_true, y_pred = CASES[case]
    n = int(max(y_true.max(), y_pred.max())) + 1
    ours = float(matthews_corrcoef(confusion(y_true, y_pred, n)))
    assert ours == pytest.approx(sk_mcc(y_true, y_pred), abs=1e-12)
    if case.endswith("constant") or case == "constant labels":
        assert ours == 0.0
    assert {"perfect": 1.0, "inverted": -1.0}.get(case, ours) == pytest.approx(ours)


def test_predicted_classes_counts_the_columns_used():
    assert predicted_classes(confusion([0, 1, 1], [1, 1, 1], 2)) == 1
    assert predicted_classes(confusion([0, 1, 1], [0, 1, 1], 2)) == 2


def test_the_majority_baseline_by_hand():
    train = torch.tensor([1, 1, 1, 0])  # majority 1, frequencies 1/4, 3/4
    val = torch.tensor([1, 0, 0, 0, 1])  # 2/5 ones
    out = majority_baseline(train, val, 2)
    assert out["val/majority_acc"] == pytest.approx(0.4) and out["val/majority_mcc"] == 0.0
    assert out["val/majority_f1"] == pytest.approx(2 * 0.4 / 1.4)  # precision 0.4, recall 1
    assert out["val/majority_loss"] == pytest.approx(-(0.4 * np.log(0.75) + 0.6 * np.log(0.25)))
    assert majority_baseline(torch.tensor([0, 0, 1]), val, 2)["val/majority_f1"] == 0.0


@pytest.fixture
def constant_head(monkeypatch):
    """Every classifier predicts class 0 for every example (its logits still depend on the weights)."""
    original = ClassificationHead.forward

    def forward(self, h, mask=None):
        logits = original(self, h, mask)
        return logits * 1e-6 + torch.tensor([10.0, -10.0])

    monkeypatch.setattr(ClassificationHead, "forward", forward)


def cli(*args) -> tuple[int, str, str]:
    from layernas.trainer.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
            code = 0
        except SystemExit as e:
            code = e.code
    return code, out.getvalue(), err.getvalue()


def test_a_constant_predictor_gets_mcc_zero_and_is_flagged(constant_head, tmp_path):
    code, out, err = cli("proxy", "task=classify", *TINY, *TINY_SST2, f"results_dir={tmp_path}")
    assert code == 0, err
    lines = dict(line.split(None, 1) for line in out.splitlines() if line.startswith(("val/", "flags")))
    assert lines["val/mcc"].strip() == "0.0000" and lines["val/predicted_classes"].strip() == "1.0000"
    assert lines["flags"].strip() == "constant predictor"
    majority = float(lines["val/majority_acc"])  # on the same validation slice as val/acc
    assert float(lines["val/acc"]) in (pytest.approx(majority), pytest.approx(1 - majority))  # one class's share
    assert f"(majority class {lines['val/majority_acc'].strip()}; higher is better)" in out


def test_a_classification_study_shows_the_majority_baseline_and_flags(constant_head, search_cfg, tmp_path):
    from layernas.trainer.apps.search import search

    search(search_cfg("task=classify", *TINY_SST2, "study.n_trials=2", "objectives=[val_mcc]"))
    folder = tmp_path / "results" / "t"
    with open(folder / "trials.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["state"] == "complete"]
    assert rows and all(r["flags"].startswith("constant predictor") and float(r["reference"]) == 0.0 for r in rows)
    assert all(float(r["val_mcc"]) == 0.0 for r in rows)
    report = (folder / "report.md").read_text()
    assert "always predicting the majority class scores val_mcc = 0.0000" in report
    assert "higher is better" in report
    assert "| no signal, constant predictor, val/mcc not better than the majority class |" in report
    assert "is tied with #1 (the same value): their order is a tie-break" in report


@pytest.mark.parametrize("objective", ["val_acc", "val_mcc", "val_f1", "val_loss"])
def test_every_classification_objective_is_known(search_cfg, objective):
    from layernas.trainer.search.plan import plan_search

    plan = plan_search(search_cfg("task=classify", *TINY_SST2, f"objectives=[{objective}]"))
    assert plan.objectives[0].key == "val/" + objective.removeprefix("val_")
    assert plan.directions == ["minimize" if objective == "val_loss" else "maximize"]


def test_an_unknown_task_objective_is_refused_before_training(tmp_path):
    code, out, err = cli("proxy", "task=classify", "task.objective=val/nope", *TINY, f"results_dir={tmp_path}")
    assert code == 2 and err.strip().splitlines() == [
        "error: task.objective='val/nope' is not a metric of task=classify; allowed: val/loss, val/acc, val/mcc, "
        "val/f1"]
    assert not (tmp_path / "proxy").exists() and "tokenized" not in out + err


def test_a_task_objective_direction_that_contradicts_it_is_refused(tmp_path):
    code, _, err = cli("search", "task=classify", "task.objective=val/loss", "task.direction=maximize",
                       f"results_dir={tmp_path}")
    assert code == 2 and "does not fit task.objective=val/loss" in err and "allowed: minimize" in err


def test_retrain_keeps_the_studys_data_and_adds_a_test_split(search_cfg, tmp_path):
    import json

    import yaml

    from layernas.trainer.apps.search import search

    search(search_cfg("task=classify", *TINY_SST2, "study.n_trials=1"))
    test = tmp_path / "test.tsv"
    test.write_text("sentence\tlabel\n" + "".join(f"{'a fine film' if i % 2 else 'a dull film'} {i}\t{i % 2}\n"
                                                  for i in range(40)))
    code, out, err = cli("retrain", "study.name=t", f"results_dir={tmp_path / 'results'}", f"data.test={test}",
                         "trainer.max_steps=4", "trainer.val_check_interval=2", "trainer.limit_val_batches=2",
                         "logger=none")
    assert code == 0, err
    (folder,) = (tmp_path / "results" / "t" / "retrain").iterdir()
    saved = yaml.safe_load((folder / "config.yaml").read_text())
    assert saved["data"]["name"] == "sst2" and saved["data"]["test"] == str(test)  # the study's data, plus the test
    assert saved["data"]["seq_len"] == 24 and saved["task"]["name"] == "classify"
    assert "test/acc" in json.loads((folder / "metrics.json").read_text())
