"""``strategy=...``: how a search scores its candidates, from ``conf/strategy/<name>.yaml``.

``standalone`` (the default) trains a proxy per candidate; ``supernet`` trains one weight-sharing
supernet and scores candidates with inherited weights (its keys mirror :class:`SupernetConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass

from layernas.trainer.plan.views import from_dict

STRATEGIES = ("standalone", "supernet")


def _count(name: str, value, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"strategy.supernet.{name}={value!r} is not allowed; allowed: an integer >= {low}")


@dataclass(frozen=True)
class SupernetConfig:
    """``strategy.supernet.*``.

    steps: training steps of the supernet (the proxy's optimizer, batches and validation slice).
    sandwich: each step also trains the largest and the smallest candidate (BigNAS/HAT's sandwich rule).
    fairness: each position's ops (and every key's values) in shuffled cycles, so all are trained equally
        often (FairNAS's strict fairness); otherwise uniform draws (SPOS).
    val_paths: fixed paths the supernet is validated on while it trains (the baselines first).
    checkpoint_every: steps between checkpoints (where a killed training resumes).
    top_k: the best candidates by supernet score, then trained stand-alone with the proxy budget.
    random_k: candidates drawn at random from the rest, also trained stand-alone: the rank agreement over
        the whole range of scores, not only among the best.
    """

    steps: int
    sandwich: bool
    fairness: bool
    val_paths: int
    checkpoint_every: int
    top_k: int
    random_k: int

    def __post_init__(self) -> None:
        for name, low in (("steps", 1), ("val_paths", 1), ("checkpoint_every", 1), ("top_k", 0), ("random_k", 0)):
            _count(name, getattr(self, name), low)
        for name in ("sandwich", "fairness"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"strategy.supernet.{name}={getattr(self, name)!r} is not allowed; allowed: true, "
                                 "false")


@dataclass(frozen=True)
class StrategyConfig:
    """``strategy.*``: how a search scores its candidates; ``supernet`` holds the supernet's settings."""

    name: str = "standalone"
    supernet: SupernetConfig | None = None


def strategy_config(strategy: dict | None, task: str) -> StrategyConfig:
    """The strategy of a search config; one-line errors."""
    strategy = strategy or {"name": "standalone"}
    name = strategy.get("name")
    if name not in STRATEGIES:
        raise ValueError(f"strategy={name!r} is not allowed; allowed: {', '.join(STRATEGIES)}")
    if name == "standalone":
        return StrategyConfig()
    if task != "mlm":
        raise ValueError(f"strategy=supernet trains a masked-LM supernet; task={task} is not allowed with it; "
                         "allowed: task=mlm")
    return StrategyConfig(name, from_dict(SupernetConfig, strategy.get("supernet"), "strategy.supernet"))
