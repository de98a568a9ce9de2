"""Lightning callbacks of a proxy run: pruning reports at the global step, a non-finite-loss stop, and
timing of where a run's wall time goes."""

from __future__ import annotations

import math
import sys
import time

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import TQDMProgressBar

from layernas.trainer.plumbing import interrupts, optuna_private


class ObjectiveCurve(pl.Callback):
    """Records the objective after every validation and, with an Optuna trial, reports it at the global
    step (``step_offset`` added, so a fine-tuning phase continues the pre-training steps) and stops the
    run when the pruner says so. Optuna's own Lightning callback reports at the epoch, which a short
    step-based run never advances.

    Under DDP only rank 0 talks to Optuna, and its decision is broadcast: every rank must stop at the same
    step or the others wait forever in the next all-reduce. With ``ddp_spawn`` the ranks run in child
    processes, so the pruning step is also stored on the trial, where :meth:`sync` finds it afterwards.
    """

    def __init__(self, monitor: str, trial=None, step_offset: int = 0) -> None:
        self.monitor, self.trial, self.step_offset = monitor, trial, step_offset
        self.curve: list[tuple[int, float]] = []
        self.pruned_at: int | None = None

    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        step = trainer.global_step + self.step_offset
        value = float(trainer.callback_metrics[self.monitor])
        if self.curve and self.curve[-1][0] == step:
            return
        self.curve.append((step, value))
        if self.trial is None:
            return
        prune = False
        if trainer.is_global_zero and math.isfinite(value):
            with interrupts.held():  # storage writes: a signal waits for them
                self.trial.report(value, step)
                prune = self.trial.should_prune()
                if prune:
                    self.trial.set_user_attr("pruned_at", step)
        if trainer.world_size > 1:
            prune = trainer.strategy.broadcast(prune, src=0)
        if prune:
            self.pruned_at = step
            trainer.should_stop = True

    def sync(self) -> None:
        """After a ``ddp_spawn`` fit: take the curve and the pruning step from the trial's storage."""
        if self.trial is None:
            return
        stored = optuna_private.reload(self.trial.study, self.trial)
        self.curve = sorted(stored.intermediate_values.items())
        self.pruned_at = stored.user_attrs.get("pruned_at")

    @property
    def last_step(self) -> int | None:
        return self.curve[-1][0] - self.step_offset if self.curve else None


class AttachLogger(pl.Callback):
    """Hands the trainer its logger only after Lightning's setup hook, which touches every logger's
    ``experiment`` and so would wait for the W&B run (seconds in a fresh process) before the first step.
    The run keeps starting in the background; the first metrics, a few steps later, find it ready."""

    def __init__(self, logger) -> None:
        self.logger = logger

    def setup(self, trainer: pl.Trainer, module: pl.LightningModule, stage: str) -> None:
        trainer.loggers = [self.logger]


class NonFiniteGuard(pl.Callback):
    """Stops training at the first NaN/inf training loss and keeps the reason (with its step).

    Reading a loss on the host waits for the accelerator, so on a GPU the check stays on the device (the
    first bad step is kept in a tensor) and is read every ``every`` steps: a stop at most that many steps
    late, instead of a synchronisation at every step. On the CPU the loss is read at once (it costs nothing).
    """

    def __init__(self, every: int = 10, on_device: bool | None = None) -> None:
        self.every, self.on_device = every, on_device  # on_device None: on any device but the CPU
        self.reason: str | None = None
        self._first_bad: torch.Tensor | None = None  # () int64 on the loss's device: -1 while all finite

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        loss = loss.detach()
        if not (loss.device.type != "cpu" if self.on_device is None else self.on_device):
            if not torch.isfinite(loss).all():
                self._stop(trainer, float(loss), trainer.global_step)
            return
        if self._first_bad is None:
            self._first_bad = torch.full((), -1, dtype=torch.long, device=loss.device)
        bad = ~torch.isfinite(loss).all() & (self._first_bad < 0)
        self._first_bad = torch.where(bad, trainer.global_step, self._first_bad)
        if trainer.global_step % self.every == 0:
            self._read(trainer)

    def on_train_end(self, trainer, module) -> None:
        self._read(trainer)  # the last steps since the last read

    def _read(self, trainer) -> None:
        if self._first_bad is not None and self.reason is None and int(self._first_bad) >= 0:
            self._stop(trainer, float("nan"), int(self._first_bad), what="not finite")

    def _stop(self, trainer, value: float, step: int, what: str | None = None) -> None:
        self.reason = f"training loss became {what or value} at step {step}"
        trainer.should_stop = True


