"""Inputs are checked before anything is tokenized or written, and a refused input leaves nothing behind:
no results folder, no cache lock file; a user's own studies stay out of the committed ones."""

from __future__ import annotations

import errno
import subprocess
from pathlib import Path
from unittest import mock

import pytest

from tests.test_bad_input import FAST, run_case

ROOT = Path(__file__).resolve().parents[1]


def test_a_read_only_journal_folder_is_refused_before_tokenizing(tmp_path):
    import tempfile

    read_only = tmp_path / "ro"
    read_only.mkdir()
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == read_only:
            raise OSError(errno.EROFS, "Read-only file system")
        return real(*args, dir=dir, **kwargs)

    with mock.patch("layernas.trainer.plumbing.inputs.tempfile.mkstemp", mkstemp):
        code, err = run_case(["search", "storage=journal", f"storage.url={read_only}/j.log",
                              f"data.cache_dir={tmp_path / 'cache'}"], tmp_path / "results", 0)
    assert code == 2 and err.strip().splitlines() == [
        f"error: storage.url='{read_only}' cannot be written (Read-only file system in {read_only}); allowed: a "
        "writable folder, or a path where one can be created"]
    assert not (tmp_path / "results").exists() and not (tmp_path / "cache").exists()  # nothing tokenized or made


BAD_DATA = {
    "empty": b"",
    "binary": bytes(range(256)) * 8,
    "UTF-16": "sentence\tlabel\nit is good\t1\n".encode("utf-16"),
    "a row without its label": b"sentence\tlabel\nit is good\t1\nno label here\n",
}


@pytest.mark.parametrize("what", BAD_DATA)
def test_a_refused_data_file_leaves_no_lock_file(what, tmp_path):
    bad = tmp_path / "train.tsv"
    bad.write_bytes(BAD_DATA[what])
    cache = tmp_path / "cache"
    code, err = run_case(["proxy", "task=classify", "data=tsv", f"data.train={bad}", "data.validation_fraction=0.2",
                          f"data.cache_dir={cache}"], tmp_path / "results", 0)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not list(cache.rglob("*.lock")), list(cache.rglob("*"))


def test_a_users_study_is_not_tracked_beside_the_committed_ones():
    def ignored(path: str) -> bool:
        return subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0

    assert ignored("results/my-study/report.md") and ignored("results/my-study/best.yaml")
    for committed in ("results/README.md", "results/cpu_demo/report.md", "results/supernet_demo/best.yaml"):
        assert not ignored(committed), committed
    tracked = subprocess.run(["git", "ls-files", "results"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert tracked and not [p for p in tracked if ignored(p)]  # every committed file stays visible to git




@pytest.mark.parametrize(("load", "cores", "passive"), [(0.3, 2, False), (0.99, 2, False), (1.0, 2, True),
                                                        (7.6, 2, True), (3.0, 8, False), (4.0, 8, True)])
def test_a_busy_machine_gets_a_passive_openmp_wait_and_one_line(load, cores, passive):
    from layernas.trainer.plumbing import busy
    from layernas.trainer.plumbing.busy import passive_wait_when_busy

    environ = {}
    note = passive_wait_when_busy(environ, load=load, cores=cores)
    assert (environ.get("OMP_WAIT_POLICY") == "PASSIVE") == passive == (note is not None)
    if passive:
        assert note.startswith(f"note: this machine is busy (1-minute load {load:.1f} on {cores} cores)")
    chosen = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert passive_wait_when_busy(chosen, load=load, cores=cores) is None and chosen["OMP_WAIT_POLICY"] == "ACTIVE"
    busy._pending.clear()  # this process's own runs are not on that machine


def test_the_command_line_sets_the_wait_policy_before_torch_loads(tmp_path):
    """A run started on a busy machine (its load faked through the standard library) says so in one line and
    trains with OpenMP's passive wait; ``--cfg job`` runs nothing and says nothing."""
    import os
    import sys

    def run(*args: str) -> subprocess.CompletedProcess:
        code = ("import os, sys; os.getloadavg = lambda: (7.6, 7.0, 6.0)\n"
                "from layernas.trainer.cli import main\n"
                "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
                "import torch\nprint('policy', os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)")
        return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=tmp_path,
                              env={k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}, timeout=300)

    out = run("proxy", "--cfg", "job")
    assert out.returncode == 0 and "busy" not in out.stderr, out.stderr
    out = run("proxy", *FAST, "data.seq_len=16", "data.tokenizer.vocab_size=300", f"results_dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    assert [line for line in out.stderr.splitlines() if "busy" in line] == [
        f"note: this machine is busy (1-minute load 7.6 on {os.cpu_count()} cores): OpenMP threads wait passively "
        "(OMP_WAIT_POLICY=PASSIVE), 2-3x faster than spinning on a busy machine (benchmarks/busy_machine.py); "
        "OMP_WAIT_POLICY=ACTIVE keeps spinning"]
    assert out.stdout.strip().splitlines()[-1] == "policy PASSIVE True"
