"""The search loop end to end on tiny trials: results files, resume, duplicates, constraints, several
objectives, pruning reports, failures."""

import csv

import optuna
import pytest
import yaml

from layernas.trainer.apps.search import search as run_search
from layernas.trainer.results.ranking import best_trials
from layernas.trainer.results.summary import trial_numbers, twin_lines
from layernas.trainer.search.plan import plan_search
from layernas.trainer.search.slots import counted
from tests.helpers import conf_options


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_search_writes_results_and_enqueues_baselines_first(search_cfg, tmp_path):
    study = run_search(search_cfg("study.n_trials=3"))
    folder = tmp_path / "results" / "t"
    assert counted(study) == 3 and len(study.trials) == 3
    assert [t.user_attrs.get("baseline") for t in study.trials[:2]] == ["bert", "convbert"]
    rows = read_csv(folder / "trials.csv")
    assert [int(r["number"]) for r in rows] == [0, 1, 2] and all(r["state"] == "complete" for r in rows)
    assert all(r["arch"] and r["key"] and float(r["objective"]) > 0 for r in rows)
    best = yaml.safe_load((folder / "best.yaml").read_text())
    assert best["best"]["arch"] == best_trials(study)[0].user_attrs["arch"]
    assert best["config"]["model"]["d_model"] == 32 and best["seed"] == 0
    assert best["git_commit"] and best["git_commit"] == study.user_attrs["git_commit"]  # the search's, not the report's
    assert best["best"]["retrain"] == f"layernas retrain study.name=t trial={best['best']['trial']}"
    report = (folder / "report.md").read_text()
    assert "## Leaderboard" in report and "## Baselines against the best" in report
    assert (folder / "plots" / "history.png").stat().st_size > 0 and (folder / "plots" / "op_by_position.png").exists()
    assert (folder / "study.db").exists()
    html = (folder / "plots" / "history.html").read_text()  # works offline: plotly.js from a file beside it
    assert "cdn.plot.ly" not in html and 'src="plotly.min.js"' in html
    assert (folder / "plots" / "plotly.min.js").stat().st_size > 1_000_000


def test_same_command_with_more_trials_tops_the_study_up(search_cfg):
    run_search(search_cfg("study.n_trials=2"))
    study = run_search(search_cfg("study.n_trials=4"))
    assert counted(study) == 4 and len(study.trials) == 4
    again = run_search(search_cfg("study.n_trials=4"))
    assert len(again.trials) == 4  # nothing to do


def test_identical_networks_are_trained_once(search_cfg, tmp_path):
    study = run_search(search_cfg("space=sandwich", "sampler=random", "study.n_trials=3"))
    first, *rest = study.trials
    assert first.user_attrs["steps"] == 6
    assert all(t.user_attrs["duplicate_of"] == 0 and t.user_attrs["steps"] == 0 for t in rest)
    assert all(t.value == first.value for t in rest)
    rows = read_csv(tmp_path / "results" / "t" / "trials.csv")
    assert [r["duplicate_of"] for r in rows] == ["", "0", "0"]
    report = (tmp_path / "results" / "t" / "report.md").read_text()  # the leaderboard's one row says so
    assert "2 trials sampled a network already measured and reused its result (#1 same as #0, #2 same as #0)" in report
    assert "| 1 | 0 (= #1, #2) |" in report


