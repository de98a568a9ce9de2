"""Shared helpers for the data tests: tiny configs over the shipped corpora, small files, subprocess runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from layernas.trainer.data import DataConfig
from layernas.trainer.data.config import REPO_ROOT

SHARED_DATA = Path(os.environ.get("LAYERNAS_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
IMDB = SHARED_DATA / "imdb"


def wikitext(tmp_path: Path, **overrides) -> DataConfig:
    """A few hundred WikiText-2 documents, a 500-token vocabulary and 32-token rows: seconds, not minutes."""
    base = {"name": "wt2", "train": "wikitext-2/train.txt.xz", "validation": "wikitext-2/valid.txt.xz",
            "test": "wikitext-2/test.txt.xz", "format": "text", "max_train_docs": 400, "max_eval_docs": 120,
            "seq_len": 32, "batch_size": 8, "tokenizer": {"vocab_size": 500}, "cache_dir": str(tmp_path / "cache")}
    return DataConfig.from_dict({**base, **overrides})


def sst2(tmp_path: Path, **overrides) -> DataConfig:
    base = {"name": "sst2", "train": "sst2/train.tsv.xz", "validation": "sst2/dev.tsv.xz", "format": "tsv",
            "text_column": "sentence", "label_column": "label", "max_train_docs": 600, "max_eval_docs": 100,
            "seq_len": 24, "batch_size": 16, "tokenizer": {"vocab_size": 400}, "cache_dir": str(tmp_path / "cache")}
    return DataConfig.from_dict({**base, **overrides})


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path``, compressed when the name ends in .gz, .xz or .bz2."""
    import bz2
    import gzip
    import lzma

    openers = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}
    with openers.get(path.suffix, open)(path, "wt", encoding="utf-8", newline="") as f:
        f.write(text)
    return path


# Loads (building if needed) the tokenizer and the MLM training rows of a config, then prints what it did
# as one JSON line. argv: config JSON; "functions" (get_tokenizer + mlm_sequences) or "datamodule"
# (MLMDataModule.setup, which also imports Lightning); optionally a folder and a file name: after its imports
# it touches ready-<pid> in that folder and waits for the named file, so that tests choose when it starts.
CHILD = """
import json, os, sys, time, hashlib
from pathlib import Path
from layernas.trainer.data import COUNTERS, DataConfig, get_tokenizer, mlm_sequences
if sys.argv[2] == "datamodule":
    from layernas.trainer.data import MLMDataModule
cfg = DataConfig.from_dict(json.loads(sys.argv[1]))
if len(sys.argv) > 3:
    sync = Path(sys.argv[3])
    (sync / f"ready-{os.getpid()}").touch()
    while not (sync / sys.argv[4]).exists():
        time.sleep(0.01)
if sys.argv[2] == "datamodule":
    dm = MLMDataModule(cfg, seed=0)
    dm.setup("fit")
    rows = dm.train_ids
else:
    rows = mlm_sequences(cfg, "train", get_tokenizer(cfg))
print(json.dumps({"counters": dict(COUNTERS), "rows": list(rows.shape),
                  "sha": hashlib.sha256(rows.numpy().tobytes()).hexdigest()}))
"""


def child(cfg: DataConfig, mode: str = "functions", sync: Path | None = None, go: str = "go") -> subprocess.Popen:
    """Start CHILD in a fresh interpreter for ``cfg``."""
    args = [sys.executable, "-c", CHILD, json.dumps(cfg.to_dict()), mode] + ([str(sync), go] if sync else [])
    return subprocess.Popen(args, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_ready(sync: Path, n: int, timeout: float = 120) -> None:
    """Wait until ``n`` children have touched their ready file in ``sync``."""
    deadline = time.monotonic() + timeout
    while len(list(sync.glob("ready-*"))) < n and time.monotonic() < deadline:
        time.sleep(0.02)


def child_result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])
