"""A candidate's measured forward latency, the ``latency_ms`` objective."""

from __future__ import annotations

from layernas.search_space import Architecture
from layernas.trainer.plan.run import RunPlan


def measure_latency_ms(arch: Architecture, plan: RunPlan) -> float:
    """Median forward latency (ms) of the encoder on one batch of the configured size."""
    import torch

    from layernas.search_space import build_encoder
    from layernas.search_space.cost import forward_latency_ms

    data = plan.data
    encoder = build_encoder(arch, data.tokenizer.vocab_size, data.seq_len, plan.model).eval()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    ids = torch.randint(0, data.tokenizer.vocab_size, (data.batch_size, data.seq_len), device=device)
    return forward_latency_ms(encoder.to(device), ids, repeats=10, warmup=3)
