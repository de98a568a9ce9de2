"""BERT masking: selection counts, the 80/10/10 split, special tokens, determinism."""

from __future__ import annotations

import pytest
import torch

from layernas.trainer.data import IGNORE_INDEX, MASK_ID, SPECIAL_IDS, mask_tokens

VOCAB = 1000


def batch(seed: int = 0, rows: int = 512, length: int = 128) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(len(SPECIAL_IDS), VOCAB, (rows, length), generator=g)
    specials = torch.tensor(SPECIAL_IDS)[torch.randint(0, len(SPECIAL_IDS), (rows, length), generator=g)]
    return torch.where(torch.rand(rows, length, generator=g) < 0.1, specials, ids)


def test_statistics():
    ids = batch()
    inputs, labels = mask_tokens(ids, torch.Generator().manual_seed(1), VOCAB)
    special = torch.isin(ids, torch.tensor(SPECIAL_IDS))
    selected = labels != IGNORE_INDEX
    assert not (selected & special).any()
    assert torch.equal(selected.sum(1), torch.round((~special).sum(1) * 0.15).long())  # exact count per row
    assert abs(selected.sum() / (~special).sum() - 0.15) < 0.002
    assert torch.equal(labels[selected], ids[selected]) and (labels[~selected] == IGNORE_INDEX).all()
    assert torch.equal(inputs[~selected], ids[~selected])  # only selected positions change
    n = selected.sum().item()
    masked = (inputs[selected] == MASK_ID).sum().item() / n
    changed = ((inputs[selected] != MASK_ID) & (inputs[selected] != ids[selected])).sum().item() / n
    kept = (inputs[selected] == ids[selected]).sum().item() / n
    assert abs(masked - 0.8) < 0.01 and abs(changed - 0.1) < 0.01 and abs(kept - 0.1) < 0.01
    replaced = inputs[selected & (inputs != MASK_ID) & (inputs != ids)]
    assert replaced.min() >= len(SPECIAL_IDS) and replaced.max() < VOCAB  # random tokens are never special


def test_deterministic_for_a_generator_and_independent_of_global_rng():
    ids = batch(rows=64)
    torch.manual_seed(0)
    a = mask_tokens(ids, torch.Generator().manual_seed(7), VOCAB)
    torch.manual_seed(99)
    b = mask_tokens(ids, torch.Generator().manual_seed(7), VOCAB)
    c = mask_tokens(ids, torch.Generator().manual_seed(8), VOCAB)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


def test_mask_prob_and_bad_values():
    ids = batch(rows=64)
    _, labels = mask_tokens(ids, torch.Generator().manual_seed(0), VOCAB, mask_prob=0.3)
    special = torch.isin(ids, torch.tensor(SPECIAL_IDS))
    assert abs((labels != IGNORE_INDEX).sum() / (~special).sum() - 0.3) < 0.005
    with pytest.raises(ValueError, match=r"mask_prob=1.5 is not allowed; allowed: a number in \(0, 1\)"):
        mask_tokens(ids, torch.Generator(), VOCAB, mask_prob=1.5)
