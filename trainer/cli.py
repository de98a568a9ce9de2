"""``layernas <command> [overrides]``: the command line. Each command is a Hydra app over ``conf/``.

Overrides are checked with Hydra's compose API before the app starts, so a bad group option, key or
value is reported in one line (with the allowed choices) instead of a multi-line Hydra error.
Set ``HYDRA_FULL_ERROR=1`` or ``+debug=true`` to see full tracebacks.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from layernas.trainer.apps.guard import debug_wanted, fail, guarded, reader_left
from layernas.trainer.apps.overrides import CONF_DIR, check_overrides, quote_arch, split_secret_storage_url
from layernas.trainer.apps.pages import cfg_job, page
from layernas.trainer.plumbing import interrupts
from layernas.trainer.plumbing.errors import UserError


@dataclass(frozen=True)
class Command:
    config_name: str
    summary: str
    run: Callable  # (DictConfig) -> int | None, imported lazily
    settings: Callable | None = None  # (plain config, overrides) -> the config the command will run (--cfg job)


def _search(cfg):
    from layernas.trainer.apps.search import main

    return main(cfg)


def _retrain(cfg):
    from layernas.trainer.apps.retrain import main

    return main(cfg)


def _retrain_settings(plain: dict, overrides: list[str]) -> dict:
    from layernas.trainer.retrain.plan import run_settings

    return run_settings(plain, overrides)


def _report(cfg):
    from layernas.trainer.apps.report import main

    return main(cfg)


def _audit(cfg):
    from layernas.trainer.apps.audit import main

    return main(cfg)


def _race(cfg):
    from layernas.trainer.apps.race import main

    return main(cfg)


def _compare(cfg):
    from layernas.trainer.apps.compare import main

    return main(cfg)


def _glue(cfg):
    from layernas.trainer.apps.glue import main

    return main(cfg)


def _proxy(cfg):
    from layernas.trainer.apps.proxy import main

    return main(cfg)


def _analyze(cfg):
    from layernas.trainer.apps.analyze import main

    return main(cfg)


def _export(cfg):
    from layernas.trainer.apps.export import main

    return main(cfg)


COMMANDS = {
    "search": Command("search", "search layer patterns with Optuna; results in results/<study.name>/", _search),
    "retrain": Command("retrain", "retrain a study's best (or any) architecture with the full budget",
                       _retrain, _retrain_settings),
    "report": Command("report", "rebuild a study's report.md, best.yaml, trials.csv and plots", _report),
    "audit": Command("audit", "measure how well a study's proxy ranks its architectures against longer training",
                     _audit),
    "race": Command("race", "race the networks a study cannot tell from its best at growing budgets on paired seeds",
                    _race),
    "compare": Command("compare", "the same search per arm (sampler, strategy) and seed on equal budgets: which finds "
                       "better networks", _compare),
    "glue": Command("glue", "a study's network and its BERT baseline fine-tuned on GLUE tasks, mean +- std over seeds",
                    _glue),
    "proxy": Command("proxy", "train one architecture with a short proxy run and print its metrics",
                     _proxy),
    "analyze": Command("analyze", "what a study's model does with its attention heads (and convolution kernels)",
                       _analyze),
    "export": Command("export", "a study's network as a Hugging Face folder or an ONNX graph, with its tokenizer",
                      _export),
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
  layernas race study.name=smoke race.budgets=[2] race.seeds=[0,1] race.max_k=2
  layernas compare experiment=smoke study.name=cmp compare.arms=[tpe,random] compare.seeds=[0,1]
  layernas glue study.name=smoke glue.tasks=[sst2,mrpc,stsb] seeds=[0,1,2] glue.glue_dir=/path/to/glue
  layernas proxy arch="sdconv(k=9) ffn sa ffn" task=mlm trainer.max_steps=200
  layernas analyze study.name=smoke trial=0 analyze.n_docs=200
  layernas export study.name=smoke export.format=onnx
"""


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


def signal_name(signum: int) -> str:
    import signal

    return signal.Signals(signum).name


def _main(argv: list[str] | None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        lines = "\n".join(f"  {name:8s} {c.summary}" for name, c in COMMANDS.items())
        print(USAGE.format(commands=lines))
        return
    from layernas.trainer.plumbing.secrets import ENV_STORAGE_URL

    name, (rest, secret_url) = args[0], split_secret_storage_url([quote_arch(a) for a in args[1:]])
    with environment(ENV_STORAGE_URL, secret_url):
        run_command(name, rest)


def run_command(name: str, rest: list[str]) -> None:
    """Check the overrides, then run the command's Hydra app on them."""
    command = COMMANDS.get(name)
    if command is None:
        fail(f"unknown command {name!r}; allowed commands: {', '.join(COMMANDS)}")
    overrides = [a for a in rest if not a.startswith("-")]
    flags = [a for a in rest if a.startswith("-")]
    if any(f in ("--help", "-h") for f in flags) or cfg_job(rest):
        print(page(command, overrides, help_page=not cfg_job(rest)), end="")
        return
    if not flags:
        try:
            check_overrides(command.config_name, overrides)
        except UserError as e:
            if debug_wanted(overrides):
                raise
            fail(str(e))
    if "torch" not in sys.modules:  # OpenMP reads its wait policy once, when torch loads it
        from layernas.trainer.plumbing.busy import passive_wait_when_busy

        passive_wait_when_busy()  # its line comes when training starts
    import hydra

    hydra_app = hydra.main(config_path=CONF_DIR, config_name=command.config_name, version_base="1.3")
    app = hydra_app(guarded(command.run, name))
    sys.argv = [f"layernas {name}", *rest]
    app()


if __name__ == "__main__":
    main()