class Stopwatch(pl.Callback):
    """Splits a run's wall time into training steps, validation and everything else.

    ``start`` is when the run was asked for (before data and model set-up), so ``first_step_s`` is the
    time a user waits for the first optimizer step.
    """

    def __init__(self, start: float) -> None:
        self.start = start
        self.first_step_s: float | None = None
        self.train_s = self.val_s = 0.0
        self.steps = self.tokens = 0
        self._t = self._v = 0.0
        self._first = 0.0  # the first step's own time (it pays torch.compile and the allocator's warm-up)

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self._t = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        self.train_s += now - self._t
        self.steps += 1
        self.tokens += batch["input_ids"].numel()  # positions processed, padding included
        if self.first_step_s is None:
            self.first_step_s, self._first = now - self.start, now - self._t

    @property
    def warmup_s(self) -> float:
        """How much longer the first step took than the mean of the others (compilation, when on)."""
        if self.steps < 2:
            return 0.0
        return max(0.0, self._first - (self.train_s - self._first) / (self.steps - 1))

    def on_validation_start(self, trainer, module) -> None:
        self._v = time.perf_counter()

    def on_validation_end(self, trainer, module) -> None:
        self.val_s += time.perf_counter() - self._v


class StepRate(pl.Callback):
    """Measures the training speed over optimizer steps ``start`` to ``start + n`` of a run (after the
    first steps' warm-up) and calls ``report(seconds_per_step, tokens_per_s)`` once."""

    def __init__(self, report, start: int = 2, n: int = 10) -> None:
        self.report, self.start, self.n = report, start, n
        self._t: float | None = None
        self._tokens = 0
        self.done = False

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if self.done:
            return
        step = trainer.global_step
        if step == self.start:
            self._t, self._tokens = time.perf_counter(), 0
        elif self._t is not None:
            self._tokens += batch["input_ids"].numel()
            if step >= self.start + self.n or step >= trainer.max_steps:
                elapsed = time.perf_counter() - self._t
                self.done = True
                self.report(elapsed / (step - self.start), self._tokens / elapsed)


class StatusLine(pl.Callback):
    """Off a terminal (a log file, a batch job), one line on stderr at most every ``every_s`` seconds:
    step s/N, tokens/s, the last validation value and the time left, so a long run is never silent."""

    def __init__(self, label: str, every_s: float) -> None:
        self.label, self.every_s = label, every_s
        self._start = self._last = 0.0
        self._tokens = 0

    def on_train_start(self, trainer, module) -> None:
        self._start = self._last = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self._tokens += batch["input_ids"].numel()
        now = time.perf_counter()
        if now - self._last < self.every_s:
            return
        self._last = now
        step, total, elapsed = trainer.global_step, trainer.max_steps, now - self._start
        left = elapsed / max(step, 1) * (total - step)
        val = next(((k, v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")), None)
        shown = f" | {val[0]} {float(val[1]):.4f}" if val is not None else ""
        print(f"  {self.label}: step {step}/{total} | {self._tokens / elapsed:,.0f} tokens/s{shown} | "
              f"{int(left) // 60}m{int(left) % 60:02d}s left", file=sys.stderr, flush=True)


def _with_width(bar, width: int = 100):
    """A bar drawn at ``width`` columns on a terminal that reports none (a pseudo-terminal opened by
    ``script`` or ``pty.fork`` without a size): tqdm would draw an empty line there."""
    if bar.ncols is not None and bar.ncols < 1:  # tqdm reads 0 or -1 columns and rows there
        bar.dynamic_ncols, bar.ncols, bar.nrows = False, width, None
    return bar


class StepProgressBar(TQDMProgressBar):
    """One bar over the run's optimizer steps (``max_steps``), not one per epoch: a proxy run is measured
    in steps and usually ends inside its first epoch."""

    def __init__(self, description: str = "train") -> None:
        super().__init__(leave=False)
        self.description = description

    def init_train_tqdm(self):
        return _with_width(super().init_train_tqdm())

    def init_validation_tqdm(self):
        return _with_width(super().init_validation_tqdm())

    def on_train_epoch_start(self, trainer, *_) -> None:
        if trainer.current_epoch == 0 or self.train_progress_bar.total != trainer.max_steps:
            self.train_progress_bar.reset(total=trainer.max_steps)
            self.train_progress_bar.set_description(self.description)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        bar = self.train_progress_bar
        if not bar.disable and self._should_update(trainer.global_step, bar.total):
            bar.n = trainer.global_step
            bar.set_postfix(self.get_metrics(trainer, module))
            bar.refresh()

    def on_train_epoch_end(self, trainer, module) -> None:
        pass

    def get_metrics(self, trainer, module) -> dict:
        metrics = super().get_metrics(trainer, module)
        metrics.pop("v_num", None)
        return metrics
