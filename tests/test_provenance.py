"""A result's commit stamp: ``-dirty`` for changed code, not for changed results (they are outputs)."""

from __future__ import annotations

import subprocess

from layernas.trainer.plumbing.provenance import git_commit


def git(root, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()


def test_changed_results_leave_the_commit_clean_and_changed_code_marks_it_dirty(tmp_path):
    (tmp_path / "results" / "s").mkdir(parents=True)
    (tmp_path / "results" / "s" / "report.md").write_text("one\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    head = git(tmp_path, "rev-parse", "HEAD")
    assert git_commit(tmp_path) == head
    (tmp_path / "results" / "s" / "report.md").write_text("two\n")  # a re-run rewrote a committed result
    assert git_commit(tmp_path) == head
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == f"{head}-dirty"
