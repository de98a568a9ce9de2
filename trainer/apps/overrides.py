"""The command line's overrides as Hydra reads them: architecture strings quoted for its grammar, a storage
password moved out of its sight, overrides it cannot read named in one line, and the config composed once
(a bad group option, key or value is one line with the allowed choices, not Hydra's multi-line error)."""

from __future__ import annotations

import re
from pathlib import Path

from layernas.trainer.plumbing.errors import UserError
from layernas.trainer.plumbing.paths import conf_dir

CONF_DIR = str(conf_dir())


def quote_arch(arg: str) -> str:
    """``arch=sdconv(k=9) ffn`` as Hydra's grammar needs it (a quoted string: parentheses, '=' and spaces
    are override syntax otherwise), so users can write architectures as they are."""
    key, sep, value = arg.partition("=")
    if key.lstrip("+~") != "arch" or not sep or not value or value[0] in "'\"":
        return arg
    return f"{key}='" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_STORAGE_URL = re.compile(r"^\+{0,2}storage\.url=")


def split_secret_storage_url(args: list[str]) -> tuple[list[str], str | None]:
    """The arguments without a ``storage.url=<URL with a password>``, and that URL. The command puts it in
    ``LAYERNAS_STORAGE_URL`` instead (which the job, its workers and launcher jobs read, having inherited
    it): Hydra never sees the password, so it is in neither its multirun.yaml nor its printout, and W&B
    cannot record it with the arguments."""
    from layernas.trainer.plumbing.secrets import has_secret

    kept, url = [], None
    for arg in args:
        value = _override_value(arg) if _STORAGE_URL.match(arg) else None
        if value is UNREADABLE:  # '?', '&', '%' are outside Hydra's unquoted grammar
            value = _unquoted(arg.partition("=")[2])
        if isinstance(value, str) and has_secret(value):
            url = value
        else:
            kept.append(arg)
    return kept, url


def _unquoted(text: str) -> str:
    """A value as a shell user meant it: one pair of outer quotes removed."""
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"" else text


def unreadable_override(overrides: list[str]) -> str | None:
    """The one-line message for the first override Hydra's grammar cannot read (its value masked when it
    holds a secret), or None."""
    from layernas.trainer.plumbing.secrets import redact

    for arg in overrides:
        key, sep, value = arg.partition("=")
        if sep and _override_value(arg) is UNREADABLE:
            shown = redact(_unquoted(value))
            return (f"cannot read the override {key}={shown} (characters outside Hydra's unquoted grammar); "
                    f"allowed: a quoted value, in a shell \"{key}='{shown}'\"")
    return None


UNREADABLE = object()  # what _override_value gives for an override Hydra's grammar cannot read


def _override_value(arg: str):
    """The value of one override as Hydra reads it (quotes and escapes undone); UNREADABLE if it does not
    parse."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        return OverridesParser.create().parse_overrides([arg])[0].value()
    except Exception:  # noqa: BLE001  (left as it is: Hydra reports it)
        return UNREADABLE


def explain_hydra_error(error: Exception) -> str:
    """One line from Hydra's multi-line composition errors."""
    text = str(error)
    missing = re.search(r"Could not find '([^']+)/([^']+)'", text)
    if missing:
        group, option = missing.groups()
        listed = text.split("Available options", 1)[-1].split("Config search path", 1)[0]
        options = re.findall(r"^\t(\S+)$", listed, re.M) if "Available" in text else group_options(group)
        options = [o for o in options if not o.startswith("_")]  # _base.yaml and the like are not options
        return f"{group}={option} is not an option; allowed {group} options: {', '.join(options) or 'none'}"
    unknown = re.search(r"Could not override '([^']+)'", text) or re.search(r"Key '([^']+)' is not in struct", text)
    if unknown:
        key = unknown.group(1)
        if key.rsplit(".", 1)[-1] == "finetune_data":  # a group placed under a key: Hydra's package syntax
            return (f"unknown key {key!r}; the fine-tuning data of task=pretrain_finetune is a data option placed "
                    "in the task: data@task.finetune_data=<option> (e.g. data@task.finetune_data=tsv "
                    "task.finetune_data.train=my.tsv)")
        return f"unknown key {key!r} (add it with +{key}=... only if it is meant to be new)"
    lexer = re.match(r"(?:LexerNoViableAltException|mismatched input|token recognition error)\S*:? (.*)", text)
    if lexer and "=" in lexer.group(1):
        key, _, value = lexer.group(1).splitlines()[0].partition("=")
        return (f"cannot read the override {key}={value} (characters outside Hydra's unquoted grammar); "
                f"allowed: a quoted value, in a shell \"{key}='{value}'\"")
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return first


def group_options(group: str) -> list[str]:
    """The options of a config group: its yaml files (those in sub-folders as ``sub/name``), less those named
    ``_*`` (shared bases such as ``data/_base.yaml``, which the options extend)."""
    folder = Path(CONF_DIR) / group
    if not folder.is_dir():
        return []
    # nested options too (data=glue/mrpc), as Hydra names them
    options = (p.relative_to(folder).with_suffix("").as_posix() for p in folder.rglob("*.yaml"))
    return sorted(o for o in options if not any(part.startswith("_") for part in o.split("/")))


def check_overrides(config_name: str, overrides: list[str]):
    """Compose the config once; raise UserError with a one-line message when Hydra refuses it."""
    for override in overrides:  # Hydra would load a shared base such as data=_base as if it were an option
        group, _, option = override.lstrip("+~").partition("=")
        if option.startswith("_") and group_options(group):
            raise UserError(f"{group}={option} is not an option; allowed {group} options: "
                            f"{', '.join(group_options(group))}")
    unreadable = unreadable_override(overrides)
    if unreadable:
        raise UserError(unreadable)
    return compose_config(config_name, overrides)


def compose_config(config_name: str, overrides: list[str], hydra: bool = False):
    """The composed config (with Hydra's own node when ``hydra``); one-line UserError when refused."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            return compose(config_name, overrides=overrides, return_hydra_config=hydra)
    except Exception as e:  # noqa: BLE001  (Hydra raises several types; all are user input errors here)
        raise UserError(explain_hydra_error(e)) from e
    finally:
        GlobalHydra.instance().clear()
