"""What a user sees while a run trains: a bar on a terminal (also a pseudo-terminal with no size, as
``script`` or ``pty`` open), status lines at the set interval off a terminal."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import TINY

ROOT = Path(__file__).resolve().parents[1]
RUN = [a for a in TINY if not a.startswith(("trainer.progress_bar", "trainer.max_steps", "trainer.val_check"))]


def on_a_terminal(args: list[str]) -> str:
    """Run the CLI with stdout and stderr on a new pseudo-terminal (0 x 0, like ``script``'s); its output."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "layernas.trainer.cli", *args], cwd=ROOT, stdout=slave,
                            stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the other side closed
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=300)
    os.close(master)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")[-2000:]
    return b"".join(chunks).decode(errors="replace")


def test_a_terminal_shows_the_step_bar_with_progress_bar_left_on_auto(tmp_path):
    out = on_a_terminal(["proxy", *RUN, "trainer.max_steps=12", "trainer.val_check_interval=6",
                         f"results_dir={tmp_path}"])
    assert re.search(r"proxy mlm: +\d+%\|.*\| 12/12 \[", out), out[-1500:]


def test_a_search_on_a_terminal_shows_the_bar_of_each_trial(tmp_path):
    out = on_a_terminal(["search", *RUN, "model.n_sublayers=2", "study.name=t", "study.n_trials=2",
                         "trainer.max_steps=8", "trainer.val_check_interval=4", f"results_dir={tmp_path}"])
    assert re.search(r"t000 mlm: +\d+%\|.*\| 8/8 \[", out) and re.search(r"t001 mlm: .*\| 8/8 \[", out), out[-1500:]


def test_off_a_terminal_status_lines_come_at_the_set_interval(tmp_path):
    out = subprocess.run([sys.executable, "-m", "layernas.trainer.cli", "proxy", *RUN, "trainer.max_steps=60",
                          "trainer.val_check_interval=20", "trainer.status_every_s=0.5", f"results_dir={tmp_path}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stderr.splitlines() if re.match(r"  proxy mlm: step \d+/60 \| [\d,]+ tokens/s", line)]
    assert lines, out.stderr[-1500:]
    steps = [int(re.search(r"step (\d+)/", line).group(1)) for line in lines]
    assert steps == sorted(steps) and "left" in lines[-1]
    assert any("val/" in line for line in lines) or steps[-1] < 20  # the validation value once there is one
    assert "%|" not in out.stderr  # no bar off a terminal


def test_status_lines_can_be_turned_off(tmp_path):
    out = subprocess.run([sys.executable, "-m", "layernas.trainer.cli", "proxy", *RUN, "trainer.max_steps=20",
                          "trainer.val_check_interval=10", "trainer.status_every_s=null", f"results_dir={tmp_path}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and " step " not in out.stderr
