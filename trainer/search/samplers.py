"""Samplers and pruners built from ``conf/sampler/<name>.yaml`` and ``conf/pruner/<name>.yaml``."""

from __future__ import annotations

import warnings

import optuna
from hydra.utils import instantiate


def make_sampler(sampler: dict, n_objectives: int):
    """Instantiate ``conf/sampler/<name>.yaml``; refuse combinations Optuna cannot do."""
    name = sampler.get("name", "?")
    if n_objectives > 1 and not sampler.get("multi_objective", False):
        raise ValueError(f"sampler={name} cannot optimise {n_objectives} objectives; allowed for several: "
                         "nsga2, tpe, random, gp")
    spec = {k: v for k, v in sampler.items() if k not in ("name", "multi_objective", "fixed_length")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # e.g. TPE's group=True
        return instantiate(spec)


def make_pruner(pruner: dict, n_objectives: int):
    """Instantiate ``conf/pruner/<name>.yaml``; several objectives get no pruner (Optuna's pruners compare
    one intermediate value)."""
    spec = {k: v for k, v in pruner.items() if k != "name"}
    if n_objectives > 1:
        return optuna.pruners.NopPruner()
    return instantiate(spec)
