"""What the machine refused, in one line: writes that fail (disk full, read-only, a file where a folder
should be) and study storages that cannot be read. Anything else is not explained here, so a programming
error keeps its traceback.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

from layernas.trainer.plumbing.errors import causes

WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EEXIST,
                errno.EISDIR, errno.ENAMETOOLONG}
DISK_FULL = ("database or disk is full", "no space left on device", "disk quota exceeded")
DAMAGED = ("database disk image is malformed", "file is not a database", "file is encrypted or is not a database")


def explain(error: BaseException, study_dir: str | None = None, study_file: str | None = None) -> str | None:
    """One line for an environment failure somewhere in ``error``'s cause chain, or None. ``study_dir`` and
    ``study_file`` (its storage, masked) are named when the error does not say where."""
    for e in causes(error):
        shown = re.sub(r"^\([\w.]+\) ", "", str(e).strip().splitlines()[0]) if str(e).strip() else ""  # SQLAlchemy's
        text = shown.lower()
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT) or any(m in text for m in DISK_FULL):
            where = _folder(getattr(e, "filename", None)) or study_dir
            return f"disk full: cannot write in {where or 'the results folder'}; free space there or set " \
                   "results_dir (or LAYERNAS_CACHE) to a folder on another disk"
        if any(m in text for m in DAMAGED):
            return f"study storage {study_file or 'file'} is damaged ({shown}); restore it from a backup, " \
                   "or delete it (and its folder's report files) to start the study again"
        if isinstance(e, OSError) and e.errno in WRITE_ERRNOS and e.filename:
            return f"cannot write {e.filename} ({e.strerror or os.strerror(e.errno)}); results_dir, the study " \
                   "folders and the cache must be writable folders"
    return None


def _folder(filename) -> str | None:
    if not filename:
        return None
    path = Path(os.fsdecode(filename))
    return str(path.parent if path.suffix or not path.is_dir() else path)
