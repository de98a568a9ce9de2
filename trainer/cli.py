"""``layernas <command> [overrides]``: the command line. Each command is a Hydra app over ``conf/``.

Overrides are checked with Hydra's compose API before the app starts, so a bad group option, key or
value is reported in one line (with the allowed choices) instead of a multi-line Hydra error.
Set ``HYDRA_FULL_ERROR=1`` or ``+debug=true`` to see full tracebacks.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import interrupts
from .errors import UserError
from .paths import conf_dir

CONF_DIR = str(conf_dir())


@dataclass(frozen=True)
class Command:
    config_name: str
    summary: str
    run: Callable  # (DictConfig) -> int | None, imported lazily
    settings: Callable | None = None  # (plain config, overrides) -> the config the command will run (--cfg job)


def _search(cfg):
    from .apps.search import main

    return main(cfg)


def _retrain(cfg):
    from .apps.retrain import main

    return main(cfg)


def _retrain_settings(plain: dict, overrides: list[str]) -> dict:
    from .retrain import run_settings

    return run_settings(plain, overrides)


def _report(cfg):
    from .apps.report import main

    return main(cfg)


def _audit(cfg):
    from .apps.audit import main

    return main(cfg)


def _proxy(cfg):
    from .apps.proxy import main

    return main(cfg)


def _analyze(cfg):
    from .apps.analyze import main

    return main(cfg)


COMMANDS = {
    "search": Command("search", "search layer patterns with Optuna; results in results/<study.name>/", _search),
    "retrain": Command("retrain", "retrain a study's best (or any) architecture with the full budget",
                       _retrain, _retrain_settings),
    "report": Command("report", "rebuild a study's report.md, best.yaml, trials.csv and plots", _report),
    "audit": Command("audit", "measure how well a study's proxy ranks its architectures against longer training",
                     _audit),
    "proxy": Command("proxy", "train one architecture with a short proxy run and print its metrics",
                     _proxy),
    "analyze": Command("analyze", "what a study's model does with its attention heads (and convolution kernels)",
                       _analyze),
}

USAGE = """usage: layernas <command> [key=value ...] [--help] [--cfg job]

commands:
{commands}

`layernas <command> --help` lists the config groups, their options and every key.
Examples:
  layernas search experiment=smoke
  layernas search space=lvbert sampler=nsga2 objectives=[val_loss,params] study.n_trials=40
  layernas retrain study.name=smoke seeds=[0,1,2]
  layernas report study.name=smoke
  layernas audit study.name=smoke audit.k=3 audit.budgets=[3] audit.seeds=[0,1]
  layernas proxy arch="sdconv(k=9) ffn sa ffn" task=mlm trainer.max_steps=200
  layernas analyze study.name=smoke trial=0 analyze.n_docs=200
