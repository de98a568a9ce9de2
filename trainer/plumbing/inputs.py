"""Checks every command makes on its config at the app boundary, before anything is read, tokenized or
written: required keys, seeds, and that every folder the command will write can be written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

MAX_SEED = 2**32 - 1  # numpy's and Lightning's seed range


def check_seed(key: str, value) -> int:
    """``value`` as a seed, or a one-line ValueError naming ``key`` and the range."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SEED:
        raise ValueError(f"{key}={value!r} is not allowed; allowed: an integer 0..{MAX_SEED:,}")
    return value


def check_seeds(key: str, value) -> list[int]:
    """A non-empty list of distinct seeds."""
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"{key}={value!r} is not allowed; allowed: a non-empty list of distinct integers "
                         f"0..{MAX_SEED:,} (e.g. [0,1,2])")
    for seed in value:
        check_seed(key, seed)
    if len(set(value)) != len(value):
        raise ValueError(f"{key}={list(value)!r} is not allowed: a seed is repeated; allowed: distinct integers")
    return list(value)


def check_required(command: str, missing: set[str], results_dir) -> None:
    """Keys the command needs but was not given (``???`` in its config), in one line; for ``study.name``
    the line lists the studies there are."""
    if not missing:
        return
    key = sorted(missing)[0]
    if key == "study.name":
        raise ValueError(f"study.name is required: layernas {command} study.name=NAME; studies in "
                         f"{results_dir}: {', '.join(existing_studies(results_dir)) or 'none'}")
    raise ValueError(f"{key} is required: layernas {command} {key}=...")


def existing_studies(results_dir) -> list[str]:
    """The study folders of ``results_dir`` that hold a local storage."""
    root = Path(str(results_dir))
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "study.db").exists() or (p / "journal.log").exists())


def unwritable(path) -> str | None:
    """Why ``path`` (a folder, or a path where one would be created) cannot be written, or None. Proven by
    creating a temporary file in its nearest existing folder (permission bits do not stop root, a read-only
    file system does); nothing is left behind."""
    path = Path(os.path.expanduser(str(path)))
    existing = next((p for p in [path, *path.parents] if p.exists()), None)
    if existing is None:
        return None
    if not existing.is_dir():
        return f"{existing} is a file"
    try:
        fd, tmp = tempfile.mkstemp(dir=existing, prefix=".layernas-write-check-")
    except OSError as e:
        return f"{e.strerror or e} in {existing}"
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    return None


def check_writable(path, key: str) -> None:
    """A one-line ValueError naming ``key`` when ``path`` cannot be written."""
    reason = unwritable(path)
    if reason:
        raise ValueError(f"{key}={str(path)!r} cannot be written ({reason}); allowed: a writable folder, or a path "
                         "where one can be created")


def check_cache_writable(cache_dir) -> None:
    """The token cache's folder, with the message the cache itself gives."""
    folder = Path(os.path.expanduser(str(cache_dir))) / "tokenizers"
    reason = unwritable(folder)
    if reason:
        raise ValueError(f"cache folder {folder} cannot be written ({reason}); allowed: a writable folder as "
                         "data.cache_dir (or the LAYERNAS_CACHE environment variable)")


def check_command(command: str, cfg) -> None:
    """What every command checks on its composed config (a DictConfig) before it does anything: required
    keys, seeds, and that results_dir and the token cache can be written."""
    from omegaconf import OmegaConf

    from layernas.trainer.plumbing.names import check_results_dir
    from layernas.trainer.plumbing.paths import default_cache_dir

    check_required(command, OmegaConf.missing_keys(cfg), cfg.get("results_dir", "results"))
    if "seed" in cfg:
        check_seed("seed", cfg.seed)
    if "seeds" in cfg and cfg.seeds is not None:
        check_seeds("seeds", OmegaConf.to_container(cfg.seeds) if OmegaConf.is_list(cfg.seeds) else cfg.seeds)
    if "results_dir" in cfg:
        check_results_dir(cfg.results_dir)
        check_writable(cfg.results_dir, "results_dir")
    data = cfg.get("data")
    if data is not None and "cache_dir" in data:
        check_cache_writable(data.cache_dir or default_cache_dir())
