"""What the machine refused, in one line: writes that fail (disk full, read-only, a file where a folder
should be) and study storages that cannot be read. Anything else is not explained here, so a programming
error keeps its traceback.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

from .errors import causes

WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EEXIST,
                errno.EISDIR, errno.ENAMETOOLONG}
DISK_FULL = ("database or disk is full", "no space left on device", "disk quota exceeded")
DAMAGED = ("database disk image is malformed", "file is not a database", "file is encrypted or is not a database")


def explain(error: BaseException, cfg=None) -> str | None:
    """One line for an environment failure somewhere in ``error``'s cause chain, or None."""
    for e in causes(error):
        shown = re.sub(r"^\([\w.]+\) ", "", str(e).strip().splitlines()[0]) if str(e).strip() else ""  # SQLAlchemy's
        text = shown.lower()
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT) or any(m in text for m in DISK_FULL):
            where = _folder(getattr(e, "filename", None)) or _study_dir(cfg)
            return f"disk full: cannot write in {where or 'the results folder'}; free space there or set " \
                   "results_dir (or LAYERNAS_CACHE) to a folder on another disk"
        if any(m in text for m in DAMAGED):
            return f"study storage {_study_file(cfg) or 'file'} is damaged ({shown}); restore it from a backup, " \
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


def _study_dir(cfg) -> str | None:
    try:
        return str(Path(cfg["results_dir"]) / str(cfg["study"]["name"]))
    except Exception:  # noqa: BLE001  (a proxy config has no study)
        return str(cfg["results_dir"]) if cfg is not None and "results_dir" in cfg else None


def _study_file(cfg) -> str | None:
    try:
        from .search.storage import storage_url

        url = storage_url(dict(cfg["storage"]), Path(cfg["results_dir"]) / str(cfg["study"]["name"]))
    except Exception:  # noqa: BLE001  (no study in this config)
        return None
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///")
    from .secrets import redact

    return redact(url)
