"""The supernet's checkpointing callback: a checkpoint every ``every`` steps and at the end."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path

import lightning.pytorch as pl

from layernas.trainer.supernet import checkpoint
from layernas.trainer.supernet.checkpoint import TrainState


class Checkpointing(pl.Callback):
    """Writes :mod:`.checkpoint` after every ``every``-th step (counted over all sessions) with the
    sampler's state, the mean training loss since the last checkpoint, the validation curve (the panel's
    ``val/mlm_loss`` after each validation) and the wall time so far.

    Args: path: the checkpoint file; every: steps between checkpoints; total: the supernet's steps;
    state: the state this session started from (its step, time and curves continue).
    """

    def __init__(self, path: Path, every: int, total: int, state: TrainState) -> None:
        self.path, self.every, self.total = path, every, total
        self.state = replace(state, sessions=state.sessions + 1)
        self._start, self._before = time.perf_counter(), state.wall_s
        self._loss, self._n = 0.0, 0
        self.broken = False

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        loss = float(outputs["loss"] if isinstance(outputs, dict) else outputs)
        if not math.isfinite(loss) or self.broken:  # never a checkpoint of weights a bad step has touched
            self.broken = True
            return
        self._loss, self._n = self._loss + loss, self._n + 1
        step = self.state.step + 1
        self.state.step = step
        if step % self.every == 0 or step == self.total:
            self._save(trainer, module)

    def on_validation_end(self, trainer, module) -> None:
        value = trainer.callback_metrics.get("val/mlm_loss")
        if trainer.sanity_checking or value is None or self.validated:
            return
        self.state.curve = [*self.state.curve, [self.state.step, float(value)]]

    @property
    def validated(self) -> bool:
        """Whether the last step done has been validated."""
        return bool(self.state.curve) and self.state.curve[-1][0] == self.state.step

    def _save(self, trainer, module, complete: bool = False) -> None:
        if self._n:
            self.state.train_loss = [*self.state.train_loss, [self.state.step, self._loss / self._n]]
            self._loss, self._n = 0.0, 0
        self.state.sampler = module.sampler.state()
        self.state.wall_s = self._before + time.perf_counter() - self._start
        self.state.complete = complete
        optimizer = trainer.optimizers[0] if trainer.optimizers else None
        checkpoint.save(self.path, module.model, optimizer, self.state)

    def finish(self, trainer, module) -> TrainState:
        """The final checkpoint, marked complete when every step is done."""
        if not self.broken:
            self._save(trainer, module, complete=self.state.step >= self.total)
        return self.state
