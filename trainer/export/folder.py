"""Where an export goes, and writing it so that a failure leaves nothing half-written there: everything is
written into a temporary folder beside ``export.dir`` and renamed into place at the end; an earlier export in
``export.dir`` is replaced only then."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from layernas.trainer.plumbing.inputs import check_writable

MARK = "export.json"  # what every export writes: a folder holding it is an earlier export, replaced by a new one


def default_folder(study_dir: Path, key: str, fmt: str) -> Path:
    return study_dir / "export" / f"{key}-{fmt}"


def check_folder(folder: Path, key: str) -> Path:
    """``folder`` if an export may be written there: a new or empty folder, or an earlier export's."""
    folder = Path(os.path.expanduser(str(folder)))
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{key}='{folder}' is a file; allowed: a new or empty folder, or an earlier export's folder")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MARK).is_file():
        raise ValueError(f"{key}='{folder}' holds other files (no {MARK} of an earlier export); allowed: a new or "
                         "empty folder, or an earlier export's folder (replaced)")
    check_writable(folder, key)
    return folder


@contextlib.contextmanager
def staged(folder: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``folder``; on success it becomes ``folder`` (an earlier export
    there is removed), on any failure it is removed, with the parent folders this made."""
    made = [p for p in [folder.parent, *folder.parent.parents] if not p.exists()]
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        yield tmp
        for path in [tmp, *tmp.iterdir()]:  # mkdtemp's folder (and safetensors' file) are private; an export is
            os.chmod(path, 0o755 if path.is_dir() else 0o644)  # meant to be shared
        old = None
        if folder.exists():
            old = folder.parent / f"{tmp.name}.old"
            os.replace(folder, old)
        os.replace(tmp, folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for parent in made:  # nearest first: only folders this made, and only while empty
            with contextlib.suppress(OSError):
                parent.rmdir()
        raise
