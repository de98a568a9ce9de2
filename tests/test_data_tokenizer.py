"""Tokenizer: trained once per training data and settings, special ids fixed, both kinds."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest

from layernas.trainer.data import COUNTERS, SPECIAL_IDS, SPECIAL_TOKENS, CorruptCacheError, get_tokenizer, load_split
from layernas.trainer.data.tokenizer import allow_parallelism, check_special_ids, tokenizer_path, train_tokenizer
from tests.data_helpers import wikitext, write


@pytest.mark.parametrize("kind", ["wordpiece", "bpe"])
def test_trained_once_then_reused(tmp_path, kind):
    cfg = wikitext(tmp_path, max_train_docs=300, tokenizer={"kind": kind, "vocab_size": 600})
    before = COUNTERS["train_tokenizer"]
    tok = get_tokenizer(cfg)
    assert COUNTERS["train_tokenizer"] == before + 1
    again = get_tokenizer(cfg)
    assert COUNTERS["train_tokenizer"] == before + 1  # loaded from <cache_dir>/tokenizers/, not retrained
    assert again.to_str() == tok.to_str()
    path = tokenizer_path(cfg)
    assert path.parent == tmp_path / "cache" / "tokenizers" and path.suffix == ".json" and path.is_file()
    assert [tok.token_to_id(t) for t in SPECIAL_TOKENS] == list(SPECIAL_IDS) == [0, 1, 2, 3, 4]
    assert tok.get_vocab_size() == 600
    ids = tok.encode("The game began development in 2010", add_special_tokens=False).ids
    assert ids and min(ids) >= len(SPECIAL_IDS) and "game" in tok.decode(ids)
    assert tok.encode("x").ids[0] == 2 and tok.encode("x").ids[-1] == 3  # [CLS] ... [SEP] for the saved file's users
    assert os.environ.get("TOKENIZERS_PARALLELISM")  # set, so a later fork neither warns nor disables it


@pytest.mark.parametrize("kind", ["wordpiece", "bpe"])
def test_training_is_deterministic(tmp_path, kind):
    cfg = wikitext(tmp_path, max_train_docs=500, tokenizer={"kind": kind, "vocab_size": 800})
    first = train_tokenizer(cfg).to_str()
    assert all(train_tokenizer(cfg).to_str() == first for _ in range(3))


def test_key_follows_content_and_settings_not_names(tmp_path):
    a = write(tmp_path / "a.txt", "some words here\nmore words there\n" * 20)
    b = write(tmp_path / "b.txt", "some words here\nmore words there\n" * 20)
    base = {"name": "t", "cache_dir": str(tmp_path / "c"), "tokenizer": {"vocab_size": 100}}
    from layernas.trainer.data import DataConfig

    path = tokenizer_path(DataConfig.from_dict({**base, "train": str(a)}))
    assert tokenizer_path(DataConfig.from_dict({**base, "train": str(b)})) == path  # same bytes, same key
    assert tokenizer_path(DataConfig.from_dict({**base, "train": str(a), "max_train_docs": 5})) != path
    assert tokenizer_path(DataConfig.from_dict({**base, "train": str(a), "tokenizer": {"vocab_size": 101}})) != path
    write(b, "different words\n" * 20)
    assert tokenizer_path(DataConfig.from_dict({**base, "train": str(b)})) != path


def test_lowercase_setting(tmp_path):
    cased = get_tokenizer(wikitext(tmp_path, max_train_docs=300, tokenizer={"vocab_size": 500, "lowercase": False}))
    assert cased.token_to_id("The") is not None
    lower = get_tokenizer(wikitext(tmp_path, max_train_docs=300))
    assert lower.token_to_id("The") is None and lower.token_to_id("the") is not None


def test_corrupt_tokenizer_file_is_named_then_rebuilt_once_deleted(tmp_path):
    cfg = wikitext(tmp_path, max_train_docs=300)
    tok = get_tokenizer(cfg)
    tokenizer_path(cfg).write_text('{"version": "1.0", "trunc')
    before = COUNTERS["train_tokenizer"]
    with pytest.raises(CorruptCacheError, match=rf"^cache file {re.escape(str(tokenizer_path(cfg)))} is unreadable"):
        get_tokenizer(cfg)
    tokenizer_path(cfg).unlink()
    again = get_tokenizer(cfg)
    assert COUNTERS["train_tokenizer"] == before + 1
    assert again.to_str() == tok.to_str()


def test_foreign_tokenizer_special_ids_rejected():
    from tokenizers import Tokenizer, models

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "[PAD]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4}, unk_token="[UNK]"))
    with pytest.raises(ValueError, match=r"tokenizer special ids .* are not allowed; allowed: \{'\[PAD\]': 0"):
        check_special_ids(tok)


def test_forked_child_can_tokenize_without_warning(tmp_path, monkeypatch, capfd):
    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    cfg = wikitext(tmp_path, max_train_docs=300)
    tok, texts = get_tokenizer(cfg), load_split(cfg, "train").texts
    allow_parallelism()
    tok.encode_batch(texts)  # the thread pool is now in use, as after building a token cache
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a DataLoader worker or a Lightning fork that tokenizes
        try:
            os.write(write, f"{os.environ['TOKENIZERS_PARALLELISM']} {len(tok.encode_batch(texts))}".encode())
        finally:
            os._exit(0)
    os.close(write)
    deadline = time.monotonic() + 60
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child deadlocked in encode_batch")
        time.sleep(0.01)
    assert os.read(read, 100).decode() == f"false {len(texts)}"
    os.close(read)
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true" and "forked" not in capfd.readouterr().err
