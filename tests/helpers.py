"""Shared test helpers: random valid architectures and op specs over the whole registry."""

from __future__ import annotations

import random
import sys
from pathlib import Path

from layernas.search_space import OPS, Architecture, LayerSpec

CONF = Path(__file__).resolve().parents[1] / "conf"
WANDB = str(Path(sys.executable).parent / "wandb")  # the CLI of the wandb installed with this Python, not PATH's

DOMAINS = {
    "h": [1, 2, 4, 8],
    "k": [1, 3, 5, 7, 9, 15, 31],
    "b": [1, 2, 3, 4, 8],
    "r": [1, 2, 3, 4],
    "hr": [1, 2, 4],
    "g": [1, 2, 4],
    "n": [1, 2],
    "a": ["gelu", "relu", "swish"],
    "gs": [1, 2, 4, 8, 16],
    "i": [0, 1, 2, 3, 4, 8],
    "p": [2, 3, 4, 8, 16, 256],
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
    """A small sublayer string for each op, exercising its keys: the registry's example when it fits
    d_model, else a random valid one."""
    try:
        return str(LayerSpec.parse(OPS[op].example, d_model))
    except ValueError:
        return str(random_spec(random.Random(0), d_model, op))


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


def conf_options(group: str) -> list[str]:
    """The options of a config group, read from its folder (as the CLI lists them)."""
    from layernas.trainer.apps.overrides import group_options

    return group_options(group)


def conf_sampler(name: str, seed: int = 0):
    """The Optuna sampler ``sampler=<name>`` makes in a single-objective search."""
    from omegaconf import OmegaConf

    from layernas.trainer.search.samplers import make_sampler

    node = OmegaConf.create({"seed": seed, "sampler": OmegaConf.load(CONF / "sampler" / f"{name}.yaml")})
    from layernas.trainer.plan.search import ComponentConfig

    return make_sampler(ComponentConfig.from_dict(OmegaConf.to_container(node, resolve=True)["sampler"]), 1)


def proxy(arch: str, cfg, **wants):
    """``run_proxy`` of a composed config, as ``layernas proxy`` runs it (see ``apps.proxy.run_config``)."""
    from layernas.trainer.apps.proxy import run_config

    return run_config(arch, cfg, **wants)
