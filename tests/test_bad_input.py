"""Bad input, as users type it on the command line (run in this process, as the console script runs it):
each gives exactly one line naming the bad value and what is allowed, exits non-zero, and leaves no
results folder behind.

``python -m tests.test_bad_input`` prints the table of cases with the messages they give now.
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import pytest

FAST = ["trainer.max_steps=2", "logger=none", "data.max_train_docs=200", "data.max_eval_docs=50",
        "data.tokenizer.vocab_size=300", "data.seq_len=16"]

# (what, command arguments, the start of the one-line message); {pg} is a live PostgreSQL port
CASES = [
    ("unknown config group option", ["search", "space=nope"],
     "error: space=nope is not an option; allowed space options: bert, blockbert, convbert, full, lvbert, sandwich"),
    ("unknown sampler", ["search", "sampler=cmaes"],
     "error: sampler=cmaes is not an option; allowed sampler options: bruteforce, gp, nsga2, random, tpe"),
    ("misspelt key", ["search", "study.n_trialz=3"], "error: unknown key 'study.n_trialz'"),
    ("a shared base config as an option", ["proxy", "data=_base"],
     "error: data=_base is not an option; allowed data options: csv, hf, imdb, jsonl, sst2, text, tsv, wikitext2"),
    ("a model setting that does not exist", ["proxy", "+model.n_layers=4"],
     "error: unknown model key 'n_layers'; allowed: attn_dropout, d_model, dropout, ffn_ratio, head_ratio, "
     "kernel_size, n_blocks, n_heads, n_sublayers, norm_eps, position, weight_dropout"),
    ("negative trial count", ["search", "study.n_trials=-1"], "error: study.n_trials=-1 must be a positive integer"),
    ("no workers", ["search", "study.n_workers=0"], "error: study.n_workers=0 must be a positive integer"),
    ("a cost as the first objective", ["search", "objectives=[params,val_loss]"],
     "error: objectives[0]='params' must be a trained metric (objective, val_loss, val_acc)"),
    ("unknown objective", ["search", "objectives=[val_loss,speed]"],
     "error: objectives has unknown name 'speed'; allowed: objective, val_loss, val_acc, params, flops, latency_ms"),
    ("space with no candidate under its constraint", ["search", "space.max_params=1000"],
     "error: space=convbert has no candidate with max_params=1,000: the smallest has"),
    ("zero proxy steps", ["proxy", "trainer.max_steps=0"], "error: trainer.max_steps=0 must be a positive integer"),
    ("unknown op in an arch string", ["proxy", "arch=sa conv ffn"],
     "error: unknown op 'conv'; allowed ops: bsa, dconv, ffn, lconv, mixed, sa, sdconv (in 'conv')"),
    ("even convolution span", ["proxy", "arch=sdconv(k=4) ffn"],
     "error: k=4 in 'sdconv(k=4)' is not allowed; k must be an odd integer >= 1"),
    ("heads that do not divide d_model", ["proxy", "arch=sa(h=3) ffn"],
     "error: heads h=3 must divide d_model=64 in 'sa(h=3)'"),
    ("unknown key of an op", ["proxy", "arch=bsa(blocks=2)"],
     "error: unknown key 'blocks' in 'bsa(blocks=2)'; keys allowed for bsa: b, h"),
    ("missing data file", ["proxy", "data.train=/no/such/train.txt"],
     "error: data file '/no/such/train.txt' of data 'wikitext2' not found"),
    ("unknown data format", ["proxy", "data.format=xml"],
     "error: format='xml' is not allowed; allowed: auto, text, csv, tsv, jsonl"),
    ("label column that is not there", ["proxy", "task=classify", "data.label_column=stars"],
     "error: label_column='stars' is not a column of "),
    ("PostgreSQL with a wrong password", ["search", "storage=postgres",
                                           "storage.url=postgresql+psycopg2://layernas:wrong@127.0.0.1:{pg}/postgres"],
     "error: cannot open storage postgresql+psycopg2://layernas:***@127.0.0.1:{pg}/postgres: "),
    ("unreachable database host", ["search", "storage=postgres",
                                    "storage.url=postgresql+psycopg2://nas:pw@127.0.0.1:1/nas"],
     "error: cannot open storage postgresql+psycopg2://nas:***@127.0.0.1:1/nas: "),
    ("PostgreSQL without a URL", ["search", "storage=postgres"],
     "error: storage=postgres needs storage.url=postgresql+psycopg2://user:password@host:5432/db"),
    ("unknown database driver", ["search", "storage.url=nosuchdb://u:pw@host/db"],
     "error: cannot open storage nosuchdb://u:***@host/db: "),
    ("report of a study that does not exist", ["report", "study.name=ghost"],
     "error: study.name='ghost' has no study in "),
    ("retrain of a study that does not exist", ["retrain", "study.name=ghost"],
     "error: study.name='ghost' has no study in "),
]


def run_case(args: list[str], results: Path, pg_port: int) -> tuple[int, str]:
    """Run ``layernas <args>`` in this process (as the console script does); return (exit code, stderr)."""
    from layernas.trainer.cli import main

    args = [a.replace("{pg}", str(pg_port)) for a in args]
    extra = FAST if args[0] in ("proxy", "search") else []
    argv, err, code = list(sys.argv), io.StringIO(), 0
    try:
        with contextlib.redirect_stderr(err):
            main([args[0], *extra, *args[1:], f"results_dir={results}"])
    except SystemExit as e:
        code = e.code
    finally:
        sys.argv = argv
    return code, err.getvalue()


@pytest.mark.parametrize(("what", "args", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line(what, args, message, tmp_path, postgres):
    code, err = run_case(args, tmp_path / "results", postgres.port)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith(message.replace("{pg}", str(postgres.port))), err
    assert "wrong" not in lines[0] and ":pw@" not in lines[0]  # passwords never shown
    assert not (tmp_path / "results").exists()


# (what, cache file to damage, the bytes written over it)
DAMAGED_CACHES = [
    ("damaged tokenizer cache", "tokenizers/*.json", b'{"version": "1.0", "trunc'),
    ("damaged token cache", "tokens/*-train-*.npy", b"\x93NUMPY garbage"),
]


def build_cache(cache: Path) -> int:
    """Tokenize the FAST proxy's data into ``cache``; returns the vocabulary size."""
    from hydra import compose, initialize_config_dir

    from layernas.trainer.proxy import prepare_data
    from tests.conftest import CONF

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return prepare_data(compose("proxy", overrides=[*FAST, f"data.cache_dir={cache}"]))


