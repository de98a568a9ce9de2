"""The supernet's LightningModule: masked-LM training of one sampled path per step (SPOS), validated on a
fixed panel of paths; and the endless, resumable stream of training batches it reads."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, IterableDataset

from layernas.search_space import Architecture
from layernas.search_space.supernet import PathSampler, SuperMaskedLM
from layernas.trainer.core.module import MaskedLMModule, adamw, lr_lambda, scales_gradients
from layernas.trainer.plan.trainer import OptimConfig


class SupernetModule(MaskedLMModule):
    """Masked-LM training of a supernet.

    Every step trains the paths ``sampler.next()`` gives (one; three with the sandwich rule, whose mean
    loss is back-propagated once, so untouched choices get no gradient and AdamW leaves them as they are).
    Validation runs every path of ``panel`` and reports their token-weighted mean as ``val/mlm_loss``,
    ``val/mlm_acc`` and ``val/ppl`` (the proxy's names); it leaves the torch random state as it found it,
    so dropout draws depend on the training steps only, wherever validation falls.

    Args:
        model: the supernet with its head.
        optim, total_steps: the proxy's AdamW and schedule, over all the supernet's steps.
        sampler: the paths of each step.
        panel: the fixed validation paths.
        start_step: steps done before this session; the schedule continues there.
        resume: (AdamW state dict, torch random state) restored when training starts, or None.

    Batches: as :class:`MaskedLMModule` (``input_ids``, ``labels``, optional ``attention_mask``).
    """

    def __init__(self, model: SuperMaskedLM, optim: OptimConfig, total_steps: int, sampler: PathSampler,
                 panel: list[Architecture], start_step: int = 0, resume: tuple | None = None) -> None:
        super().__init__(model, optim, total_steps)
        self.sampler, self.panel, self.start_step, self.resume = sampler, panel, start_step, resume
        self._rng: torch.Tensor | None = None

    def _path_logits(self, batch, arch: Architecture):
        labels = batch["labels"]
        selected = labels != -100  # (B, T)
        logits = self.model(batch["input_ids"], batch.get("attention_mask"), arch, positions=selected)  # (N, V)
        return logits, labels[selected]

    def training_step(self, batch, batch_idx):
        paths = self.sampler.next()
        loss = sum(F.cross_entropy(*self._float(self._path_logits(batch, a))) for a in paths) / len(paths)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    @staticmethod
    def _float(pair):
        logits, targets = pair
        return logits.float(), targets

    def validation_step(self, batch, batch_idx):
        for arch in self.panel:
            logits, targets = self._path_logits(batch, arch)
            n = targets.numel()
            self.val_loss.update(F.cross_entropy(logits.float(), targets), weight=n)
            self.val_acc.update((logits.argmax(-1) == targets).float().mean(), weight=n)

    def on_validation_start(self) -> None:
        self._rng = torch.get_rng_state()

    def on_validation_end(self) -> None:
        if self._rng is not None:
            torch.set_rng_state(self._rng)

    def configure_optimizers(self):
        out = adamw(self.model, self.optim, self.total_steps, grad_scaler=scales_gradients(self))
        if self.start_step:
            factor, start = lr_lambda(self.optim, self.total_steps), self.start_step
            out["lr_scheduler"]["scheduler"] = torch.optim.lr_scheduler.LambdaLR(
                out["optimizer"], lambda step: factor(step + start))
        return out

    def on_train_start(self) -> None:
        if self.resume is not None:
            adam, rng = self.resume
            if adam is not None:
                self.trainer.optimizers[0].load_state_dict(adam)
            torch.set_rng_state(rng)


class Stream(IterableDataset):
    """A data module's training batches as one endless stream, epoch after epoch, from batch ``skip`` on:
    the batches (and masks) a resumed training reads are those the interrupted one would have read next.
    Skipped batches are drawn and dropped (their masking is what advances the generators)."""

    def __init__(self, loader: DataLoader, skip: int = 0) -> None:
        self.loader, self.skip = loader, skip

    def __iter__(self):
        seen = 0
        while True:
            for batch in self.loader:
                if seen >= self.skip:
                    yield batch
                seen += 1


def stream_loader(loader: DataLoader, skip: int) -> DataLoader:
    """``Stream`` as a DataLoader of ready batches; its own generator keeps it off the global random state."""
    return DataLoader(Stream(loader, skip), batch_size=None, generator=torch.Generator().manual_seed(0))
