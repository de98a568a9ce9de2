"""Every command's app body runs guarded: the checks every command makes first, then user errors and writes
the machine refuses as one line and exit code 2 (unless debugging); any other exception keeps its traceback."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from layernas.trainer.plumbing import interrupts
from layernas.trainer.plumbing.errors import UserError


def fail(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def debug_wanted(overrides: list[str]) -> bool:
    return os.environ.get("HYDRA_FULL_ERROR") == "1" or any(o in ("debug=true", "+debug=true") for o in overrides)


def places(cfg) -> tuple[str | None, str | None]:
    """The study folder and storage file a command works in (for the one-line message of a write the
    machine refused), or the results folder; None where the config has none."""
    try:
        from layernas.trainer.plan.study import StorageConfig
        from layernas.trainer.search.storage import storage_url

        folder = Path(str(cfg["results_dir"])) / str(cfg["study"]["name"])
        url = storage_url(StorageConfig.from_dict(dict(cfg["storage"])), folder)
    except Exception:  # noqa: BLE001  (a proxy's config has no study)
        return (str(cfg["results_dir"]) if cfg is not None and "results_dir" in cfg else None), None
    from layernas.trainer.plumbing.secrets import redact

    return str(folder), url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else redact(url)


def fill_storage_url(cfg) -> None:
    """``storage.url`` from ``LAYERNAS_STORAGE_URL`` when it is null, so the job goes on as if it had been
    given on the command line (masked wherever it is shown or written)."""
    storage = cfg.get("storage") if hasattr(cfg, "get") else None
    if storage is None or storage.get("url"):
        return
    from layernas.trainer.plumbing.secrets import storage_url_from_env

    url = storage_url_from_env(storage.get("kind", "sqlite"), storage.get("url"))
    if url:
        storage.url = url


def guarded(fn: Callable, command: str = "") -> Callable:
    """Run an app body after the checks every command makes (:func:`~.plumbing.inputs.check_command`); user errors,
    and writes the machine refuses, become one line and exit code 2 (unless debugging); any other exception
    keeps its traceback."""

    def wrapper(cfg):
        fill_storage_url(cfg)
        from layernas.trainer.plumbing.failures import explain
        from layernas.trainer.plumbing.inputs import check_command

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
            message = explain(e, *places(cfg))  # only what the machine refused (disk full, read-only, damaged)
            if message is None or debug_wanted(sys.argv[1:]):
                raise  # a programming error keeps its traceback
            fail(message)
        if code:
            raise SystemExit(code)

    return wrapper


def reader_left() -> None:
    """The reader of stdout went away: point stdout at /dev/null (Python's own flush at exit would fail
    again) and exit 1 without a message."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    raise SystemExit(1) from None
