"""Shared test helpers: random valid architectures and op specs over the whole registry."""

from __future__ import annotations

import random

from layernas.search_space import OPS, Architecture, LayerSpec

DOMAINS = {
    "h": [1, 2, 4, 8],
    "k": [1, 3, 5, 7, 9, 15, 31],
    "b": [1, 2, 3, 4, 8],
    "r": [1, 2, 3, 4],
    "hr": [1, 2, 4],
}


def random_spec(rng: random.Random, d_model: int | None = 64, op: str | None = None) -> LayerSpec:
    """A random valid sublayer; keys are drawn from DOMAINS until the op's size checks accept them."""
    op = op or rng.choice(sorted(OPS))
    names = OPS[op].key_names
    while True:
        keys = {n: rng.choice(DOMAINS[n]) for n in names}
        if OPS[op].sizes(d_model, **keys) is None:
            return LayerSpec.make(op, d_model, **keys)


def random_arch(rng: random.Random, d_model: int | None = None, max_len: int = 12) -> Architecture:
    n = rng.randint(1, max_len)
    return Architecture(tuple(random_spec(rng, d_model) for _ in range(n)), d_model)


def op_example(op: str, d_model: int = 32) -> str:
    """A small sublayer string for each op, exercising its keys."""
    examples = {"sa": "sa(h=4)", "bsa": "bsa(b=4,h=4)", "sdconv": "sdconv(k=5,h=4)",
                "mixed": "mixed(k=5,h=4,hr=2)", "lconv": "lconv(k=5,h=4)", "dconv": "dconv(k=5,h=4)",
                "ffn": "ffn(r=2)"}
    return examples.get(op) or str(random_spec(random.Random(0), d_model, op))


def span_conv_as_matmul(u, kernel):
    """Reference form of ``apply_span_kernel``: a k-wide window copy then a batched matrix product (what
    HF's ConvBERT does). FlopCounterMode sees its multiply-adds; the element-wise production form it
    cannot see."""
    import torch.nn.functional as F

    B, T, C = u.shape
    h, k = kernel.shape[-2:]
    p = (k - 1) // 2
    windows = F.pad(u, (0, 0, p, p)).unfold(1, k, 1).reshape(B, T, h, C // h, k)  # (B, T, h, d, k)
    return (windows @ kernel.unsqueeze(-1)).reshape(B, T, C)
