"""Ctrl-C and SIGTERM at any moment: a search stops within seconds with 130/143, never mid-write, and the
same command resumes it with every baseline trained."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from layernas.trainer.plumbing import interrupts
from layernas.trainer.search.slots import pid_alive
from tests.conftest import TINY

ROOT = Path(__file__).resolve().parents[1]
BASELINES = {"bert", "convbert"}  # space=convbert's


@pytest.fixture
def installed():
    saved = {s: signal.getsignal(s) for s in interrupts.SIGNALS}
    interrupts.install()
    yield
    interrupts._state.pending, interrupts._state.open, interrupts._state.installed = None, 0, False
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_a_signal_is_held_until_the_next_check(installed):
    done = []
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.2)
    done.append("import, storage write")  # not cut short
    with pytest.raises(interrupts.Interrupted) as stop:
        interrupts.check()
    assert done and stop.value.signum == signal.SIGTERM and stop.value.exit_code == 143
    assert isinstance(stop.value, KeyboardInterrupt)
    interrupts.check()  # raised once only


def test_an_interruptible_block_is_cut_short_at_once(installed):
    with pytest.raises(interrupts.Interrupted) as stop:
        with interrupts.interruptible():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
            pytest.fail("the signal did not stop the block")
    assert stop.value.exit_code == 130


def test_a_held_signal_stops_the_next_interruptible_block_before_it_starts(installed):
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.1)
    with pytest.raises(interrupts.Interrupted):
        with interrupts.interruptible():
            pytest.fail("the block began")


def test_a_held_part_of_an_interruptible_block_finishes_first(installed):
    done = []
    with pytest.raises(interrupts.Interrupted):
        with interrupts.interruptible():
            with interrupts.held():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.2)
                done.append("pruning report")
            pytest.fail("the signal was not raised when the held part ended")
    assert done == ["pruning report"]


def test_a_second_signal_raises_at_once(installed):
    with pytest.raises(interrupts.Interrupted):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)
        pytest.fail("the second signal did not raise")


def test_the_interruption_is_found_behind_lightnings_system_exit():
    try:
        try:
            raise interrupts.Interrupted(signal.SIGTERM)
        except KeyboardInterrupt:
            raise SystemExit(1) from None
    except SystemExit as e:
        assert interrupts.Interrupted.of(e).signum == signal.SIGTERM


# ---- the command, as SLURM, Kubernetes and a user at a terminal stop it -------------------------------------
def search_command(tmp_path, steps: int = 6) -> list[str]:
    return [sys.executable, "-m", "layernas.trainer.cli", "search", *TINY, "model.n_sublayers=2", "study.name=t",
            f"results_dir={tmp_path}", "study.n_trials=3", f"trainer.max_steps={steps}", "logger=none"]


def load(tmp_path) -> optuna.Study:
    return optuna.load_study(study_name="t", storage=f"sqlite:///{tmp_path / 't' / 'study.db'}")


def training(tmp_path) -> bool:
    try:
        return any("arch" in t.user_attrs for t in load(tmp_path).get_trials(states=(TrialState.RUNNING,)))
    except Exception:  # noqa: BLE001  (the storage is not there yet)
        return False


def stop(proc: subprocess.Popen, signum: int) -> tuple[int, float, str]:
    """Send ``signum``; the exit code, the seconds it took to exit, and stderr (stdout: ``proc.out``)."""
    sent = time.time()
    proc.send_signal(signum)
    proc.out, err = proc.communicate(timeout=60)
    return proc.returncode, time.time() - sent, err


def check_resumed(tmp_path) -> None:
    """The same command again finishes the study: nothing left running, every baseline trained."""
    out = subprocess.run(search_command(tmp_path), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    study = load(tmp_path)
    assert not study.get_trials(states=(TrialState.RUNNING,))
    complete = [t for t in study.get_trials(states=(TrialState.COMPLETE,)) if not t.user_attrs.get("interrupted")]
    assert {t.user_attrs.get("baseline") for t in complete} >= BASELINES
    assert (tmp_path / "t" / "best.yaml").exists()


def test_sigterm_during_training_stops_within_seconds_and_the_study_resumes(tmp_path):
    proc = subprocess.Popen(search_command(tmp_path, steps=100000), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not training(tmp_path) and time.time() < deadline:
        time.sleep(0.3)
    time.sleep(1.0)
    code, took, err = stop(proc, signal.SIGTERM)
    assert code == 143 and took < 10, (code, took, err)
    assert "run the same command to resume" in err
    (first,) = load(tmp_path).trials[:1]
    assert first.state == TrialState.FAIL and first.user_attrs["interrupted"] is True
    assert first.user_attrs["baseline"] == "bert"  # an interrupted baseline must be trained on resume
    check_resumed(tmp_path)


def test_sigterm_to_the_parent_alone_reaches_every_worker(tmp_path):
    """``kill PID`` (and SLURM's SIGTERM) may reach only the search process: it passes the signal on, each
    worker records its trial as interrupted, and nothing is left running."""
    cmd = [*search_command(tmp_path, steps=100000), "study.n_workers=2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, running = time.time() + 180, []
    while len(running) < 2 and time.time() < deadline:
        time.sleep(0.5)
        try:
            running = [t for t in load(tmp_path).get_trials(states=(TrialState.RUNNING,)) if "arch" in t.user_attrs]
        except Exception:  # noqa: BLE001  (the storage is not there yet)
            running = []
    assert len(running) == 2, "the two workers did not both start training"
    code, took, err = stop(proc, signal.SIGTERM)
    assert code == 143 and took < 15, (code, took, err)
    trials = load(tmp_path).trials
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert sorted(t.user_attrs.get("worker") for t in trials if t.user_attrs.get("interrupted")) == [0, 1]
    for t in running:
        assert not pid_alive(t.user_attrs["pid"]), "a worker outlived the search"


def interrupt_early(tmp_path, rng: random.Random, signum: int, within: float = 1.0) -> None:
    db = tmp_path / "t" / "study.db"
    before = db.stat().st_mtime_ns if db.exists() else None
    proc = subprocess.Popen(search_command(tmp_path), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(rng.uniform(0.0, within))
    code, took, err = stop(proc, signum)
    assert took < 10, (code, took, err, proc.out[-2000:])  # stdout says how far the command got
    if code in (-signum, 1) and "stopped by" not in err:
        # it came while Python itself was starting (or importing this program), before the handler was
        # installed: Python's own Ctrl-C, or a fatal error of its start-up; nothing can have been written yet
        assert (db.stat().st_mtime_ns if db.exists() else None) == before, "it wrote to the study: " + err
        assert code == -signum or "KeyboardInterrupt" in err, err  # exit 1: Python's start-up was cut
        return
    assert code in (128 + signum, 0), (code, took, err)
    assert "Traceback" not in err, err


def test_ctrl_c_in_the_first_second_leaves_a_study_that_resumes(tmp_path):
    rng = random.Random(0)
    for signum in (signal.SIGINT, signal.SIGTERM):
        interrupt_early(tmp_path, rng, signum)
    check_resumed(tmp_path)


@pytest.mark.slow
def test_ctrl_c_in_the_first_second_twenty_times_then_anywhere_in_the_start_up(tmp_path):
    """20 times in the first second (imports, config), then 10 times in the next seconds, where the study
    is created, the baselines queued and the first trial asked for."""
    rng = random.Random(1)
    for i in range(30):
        interrupt_early(tmp_path, rng, signal.SIGINT, within=1.0 if i < 20 else 8.0)
    check_resumed(tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("after", [0.3, 1.0, 1.7])
def test_ctrl_c_after_the_last_trial_never_kills_the_search_silently(tmp_path, after):
    """The last trial is told, the results written, Python shuts down (torch takes a second or two): a
    signal there either stops the command with its one line (130) or comes too late to matter (0), never
    Python's default death (-2, no message) that hides a finished search."""
    proc = subprocess.Popen(search_command(tmp_path), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    for line in proc.stdout:
        if line.startswith("[  3/3]"):
            break
    time.sleep(after)
    code, took, err = stop(proc, signal.SIGINT)
    assert code == 0 or (code == 130 and "stopped by SIGINT" in err), (code, took, err)
    assert len(load(tmp_path).get_trials(states=(TrialState.COMPLETE,))) == 3


def test_an_error_in_what_an_interruption_left_half_done_exits_as_the_interruption():
    """A signal that cuts an import short can make the next use of that module fail (RecursionError,
    AttributeError): the command must still exit as interrupted (143), not with a traceback and 1."""
    from layernas.trainer.apps.guard import guarded

    def body(cfg):
        try:
            raise interrupts.Interrupted(signal.SIGTERM)
        except KeyboardInterrupt:
            raise RecursionError("maximum recursion depth exceeded") from None

    with pytest.raises(interrupts.Interrupted) as stop:
        guarded(body)({})
    assert stop.value.exit_code == 143
