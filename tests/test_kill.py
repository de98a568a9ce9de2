"""Real SIGKILLs: a worker killed mid-trial loses no completed trial; its trial is failed and run again."""

import csv
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

from layernas.trainer.search.slots import counted, pid_alive, retried_numbers
from tests.conftest import TINY

ROOT = Path(__file__).resolve().parents[1]


def command(tmp_path, n_trials: int, n_workers: int, steps: int = 150) -> list[str]:
    return [sys.executable, "-m", "layernas.trainer.cli", "search", *TINY, "model.n_sublayers=4", "study.name=k",
            f"results_dir={tmp_path}", "space=lvbert", "sampler=random", f"trainer.max_steps={steps}",
            "trainer.val_check_interval=50", "storage.heartbeat_interval=1", "storage.grace_period=4",
            f"study.n_workers={n_workers}", f"study.n_trials={n_trials}", "logger=none"]


def load(tmp_path) -> optuna.Study:
    return optuna.load_study(study_name="k", storage=f"sqlite:///{tmp_path / 'k' / 'study.db'}")


def running_trial(tmp_path, deadline: float, proc: subprocess.Popen | None = None):
    """A running trial whose worker is alive and has started training (has its architecture), or None at
    the deadline or once ``proc`` has exited. A trial whose worker was killed in an earlier round stays
    RUNNING until the search fails it: it is not a target."""
    while time.time() < deadline and (proc is None or proc.poll() is None):
        try:
            for t in load(tmp_path).get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                if "arch" in t.user_attrs and pid_alive(t.user_attrs.get("pid")):
                    return t
        except (KeyError, optuna.exceptions.StorageInternalError, Exception):  # noqa: B014  (not created yet)
            pass
        time.sleep(0.3)
    return None


def kill_one(tmp_path, rng, proc: subprocess.Popen) -> tuple[list[int], dict]:
    """SIGKILL the worker of a running trial at a random moment; return the trials it was running (none if
    it was between trials) and the values of every trial complete at that moment."""
    if running_trial(tmp_path, time.time() + 180, proc) is None:
        proc.kill()
        raise AssertionError(f"no trial started; the search exited {proc.wait()}: {proc.stderr.read()[-3000:]}")
    time.sleep(rng.uniform(0.0, 1.0))
    while True:  # the chosen worker may finish its trial and stop just before the signal: take another
        trial = running_trial(tmp_path, time.time() + 60, proc)
        states = [(t.number, t.state.name) for t in load(tmp_path).trials]
        assert trial is not None, f"no running trial left to kill: {states}"
        pid = trial.user_attrs["pid"]
        try:
            os.kill(pid, signal.SIGKILL)
            break
        except ProcessLookupError:
            time.sleep(0.2)
    trials = load(tmp_path).get_trials(deepcopy=False)
    hit = [t.number for t in trials if t.state == TrialState.RUNNING and t.user_attrs.get("pid") == pid]
    return hit, {t.number: t.values for t in trials if t.state == TrialState.COMPLETE}


def check(tmp_path, n_trials: int, killed: dict[int, dict]) -> None:
    study = load(tmp_path)
    trials = {t.number: t for t in study.trials}
    for number, done in killed.items():
        assert trials[number].state == TrialState.FAIL, f"killed trial {number} is {trials[number].state}"
        for n, values in done.items():
            assert trials[n].state == TrialState.COMPLETE and trials[n].values == values
    again = retried_numbers(study.trials)
    assert set(killed) <= again, "a killed trial was not queued again"
    assert counted(study) == n_trials
    with open(tmp_path / "k" / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["number"]) for r in rows] == sorted(trials)
    assert all(r["reason"].startswith("its worker stopped during the trial; run again as #")
               for r in rows if int(r["number"]) in killed)


def kill_rounds(tmp_path, rounds: int, steps: int) -> None:
    """``rounds`` SIGKILLs of one worker of two at random moments, in a study that grows each time, then
    one of the only worker (the search process itself); nothing complete is lost each time."""
    rng = random.Random(0)
    killed: dict[int, dict] = {}
    n = 1
    for _ in range(rounds):
        n += 3
        proc = subprocess.Popen(command(tmp_path, n, 2, steps), cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        hit, done = kill_one(tmp_path, rng, proc)
        killed.update({number: done for number in hit})
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        check(tmp_path, n, killed)

    proc = subprocess.Popen(command(tmp_path, n + 2, 1, steps), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    trial = running_trial(tmp_path, time.time() + 180)  # the only worker is the search process itself
    assert trial.user_attrs["pid"] == proc.pid
    proc.kill()
    proc.wait()
    trials = load(tmp_path).get_trials(deepcopy=False)
    hit = [t.number for t in trials if t.state == TrialState.RUNNING]
    assert hit, "the only worker was killed between trials"
    killed.update({number: {t.number: t.values for t in trials if t.state == TrialState.COMPLETE} for number in hit})
    rerun = subprocess.run(command(tmp_path, n + 2, 1, steps), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    check(tmp_path, n + 2, killed)


def test_killed_workers_lose_nothing(tmp_path):
    kill_rounds(tmp_path, rounds=2, steps=150)


@pytest.mark.slow
def test_killed_workers_lose_nothing_five_times(tmp_path):
    kill_rounds(tmp_path, rounds=5, steps=150)
