"""Data layer: corpora, tokenizer (trained once, cached), token caches, masking and Lightning DataModules.

The DataModules are imported on first use: ``lightning`` takes seconds to import and most callers of the
corpus and cache functions (reports, benchmarks, tests) never train.
"""

from layernas.trainer.data.baselines import context_free_loss, majority_baseline, unigram_loss
from layernas.trainer.data.cache import COUNTERS, CorruptCacheError, atomic_write, cached, fingerprint
from layernas.trainer.data.config import DataConfig, TokenizerConfig
from layernas.trainer.data.corpus import Corpus, label_map, load_split, read_split
from layernas.trainer.data.labels import LabelMap
from layernas.trainer.data.masking import IGNORE_INDEX, mask_tokens
from layernas.trainer.data.tokenizer import (
    CLS_ID,
    MASK_ID,
    PAD_ID,
    SEP_ID,
    SPECIAL_IDS,
    SPECIAL_TOKENS,
    UNK_ID,
    check_special_ids,
    get_tokenizer,
)
from layernas.trainer.data.tokens import Examples, classification_examples, mlm_sequences

_LAZY = {"MLMDataModule", "ClassificationDataModule"}

__all__ = [
    "CLS_ID",
    "COUNTERS",
    "IGNORE_INDEX",
    "MASK_ID",
    "PAD_ID",
    "SEP_ID",
    "SPECIAL_IDS",
    "SPECIAL_TOKENS",
    "UNK_ID",
    "ClassificationDataModule",
    "CorruptCacheError",
    "Corpus",
    "DataConfig",
    "Examples",
    "LabelMap",
    "MLMDataModule",
    "TokenizerConfig",
    "atomic_write",
    "cached",
    "check_special_ids",
    "classification_examples",
    "context_free_loss",
    "majority_baseline",
    "fingerprint",
    "get_tokenizer",
    "label_map",
    "load_split",
    "mask_tokens",
    "mlm_sequences",
    "read_split",
    "unigram_loss",
]


def __getattr__(name: str):
    if name in _LAZY:
        from . import datamodule

        return getattr(datamodule, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
