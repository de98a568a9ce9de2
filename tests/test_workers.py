"""Several worker processes on one study: journal file and a real PostgreSQL server."""

import csv
import subprocess
import sys
import time

import pytest
from optuna.trial import TrialState

from layernas.trainer.apps.search import search as run_search
from layernas.trainer.search.slots import counted
from tests.helpers import WANDB

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def check_shared_study(study, n_trials: int, n_workers: int, folder):
    trials = study.trials
    assert counted(study) == n_trials and len(trials) == n_trials
    assert all(t.state in FINISHED for t in trials)
    assert sorted(t.number for t in trials) == list(range(n_trials))
    trained = [t.user_attrs["key"] for t in trials if t.user_attrs.get("steps")]
    assert len(trained) == len(set(trained)), "an architecture was trained twice"
    assert {t.user_attrs["worker"] for t in trials} == set(range(n_workers)), "a worker contributed nothing"
    with open(folder / "trials.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == n_trials


@pytest.mark.parametrize(("storage", "n_workers"), [("journal", 4), ("postgres", 3)])
def test_workers_share_one_study_exactly(search_cfg, tmp_path, request, storage, n_workers):
    extra = []
    if storage == "postgres":
        server = request.getfixturevalue("postgres")
        extra = [f"storage.url={server.url}", "study.name=pg"]
    cfg = search_cfg(f"storage={storage}", *extra, f"study.n_workers={n_workers}", "study.n_trials=24",
                     "sampler=random", "space=lvbert", "trainer.max_steps=8", "trainer.val_check_interval=4")
    start = time.time()
    study = run_search(cfg)
    assert time.time() - start < 300
    folder = tmp_path / "results" / cfg["study"]["name"]
    check_shared_study(study, 24, n_workers, folder)
    if storage == "postgres":  # the password is in the URL the workers used, and nowhere in what they wrote
        written = "".join(p.read_text() for p in folder.rglob("*") if p.suffix in (".csv", ".yaml", ".md"))
        assert "s3cret-pw" not in written and "s3cret-pw" not in str(study.user_attrs)
        assert "layernas:***@127.0.0.1" in (folder / "best.yaml").read_text()


def test_a_dead_workers_trial_is_queued_again_and_its_wandb_run_closed_as_failed(tmp_path):
    import json
    import subprocess

    import optuna

    from layernas.trainer.search.storage import StaleTrialHandler

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}", study_name="s")
    study.set_user_attr("config", {"results_dir": str(tmp_path),
                                   "logger": {"kind": "wandb", "mode": "offline", "project": "layernas",
                                              "entity": None, "tags": [], "system_metrics": False}})
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    trial.set_user_attr("wandb_id", "dead0001")
    study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    StaleTrialHandler(max_retry=1)(study, study._storage.get_trial(trial._trial_id))
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == 1 and waiting[0].params == trial.params
    (run,) = (tmp_path / "s" / "wandb").glob("offline-run-*-dead0001")
    out = subprocess.run([WANDB, "leet", "inspect", "--summary", "--json", str(run)], capture_output=True,
                         text=True, check=True)
    summary = json.loads(out.stdout)
    assert summary["exit_code"] == 1 and summary["summary"]["state"] == "crashed"


def test_workers_fork_from_a_server_that_has_imported_torch_and_runs_no_thread():
    import importlib.util
    import multiprocessing.forkserver as forkserver
    import os
    from pathlib import Path

    from layernas.trainer.search.workers import PRELOAD, start_importing, worker_context

    assert all(importlib.util.find_spec(name) for name in PRELOAD)  # a missing one would be skipped silently
    context = worker_context()
    assert context.get_start_method() == "forkserver"
    start_importing()
    child = context.Process(target=os.getpid)  # the server forks only once its imports are done
    child.start()
    child.join(timeout=120)
    assert child.exitcode == 0
    server = Path(f"/proc/{forkserver._forkserver._forkserver_pid}")
    assert "libtorch_cpu" in (server / "maps").read_text()
    threads = next(line for line in (server / "status").read_text().splitlines() if line.startswith("Threads:"))
    assert threads.split() == ["Threads:", "1"]  # forking copies no thread pool (OpenMP, tokenizers) into workers


OPEN_AT = """
import sys, time
from pathlib import Path
from layernas.trainer.plan.study import StorageConfig
from layernas.trainer.search.storage import make_storage
start = float(sys.argv[2])
while time.time() < start:
    pass
make_storage(StorageConfig("sqlite", None, 1, 4, 3), Path(sys.argv[1]))
"""


def test_processes_that_open_one_fresh_database_at_the_same_moment_all_succeed(tmp_path):
    # Optuna creates the tables and stamps the schema version without a lock: a second worker (or a
    # `layernas report`) that starts with the first used to fail with "table studies already exists".
    for round_ in range(3):
        folder = tmp_path / str(round_)
        folder.mkdir()
        start = time.time() + 8
        procs = [subprocess.Popen([sys.executable, "-c", OPEN_AT, str(folder), str(start)], stderr=subprocess.PIPE,
                                  text=True) for _ in range(3)]
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], "\n".join(e.strip().splitlines()[-1] for e in errors if e)
