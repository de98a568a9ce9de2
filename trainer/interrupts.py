"""Ctrl-C (SIGINT) and SIGTERM (what SLURM, Kubernetes and ``kill`` send): stop within seconds, never in
the middle of a write to a study's storage.

After :func:`install`, a signal raises :class:`Interrupted` at once, except inside a :func:`held` block
(creating a study, asking for a trial, telling its result), where it waits for the end of the block: an
interrupted SQLite write left "database is locked" behind, and a resumed study with a trial stuck in
RUNNING. A second signal during a held block raises at once, so a hung storage call can still be left.

Signal handlers belong to the process, so this state is the process's too.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import causes

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
    pending: int | None = None  # a signal that arrived during a held block
    held = 0  # nesting of held blocks
    installed = False


_state = _State()


def _handler(signum, frame) -> None:
    if _state.held and _state.pending is None:
        _state.pending = signum
        return
    _state.pending = None
    raise Interrupted(signum)


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


def check() -> None:
    """Raise the signal that arrived during a held block, if any."""
    if _state.pending is not None:
        signum, _state.pending = _state.pending, None
        raise Interrupted(signum)


@contextmanager
def held(raise_after: bool = True) -> Iterator[None]:
    """A block that a signal must not cut (storage writes). The signal is raised when the block ends, or
    with ``raise_after=False`` left for the next :func:`check` (when what follows must see it first)."""
    _state.held += 1
    try:
        yield
    finally:
        _state.held -= 1
    if raise_after and not _state.held:
        check()
