"""Cache mechanics and token caches: built once, reused across processes, safe under concurrency, self-healing."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest
import torch

from layernas.trainer.data import (
    CLS_ID,
    COUNTERS,
    SEP_ID,
    CorruptCacheError,
    atomic_write,
    cached,
    classification_examples,
    fingerprint,
    get_tokenizer,
    load_split,
    mlm_sequences,
)
from layernas.trainer.data.tokens import token_cache_path
from tests.data_helpers import child, child_result, sst2, wait_ready, wikitext


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "sub" / "f.bin"
    atomic_write(target, lambda tmp: open(tmp, "wb").write(b"done"))
    assert target.read_bytes() == b"done"

    def fail(tmp):
        open(tmp, "wb").write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(tmp_path / "g.bin", fail)
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["f.bin"]
    assert not (tmp_path / "g.bin").exists() and len(list(tmp_path.iterdir())) == 1


def test_fingerprint_is_sha256_of_bytes(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"abc")
    assert fingerprint(path) == hashlib.sha256(b"abc").hexdigest()
    path.write_bytes(b"abcd")
    assert fingerprint(path) == hashlib.sha256(b"abcd").hexdigest()


def test_cached_builds_once_and_names_unreadable_files(tmp_path):
    path, builds = tmp_path / "x.txt", []

    def build(tmp):
        builds.append(1)
        open(tmp, "w").write("good")

    def load(p):
        text = p.read_text()
        if text != "good":
            raise CorruptCacheError(p, f"found {text!r}")
        return text

    assert cached(path, build, load) == "good" and cached(path, build, load) == "good" and len(builds) == 1
    path.write_text("garbage")
    message = rf"^cache file {re.escape(str(path))} is unreadable \(found 'garbage'\); delete it to rebuild$"
    with pytest.raises(CorruptCacheError, match=message):
        cached(path, build, load)
    assert path.read_text() == "garbage" and len(builds) == 1  # never overwritten behind the user's back
    path.unlink()
    assert cached(path, build, load) == "good" and len(builds) == 2
    with pytest.raises(CorruptCacheError, match=r"^cache file .*y\.txt is unreadable \(found 'bad'\); delete it"):
        cached(tmp_path / "y.txt", lambda tmp: open(tmp, "w").write("bad"), load)


def test_mlm_rows_pack_documents_with_sep(tmp_path):
    cfg = wikitext(tmp_path)
    tok = get_tokenizer(cfg)
    rows = mlm_sequences(cfg, "train", tok)
    assert rows.dtype == torch.int64 and rows.shape[1] == 32 and rows.shape[0] > 100
    docs = load_split(cfg, "train").texts[:5]
    stream = [i for d in docs for i in tok.encode(d, add_special_tokens=False).ids + [SEP_ID]]
    assert rows.flatten()[: len(stream)].tolist() == stream
    path = token_cache_path(cfg, "train", tok, "mlm", ".npy")
    assert path.parent == tmp_path / "cache" / "tokens" and np.load(path).dtype == np.uint16


def test_second_call_does_not_tokenize(tmp_path):
    cfg = sst2(tmp_path)
    tok = get_tokenizer(cfg)
    first = classification_examples(cfg, "train", tok)
    encodes = COUNTERS["encode_batch"]
    again = classification_examples(cfg, "train", tok)
    assert COUNTERS["encode_batch"] == encodes
    assert all(torch.equal(a, b) for a, b in zip((first.ids, first.offsets, first.labels),
                                                 (again.ids, again.offsets, again.labels), strict=True))
    corpus = load_split(cfg, "train")
    assert first.labels.tolist() == corpus.labels and len(first) == 600
    assert (first.lengths <= cfg.seq_len).all() and (first.lengths > cfg.seq_len - 1).any()  # some truncated
    ids, label = first[0]
    body = tok.encode(corpus.texts[0], add_special_tokens=False).ids[: cfg.seq_len - 2]
    assert ids.tolist() == [CLS_ID, *body, SEP_ID] and label == corpus.labels[0]
    assert classification_examples(cfg.__class__.from_dict({**cfg.to_dict(), "seq_len": 16}), "train", tok) \
        .lengths.max() == 16  # another seq_len is another cache file


def test_corrupt_token_cache_is_named_then_rebuilt_once_deleted(tmp_path):
    cfg = wikitext(tmp_path)
    tok = get_tokenizer(cfg)
    rows = mlm_sequences(cfg, "validation", tok)
    path = token_cache_path(cfg, "validation", tok, "mlm", ".npy")
    data = path.read_bytes()
    for damaged in (data[: len(data) // 2], b"\x00garbage" * 10):
        path.write_bytes(damaged)
        with pytest.raises(CorruptCacheError, match=rf"^cache file {re.escape(str(path))} is unreadable \(.+\); "):
            mlm_sequences(cfg, "validation", tok)
        assert path.read_bytes() == damaged
        path.unlink()
        encodes = COUNTERS["encode_batch"]
        assert torch.equal(mlm_sequences(cfg, "validation", tok), rows)
        assert COUNTERS["encode_batch"] > encodes and path.read_bytes() == data


def test_concurrent_processes_build_once_and_a_fresh_datamodule_reuses(tmp_path):
    cfg = wikitext(tmp_path, max_train_docs=600)
    sync = tmp_path / "sync"
    sync.mkdir()
    # The fresh MLMDataModule process starts now, so that its slow Lightning import overlaps the builds.
    fresh = child(cfg, "datamodule", sync, go="built")
    builders = [child(cfg, sync=sync), child(cfg, sync=sync)]
    wait_ready(sync, 3)
    (sync / "go").touch()  # both builders are imported and waiting: release them together
    results = [child_result(p) for p in builders]
    assert results[0]["sha"] == results[1]["sha"] and results[0]["rows"] == results[1]["rows"]
    trained = [r["counters"].get("train_tokenizer", 0) for r in results]
    encoded = [r["counters"].get("encode_batch", 0) for r in results]
    assert sorted(trained) == [0, 1] and sorted(encoded)[0] == 0  # one built, the other waited and read
    assert not list((tmp_path / "cache").rglob("*.tmp"))

    tokenizer = get_tokenizer(cfg)
    rows = mlm_sequences(cfg, "train", tokenizer)  # this process loads the same files
    assert hashlib.sha256(rows.numpy().tobytes()).hexdigest() == results[0]["sha"]
    mlm_sequences(cfg, "validation", tokenizer)  # setup("fit") also needs validation
    (sync / "built").touch()
    warm = child_result(fresh)
    assert warm["counters"] == {} and warm["sha"] == results[0]["sha"]  # setup() in a fresh process: no work