"""


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
    from .secrets import has_secret

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


@contextlib.contextmanager
def environment(name: str, value: str | None):
    """``name=value`` in this process's environment (and its children's) while the command runs."""
    before = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if value is not None and before is None:
            os.environ.pop(name, None)
        elif value is not None:
            os.environ[name] = before


def _unquoted(text: str) -> str:
    """A value as a shell user meant it: one pair of outer quotes removed."""
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"" else text


def unreadable_override(overrides: list[str]) -> str | None:
    """The one-line message for the first override Hydra's grammar cannot read (its value masked when it
    holds a secret), or None."""
    from .secrets import redact

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


def fail(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def debug_wanted(overrides: list[str]) -> bool:
    return os.environ.get("HYDRA_FULL_ERROR") == "1" or any(o in ("debug=true", "+debug=true") for o in overrides)


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
    """The options of a config group: its yaml files, less those named ``_*`` (shared bases such as
    ``data/_base.yaml``, which the options extend)."""
    folder = Path(CONF_DIR) / group
    return sorted(p.stem for p in folder.glob("*.yaml") if not p.stem.startswith("_")) if folder.is_dir() else []


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


def fill_storage_url(cfg) -> None:
    """``storage.url`` from ``LAYERNAS_STORAGE_URL`` when it is null, so the job goes on as if it had been
    given on the command line (masked wherever it is shown or written)."""
    storage = cfg.get("storage") if hasattr(cfg, "get") else None
    if storage is None or storage.get("url"):
        return
    from .secrets import storage_url_from_env

    url = storage_url_from_env(dict(storage))
    if url:
        storage.url = url


def guarded(fn: Callable, command: str = "") -> Callable:
    """Run an app body after the checks every command makes (:func:`~.inputs.check_command`); user errors,
    and writes the machine refuses, become one line and exit code 2 (unless debugging); any other exception
    keeps its traceback."""

    def wrapper(cfg):
        fill_storage_url(cfg)
        from .failures import explain
        from .inputs import check_command

        try:
            check_command(command, cfg)
            code = fn(cfg)
        except BrokenPipeError:  # `layernas report ... | head`: Hydra would print a traceback for it
            reader_left()
        except Exception as e:
            if interrupts.Interrupted.within(e):
                # a signal cut an import or a library call short, and what ran next failed on the
                # half-done state: the cause is the signal, and the exit says so
                raise interrupts.Interrupted.of(e) from None
            if isinstance(e, (UserError, ValueError, FileNotFoundError)):
                if debug_wanted(sys.argv[1:]):
                    raise
                fail(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
            message = explain(e, cfg)  # only what the machine refused (disk full, read-only, damaged storage)
            if message is None or debug_wanted(sys.argv[1:]):
                raise  # a programming error keeps its traceback
            fail(message)
        if code:
            raise SystemExit(code)

    return wrapper


def main(argv: list[str] | None = None) -> None:
    """The console script: Ctrl-C or SIGTERM at any moment ends it with 130 or 143 and one line."""
    interrupts.install()
    try:
        _main(argv)
        interrupts.check()  # a signal held until the command's last write: the user asked to stop
    except interrupts.Interrupted as stop:
        print(f"stopped by {signal_name(stop.signum)}", file=sys.stderr, flush=True)
        raise SystemExit(stop.exit_code) from None
    except BrokenPipeError:  # `layernas search --help | head`: the reader left; say nothing more
        reader_left()
    finally:
        if argv is None:  # the program itself, not a call from Python: its outcome is decided, and a
            interrupts.ignore_from_now()  # signal during Python's shut-down must not turn it into a silent -2


def reader_left() -> None:
    """The reader of stdout went away: point stdout at /dev/null (Python's own flush at exit would fail
    again) and exit 1 without a message."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    raise SystemExit(1) from None


def signal_name(signum: int) -> str:
    import signal

    return signal.Signals(signum).name


def _main(argv: list[str] | None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        lines = "\n".join(f"  {name:8s} {c.summary}" for name, c in COMMANDS.items())
        print(USAGE.format(commands=lines))
        return
    from .secrets import ENV_STORAGE_URL

    name, (rest, secret_url) = args[0], split_secret_storage_url([quote_arch(a) for a in args[1:]])
    with environment(ENV_STORAGE_URL, secret_url):
        run_command(name, rest)


def _cfg_job(rest: list[str]) -> bool:
    return "--cfg=job" in rest or any(a in ("--cfg", "-c") and rest[i + 1:i + 2] == ["job"] for i, a in enumerate(rest))


def _page(command: Command, overrides: list[str], help_page: bool) -> str:
    """``--help`` or ``--cfg job`` of ``command`` with ``overrides`` (one-line errors as for a run)."""
    from .help import help_text, job_text
    from .inputs import check_command

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


def run_command(name: str, rest: list[str]) -> None:
    """Check the overrides, then run the command's Hydra app on them."""
    command = COMMANDS.get(name)
    if command is None:
        fail(f"unknown command {name!r}; allowed commands: {', '.join(COMMANDS)}")
    overrides = [a for a in rest if not a.startswith("-")]
    flags = [a for a in rest if a.startswith("-")]
    if any(f in ("--help", "-h") for f in flags) or _cfg_job(rest):
        print(_page(command, overrides, help_page=not _cfg_job(rest)), end="")
        return
    if not flags:
        try:
            check_overrides(command.config_name, overrides)
        except UserError as e:
            if debug_wanted(overrides):
                raise
            fail(str(e))
    if "torch" not in sys.modules:  # OpenMP reads its wait policy once, when torch loads it
        from .busy import passive_wait_when_busy

        passive_wait_when_busy()  # its line comes when training starts
    import hydra

    hydra_app = hydra.main(config_path=CONF_DIR, config_name=command.config_name, version_base="1.3")
    app = hydra_app(guarded(command.run, name))
    sys.argv = [f"layernas {name}", *rest]
    app()


if __name__ == "__main__":
    main()
