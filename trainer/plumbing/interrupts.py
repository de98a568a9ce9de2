"""Ctrl-C (SIGINT) and SIGTERM (what SLURM, Kubernetes and ``kill`` send): stop within seconds, never in
the middle of a write to a study's storage or of an import.

After :func:`install` (the command line does it first thing), a signal is held until the program reaches
a point where stopping is safe: the next :func:`interruptible` block (training, tokenizing, waiting for a
lock, a twin or the workers), which it cuts short at once, or the next :func:`check`. Everything else
(creating a study, asking for a trial, telling its result, importing torch and Lightning, writing the
results files) runs to its end first: a signal raised in the middle of an SQLite write left "database
is locked" behind and a trial stuck in RUNNING, and one raised in the middle of an import left a
half-initialised module that failed later with an unrelated error. A :func:`held` block inside an
interruptible one (a pruning report during training) is again one that the signal waits for.

A second signal while one is held raises at once, so a hung call can still be left. Without
:func:`install` (the package used as a library) nothing changes: Python's own Ctrl-C applies.

Signal handlers belong to the process, so this state is the process's too.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from layernas.trainer.plumbing.errors import causes

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Raised for SIGINT or SIGTERM; ``exit_code`` is the shell's 128 + signal number (130, 143)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @classmethod
    def of(cls, error: BaseException) -> Interrupted:
        """The interruption behind ``error`` (Lightning turns one into ``SystemExit(1)``), or SIGINT's."""
        return next((e for e in causes(error) if isinstance(e, cls)), None) or cls(signal.SIGINT)

    @classmethod
    def within(cls, error: BaseException) -> bool:
        """Whether an interruption is among the causes or contexts of ``error``."""
        return any(isinstance(e, cls) for e in causes(error))


class _State:
    pending: int | None = None  # a signal being held
    open = 0  # > 0 inside an interruptible block
    installed = False


_state = _State()


def _handler(signum, frame) -> None:
    if _state.open > 0 or _state.pending is not None:
        _state.pending = None
        raise Interrupted(signum)
    _state.pending = signum


def install() -> None:
    """Route SIGINT and SIGTERM through this module (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in SIGNALS:
        signal.signal(signum, _handler)
    _state.installed = True


def restore() -> None:
    """Put the handlers back after a library changed them (Lightning ignores SIGINT after a Ctrl-C)."""
    if _state.installed:
        install()
    else:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def ignore_from_now() -> None:
    """Ignore SIGINT and SIGTERM for the rest of the process (main thread only). Python puts the default
    handlers back when it starts to shut down, and tearing down torch and its kin takes a second more:
    a signal in that second would kill the process with no message and a code that hides the outcome
    (a finished search exiting -2). Ignored (which Python's shut-down leaves as it is, unlike a handler),
    it is dropped and the process exits with its own code."""
    if threading.current_thread() is threading.main_thread():
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_IGN)


def check() -> None:
    """Raise the held signal, if any."""
    if _state.pending is not None:
        signum, _state.pending = _state.pending, None
        raise Interrupted(signum)


@contextmanager
def interruptible() -> Iterator[None]:
    """A block that a signal may cut short anywhere (it writes nothing a cut could leave half-done)."""
    check()
    _state.open += 1
    try:
        yield
    finally:
        _state.open -= 1


@contextmanager
def held() -> Iterator[None]:
    """Inside an interruptible block, a part that a signal must wait for (a storage write)."""
    opened, _state.open = _state.open, 0
    try:
        yield
    finally:
        _state.open = opened
    if opened:
        check()


CLEAN_EXITS = (0, 130, 143, -signal.SIGINT, -signal.SIGTERM)  # a child's exit codes that are not errors


def pass_on(stop: Interrupted, pids: list[int]) -> None:
    """Send the signal that stopped this process to its children (a SIGTERM from ``kill`` or a batch
    scheduler may have reached this process only)."""
    import contextlib
    import os

    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, stop.signum)
