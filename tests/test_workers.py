"""Several worker processes on one study: journal file and a real PostgreSQL server."""

import csv
import time

import pytest
from optuna.trial import TrialState

from trainer.search import run_search
from trainer.slots import counted

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
    check_shared_study(study, 24, n_workers, tmp_path / "results" / cfg["study"]["name"])
