"""One Lightning fit of a run's phase: the trainer built from :class:`TrainerConfig`, validation every
``val_check_interval`` steps and at the end, and what the fit measured."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import timedelta

import lightning.pytorch as pl
import torch

from layernas.trainer.core.callbacks import AttachLogger, NonFiniteGuard, ObjectiveCurve, StatusLine, StepProgressBar
from layernas.trainer.plan.trainer import TrainerConfig
from layernas.trainer.plumbing.logs import LIBRARY_WARNINGS


@dataclass
class Phase:
    """Outcome of one Lightning fit."""

    steps: int
    metrics: dict[str, float]
    curve: list[tuple[int, float]]
    pruned: bool
    reason: str | None


@dataclass
class FitContext:
    """What every phase of a run shares: its trainer settings, the clock and logger, the Optuna trial it
    reports to, what it was asked for beyond validation (the test split, a validation slice, more
    callbacks) and what its bar and status lines call it (t003, retrain s1, audit #2 x3 s0)."""

    tcfg: TrainerConfig
    clock: pl.Callback
    logger: object
    trial: object = None
    test: bool = False
    val_slice: int | None = None
    callbacks: tuple = ()
    name: str = ""


def resolve_precision(precision: str) -> str:
    """``auto``: bf16 mixed precision on a GPU that has it, 16-bit mixed on older GPUs, else fp32."""
    if precision != "auto":
        return precision
    if torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def spawns(tcfg: TrainerConfig) -> bool:
    """Whether Lightning runs the fit in child processes (``ddp_spawn``, ``ddp_notebook``...): then this
    process's trainer never steps, and callbacks and loggers travel to the ranks as copies."""
    return "spawn" in str(tcfg.strategy) or "notebook" in str(tcfg.strategy) or "fork" in str(tcfg.strategy)


def build_trainer(tcfg: TrainerConfig, max_steps: int, callbacks: list, logger, description: str) -> pl.Trainer:
    """The Lightning trainer of a fit: step-based, validating every ``val_check_interval`` steps, with a bar
    on a terminal (else a status line now and then) and the run's logger attached after set-up."""
    if tcfg.shows_progress:
        callbacks = [*callbacks, StepProgressBar(description)]
    elif tcfg.status_every_s:
        callbacks = [*callbacks, StatusLine(description, tcfg.status_every_s)]
    if logger is not None and not spawns(tcfg):  # spawned ranks get the logger as it is
        callbacks, logger = [*callbacks, AttachLogger(logger)], None
    return pl.Trainer(
        max_steps=max_steps,
        max_epochs=-1,
        max_time=timedelta(seconds=tcfg.max_time) if tcfg.max_time else None,
        val_check_interval=min(tcfg.val_check_interval, max_steps),
        check_val_every_n_epoch=None,
        limit_val_batches=tcfg.limit_val_batches if tcfg.limit_val_batches is not None else 1.0,
        num_sanity_val_steps=0,
        gradient_clip_val=tcfg.gradient_clip_val,
        precision=resolve_precision(tcfg.precision),
        accelerator=tcfg.accelerator,
        devices=tcfg.devices,
        strategy=tcfg.strategy,
        logger=logger if logger is not None else False,
        callbacks=callbacks,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=tcfg.shows_progress,
        log_every_n_steps=tcfg.log_every_n_steps,
    )


def fit(ctx: FitContext, module, datamodule, max_steps: int, monitor: str, trial=None, step_offset: int = 0,
        label: str = "train") -> Phase:
    """Train, validating every ``val_check_interval`` steps and once more at the end if needed; then, if
    asked, evaluate the test split (its metrics are named test/...) and the proxy's validation slice
    (val_slice/...)."""
    curve = ObjectiveCurve(monitor, trial, step_offset)
    guard = NonFiniteGuard()
    trainer = build_trainer(ctx.tcfg, max_steps, [curve, guard, ctx.clock, *ctx.callbacks], ctx.logger,
                            f"{ctx.name} {label}".strip())
    with warnings.catch_warnings():
        for message in LIBRARY_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        trainer.fit(module, datamodule=datamodule)
        spawned = spawns(ctx.tcfg)
        if spawned:  # the ranks ran in child processes: this trainer never stepped
            curve.sync()
        elif guard.reason is None and curve.pruned_at is None and curve.last_step != trainer.global_step:
            trainer.validate(module, datamodule=datamodule, verbose=False)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
        if ctx.test and guard.reason is None and datamodule.data.test is not None:
            datamodule.setup("test")
            tested = trainer.validate(module, dataloaders=datamodule.test_dataloader(), verbose=False)[0]
            metrics.update({f"test/{k.split('/', 1)[1]}": float(v) for k, v in tested.items() if k.startswith("val/")})
        if ctx.val_slice and guard.reason is None and not spawned:  # last: it changes the trainer's limit
            trainer.limit_val_batches = ctx.val_slice
            sliced = trainer.validate(module, datamodule=datamodule, verbose=False)[0]
            metrics.update({f"val_slice/{k.split('/', 1)[1]}": float(v) for k, v in sliced.items()
                            if k.startswith("val/")})
    steps = (curve.last_step or 0) if spawned else trainer.global_step
    return Phase(steps, metrics, curve.curve, curve.pruned_at is not None, guard.reason)
