"""On-disk cache mechanics: content fingerprints, atomic writes, and build-once under a file lock.

A cache file is only ever created by ``os.replace`` of a complete temporary file, so a reader never sees
half a file. Building happens under ``<file>.lock`` (``filelock``), so when several processes ask for the
same missing file at once, one builds it and the others wait and then read it. A file that exists but
cannot be read (truncated, garbage, written by something else) is an error that names it: the cache
directory may be shared by running searches, so it is never silently overwritten; deleting the file
rebuilds it on the next run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from filelock import FileLock

from layernas.trainer.plumbing.files import atomic_write

T = TypeVar("T")

# Per-process counts of expensive work ("train_tokenizer", "encode_batch", "cache_build"); they let tests and
# callers check that a warm start did none of it.
COUNTERS: Counter[str] = Counter()


class CorruptCacheError(ValueError):
    """A cache file exists but cannot be read; the message names the file and says to delete it."""

    def __init__(self, path: str | os.PathLike, reason: object) -> None:
        first_line = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
        super().__init__(f"cache file {path} is unreadable ({first_line}); delete it to rebuild")


def fingerprint(path: str | os.PathLike) -> str:
    """sha256 (hex) of a file's bytes, computed once per process for each (path, size, mtime)."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return _sha256_file(str(resolved), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _sha256_file(path: str, size: int, mtime_ns: int) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def digest(obj) -> str:
    """A short stable hash of a JSON-able description (sorted keys): the name part of a cache file."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _writable_lock(path: Path) -> FileLock:
    """The build lock of ``path``, its folder created; a cache folder that cannot be written (a file in
    the way, read-only, no permission) is a one-line error naming it and the setting."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(f"{path}.lock")
        lock.acquire()
        lock.release()
    except OSError as err:
        raise ValueError(f"cache folder {path.parent} cannot be written ({err.strerror or err}); allowed: a writable "
                         "folder as data.cache_dir (or the LAYERNAS_CACHE environment variable)") from None
    return lock


def cached(path: str | os.PathLike, build: Callable[[str], None], load: Callable[[Path], T]) -> T:
    """``load(path)``, first building the file with ``build(tmp_path)`` if it is missing.

    ``load`` signals an unreadable file by raising :class:`CorruptCacheError`, which propagates.
    """
    path = Path(path)
    lock = _writable_lock(path)
    with lock:
        if path.exists():
            return load(path)
        COUNTERS["cache_build"] += 1
        try:
            atomic_write(path, build)
        except BaseException:
            # refused input (or an interruption): no cache file, so its lock file would only be litter; it is
            # removed while held, and a process waiting on it builds again and fails the same way
            Path(lock.lock_file).unlink(missing_ok=True)
            raise
        return load(path)
