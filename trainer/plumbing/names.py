"""The one check for every name that becomes a folder under ``results_dir`` (``study.name``, ``run_name``).

A name is a single path component: it cannot climb out of ``results_dir`` (``../x``, ``/abs``), hide
(``.x``), carry control characters, or be longer than file systems and W&B run names take comfortably.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

MAX_NAME = 100  # well under the 255-byte file-name limit even in 4-byte UTF-8, and readable in a table
ALLOWED = f"a plain folder name of 1-{MAX_NAME} characters (no '/' or '\\', not starting with '.', " \
          "no control characters, no whitespace at either end)"


def check_name(key: str, value, results_dir: str | os.PathLike | None = None) -> str:
    """``value`` as a folder name, or a one-line ValueError naming ``key`` and what is allowed.

    With ``results_dir``, the folder it names must also resolve inside it (a symlink could point out).
    """
    name = "" if value is None else str(value)
    shown = name if len(name) <= 40 else f"{name[:20]}...({len(name)} characters)"
    problem = _problem(name)
    if problem:
        raise ValueError(f"{key}={shown!r} is not allowed ({problem}); allowed: {ALLOWED}")
    if results_dir is not None:
        check_results_dir(results_dir)
        root = Path(results_dir).resolve()
        if not (root / name).resolve().is_relative_to(root):
            raise ValueError(f"{key}={shown!r} leads outside results_dir={str(results_dir)!r}; allowed: {ALLOWED}")
    return name


def _problem(name: str) -> str | None:
    if not name.strip():
        return "empty" if not name else "only whitespace"
    if name != name.strip():
        return "begins or ends with whitespace"
    if len(name) > MAX_NAME:
        return f"{len(name)} characters, more than {MAX_NAME}"
    if "/" in name or "\\" in name or os.sep in name:
        return "a path, not a name"
    if name.startswith("."):
        return "starts with '.'"
    if any(unicodedata.category(c) == "Cc" for c in name):
        return "has a control character"
    return None


def check_results_dir(value) -> Path:
    """``results_dir`` must be a folder, or a path where one can be created (no part of it a file)."""
    path = Path(os.path.expanduser(str(value)))
    for part in [path, *path.parents]:
        if part.exists():
            if not part.is_dir():
                raise ValueError(f"results_dir={str(value)!r} is not allowed: {part} is a file; allowed: a folder, "
                                 "or a path where one can be created")
            break
    return path
