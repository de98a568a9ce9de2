"""``layernas <command> --help`` and ``--cfg job``: the command's groups, keys and examples, and the config
it will run (for a command that takes settings from a study, such as ``retrain``, the study's settings as
the command applies them, not the composed defaults)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path

from omegaconf import OmegaConf

HIDDEN_GROUPS = ("hydra",)


def groups(conf_dir: Path) -> dict[str, list[str]]:
    """Each config group and its options (shared bases such as ``data/_base.yaml`` are not options)."""
    out = {}
    for folder in sorted(p for p in conf_dir.iterdir() if p.is_dir() and p.name not in HIDDEN_GROUPS
                         and not p.name.startswith(("_", "."))):
        options = sorted(p.stem for p in folder.glob("*.yaml") if not p.stem.startswith("_"))
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
