"""Subword tokenizer (``tokenizers``): trained once on the training split, saved as JSON, reused after.

Special tokens come first in the vocabulary, in this order: [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from dataclasses import asdict
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from layernas.trainer.data.cache import COUNTERS, CorruptCacheError, cached, digest
from layernas.trainer.data.config import DataConfig, TokenizerConfig
from layernas.trainer.data.corpus import read_split, split_identity
from layernas.trainer.data.special import (  # noqa: F401  (the special tokens' names stay importable from here)
    CLS_ID,
    MASK_ID,
    PAD_ID,
    SEP_ID,
    SPECIAL_IDS,
    SPECIAL_TOKENS,
    UNK_ID,
    check_special_ids,
)

log = logging.getLogger(__name__)

TOKENIZER_VERSION = 1  # bump when the tokenizer pipeline below changes
PARALLELISM_VARIABLE = "TOKENIZERS_PARALLELISM"


def get_tokenizer(cfg: DataConfig) -> Tokenizer:
    """The tokenizer for ``cfg``'s training split: loaded from the cache, or trained and cached first; or the
    pretrained one of ``tokenizer.path`` (read each time: the token caches key on its content)."""
    if cfg.tokenizer.path is not None:
        from layernas.trainer.data.pretrained import load_pretrained

        return load_pretrained(cfg.tokenizer.path)
    return cached(tokenizer_path(cfg), lambda tmp: train_tokenizer(cfg).save(tmp), load_tokenizer)


def tokenizer_path(cfg: DataConfig) -> Path:
    """``<cache_dir>/tokenizers/<name>-<kind><vocab>-<hash>.json``; the hash covers the training data's bytes."""
    settings = {k: v for k, v in asdict(cfg.tokenizer).items() if k != "path"}  # None here; the keys stay as before
    key = digest({"version": TOKENIZER_VERSION, "train": split_identity(cfg, "train"), "tokenizer": settings})
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", cfg.name)
    return Path(cfg.cache_dir) / "tokenizers" / f"{name}-{cfg.tokenizer.kind}{cfg.tokenizer.vocab_size}-{key}.json"


def train_tokenizer(cfg: DataConfig) -> Tokenizer:
    """Train a fresh tokenizer on the training split of ``cfg`` (no caching here); same data, same result."""
    corpus = read_split(cfg, "train")  # texts only: the labels do not matter here
    allow_parallelism()
    start = time.perf_counter()
    train = _train_wordpiece if cfg.tokenizer.kind == "wordpiece" else _train_bpe
    tokenizer = train(corpus.texts + (corpus.pairs or []), cfg.tokenizer)
    COUNTERS["train_tokenizer"] += 1
    check_special_ids(tokenizer)
    log.info("trained %s tokenizer of %d tokens on %d %s documents in %.1f s", cfg.tokenizer.kind,
             tokenizer.get_vocab_size(), len(corpus), cfg.name, time.perf_counter() - start)
    return tokenizer


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    try:
        tokenizer = Tokenizer.from_file(str(path))
        check_special_ids(tokenizer)
    except Exception as err:  # tokenizers raises a bare Exception for unreadable JSON
        raise CorruptCacheError(path, err) from None
    return tokenizer


def tokenizer_hash(tokenizer: Tokenizer) -> str:
    """sha256 of the tokenizer's JSON: part of every token cache key."""
    return hashlib.sha256(tokenizer.to_str().encode("utf-8")).hexdigest()


def allow_parallelism() -> None:
    """Use the Rust thread pool here, and keep forked children (Lightning, DataLoader workers) safe and quiet.

    Unset, ``tokenizers`` turns its pool off in a child forked after using it (and older versions warn);
    set to true, a child that tokenizes deadlocks on the pool it inherited. So: true in this process, false in
    every child forked from it. A value the user set is left alone.
    """
    if PARALLELISM_VARIABLE not in os.environ:
        os.environ[PARALLELISM_VARIABLE] = "true"
        os.register_at_fork(after_in_child=_serial_in_child)


def _serial_in_child() -> None:
    os.environ[PARALLELISM_VARIABLE] = "false"


def _train_wordpiece(texts: list[str], tcfg: TokenizerConfig) -> Tokenizer:
    """BERT's WordPiece, trained so that the same texts always give the same vocabulary.

    The plain WordPieceTrainer numbers the ``##x`` continuation tokens in hash-map order, which changes from
    run to run, and breaks ties between equally frequent merges by those numbers, so two trainings on the same
    text differ by dozens of tokens (huggingface/tokenizers#1794). Here a merge-free first pass lists the
    ``##x`` tokens, the real training receives them, sorted, as special tokens (fixed ids), and the result is
    rebuilt as a plain WordPiece model with only the five real special tokens.
    """
    probe = _wordpiece(tcfg)
    probe.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=len(SPECIAL_TOKENS), show_progress=False,
                                                               special_tokens=list(SPECIAL_TOKENS)), length=len(texts))
    continuations = sorted(t for t in probe.get_vocab(with_added_tokens=False) if t.startswith("##"))
    trained = _wordpiece(tcfg)
    trainer = trainers.WordPieceTrainer(vocab_size=tcfg.vocab_size, min_frequency=tcfg.min_frequency,
                                        special_tokens=[*SPECIAL_TOKENS, *continuations], show_progress=False)
    trained.train_from_iterator(texts, trainer, length=len(texts))
    return _wordpiece(tcfg, trained.get_vocab(with_added_tokens=False))


def _wordpiece(tcfg: TokenizerConfig, vocab: dict[str, int] | None = None) -> Tokenizer:
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=tcfg.lowercase)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    return _finish(tokenizer)


def _train_bpe(texts: list[str], tcfg: TokenizerConfig) -> Tokenizer:
    """Byte-level BPE (GPT-2/RoBERTa style); its trainer is deterministic as it is."""
    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.normalizer = (normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
                            if tcfg.lowercase else normalizers.NFC())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=tcfg.vocab_size, min_frequency=tcfg.min_frequency, show_progress=False,
                                  special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(texts, trainer, length=len(texts))
    return _finish(tokenizer)


def _finish(tokenizer: Tokenizer) -> Tokenizer:
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
    # Only for users of the saved file: this package adds [CLS]/[SEP] itself and encodes without specials.
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", CLS_ID), ("[SEP]", SEP_ID)])
    return tokenizer
