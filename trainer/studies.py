"""Finding an existing study from a command's config (report, retrain) without creating one by mistake."""

from __future__ import annotations

from pathlib import Path

import optuna

from .names import check_name
from .study import make_storage, storage_url


def study_dir(cfg: dict) -> Path:
    return Path(cfg["results_dir"]) / check_name("study.name", cfg["study"]["name"], cfg["results_dir"])


def load_existing_study(cfg: dict) -> optuna.Study:
    """The study named ``study.name`` in its storage; a one-line error if there is none."""
    name, folder = str(cfg["study"]["name"]), study_dir(cfg)
    url = storage_url(cfg["storage"], folder)
    local = cfg["storage"].get("kind", "sqlite") in ("sqlite", "journal") and not cfg["storage"].get("url")
    if local and not Path(url.removeprefix("sqlite:///")).exists():
        others = sorted(p.name for p in Path(cfg["results_dir"]).glob("*") if (p / "study.db").exists()
                        or (p / "journal.log").exists()) if Path(cfg["results_dir"]).exists() else []
        raise ValueError(f"study.name={name!r} has no study in {folder}; existing studies: "
                         f"{', '.join(others) or 'none'}")
    storage = make_storage(cfg["storage"], folder)
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise ValueError(f"study.name={name!r} is not in the storage; studies there: {', '.join(names) or 'none'}") \
            from None
