"""What features add to a study's results, registered by the features themselves: the results layer knows
none of them. A feature (the audit, the supernet strategy, retraining, a race) declares an entry point in
the ``layernas.results`` group whose module calls :func:`register`; :func:`extensions` loads them once.

An extension may add bullets at the top of report.md (``summary``), a section before the leaderboard
(``before_leaderboard``), a section after the results (``after_results``), an entry of best.yaml
(``best``), values of a trials.csv column (``columns``), the count of the steps it trained (``steps``),
and the study's answer when it has a better one than the best proxy value (``answer``, by ``priority``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import optuna

GROUP = "layernas.results"

Lines = Callable[[optuna.Study, Path], list[str]]


@dataclass(frozen=True)
class Extension:
    name: str
    summary: Lines | None = None
    before_leaderboard: Lines | None = None
    after_results: Lines | None = None
    best: Callable[[optuna.Study], dict | None] | None = None
    columns: Callable[[optuna.Study], dict[str, dict[int, object]]] | None = None
    steps: Callable[[optuna.Study, int], str | None] | None = None
    answer: Callable[[optuna.Study], dict | None] | None = None
    priority: int = 0  # of its answer: the highest that has one wins


_REGISTERED: dict[str, Extension] = {}


def register(extension: Extension) -> None:
    _REGISTERED[extension.name] = extension


@cache
def _load() -> None:
    from importlib.metadata import entry_points

    for point in entry_points(group=GROUP):
        point.load()


def extensions() -> list[Extension]:
    """Every registered extension, in the order of their names."""
    _load()
    return [_REGISTERED[name] for name in sorted(_REGISTERED)]


def lines(study: optuna.Study, folder: Path, slot: str) -> list[str]:
    """Every extension's lines for one slot of report.md, in order."""
    return [line for ext in extensions() if getattr(ext, slot) for line in getattr(ext, slot)(study, folder)]


def answer(study: optuna.Study) -> dict | None:
    """The study's answer from the extension of highest priority that has one (``trial``, ``arch``, ``line``:
    what to say of it), or None: then the best trial by the first objective is the answer."""
    for ext in sorted((e for e in extensions() if e.answer), key=lambda e: -e.priority):
        found = ext.answer(study)
        if found is not None:
            return found
    return None
