"""What a result records of how it was made: the code's commit and the config (secrets masked)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from layernas.trainer.plumbing.secrets import redact


def git_commit(root: Path | None = None) -> str:
    """The checked-out commit (with ``-dirty`` when the code has changes; results/ holds outputs, so its
    changes do not count), or ``unknown``."""
    root = root or Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        code_only = ["--", ".", ":(exclude)results"]
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", *code_only], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty else "")


def study_config(cfg: dict) -> dict:
    """What a study keeps of its config (credentials masked), for reports and retraining."""
    return redact({k: v for k, v in cfg.items() if k != "hydra"})
