"""Trainer pieces that need no data: configs, the lr schedule, callbacks, redaction, CLI errors."""

import math

import pytest
import torch

from layernas.trainer.apps.overrides import explain_hydra_error
from layernas.trainer.core.callbacks import NonFiniteGuard, ObjectiveCurve
from layernas.trainer.core.module import adamw, lr_lambda
from layernas.trainer.core.tracking import redact
from layernas.trainer.plan.task import TaskConfig
from layernas.trainer.plan.trainer import OptimConfig, TrainerConfig


def test_warmup_then_linear_decay():
    f = lr_lambda(OptimConfig(warmup_ratio=0.1, schedule="linear"), total_steps=100)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0) and f(55) == pytest.approx(0.5) and f(100) == pytest.approx(0.0)


def test_cosine_and_floor():
    f = lr_lambda(OptimConfig(warmup_ratio=0.0, schedule="cosine", min_lr_ratio=0.1), total_steps=100)
    assert f(0) == pytest.approx(1.0) and f(50) == pytest.approx(0.55) and f(100) == pytest.approx(0.1)


def test_adamw_skips_decay_on_norms_biases_and_embeddings():
    from layernas.search_space import MaskedLM, build_encoder

    model = MaskedLM(build_encoder("sa ffn", vocab_size=20, max_len=8, d_model=16))
    groups = adamw(model, OptimConfig(), 10)["optimizer"].param_groups
    decayed = {id(p) for p in groups[0]["params"]}
    assert id(model.encoder.embed.weight) not in decayed
    assert id(model.encoder.layers[0].op.qkv.weight) in decayed
    assert all(p.ndim >= 2 for p in groups[0]["params"])


@pytest.mark.parametrize(("fused", "grad_scaler", "expected"), [
    (None, False, True),  # auto: torch has the fused kernel for CPU float weights
    (None, True, False),  # a gradient scaler: Lightning can only clip what it unscaled itself
    (False, False, False),
    (True, True, True),  # asked for explicitly
])
def test_adamw_takes_the_fused_kernel_where_it_can(fused, grad_scaler, expected):
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    optimizer = adamw(model, OptimConfig(fused=fused), 10, grad_scaler=grad_scaler)["optimizer"]
    assert bool(optimizer.defaults["fused"]) is expected


def test_fused_and_looped_adamw_take_the_same_steps():
    from layernas.search_space import MaskedLM, build_encoder

    models = []
    for fused in (False, True):
        torch.manual_seed(0)
        model = MaskedLM(build_encoder("sa ffn", vocab_size=20, max_len=8, d_model=16)).double()
        opt = adamw(model, OptimConfig(fused=fused), 10)
        ids = torch.randint(0, 20, (2, 8), generator=torch.Generator().manual_seed(1))
        for _ in range(3):
            model(ids).logsumexp(-1).mean().backward()
            opt["optimizer"].step()
            opt["lr_scheduler"]["scheduler"].step()
            opt["optimizer"].zero_grad()
        models.append(model)
    for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("cls", "data", "match"), [
    (TrainerConfig, {"max_steps": 0}, "trainer.max_steps=0 must be a positive integer"),
    (TrainerConfig, {"max_stepz": 3}, "unknown trainer key 'max_stepz'; allowed: "),
    (TrainerConfig, {"precision": "8-bit"}, "trainer.precision='8-bit' is not allowed; allowed: auto"),
    (TrainerConfig, {"optim": {"schedule": "step"}}, "optim.schedule='step' is not allowed; allowed: linear"),
    (TrainerConfig, {"optim": {"lrr": 1}}, "unknown trainer.optim key 'lrr'"),
    (TrainerConfig, {"optim": {"fused": "yes"}}, "optim.fused='yes' is not allowed; allowed: true, false, null"),
    (TrainerConfig, {"status_every_s": 0}, "trainer.status_every_s=0 is not allowed; allowed: a number of seconds"),
    (TrainerConfig, {"status_every_s": "often"}, "trainer.status_every_s='often' is not allowed"),
    (TaskConfig, {"name": "qa"}, "task.name='qa' is not allowed; allowed: mlm, classify, regress, pretrain_finetune"),
    (TaskConfig, {"direction": "up"}, "task.direction='up' is not allowed"),
])
def test_config_errors_are_one_line_and_name_the_value(cls, data, match):
    with pytest.raises(ValueError) as info:
        cls.from_dict(data)
    assert match in str(info.value) and "\n" not in str(info.value)


class FakeTrial:
    def __init__(self, prune_after: int):
        self.reports, self.prune_after = [], prune_after

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return len(self.reports) >= self.prune_after

    def set_user_attr(self, key, value):
        setattr(self, key, value)