def run_damaged_cache_case(pattern: str, damage: bytes, tmp: Path) -> tuple[Path, int, str]:
    """Build a cache, overwrite one of its files with ``damage``, run ``layernas proxy`` on it."""
    build_cache(tmp / "cache")
    (path,) = (tmp / "cache").glob(pattern)
    path.write_bytes(damage)
    return path, *run_case(["proxy", f"data.cache_dir={tmp / 'cache'}"], tmp / "results", 0)


@pytest.mark.parametrize(("what", "pattern", "damage"), DAMAGED_CACHES, ids=[c[0] for c in DAMAGED_CACHES])
def test_a_damaged_cache_file_is_named_not_overwritten(what, pattern, damage, tmp_path):
    path, code, err = run_damaged_cache_case(pattern, damage, tmp_path)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"error: cache file {path} is unreadable (")
    assert lines[0].endswith("; delete it to rebuild")
    assert path.read_bytes() == damage and not (tmp_path / "results").exists()
    path.unlink()  # what the message says to do
    assert build_cache(tmp_path / "cache") == 300 and path.exists()


def test_a_file_that_is_not_weights_is_refused(tmp_path):
    from layernas.trainer.retrain import load_retrained

    folder = tmp_path / "retrain"
    folder.mkdir()
    (folder / "config.yaml").write_text("arch: sa ffn\nvocab_size: 50\nn_classes: null\nmodel: {d_model: 32}\n"
                                        "task: {name: mlm}\ndata: {seq_len: 16}\n")
    (folder / "model-seed0.safetensors").write_bytes(b"PK\x03\x04 this is a zip, not weights")
    with pytest.raises(ValueError, match=r"model-seed0.safetensors is not a safetensors weights file of this model"):
        load_retrained(folder)


if __name__ == "__main__":
    import tempfile

    from tests.postgres import PostgresServer

    server = PostgresServer().start()
    try:
        print("| input | command | message (exit code) |\n|---|---|---|")
        for what, args, _ in CASES:
            with tempfile.TemporaryDirectory() as tmp:
                code, err = run_case(args, Path(tmp) / "results", server.port)
                message = err.strip().replace(str(server.port), "5432").replace(tmp, "/tmp/...")
            shown = " ".join(a.replace("{pg}", "5432") for a in args)
            print(f"| {what} | `layernas {shown}` | `{message}` ({code}) |")
        for what, pattern, damage in DAMAGED_CACHES:
            with tempfile.TemporaryDirectory() as tmp:
                _, code, err = run_damaged_cache_case(pattern, damage, Path(tmp))
                message = err.strip().splitlines()[-1].replace(f"{tmp}/cache", "<cache>")
            print(f"| {what} | `layernas proxy` (one file of its cache overwritten) | `{message}` ({code}) |")
    finally:
        server.stop()
