"""A trial trained with DDP (two CPU processes, gloo): rank 0 reports, every rank stops together."""

import optuna
import pytest

from tests.helpers import proxy

DDP = ["trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp_spawn", "trainer.threads=1"]


@pytest.mark.parametrize("prune", [False, True])
def test_ddp_trial_reports_from_rank_zero_and_prunes_on_every_rank(proxy_cfg, tmp_path, prune):
    storage = f"sqlite:///{tmp_path / 'ddp.db'}"
    pruner = optuna.pruners.ThresholdPruner(upper=0.0) if prune else optuna.pruners.NopPruner()
    study = optuna.create_study(storage=storage, pruner=pruner)
    trial = study.ask()
    result = proxy("sdconv(k=3) ffn sa ffn", proxy_cfg(*DDP), trial=trial)
    stored = study._storage.get_trial(trial._trial_id)
    if prune:
        assert result.state == "pruned" and set(stored.intermediate_values) == {3}
        assert stored.user_attrs["pruned_at"] == 3
    else:
        assert result.state == "complete" and set(stored.intermediate_values) == {3, 6}
        assert result.curve == sorted(stored.intermediate_values.items())
