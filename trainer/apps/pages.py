"""``layernas <command> --help`` and ``--cfg job``: the command's groups, keys and examples, and the config
it will run (for a command that takes settings from a study, such as ``retrain``, the study's settings as
the command applies them, not the composed defaults)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path

from omegaconf import OmegaConf

from layernas.trainer.apps.guard import debug_wanted, fail, fill_storage_url
from layernas.trainer.apps.overrides import CONF_DIR, check_overrides, compose_config, group_options
from layernas.trainer.plumbing.errors import UserError

HIDDEN_GROUPS = ("hydra",)


def groups(conf_dir: Path) -> dict[str, list[str]]:
    """Each config group and its options (shared bases such as ``data/_base.yaml`` are not options)."""
    out = {}
    for folder in sorted(p for p in conf_dir.iterdir() if p.is_dir() and p.name not in HIDDEN_GROUPS
                         and not p.name.startswith(("_", "."))):
        options = group_options(folder.name)
        if options:
            out[folder.name] = options
    return out


def help_text(cfg, conf_dir: Path) -> str:
    """The help page of a composed config (composed with ``return_hydra_config=True``)."""
    help_node = cfg.hydra.help
    plain = OmegaConf.to_container(cfg, resolve=False)
    plain.pop("hydra", None)
    listed = "\n".join(f"{name}: {', '.join(options)}" for name, options in groups(conf_dir).items())
    return (f"{help_node.header}\n\n== Config groups (group=option) ==\n{listed}\n\n"
            "== Config (override any key with key=value; add new ones with +key=value) ==\n"
            f"{OmegaConf.to_yaml(plain)}\n{help_node.get('footer') or ''}")


def examples(text: str) -> list[list[str]]:
    """The example command lines of a help page (the lines under ``Examples:``), as argument lists."""
    found, inside = [], False
    for line in text.splitlines():
        if line.strip() == "Examples:":
            inside = True
        elif inside and re.match(r"\s+layernas ", line):
            found.append(shlex.split(line.strip()))
        elif inside:
            inside = False
    return found


def job_text(cfg, resolve: Callable | None) -> str:
    """``--cfg job``: the config the command will run; ``resolve(plain) -> plain`` applies a study's settings."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    plain.pop("hydra", None)
    if resolve is not None:
        plain = resolve(plain)
    return OmegaConf.to_yaml(OmegaConf.create(plain))


def cfg_job(rest: list[str]) -> bool:
    return "--cfg=job" in rest or any(a in ("--cfg", "-c") and rest[i + 1:i + 2] == ["job"] for i, a in enumerate(rest))


def page(command, overrides: list[str], help_page: bool) -> str:
    """``--help`` or ``--cfg job`` of ``command`` with ``overrides`` (one-line errors as for a run)."""
    from layernas.trainer.plumbing.inputs import check_command

    overrides = [o for o in overrides if o != "job"]
    try:
        if help_page:
            return help_text(compose_config(command.config_name, overrides, hydra=True), Path(CONF_DIR))
        cfg = check_overrides(command.config_name, overrides)
        fill_storage_url(cfg)
        check_command(command.config_name, cfg)
        settings = command.settings
        return job_text(cfg, (lambda plain: settings(plain, overrides)) if settings else None)
    except (UserError, ValueError, FileNotFoundError) as e:
        if debug_wanted(overrides):
            raise
        fail(str(e).strip().splitlines()[0])
