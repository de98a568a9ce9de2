"""Where the configs and the shipped corpora are. The checkout's top-level folders install as the
subpackages of ``layernas`` (``layernas.conf``, ``layernas.data``), so in a source checkout and in a wheel
alike they sit beside this package."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout, or site-packages/layernas in a wheel


def conf_dir() -> Path:
    return REPO_ROOT / "conf"


def shipped_data_dir() -> Path:
    return REPO_ROOT / "data"
