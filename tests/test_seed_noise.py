"""The seed noise of a study's budget: the baselines again on other seeds, the pooled std, and ties
within it marked in report.md and best.yaml."""

import math
import statistics
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from layernas.trainer.apps.search import search as run_search
from layernas.trainer.results.markdown import markdown
from layernas.trainer.results.noise import noise_key, seed_noise, ties
from layernas.trainer.results.ranking import ranked

NOWHERE = Path("/nonexistent")  # a study folder without retrain or audit results
DIST = {"x": CategoricalDistribution([0, 1, 2, 3])}


def study_with(values: dict[int, float], baselines: dict[int, str], noise: dict[tuple[str, int], float | None],
               direction: str = "minimize", flags: dict[int, list[str]] | None = None,
               metrics: dict[str, float] | None = None) -> optuna.Study:
    """An in-memory study: trial number -> value, which trials are baselines, and extra-seed runs (and each
    trial's flags, every trial's metrics)."""
    study = optuna.create_study(direction=direction)
    study.set_user_attr("config", {"seed": 0})
    for number, value in values.items():
        attrs = {"arch": f"a{number}", "key": f"a{number}"}
        if number in baselines:
            attrs["baseline"] = baselines[number]
        if number in (flags or {}):
            attrs["flags"] = flags[number]
        if metrics:
            attrs["metrics"] = metrics
        study.add_trial(create_trial(params={"x": number}, distributions=DIST, value=value, user_attrs=attrs,
                                     state=TrialState.COMPLETE))
    for (name, seed), value in noise.items():
        study.set_user_attr(noise_key(name, seed), {"baseline": name, "seed": seed, "value": value,
                                                    "state": "complete" if value is not None else "failed"})
    return study


def test_pooled_std_over_the_seeds_of_every_baseline():
    study = study_with({0: 5.0, 1: 4.0, 2: 4.5}, {0: "bert", 1: "conv"},
                       {("bert", 1): 5.2, ("bert", 2): 4.9, ("conv", 1): 4.1, ("conv", 2): None})
    noise = seed_noise(study)
    bert, conv = [5.0, 5.2, 4.9], [4.0, 4.1]  # conv's seed 2 failed: it is left out
    pooled = math.sqrt((statistics.variance(bert) * 2 + statistics.variance(conv) * 1) / 3)
    assert noise["std"] == pytest.approx(pooled)
    assert noise["seeds"] == [0, 1, 2]
    assert noise["baselines"]["bert"]["values"] == bert
    assert noise["dof"] == 3
    # two single-seed values differ with std sqrt(2) sigma: a tie is within 2 std of the difference
    assert noise["diff_std"] == pytest.approx(math.sqrt(2) * pooled)
    assert noise["tie_within"] == pytest.approx(2 * math.sqrt(2) * pooled)


def test_constant_predictors_are_left_out_of_the_pooled_noise():
    study = study_with({0: 0.5, 1: 0.8, 2: 0.9}, {0: "bert", 1: "conv"},
                       {("bert", 1): 0.5, ("conv", 1): 0.7}, "maximize", flags={0: ["constant predictor"]})
    noise = seed_noise(study)
    assert list(noise["baselines"]) == ["conv"] and noise["constant"] == ["bert"]
    assert noise["std"] == pytest.approx(statistics.stdev([0.8, 0.7])) and noise["dof"] == 1
    text = markdown(study, NOWHERE, {})
    assert "with 1 degrees of freedom" in text and "left out as constant predictors: bert" in text


def test_no_noise_without_a_second_seed():
    assert seed_noise(study_with({0: 5.0, 1: 4.0}, {0: "bert", 1: "conv"}, {})) is None


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_ties_are_the_trials_within_two_sigma_of_the_best(direction):
    sign = 1 if direction == "minimize" else -1
    # sigma = 0.1 from bert's two seeds (5.0, 5.1414...): ties within 2 * sqrt(2) * 0.1 = 0.283 of the best
    # (#1 at 0.25 is a tie although it is more than 2 sigma away; #3 at 0.5 is not)
    study = study_with({0: sign * 5.0, 1: sign * 4.25, 2: sign * 4.0, 3: sign * 4.5}, {0: "bert", 1: "conv"},
                       {("bert", 1): sign * (5.0 + 0.1 * math.sqrt(2))}, direction)
    top = ranked(study)
    assert [t.number for t in top] == [2, 1, 3, 0]
    found = ties(top, seed_noise(study))
    assert found == {"runner_up": 1, "baselines": [1], "all": [1]}
    text = markdown(study, NOWHERE, {})
    assert "- seed noise at this budget: σ = 0.1000" in text
    assert "the best, #2, is within the seed noise of #1 (runner-up) (baseline conv)" in text
    assert "values within 2√2σ = 0.2828 of each other are ties" in text
    assert f"| 2 | 1 | {sign * 4.25:.4f} | {sign * 0.25:+.4f} (tie) |" in text
    assert f"| 3 | 3 | {sign * 4.5:.4f} | {sign * 0.5:+.4f} |" in text


def test_a_clear_lead_and_an_unmeasured_noise_are_said_so():
    study = study_with({0: 5.0, 1: 4.0}, {0: "bert", 1: "conv"}, {("bert", 1): 5.01, ("conv", 1): 4.01})
    text = markdown(study, NOWHERE, {})
    assert "- the best, #1, leads the runner-up #0 by 1.0000, more than 2 standard deviations of the difference" \
        in text
    assert "- the best of 2 noisy values is biased by selection: trained again on another seed, it will likely " \
        "score higher than its proxy value" in text
    unmeasured = markdown(study_with({0: 5.0, 1: 4.0}, {0: "bert", 1: "conv"}, {}), NOWHERE, {})
    assert "- seed noise: not measured; `study.noise_seeds=[1,2]`" in unmeasured
    assert "(tie)" not in unmeasured


def test_a_search_trains_the_baselines_on_the_noise_seeds_once(search_cfg, tmp_path, monkeypatch):
    from layernas.trainer.search import noise_runs

    calls = []
    real = noise_runs.run_proxy
    monkeypatch.setattr(noise_runs, "run_proxy",
                        lambda spec: calls.append(spec.plan.seed) or real(spec))
    cfg = search_cfg("study.n_trials=2", "study.noise_seeds=[0,1]")  # seed 0 is the study's own: not again
    study = run_search(cfg)
    assert calls == [1, 1]
    runs = {k: v for k, v in study.user_attrs.items() if k.startswith("noise/")}
    assert sorted(runs) == ["noise/bert/1", "noise/convbert/1"]
    assert all(r["state"] == "complete" and math.isfinite(r["value"]) for r in runs.values())
    folder = tmp_path / "results" / "t"
    best = yaml.safe_load((folder / "best.yaml").read_text())
    assert best["seed_noise"]["seeds"] == [0, 1] and best["seed_noise"]["std"] > 0
    assert "- seed noise at this budget: σ = " in (folder / "report.md").read_text()
    run_search(cfg)  # the same command again: nothing left to measure
    assert calls == [1, 1]
