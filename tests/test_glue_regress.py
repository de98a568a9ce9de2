"""task=regress: numbers as labels, a one-output head on the mean squared error, Pearson and Spearman as scipy
computes them, and the training mean as the input-blind reference beside every result."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr, spearmanr

from layernas.trainer.core.regression import correlations
from layernas.trainer.data import DataConfig, load_split
from layernas.trainer.data.baselines import mean_baseline
from layernas.trainer.plan.metrics import reference_of, with_reference
from tests.data_helpers import write


def test_correlations_are_scipys_and_zero_for_a_constant():
    rng = np.random.default_rng(0)
    targets = rng.uniform(0, 5, 200)
    predictions = targets + rng.normal(0, 1.5, 200)
    found = correlations(torch.tensor(predictions), torch.tensor(targets))
    assert found["pearson"] == pytest.approx(pearsonr(predictions, targets).statistic, abs=1e-12)
    assert found["spearman"] == pytest.approx(spearmanr(predictions, targets).statistic, abs=1e-12)
    assert 0.3 < found["pearson"] < 0.9
    assert correlations(np.full(10, 2.5), targets[:10]) == {"pearson": 0.0, "spearman": 0.0}


def test_the_training_mean_is_the_reference():
    train, val = torch.tensor([1.0, 2.0, 3.0, 6.0]), torch.tensor([0.0, 3.0, 5.0])
    ref = mean_baseline(train, val)
    assert ref == {"val/mean_mse": pytest.approx(((0 - 3) ** 2 + 0 + (5 - 3) ** 2) / 3), "val/mean_pearson": 0.0,
                   "val/mean_spearman": 0.0}
    assert reference_of("val/pearson") == "val/mean_pearson" and reference_of("test/mse") == "test/mean_mse"
    assert with_reference({"val/pearson": 0.41, "val/mean_pearson": 0.0}, "val/pearson") == \
        "0.4100 (training mean 0.0000)"
    assert with_reference({"val/mse": 4.0, "val/mean_mse": 3.0}, "val/mse") == \
        "4.0000 (training mean 3.0000; not better)"


def _numbers(tmp_path, rows: str) -> DataConfig:
    path = write(tmp_path / "scores.tsv", "a\tb\tscore\n" + rows)
    return DataConfig.from_dict({"name": "scores", "train": str(path), "format": "tsv", "text_column": "a",
                                 "text_pair_column": "b", "label_column": "score", "label_type": "number",
                                 "cache_dir": str(tmp_path / "cache")})


def test_numbers_are_read_as_numbers(tmp_path):
    corpus = load_split(_numbers(tmp_path, "x\ty\t3.800\nz\tw\t-1\nu\tv\t2\n"), "train")
    assert corpus.labels == [3.8, -1.0, 2.0] and corpus.pairs == ["y", "w", "v"]


def test_a_label_that_is_not_a_number_is_one_line(tmp_path):
    with pytest.raises(ValueError, match=r"^bad label 'high' in .*scores.tsv line 3: task=regress needs numbers as "
                                         r"labels \(label_type=number\); allowed: finite numbers such as 3.8$"):
        load_split(_numbers(tmp_path, "x\ty\t3.8\nz\tw\thigh\n"), "train")


def test_a_regression_run_logs_its_correlations_beside_the_training_mean(proxy_cfg, tmp_path):
    """A whole proxy run of task=regress on STS-B pairs: the run's val/pearson is scipy's on its predictions."""
    from omegaconf import OmegaConf

    from layernas.search_space import Architecture
    from layernas.trainer.core.proxy import RunSpec, run_proxy
    from layernas.trainer.plan.run import run_plan
    from tests.glue_helpers import glue_folder

    folder = glue_folder(tmp_path)
    cfg = proxy_cfg("task=regress", f"data.glue_dir={folder}", "data.seq_len=32", "data.batch_size=8",
                    "data.tokenizer.vocab_size=300", "trainer.max_steps=8", "trainer.val_check_interval=8")
    plan = run_plan(OmegaConf.to_container(cfg, resolve=True))
    assert plan.objective.key == "val/pearson" and plan.model.segments is True and plan.data.label_type == "number"
    result = run_proxy(RunSpec(Architecture.parse("sa ffn", plan.model.d_model), plan, keep_model=True))
    assert result.state == "complete", result.reason
    m = result.metrics
    assert {"val/mse", "val/pearson", "val/spearman", "val/mean_mse", "val/mean_pearson"} <= set(m)
    assert m["val/mean_pearson"] == 0.0 and m["val/mean_mse"] > 0
    from layernas.trainer.data.regression import RegressionDataModule

    dm = RegressionDataModule(plan.data, 0)
    dm.setup("fit")
    model = result.model.eval()
    with torch.no_grad():
        seen = plan.trainer.limit_val_batches * plan.data.batch_size  # the run validated on these
        batch = dm.val_dataloader().dataset.__getitems__(list(range(min(seen, len(dm.val)))))
        predicted = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])[:, 0]
    assert m["val/pearson"] == pytest.approx(pearsonr(predicted.numpy(), batch["labels"].numpy()).statistic, abs=1e-4)
    assert m["val/mse"] == pytest.approx(float(((predicted - batch["labels"]) ** 2).mean()), rel=1e-4)
