"""Zero-cost proxies: scores of an untrained masked-LM model that rank architectures without training.

Every proxy is ``proxy(model, batch) -> float`` with ``model`` a
:class:`~layernas.search_space.MaskedLM` and ``batch`` a dict of ``input_ids`` (B, T) long,
``attention_mask`` (B, T) (1 = real token) or None and ``labels`` (B, T) long (-100 where not
predicted). One convention for all: a higher score predicts a better (lower-loss) network.
Use :func:`score_all`, which makes the scores deterministic and leaves the model as it found it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from .flops import flops
from .grad_norm import grad_norm
from .loss import mlm_loss
from .naswot import naswot
from .nonembedding import nonembedding
from .params import params
from .synflow import synflow

# cheap to expensive
ZERO_COST: dict[str, Callable[[nn.Module, dict], float]] = {
    "params": params,
    "nonembedding": nonembedding,
    "flops": flops,
    "grad_norm": grad_norm,
    "synflow": synflow,
    "naswot": naswot,
}


def score_all(model: nn.Module, batch: dict, seed: int = 0, names: Iterable[str] | None = None) -> dict[str, float]:
    """The named proxies (all of :data:`ZERO_COST` by default, in that order) of ``model`` on ``batch``.

    Each proxy runs after ``torch.manual_seed(seed)`` with the model in eval mode (no dropout). The
    caller's random state, every module's training flag, the parameters, buffers and ``.grad``s are
    restored afterwards, so scoring does not change the model.
    """
    names = list(ZERO_COST) if names is None else list(names)
    unknown = [n for n in names if n not in ZERO_COST]
    if unknown:
        raise ValueError(f"unknown zero-cost proxy {unknown[0]!r}; allowed: {', '.join(ZERO_COST)}")
    modes = {m: m.training for m in model.modules()}
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    grads = [(p, p.grad) for p in model.parameters()]
    cuda = sorted({p.device.index or 0 for p in model.parameters() if p.device.type == "cuda"})
    scores = {}
    try:
        model.eval()
        with torch.random.fork_rng(devices=cuda):
            for name in names:
                torch.manual_seed(seed)
                scores[name] = float(ZERO_COST[name](model, batch))
    finally:
        with torch.no_grad():
            for key, value in model.state_dict().items():
                value.copy_(state[key])
        for p, g in grads:
            p.grad = g
        for m, mode in modes.items():
            m.train(mode)
    return scores


__all__ = ["ZERO_COST", "flops", "grad_norm", "mlm_loss", "naswot", "nonembedding", "params", "score_all",
           "synflow"]
