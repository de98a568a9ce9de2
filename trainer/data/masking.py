"""BERT masking for masked-LM training, vectorised and driven only by the generator it is given."""

from __future__ import annotations

import torch

from layernas.trainer.data.tokenizer import MASK_ID, SPECIAL_IDS

IGNORE_INDEX = -100  # label of positions that are not predicted (torch's cross_entropy default)


def mask_tokens(ids: torch.Tensor, generator: torch.Generator, vocab_size: int,
                mask_prob: float = 0.15) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick positions to predict and corrupt them as BERT does.

    ``ids`` (B, T) long. Each row gets exactly ``round(mask_prob * n)`` selected positions (torch.round,
    half to even), ``n`` being its number of non-special tokens; special ids are never selected. A fixed
    count, not a Bernoulli draw per token, keeps the number of predicted tokens per batch constant, which
    lowers the noise of short paired comparisons. Each selected position independently becomes [MASK]
    (80%), a random non-special token (10%) or stays unchanged (10%).
    Returns ``inputs`` (B, T) and ``labels`` (B, T): the original id at selected positions, -100 elsewhere.
    """
    if not 0.0 < mask_prob < 1.0:
        raise ValueError(f"mask_prob={mask_prob!r} is not allowed; allowed: a number in (0, 1)")
    ids = ids.long()
    candidate = ~torch.isin(ids, torch.tensor(SPECIAL_IDS, device=ids.device))
    scores = torch.rand(ids.shape, generator=generator, device=ids.device).masked_fill(~candidate, 2.0)
    rank = scores.argsort(dim=1).argsort(dim=1)  # 0 = lowest score; specials (score 2) rank last
    n_select = torch.round(candidate.sum(dim=1, keepdim=True) * mask_prob)
    selected = rank < n_select
    labels = ids.masked_fill(~selected, IGNORE_INDEX)

    action = torch.rand(ids.shape, generator=generator, device=ids.device)
    random_ids = torch.randint(len(SPECIAL_IDS), vocab_size, ids.shape, generator=generator, device=ids.device)
    inputs = torch.where(selected & (action < 0.8), MASK_ID, ids)
    inputs = torch.where(selected & (action >= 0.8) & (action < 0.9), random_ids, inputs)
    return inputs, labels
