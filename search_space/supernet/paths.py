"""Which paths a supernet trains: single-path uniform sampling (SPOS, Guo et al. 2020), optionally with
FairNAS's strict fairness (Chu et al. 2021) and the sandwich rule (BigNAS, Yu et al. 2020; HAT).

Candidates are drawn by the search space's own ``sample`` (so every structure, domain and tie works as in
a search), answering its ``suggest_*`` calls at random instead of through an Optuna trial.
"""

from __future__ import annotations

import random

from ..cost import sublayer_params
from ..spec import Architecture

MAX_TRIES = 1000  # draws that a constraint or a key combination may refuse before sampling gives up


class RandomTrial:
    """The two calls ``SearchSpace.sample`` makes of a trial, answered from ``rng``: uniformly, or, with
    ``cycles`` (a dict kept from draw to draw), each parameter's choices in shuffled cycles, so that over
    every cycle each choice is taken exactly once (every op of a position trained equally often)."""

    def __init__(self, rng: random.Random, cycles: dict[str, list] | None = None) -> None:
        self.rng, self.cycles = rng, cycles

    def _pick(self, name: str, choices: list):
        if self.cycles is None:
            return self.rng.choice(choices)
        queue = self.cycles.get(name)
        if not queue or any(c not in choices for c in queue):
            queue = list(choices)
            self.rng.shuffle(queue)
        self.cycles[name] = queue[1:]
        return queue[0]

    def suggest_categorical(self, name: str, choices):
        return self._pick(name, list(choices))

    def suggest_int(self, name: str, low: int, high: int) -> int:
        return self._pick(name, list(range(low, high + 1)))


class PathSampler:
    """The paths of each training step.

    Args:
        space: the :class:`~layernas.search_space.space.SearchSpace` the supernet holds.
        seed: seeds the draws; :meth:`state` and :meth:`load_state` carry them across a restart.
        sandwich: also the largest and the smallest candidate (by parameters) at every step.
        fairness: strict fairness for the drawn path (see :class:`RandomTrial`).

    Drawn candidates meet the space's constraints (``max_params``, ``max_flops``); the sandwich's
    largest and smallest are the space's bounds and need not.
    """

    def __init__(self, space, seed: int, sandwich: bool = False, fairness: bool = False) -> None:
        self.space, self.sandwich = space, sandwich
        self.rng = random.Random(seed)
        self.cycles: dict[str, list] | None = {} if fairness else None
        d = space.model.d_model
        self.bounds = [space.largest(lambda s: sublayer_params(s, d)),
                       space.largest(lambda s: -sublayer_params(s, d))] if sandwich else []

    def draw(self) -> Architecture:
        """One candidate of the space, uniformly (or fairly) at random."""
        for _ in range(MAX_TRIES):
            try:
                arch = self.space.sample(RandomTrial(self.rng, self.cycles))
            except ValueError:  # keys that do not fit together: the search records those as rejected
                continue
            if self.space.violation(arch) is None:
                return arch
        raise ValueError(f"space={self.space.name}: {MAX_TRIES} random candidates in a row broke a constraint or "
                         "did not fit together; relax space.max_params/space.max_flops")

    def next(self) -> list[Architecture]:
        """The paths of the next step: one drawn, after the largest and smallest with the sandwich rule."""
        return [*self.bounds, self.draw()]

    def state(self) -> dict:
        """JSON-safe state: restoring it makes the next draws those an uninterrupted run would make."""
        version, internal, gauss = self.rng.getstate()
        cycles = None if self.cycles is None else {name: list(queue) for name, queue in self.cycles.items()}
        return {"rng": [version, list(internal), gauss], "cycles": cycles}

    def load_state(self, state: dict) -> None:
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        cycles = state["cycles"]
        self.cycles = None if cycles is None else {name: list(queue) for name, queue in cycles.items()}


def panel(space, n: int, seed: int) -> list[Architecture]:
    """``n`` fixed distinct paths to validate a supernet on while it trains: the space's baselines, then
    random candidates drawn with ``seed``."""
    out = {a.key(): a for a in space.baseline_archs().values()}
    sampler = PathSampler(space, seed)
    for _ in range(20 * n):
        if len(out) >= n:
            break
        arch = sampler.draw()
        out.setdefault(arch.key(), arch)
    return list(out.values())[:n]
