"""Where the configs and the shipped corpora are. The checkout's top-level folders install as the
subpackages of ``layernas`` (``layernas.conf``, ``layernas.data``), so in a source checkout and in a wheel
alike they sit beside this package."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]  # the checkout, or site-packages/layernas in a wheel


def conf_dir() -> Path:
    return REPO_ROOT / "conf"


def shipped_data_dir() -> Path:
    return REPO_ROOT / "data"


def default_cache_dir() -> Path:
    """Where tokenizers and token caches live unless ``data.cache_dir`` says otherwise: ``$LAYERNAS_CACHE``,
    else ``$XDG_CACHE_HOME/layernas``, else ``~/.cache/layernas``: one cache per user, whatever folder a
    command runs in, so a corpus is tokenized once."""
    if os.environ.get("LAYERNAS_CACHE"):
        return Path(os.path.expanduser(os.environ["LAYERNAS_CACHE"]))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "layernas"
