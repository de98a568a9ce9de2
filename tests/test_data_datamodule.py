"""Lightning DataModules: paired batches by seed, fixed validation masks, warm starts, padding."""

from __future__ import annotations

import math
import time

import pytest
import torch

from layernas.trainer.data import (
    CLS_ID,
    COUNTERS,
    IGNORE_INDEX,
    PAD_ID,
    SEP_ID,
    ClassificationDataModule,
    MLMDataModule,
    load_split,
)
from tests.data_helpers import sst2, wikitext


def first_batches(dm, n: int = 3) -> list[dict]:
    loader = iter(dm.train_dataloader())
    return [next(loader) for _ in range(n)]


def same(a: list[dict], b: list[dict]) -> bool:
    return all(x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x) for x, y in zip(a, b, strict=True))


@pytest.fixture
def mlm(tmp_path):
    """A set-up datamodule and a factory for more over the same (now warm) cache."""
    cfg = wikitext(tmp_path)

    def make(seed=0, **kw):
        dm = MLMDataModule(cfg, seed, **kw)
        dm.setup("fit")
        return dm

    return make(), make


def test_mlm_batches_are_paired_by_seed(mlm):
    dm, make = mlm
    batch = first_batches(dm, 1)[0]
    assert set(batch) == {"input_ids", "labels"}
    assert batch["input_ids"].shape == batch["labels"].shape == (8, 32) and batch["input_ids"].dtype == torch.long
    torch.manual_seed(123)  # the global RNG must not matter
    assert same(first_batches(dm), first_batches(make(seed=0)))
    assert not same(first_batches(dm), first_batches(make(seed=1)))


def test_validation_masks_are_fixed_across_seeds(mlm):
    dm, make = mlm
    val = list(dm.val_dataloader())
    assert same(val, list(make(seed=5).val_dataloader()))
    assert sum(len(b["input_ids"]) for b in val) == len(dm.val["input_ids"])
    selected = dm.val["labels"] != IGNORE_INDEX
    assert 0.13 < selected.float().mean() < 0.17
    short = make(val_sequences=10)
    assert all(torch.equal(short.val[k], dm.val[k][:10]) for k in ("input_ids", "labels"))


def test_warm_setup_does_no_work(mlm):
    dm, make = mlm
    before = dict(COUNTERS)
    start = time.perf_counter()
    again = make(seed=3)
    elapsed = time.perf_counter() - start
    assert dict(COUNTERS) == before  # no tokenizer training, no encode_batch, no cache build
    assert torch.equal(again.train_ids, dm.train_ids) and elapsed < 2.0
    again.setup("fit")  # Lightning calls setup again: free
    assert dict(COUNTERS) == before


def test_unigram_and_context_free_losses(mlm):
    dm, _ = mlm
    assert dm.vocab_size == 500
    assert 3.0 < dm.unigram_loss < math.log(dm.vocab_size)
    assert 0.0 < dm.context_free_loss < dm.unigram_loss


def test_mlm_test_split(tmp_path):
    dm = MLMDataModule(wikitext(tmp_path), seed=0)
    dm.setup("test")
    batch = next(iter(dm.test_dataloader()))
    assert batch["input_ids"].shape[1] == 32
    with pytest.raises(RuntimeError, match="train_dataloader needs setup"):
        dm.train_dataloader()


def test_classification_batches(tmp_path):
    cfg = sst2(tmp_path)
    dm = ClassificationDataModule(cfg, seed=0)
    dm.setup("fit")
    assert dm.n_classes == 2 and dm.vocab_size == 400
    batch = next(iter(dm.val_dataloader()))
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    assert mask.dtype == torch.bool and ids.shape == mask.shape and ids.shape[0] == labels.shape[0] == 16
    lengths = mask.sum(1)
    assert ids.shape[1] == lengths.max() <= cfg.seq_len
    assert (ids[~mask] == PAD_ID).all() and (ids[mask] != PAD_ID).all()
    assert (ids[:, 0] == CLS_ID).all() and (ids[torch.arange(len(ids)), lengths - 1] == SEP_ID).all()
    assert mask[:, 0].all() and (mask[:, :-1] >= mask[:, 1:]).all()  # padding only at the end
    assert labels.tolist() == load_split(cfg, "validation").labels[:16]
    again = ClassificationDataModule(cfg, seed=0)
    again.setup("fit")
    assert same(first_batches(dm, 2), first_batches(again, 2))
    other = ClassificationDataModule(cfg, seed=1)
    other.setup("fit")
    assert not same(first_batches(dm, 2), first_batches(other, 2))


def test_classification_reuses_a_given_tokenizer(tmp_path, mlm):
    pre, _ = mlm
    trained = COUNTERS["train_tokenizer"]
    dm = ClassificationDataModule(sst2(tmp_path), seed=0, tokenizer=pre.tokenizer)
    dm.setup("fit")
    assert COUNTERS["train_tokenizer"] == trained and dm.vocab_size == pre.vocab_size
    assert dm.train.ids.max() < pre.vocab_size


def test_classification_without_labels_or_test(tmp_path):
    dm = ClassificationDataModule(wikitext(tmp_path), seed=0)
    with pytest.raises(ValueError, match="data 'wt2' has no label_column; classification needs labels"):
        dm.setup("fit")
    dm = ClassificationDataModule(sst2(tmp_path), seed=0)
    dm.setup()  # stage None: sst2 has no test split, so none is loaded
    assert dm.test is None
    with pytest.raises(ValueError, match="data 'sst2' has no test split"):
        dm.setup("test")
