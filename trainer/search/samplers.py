"""Samplers and pruners built from ``conf/sampler/<name>.yaml`` and ``conf/pruner/<name>.yaml``."""

from __future__ import annotations

import functools
import sys
import warnings

import optuna
from hydra.utils import instantiate

from layernas.trainer.plan.search import ComponentConfig


def make_sampler(sampler: ComponentConfig, n_objectives: int):
    """Instantiate ``conf/sampler/<name>.yaml``; refuse combinations Optuna cannot do."""
    if n_objectives > 1 and not sampler.multi_objective:
        raise ValueError(f"sampler={sampler.name} cannot optimise {n_objectives} objectives; allowed for several: "
                         "nsga2, tpe, random, gp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # e.g. TPE's group=True
        return instantiate(accepted(sampler.spec, f"sampler={sampler.name}"))


def accepted(spec: dict, label: str) -> dict:
    """``spec`` without the keys its class does not take, named in one note: a preset tunes the default
    option's keys (``experiment=cpu_demo`` sets the median pruner's ``n_warmup_steps``), and choosing
    another option on the command line (``pruner=none``) must not crash on them."""
    import inspect

    from hydra.utils import get_class

    params = inspect.signature(get_class(spec["_target_"])).parameters
    if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return spec
    extra = [k for k in spec if k != "_target_" and k not in params]
    if extra:
        _note(f"note: {label} takes no {', '.join(extra)}; ignored")
    return {k: v for k, v in spec.items() if k not in extra}


@functools.cache
def _note(message: str) -> None:
    """Print a note once per process (a search builds its sampler more than once)."""
    print(message, file=sys.stderr, flush=True)


def make_pruner(pruner: ComponentConfig, n_objectives: int):
    """Instantiate ``conf/pruner/<name>.yaml``; several objectives get no pruner (Optuna's pruners compare
    one intermediate value)."""
    if n_objectives > 1:
        return optuna.pruners.NopPruner()
    return instantiate(accepted(pruner.spec, f"pruner={pruner.name}"))
