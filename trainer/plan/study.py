"""Typed views of the ``study`` and ``storage`` config groups (they mirror the YAML one to one; the
defaults live in the YAML, so every field is required here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from layernas.trainer.plan.views import from_dict

STORAGES = ("sqlite", "journal", "postgres")
# Optuna reads every trial of a study at each ask: at 100,000 trials one ask of TPE takes seconds and the
# storage holds hundreds of MB, far beyond the few thousand networks even a supernet search scores.
MAX_TRIALS = 100_000


def _positive_int(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer")


@dataclass(frozen=True)
class StudyConfig:
    """``study.*``: the study's name (its results folder), its total trial count, this command's time
    limit in seconds (or None), how many local worker processes run it, the extra seeds the baselines
    are trained on to measure the seed noise at the study's budget, and whether a full study races the
    networks tied with its best (``race.*``)."""

    name: str
    n_trials: int
    timeout: float | None
    n_workers: int
    noise_seeds: list
    race: bool = False

    def __post_init__(self) -> None:
        _positive_int("study.n_trials", self.n_trials)
        if self.n_trials > MAX_TRIALS:
            raise ValueError(f"study.n_trials={self.n_trials:,} is not allowed; allowed: 1..{MAX_TRIALS:,}")
        _positive_int("study.n_workers", self.n_workers)
        if self.timeout is not None and not (isinstance(self.timeout, (int, float)) and self.timeout > 0):
            raise ValueError(f"study.timeout={self.timeout!r} must be a positive number of seconds or null")
        if not isinstance(self.race, bool):
            raise ValueError(f"study.race={self.race!r} is not allowed; allowed: true, false")
        seeds = self.noise_seeds
        if (not isinstance(seeds, (list, tuple)) or len(set(map(str, seeds))) != len(seeds)
                or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)):
            raise ValueError(f"study.noise_seeds={seeds!r} must be a list of distinct integers >= 0 "
                             "(e.g. [1,2]; [] measures no seed noise)")

    @classmethod
    def from_dict(cls, data: dict) -> StudyConfig:
        return from_dict(cls, data, "study")


@dataclass(frozen=True)
class StorageConfig:
    """``storage.*``: where the study lives. ``url`` None means the default file in the study's folder;
    heartbeats (seconds) exist for SQLite and PostgreSQL, not for journal files."""

    kind: str
    url: str | None
    heartbeat_interval: int | None
    grace_period: int | None
    max_retry: int

    def __post_init__(self) -> None:
        if self.kind not in STORAGES:
            raise ValueError(f"storage.kind={self.kind!r} is not allowed; allowed: {', '.join(STORAGES)}")
        if not isinstance(self.max_retry, int) or isinstance(self.max_retry, bool) or self.max_retry < 0:
            raise ValueError(f"storage.max_retry={self.max_retry!r} must be an integer >= 0")
        for name in ("heartbeat_interval", "grace_period"):
            value = getattr(self, name)
            if value is not None:
                _positive_int(f"storage.{name}", value)

    @classmethod
    def from_dict(cls, data: dict) -> StorageConfig:
        return from_dict(cls, data, "storage")


@dataclass(frozen=True)
class StudyRef:
    """Where an existing study is: the commands that read one (report, retrain, audit, analyze) name it by
    ``study.name``, in ``results_dir``, in its storage."""

    name: str
    results_dir: Path
    storage: StorageConfig

    @property
    def folder(self) -> Path:
        return self.results_dir / self.name

    @classmethod
    def from_dict(cls, cfg: dict) -> StudyRef:
        """From a command's config; the name is checked before any study is looked up."""
        from layernas.trainer.plumbing.names import check_name

        name = check_name("study.name", cfg["study"]["name"], cfg["results_dir"])
        return cls(name, Path(cfg["results_dir"]), StorageConfig.from_dict(cfg["storage"]))
