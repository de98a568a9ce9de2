"""The study-level verdict "no signal at this budget" and the no-signal mark on rows: a best within the
noise of the input-blind reference, or mostly constant predictors."""

import pytest

from layernas.trainer.results.markdown import markdown
from layernas.trainer.results.noise import seed_noise
from layernas.trainer.results.ranking import ranked
from layernas.trainer.results.signal import no_signal, verdict
from tests.test_seed_noise import NOWHERE, study_with


def classify(values, noise, flags=None, majority=0.5):
    study = study_with(values, {0: "bert", 1: "conv"}, noise, "maximize", flags=flags,
                       metrics={"val/acc": 0.0, "val/majority_acc": majority})
    study.set_user_attr("objectives", [{"name": "val_acc", "key": "val/acc", "direction": "maximize"}])
    return study


def mlm(values, noise):
    study = study_with(values, {0: "bert", 1: "conv"}, noise, "minimize", metrics={"val/unigram_loss": 6.0})
    study.set_user_attr("objectives", [{"name": "objective", "key": "val/mlm_loss", "direction": "minimize"}])
    return study


def said(study):
    return verdict(study, ranked(study), seed_noise(study))


def test_a_best_within_two_sigma_of_the_majority_class_is_no_signal():
    # sigma = 0.01 (bert 0.50/0.52 -> std 0.0141, conv 0.51/0.51 -> 0; pooled sqrt(0.0002/2) = 0.01)
    study = classify({0: 0.50, 1: 0.51, 2: 0.515}, {("bert", 1): 0.52, ("conv", 1): 0.51})
    assert seed_noise(study)["std"] == pytest.approx(0.01)
    line = said(study)
    assert line.startswith("no signal at this budget: the best, #2 (0.5150), is within 2σ = 0.0200 of the "
                           "input-blind reference (0.5000)")
    assert line.splitlines() == [line]
    text = markdown(study, NOWHERE, {})
    assert text.splitlines()[2] == f"**{line}**"
    assert "| no signal |" in text.replace("| no signal, ", "| no signal |")


def test_a_best_clear_of_the_reference_has_no_verdict():
    study = classify({0: 0.50, 1: 0.51, 2: 0.60}, {("bert", 1): 0.52, ("conv", 1): 0.51})
    assert said(study) is None
    assert "no signal at this budget" not in markdown(study, NOWHERE, {})
    best = ranked(study)[0]
    assert not no_signal(study, best, seed_noise(study))


def test_a_best_below_the_reference_is_no_signal_even_without_a_noise_estimate():
    study = classify({0: 0.40, 1: 0.45, 2: 0.48}, {})
    assert "is not better than the input-blind reference (0.5000)" in said(study)


def test_mostly_constant_predictors_is_no_signal():
    flags = {0: ["constant predictor"], 1: ["constant predictor"], 3: ["constant predictor"]}
    study = classify({0: 0.6, 1: 0.6, 2: 0.9, 3: 0.6}, {}, flags=flags)
    assert said(study) == ("no signal at this budget: 3 of its 4 networks are constant predictors; the ranking says "
                           "nothing about the architectures (train longer, or on more data, before reading it)")


def test_a_masked_lm_within_noise_of_the_unigram_loss():
    # sigma 0.1: 5.85 is 1.5 sigma below the unigram's 6.0
    study = mlm({0: 5.95, 1: 5.9, 2: 5.85}, {("bert", 1): 5.95 + 0.1 * 2 ** 0.5})
    assert "the best, #2 (5.8500), is within 2σ = 0.2000 of the input-blind reference (6.0000)" in said(study)
    assert said(mlm({0: 5.95, 1: 5.9, 2: 5.5}, {("bert", 1): 5.95 + 0.1 * 2 ** 0.5})) is None
