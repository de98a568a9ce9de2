"""Where the configs and the shipped corpora are: beside the packages in a source checkout (editable
install), or installed as the packages ``layernas_conf`` and ``layernas_data`` from a wheel."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _installed(checkout: Path, package: str) -> Path:
    if checkout.is_dir():
        return checkout
    import importlib

    return Path(next(iter(importlib.import_module(package).__path__)))


def conf_dir() -> Path:
    return _installed(REPO_ROOT / "conf", "layernas_conf")


def shipped_data_dir() -> Path:
    return _installed(REPO_ROOT / "data", "layernas_data")
