"""Proxy runs end to end on tiny slices of the shipped data."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from tests.conftest import TINY, TINY_SST2
from tests.helpers import WANDB, proxy

ARCH = "sdconv(k=3) ffn sa ffn"


def test_mlm_proxy_reports_objective_curve_and_costs(proxy_cfg):
    r = proxy(ARCH, proxy_cfg())
    assert r.state == "complete"
    assert math.isfinite(r.objective) and r.objective == r.metrics["val/mlm_loss"]
    assert [step for step, _ in r.curve] == [3, 6] and r.curve[-1][1] == r.objective
    assert r.steps == 6 and r.params > 0 and r.flops > 0 and r.tokens_per_s > 0
    assert r.metrics["val/unigram_loss"] > 0 and r.run_dir is None
    assert set(r.timings) >= {"first_step_s", "train_s", "val_s", "other_s"}


def test_same_seed_same_result_different_seed_different(proxy_cfg):
    a, b = proxy(ARCH, proxy_cfg("seed=3")), proxy(ARCH, proxy_cfg("seed=3"))
    c = proxy(ARCH, proxy_cfg("seed=4"))
    assert a.objective == b.objective and a.curve == b.curve
    assert c.objective != a.objective


def test_final_validation_when_the_budget_ends_between_checks(proxy_cfg):
    r = proxy(ARCH, proxy_cfg("trainer.max_steps=7"))
    assert [s for s, _ in r.curve] == [3, 6, 7] and r.steps == 7


def test_classify_from_scratch(proxy_cfg):
    r = proxy("lconv(k=3) ffn", proxy_cfg("task=classify", *TINY_SST2))
    assert r.state == "complete" and r.objective == r.metrics["val/acc"] and 0.0 <= r.objective <= 1.0
    assert {"val/acc", "val/f1", "val/mcc", "val/loss"} <= set(r.metrics)


def test_pretrain_then_finetune_continues_the_step_count(proxy_cfg):
    r = proxy(ARCH, proxy_cfg("task=pretrain_finetune", "task.pretrain_steps=4",
                                  *[o.replace("data.", "task.finetune_data.") for o in TINY_SST2]))
    assert r.state == "complete" and 0.0 <= r.objective <= 1.0
    assert r.steps == 10 and [s for s, _ in r.curve] == [7, 10]
    assert "pretrain/mlm_loss" in r.metrics


def test_callbacks_of_the_caller_join_every_fit_of_the_run(proxy_cfg):
    import lightning.pytorch as pl

    class Steps(pl.Callback):
        def __init__(self):
            self.fits, self.steps = 0, 0

        def on_train_start(self, trainer, module):
            self.fits += 1

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            self.steps += 1

    seen = Steps()
    r = proxy(ARCH, proxy_cfg("task=pretrain_finetune", "task.pretrain_steps=4",
                                  *[o.replace("data.", "task.finetune_data.") for o in TINY_SST2]), callbacks=[seen])
    assert r.state == "complete" and (seen.fits, seen.steps) == (2, 10)


def test_nan_loss_stops_the_run_with_a_reason(proxy_cfg):
    r = proxy(ARCH, proxy_cfg("trainer.optim.lr=1e12", "trainer.gradient_clip_val=null",
                                  "trainer.max_steps=50", "trainer.val_check_interval=25"))
    assert r.state == "failed" and r.steps < 50
    assert r.reason.startswith("training loss became nan at step") or r.reason.startswith("training loss became inf")


def test_optuna_trial_gets_reports_at_global_steps_and_can_be_pruned(proxy_cfg):
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=0.0))  # prunes any loss > 0
    trial = study.ask()
    r = proxy(ARCH, proxy_cfg(), trial=trial)
    assert r.state == "pruned" and r.steps == 3
    assert trial.storage.get_trial(trial._trial_id).intermediate_values == {3: r.curve[0][1]}


def test_bad_config_raises_before_training(proxy_cfg):
    with pytest.raises(ValueError, match="unknown op 'conv'"):
        proxy("conv ffn", proxy_cfg())
    with pytest.raises(ValueError, match="trainer.max_steps=0 must be a positive integer"):
        proxy(ARCH, proxy_cfg("trainer.max_steps=0"))


def test_wandb_offline_run_holds_arch_config_and_objective_summary(proxy_cfg, tmp_path):
    r = proxy(ARCH, proxy_cfg("logger=wandb_offline"))
    assert r.run_dir and Path(r.run_dir).is_relative_to(tmp_path / "results" / "proxy" / "wandb")
    out = subprocess.run([WANDB, "leet", "inspect", "--summary", "--json", r.run_dir], capture_output=True,
                         text=True, check=True)
    run = json.loads(out.stdout)
    assert run["config"]["arch"] == "sdconv(k=3,h=4) ffn(r=4) sa(h=4) ffn(r=4)"
    assert run["config"]["arch/l00/op"] == "sdconv"
    assert run["summary"]["objective"] == pytest.approx(r.objective)
    assert run["summary"]["state"] == "complete" and run["state"] == "finished"


def test_logger_none_writes_nothing(proxy_cfg, tmp_path):
    proxy(ARCH, proxy_cfg("logger=none"))
    assert not (tmp_path / "results").exists()


def _cli(*args, cwd, env):
    return subprocess.run([sys.executable, "-m", "layernas.trainer.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_second_cli_run_does_not_tokenize_again(tmp_path):
    env = {**os.environ, "LAYERNAS_CACHE": str(tmp_path / "cache")}
    args = ["proxy", "arch=ffn sa", *TINY, f"results_dir={tmp_path / 'results'}"]
    first = _cli(*args, cwd=Path(__file__).parents[1], env=env)
    assert first.returncode == 0, first.stderr
    assert "tokenized wt" in first.stderr + first.stdout or "tokenized wikitext2" in first.stderr + first.stdout
    second = _cli(*args, cwd=Path(__file__).parents[1], env=env)
    assert second.returncode == 0, second.stderr
    assert "tokenized" not in second.stderr + second.stdout and "trained" not in second.stderr + second.stdout
    assert "val/mlm_loss" in second.stdout and "state" in second.stdout


@pytest.mark.slow
def test_a_compiled_encoder_trains_to_the_same_loss_and_keeps_its_weight_names(proxy_cfg):
    """trainer.compile=true: torch.compile of the encoder in place (Inductor's C++ code on the CPU)."""
    plain = proxy("sa ffn", proxy_cfg("model.dropout=0.0"), keep_model=True)
    compiled = proxy("sa ffn", proxy_cfg("model.dropout=0.0", "trainer.compile=true"), keep_model=True)
    assert compiled.state == "complete", compiled.reason
    assert compiled.objective == pytest.approx(plain.objective, abs=1e-3)
    assert list(compiled.model.state_dict()) == list(plain.model.state_dict())
    assert compiled.timings["warmup_s"] > plain.timings["warmup_s"]  # the compilation is in the first step


def test_trainer_compile_must_be_a_boolean(proxy_cfg):
    with pytest.raises(ValueError, match="trainer.compile='yes' is not allowed; allowed: true, false"):
        proxy("sa ffn", proxy_cfg("trainer.compile=yes"))
