"""``layernas compare``: the same search per arm and seed, compared on equal training budgets; see
``trainer.compare``."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from layernas.trainer.apps.overrides import CONF_DIR
from layernas.trainer.compare.plan import plan_compare
from layernas.trainer.compare.settings import CompareConfig, builtin_arms
from layernas.trainer.plan.logger import LoggerConfig
from layernas.trainer.plumbing import interrupts
from layernas.trainer.plumbing.names import check_name


def compose_search(overrides: list[str]) -> dict:
    """``search``'s config with ``overrides``, as ``layernas search <overrides>`` would compose it."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        return OmegaConf.to_container(compose("search", overrides=overrides), resolve=True)
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return OmegaConf.to_container(compose("search", overrides=overrides), resolve=True)


def compare(plain: dict, overrides: list[str]) -> dict:
    from layernas.trainer.apps.search import search
    from layernas.trainer.compare.compare import run_compare

    settings = CompareConfig.from_dict(plain.get("compare") or {}, builtin_arms(Path(CONF_DIR)))
    name = check_name("study.name", plain["study"]["name"], plain["results_dir"])
    plan = plan_compare(name, overrides, settings, compose_search, Path(plain["results_dir"]),
                        LoggerConfig.from_dict(plain.get("logger")), plain.get("seed", 0))
    interrupts.check()
    return run_compare(plan, search)


def main(cfg: DictConfig) -> int:
    from hydra.core.hydra_config import HydraConfig

    from layernas.trainer.plumbing.logs import quiet_lightning

    plain = OmegaConf.to_container(cfg, resolve=True)
    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    quiet_lightning()
    compare(plain, overrides)
    return 0