def _median_params(space, n: int = 60) -> int:
    """The median encoder size of ``n`` random candidates of ``space``."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    sizes = sorted(space.cost(space.sample(study.ask()))["params"] for _ in range(n))
    return sizes[n // 2]


def test_a_network_sampled_many_times_is_counted_not_listed():
    def made(of):
        return optuna.trial.create_trial(value=1.0, user_attrs={"duplicate_of": of})
    trials = [made(None) for _ in range(3)] + [made(0) for _ in range(30)] + [made(n % 2 + 1) for n in range(4)]
    line, = twin_lines(trials)
    assert line.startswith("- 34 trials sampled a network already measured")
    assert "(30 of #0, 2 of #1, 2 of #2; trials.csv's duplicate_of column lists them all)" in line
    assert trial_numbers(list(range(3, 15))) == "#3, #4, #5, #6, #7, #8, #9, #10, #11, #12 and 2 more"
    assert trial_numbers([4, 7]) == "#4, #7"


def test_rejected_candidates_are_recorded_with_their_violation_and_do_not_count(search_cfg, tmp_path):
    cfg = search_cfg("study.n_trials=4", "sampler=random", "space=full")
    limit = _median_params(plan_search(cfg).space)
    study = run_search(search_cfg("study.n_trials=4", "sampler=random", "space=full", f"space.max_params={limit}"))
    rejected = [t for t in study.trials if t.user_attrs.get("rejected")]
    trained = [t for t in study.trials if not t.user_attrs.get("rejected")]
    assert rejected, "the median limit should reject about half of the candidates"
    assert len(trained) == 4 and counted(study) == 4
    for t in rejected:
        assert t.state == optuna.trial.TrialState.PRUNED and "steps" not in t.user_attrs
        assert t.user_attrs["reason"].startswith("rejected before training: params ")
        assert t.system_attrs["constraints:max_params"] == t.user_attrs["params"] - limit > 0  # seen by samplers
    for t in trained:
        assert t.user_attrs["params"] <= limit and t.system_attrs["constraints:max_params"] <= 0
    rows = read_csv(tmp_path / "results" / "t" / "trials.csv")
    assert sorted(int(r["number"]) for r in rows if r["state"] == "rejected") == [t.number for t in rejected]


def test_a_run_of_rejections_ends_the_search_with_one_line(search_cfg):
    cfg = search_cfg("study.n_trials=4", "sampler=random", "space=full")
    limit = plan_search(cfg).space.smallest()["params"] + 1  # hardly any candidate fits
    with pytest.raises(ValueError, match=r"^the last 100 candidates were all rejected by the space's constraints"):
        run_search(search_cfg("study.n_trials=4", "sampler=random", "space=full", f"space.max_params={limit}"))


def test_no_feasible_candidate_is_refused_before_anything_is_written(search_cfg, tmp_path):
    with pytest.raises(ValueError, match="has no candidate with max_params=1,000: the smallest has"):
        run_search(search_cfg("space.max_params=1000"))
    assert not (tmp_path / "results").exists()


def test_two_objectives_give_a_pareto_front(search_cfg, tmp_path):
    study = run_search(search_cfg("sampler=nsga2", "objectives=[val_loss,params]", "study.n_trials=4",
                                  "space=lvbert"))
    assert len(study.directions) == 2 and study.metric_names == ["val_loss", "params"]
    best = yaml.safe_load((tmp_path / "results" / "t" / "best.yaml").read_text())
    assert best["pareto_front"] and {e["trial"] for e in best["pareto_front"]} == {t.number for t in best_trials(study)}
    assert (tmp_path / "results" / "t" / "plots" / "pareto.png").exists()


def test_pruner_sees_values_at_global_steps(search_cfg):
    study = run_search(search_cfg("pruner=median", "pruner.n_startup_trials=1", "pruner.n_warmup_steps=0",
                                  "study.n_trials=4", "sampler=random"))
    trained = [t for t in study.trials if "duplicate_of" not in t.user_attrs]
    assert trained
    for t in trained:
        assert set(t.intermediate_values) <= {3, 6} and t.intermediate_values
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert all(t.user_attrs["steps"] == 3 for t in pruned)


def test_failed_trials_are_recorded_and_the_search_goes_on(search_cfg, tmp_path):
    study = run_search(search_cfg("trainer.optim.lr=1e12", "trainer.gradient_clip_val=null", "study.n_trials=2",
                                  "trainer.max_steps=30", "trainer.val_check_interval=15"))
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * 2
    rows = read_csv(tmp_path / "results" / "t" / "trials.csv")
    assert all(r["reason"].startswith("training loss became") for r in rows)
    assert "## Failed, pruned and rejected trials" in (tmp_path / "results" / "t" / "report.md").read_text()
    assert [r["state"] for r in rows] == ["fail", "fail"] and [r["objective"] for r in rows] == ["", ""]


@pytest.mark.parametrize("sampler", conf_options("sampler"))
def test_every_sampler_runs_a_search_to_its_trial_count(search_cfg, sampler):
    """Each conf/sampler option drives a real (tiny) search: the baselines, then one sampled candidate."""
    cfg = search_cfg(f"sampler={sampler}", "study.n_trials=3", "logger=none")
    study = run_search(cfg)
    assert type(study.sampler).__name__ == cfg["sampler"]["_target_"].rsplit(".", 1)[1]
    assert counted(study) == 3 and len(study.trials) == 3
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 3
    assert "baseline" not in study.trials[2].user_attrs  # the third candidate came from the sampler


@pytest.mark.parametrize(("override", "message"), [
    ("study.n_trials=-2", "study.n_trials=-2 must be a positive integer"),
    ("objectives=[params]", "objectives[0]='params' must be a trained metric"),
    ("objectives=[val_loss,speed]", "objectives has unknown name 'speed' for task=mlm; allowed: objective, val_loss"),
    ("study.name=a/b", r"study.name='a/b' is not allowed \(a path, not a name\); allowed: a plain folder name"),
    ("study.noise_seeds=[1,1]", "study.noise_seeds=[1, 1] must be a list of distinct integers >= 0"),
    ("study.noise_seeds=[x]", "study.noise_seeds=['x'] must be a list of distinct integers >= 0"),
])
def test_bad_search_settings(search_cfg, tmp_path, override, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        run_search(search_cfg(override))
    assert not (tmp_path / "results").exists()


def test_single_objective_sampler_refuses_two_objectives(search_cfg):
    cfg = search_cfg("objectives=[val_loss,params]")
    cfg["sampler"]["multi_objective"] = False
    cfg["sampler"]["name"] = "cmaes"
    with pytest.raises(ValueError, match="sampler=cmaes cannot optimise 2 objectives"):
        plan_search(cfg)


def test_a_journal_study_with_workers_on_another_machine_is_refused(search_cfg, tmp_path):
    """A journal file has no heartbeats: a trial left running by another machine's worker would hold its slot
    (and any twin waiting for it) forever, so such a study asks for PostgreSQL instead."""
    cfg = search_cfg("storage=journal", "study.n_trials=2")
    from layernas.trainer.search.study import open_study

    study = open_study(plan_search(cfg))
    trial = study.ask()
    trial.set_user_attr("host", "another-machine")
    trial.set_user_attr("pid", 1)
    with pytest.raises(ValueError, match="storage=journal is for workers on one machine, but trials run on "
                                         "another-machine too; use storage=postgres"):
        run_search(cfg)


def test_results_files_describe_the_study_in_the_storage_not_a_deleted_one(search_cfg, tmp_path):
    folder = tmp_path / "results" / "t"
    run_search(search_cfg("study.n_trials=1"))
    assert (folder / "best.yaml").exists()
    (folder / "study.db").unlink()  # a new study of the same name, whose only trial fails (NaN loss)
    run_search(search_cfg("study.n_trials=1", "trainer.optim.lr=1e12", "trainer.gradient_clip_val=null",
                          "trainer.max_steps=30", "trainer.val_check_interval=15"))
    assert not (folder / "best.yaml").exists()
    rows = read_csv(folder / "trials.csv")
    assert rows[0]["state"] == "fail" and all(r["state"] in ("fail", "waiting") for r in rows)
    report = (folder / "report.md").read_text()
    assert "## Leaderboard" in report and "| 1 | 0 |" not in report  # no leader: the only trial failed