class FakeTrainer:
    def __init__(self, step, value):
        self.global_step, self.sanity_checking, self.should_stop = step, False, False
        self.is_global_zero, self.world_size = True, 1
        self.callback_metrics = {"val/mlm_loss": torch.tensor(value)}


def test_objective_curve_reports_at_the_global_step_and_prunes():
    trial = FakeTrial(prune_after=2)
    cb = ObjectiveCurve("val/mlm_loss", trial, step_offset=300)
    first = FakeTrainer(100, 6.0)
    cb.on_validation_end(first, None)
    assert trial.reports == [(400, 6.0)] and not first.should_stop
    second = FakeTrainer(200, 5.5)
    cb.on_validation_end(second, None)
    assert trial.reports[-1] == (500, 5.5) and second.should_stop and cb.pruned_at == trial.pruned_at == 500
    cb.on_validation_end(second, None)  # the same step again (final validation) is not reported twice
    assert len(trial.reports) == 2 and cb.last_step == 200


def test_non_finite_guard_stops_with_a_reason():
    guard = NonFiniteGuard()
    trainer = FakeTrainer(17, 1.0)
    guard.on_train_batch_end(trainer, None, {"loss": torch.tensor(2.0)}, None, 0)
    assert guard.reason is None and not trainer.should_stop
    guard.on_train_batch_end(trainer, None, {"loss": torch.tensor(math.nan)}, None, 0)
    assert trainer.should_stop and guard.reason == "training loss became nan at step 17"


def test_non_finite_guard_on_an_accelerator_reads_the_loss_every_few_steps_and_names_the_first_bad_step():
    guard = NonFiniteGuard(every=10, on_device=True)  # as on a GPU, with CPU tensors
    trainer = FakeTrainer(17, 1.0)
    guard.on_train_batch_end(trainer, None, {"loss": torch.tensor(math.inf)}, None, 0)
    assert guard.reason is None and not trainer.should_stop  # not read yet: no synchronisation
    for step in (18, 19):
        trainer.global_step = step
        guard.on_train_batch_end(trainer, None, {"loss": torch.tensor(math.nan if step == 18 else 1.0)}, None, 0)
    assert not trainer.should_stop
    trainer.global_step = 20
    guard.on_train_batch_end(trainer, None, {"loss": torch.tensor(1.0)}, None, 0)
    assert trainer.should_stop and guard.reason == "training loss became not finite at step 17"


def test_redact_masks_passwords_and_keys():
    cfg = {"storage": {"url": "postgresql+psycopg2://bob:s3cr3t@db:5432/nas"}, "wandb_api_key": "abc",
           "list": ["mysql://u:p@h/db"], "plain": "no secret"}
    out = redact(cfg)
    assert out["storage"]["url"] == "postgresql+psycopg2://bob:***@db:5432/nas"
    assert out["wandb_api_key"] == "***" and out["list"] == ["mysql://u:***@h/db"] and out["plain"] == "no secret"
    assert "s3cr3t" not in str(out)


def test_hydra_errors_become_one_line():
    from hydra.errors import MissingConfigException

    e = MissingConfigException("In 'proxy': Could not find 'model/huge'\n\nAvailable options in 'model':\n\tbase\n"
                               "\tsmall\n\ttiny\nConfig search path:\n\tprovider=hydra", missing_cfg_file="model/huge")
    assert explain_hydra_error(e) == "model=huge is not an option; allowed model options: base, small, tiny"


def test_taken_slots_come_from_one_read_of_the_storage():
    """A trial finishing between two reads would be neither counted nor running, and one slot too many
    would look free: the count of taken slots must not depend on when trials finish during it."""
    from optuna.trial import TrialState, create_trial

    from layernas.trainer.search.slots import taken

    class FinishingStudy:  # each read of the storage sees the running trial one step further
        def __init__(self):
            self.reads = iter([[create_trial(state=TrialState.RUNNING)], [create_trial(value=1.0)]] * 2)

        def get_trials(self, deepcopy=False, states=None):
            trials = next(self.reads)
            return [t for t in trials if states is None or t.state in states]

    assert taken(FinishingStudy()) == 1


def test_atomic_writes_are_readable_by_everyone_whatever_the_writer(tmp_path):
    import os

    import torch
    from safetensors.torch import save_model

    from layernas.trainer.plumbing.files import atomic_write, atomic_write_text

    atomic_write(tmp_path / "w.safetensors", lambda tmp: save_model(torch.nn.Linear(2, 2), tmp))
    atomic_write_text(tmp_path / "a.txt", "x")
    assert [oct(os.stat(tmp_path / n).st_mode & 0o777) for n in ("w.safetensors", "a.txt")] == ["0o644", "0o644"]
