"""Scoring candidates with the trained supernet's inherited weights, as search trials.

A candidate's value is measured on the proxy's validation slice (the first ``trainer.limit_val_batches``
batches, the same fixed masks) with the metrics a proxy run reports there, so a supernet score and a
stand-alone proxy value of one network are on the same data. The ops hold no batch statistics (LayerNorm
only), so inherited weights need no recalibration. Eval mode and fixed masks make a score depend on the
weights and the architecture only: the same seed gives the same scores.
"""

from __future__ import annotations

import math
import time
from itertools import islice

import optuna

from layernas.search_space import Architecture
from layernas.trainer.core.proxy import ProxyResult
from layernas.trainer.plan.search import SearchPlan
from layernas.trainer.search.trial import TrialRunner
from layernas.trainer.supernet import checkpoint
from layernas.trainer.supernet.settings import SCORING_PREFIX, STRATEGY

PRINT_EVERY_S, WRITE_EVERY_S = 10.0, 60.0  # thousands of trials: a line and the results files now and then


class Scorer:
    """The study's trained supernet and the proxy's validation batches, loaded once per process."""

    def __init__(self, plan: SearchPlan) -> None:
        import torch

        from layernas.search_space.supernet import SuperEncoder, SuperMaskedLM
        from layernas.trainer.data import MLMDataModule

        run = plan.run
        tcfg = run.trainer
        if tcfg.threads:
            torch.set_num_threads(tcfg.threads)
        dm = MLMDataModule(run.data, run.seed, mask_prob=run.task.mask_prob)
        dm.setup("fit")
        self.model = SuperMaskedLM(SuperEncoder.from_space(plan.space, dm.vocab_size, dm.data.seq_len))
        checkpoint.load(checkpoint.path_of(plan.study_dir), self.model)
        device = "cuda" if torch.cuda.is_available() and tcfg.accelerator in ("auto", "gpu", "cuda") else "cpu"
        self.model.to(device).eval()
        self.batches = [{k: v.to(device) for k, v in b.items()}
                        for b in islice(dm.val_dataloader(), tcfg.limit_val_batches)]
        self.unigram = dm.unigram_loss
        self.vocab_size, self.seq_len = dm.vocab_size, dm.data.seq_len

    def score(self, arch: Architecture) -> dict[str, float]:
        """``val/mlm_loss`` (token-weighted, as the proxy's validation), ``val/mlm_acc``, ``val/ppl`` of the
        path of ``arch``, and the unigram reference."""
        import torch
        import torch.nn.functional as F

        total, correct, n = 0.0, 0, 0
        with torch.no_grad():
            for batch in self.batches:
                labels = batch["labels"]
                selected = labels != -100  # (B, T)
                logits = self.model(batch["input_ids"], batch.get("attention_mask"), arch, positions=selected)
                targets = labels[selected]
                total += float(F.cross_entropy(logits.float(), targets, reduction="sum"))
                correct += int((logits.argmax(-1) == targets).sum())
                n += targets.numel()
        loss = total / n
        return {"val/mlm_loss": loss, "val/mlm_acc": correct / n, "val/ppl": math.exp(min(loss, 700.0)),
                "val/unigram_loss": self.unigram}


class SupernetTrialRunner(TrialRunner):
    """A search's trials scored by the supernet instead of trained: constraints, twins, several objectives
    and the results files work as in a stand-alone search; each trial is marked ``strategy=supernet``.
    Progress lines and results files come every few seconds, not after each of thousands of trials."""

    scores_without_training = True

    def __init__(self, plan, study: optuna.Study, worker: int = 0) -> None:
        super().__init__(plan, study, worker)
        self._scorer: Scorer | None = None
        self._printed = self._written = 0.0
        self._began = time.perf_counter()
        self._unprinted, self._last = 0, None  # trials scored since the last progress line, and the latest

    @property
    def scorer(self) -> Scorer:
        if self._scorer is None:
            self._began, self.start = time.perf_counter(), time.time()  # scoring counts from loading the supernet
            self._scorer = Scorer(self.plan)
        return self._scorer

    def register(self, trial: optuna.Trial):
        trial.set_user_attr("strategy", STRATEGY)  # twins and rejected candidates too: the whole study is scored so
        return super().register(trial)

    def train(self, trial: optuna.Trial, arch: Architecture) -> ProxyResult:
        from layernas.search_space.cost import encoder_params, flops, mlm_head_params

        start = time.perf_counter()
        scorer, objective, mcfg = self.scorer, self.plan.run.task.objective, self.plan.space.model
        metrics = scorer.score(arch)
        value = metrics.get(objective)
        ok = value is not None and math.isfinite(value)
        params = encoder_params(arch, scorer.vocab_size, scorer.seq_len, mcfg)
        return ProxyResult("complete" if ok else "failed", value, metrics, params=params,
                           model_params=params + mlm_head_params(mcfg.d_model, scorer.vocab_size),
                           flops=flops(arch, scorer.seq_len, mcfg), wall_s=time.perf_counter() - start,
                           reason=None if ok else f"supernet score {objective} = {value}")

    def after_trial(self, frozen) -> None:
        """A progress line at most every ``PRINT_EVERY_S`` (the first trial's at once), saying how many trials
        it stands for; :meth:`done` prints the last one."""
        now = time.perf_counter()
        self._unprinted, self._last = self._unprinted + 1, frozen
        if now - self._printed >= PRINT_EVERY_S:
            self._print_progress()
            self._printed = now
        if now - self._written >= WRITE_EVERY_S:
            self.write_results()
            self._written = now

    def _print_progress(self) -> None:
        more = f" (and {self._unprinted - 1} more scored since the last line)" if self._unprinted > 1 else ""
        line = self.progress_line(self._last)
        first, _, rest = line.partition("\n")
        print(f"{first}{more}\n{rest}" if rest else first + more, flush=True)
        self._unprinted = 0

    def done(self) -> None:
        """Store this process's scoring wall time in the study (the report's cost ratio sums them)."""
        import os
        import socket

        if self._scorer is None:
            return  # scored nothing (the study was full)
        if self._unprinted:
            self._print_progress()
        elapsed = time.perf_counter() - self._began
        self.study.set_user_attr(f"{SCORING_PREFIX}{socket.gethostname()}-{os.getpid()}-{int(time.time())}",
                                 {"wall_s": round(elapsed, 3), "worker": self.worker})
        print(f"supernet scoring: {elapsed:.0f} s in this process", flush=True)
