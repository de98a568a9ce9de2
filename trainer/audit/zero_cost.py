"""Zero-cost proxies (:mod:`layernas.search_space.zero_cost`) of the audited architectures, scored at
initialisation on one validation batch of the study's masked-LM data, averaged over the audit's seeds."""

from __future__ import annotations

import statistics
import sys

from layernas.trainer.plan.run import RunPlan


def _batch(run: RunPlan, seed: int):
    from layernas.trainer.data import MLMDataModule

    dm = MLMDataModule(run.data, seed, mask_prob=run.task.mask_prob)
    dm.setup("fit")
    return dm, next(iter(dm.val_dataloader()))


def zero_cost_scores(run: RunPlan, trials, seeds: list[int]) -> dict[int, dict[str, float]]:
    """``{trial number: {proxy: mean score over seeds}}``; empty (with a warning) when the study's data has
    no masked-LM form (a labelled set with no text column the tokenizer reads)."""
    import torch

    from layernas.search_space import MaskedLM, build_encoder
    from layernas.search_space.zero_cost import score_all

    try:
        dm, batch = _batch(run, seeds[0])
    except Exception as e:  # noqa: BLE001  (any data error: the audit goes on without zero-cost proxies)
        print(f"warning: no zero-cost proxies: the study's data gave no masked-LM batch ({type(e).__name__}: {e})",
              file=sys.stderr)
        return {}
    config = run.model
    out = {}
    for t in trials:
        runs = []
        for seed in seeds:
            torch.manual_seed(seed)
            model = MaskedLM(build_encoder(t.user_attrs["arch"], dm.vocab_size, dm.data.seq_len, config))
            runs.append(score_all(model, batch, seed=seed))
        out[t.number] = {name: statistics.fmean(r[name] for r in runs) for name in runs[0]}
    return out
