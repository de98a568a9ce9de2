"""A fair share of a machine that other processes keep busy.

OpenMP's worker threads (torch's intra-op pool on the CPU) spin while they wait for each other, which on a
busy machine takes the cores from the very threads they wait for. Measured with
``benchmarks/busy_machine.py`` on 2 cores (training steps/s of the proxy's model, median of 3 rounds):

| busy processes | OpenMP active (torch's default) | OMP_WAIT_POLICY=PASSIVE | 1 thread |
|---|---|---|---|
| 0 | 3.61-3.69 | 3.40-3.46 | 2.13-2.18 |
| 3 | 0.58-0.63 | 1.17-1.36 | 1.01-1.15 |
| 8 | 0.05-0.14 | 0.28-0.45 | 0.26-0.33 |

A passive wait gives 2-3x the speed on a busy machine and costs about 6% on a quiet one; fewer threads help
no more than it does and would change the numbers (a sum split over another number of threads rounds
differently), so a result would depend on the machine's load. So the command turns the passive wait on when
the machine is busy as it starts, and keeps the number of threads.
"""

from __future__ import annotations

import os

BUSY_FRACTION = 0.5  # busy: a 1-minute load of at least half the cores (at least 1), before this command runs
_pending: list[str] = []  # the line to print when the first training of this process starts


def passive_wait_when_busy(environ=os.environ, load: float | None = None, cores: int | None = None) -> str | None:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` in ``environ`` when the machine is busy and the user has not chosen a
    policy; returns the line :func:`announce` prints, or None. Call before torch is imported: OpenMP reads it
    once."""
    if "OMP_WAIT_POLICY" in environ:
        return None
    cores = cores or os.cpu_count() or 1
    load = os.getloadavg()[0] if load is None else load
    if load < max(1.0, BUSY_FRACTION * cores):
        return None
    environ["OMP_WAIT_POLICY"] = "PASSIVE"
    _pending[:] = [f"note: this machine is busy (1-minute load {load:.1f} on {cores} cores): OpenMP threads wait "
                   "passively (OMP_WAIT_POLICY=PASSIVE), 2-3x faster than spinning on a busy machine "
                   "(benchmarks/busy_machine.py); OMP_WAIT_POLICY=ACTIVE keeps spinning"]
    return _pending[0]


def announce() -> None:
    """Print the busy machine's line, once, when training starts (a command that stops at an error before
    it trains prints that error alone)."""
    import sys

    while _pending:
        print(_pending.pop(), file=sys.stderr, flush=True)
