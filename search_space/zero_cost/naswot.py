"""NASWOT: how distinct the binary activation codes of the tokens are."""

from __future__ import annotations

import torch
from torch import nn

MAX_TOKENS = 256  # the kernel is N x N over at most this many tokens
JITTER = 1e-6  # relative to the code length, added to the diagonal only when K is singular


def _code_sources(encoder: nn.Module) -> list[nn.Module]:
    """The first Linear of every ``ffn`` sublayer (its output is the pre-activation), or, for a pattern
    without ``ffn``, every sublayer's op."""
    ffn = [layer.op for spec, layer in zip(encoder.arch, encoder.layers, strict=True) if spec.op == "ffn"]
    if ffn:
        sources = [next(m for m in op.modules() if isinstance(m, nn.Linear)) for op in ffn]
    else:
        sources = [layer.op for layer in encoder.layers]
    return list(dict.fromkeys(sources))  # a tied sublayer (``^``) is hooked once; its hook fires at every use


def naswot(model: nn.Module, batch: dict) -> float:
    """log|det K| of the Hamming-similarity kernel of the tokens' binary activation codes.

    From Mellor et al. 2021, "Neural Architecture Search without Training". A token's code is the sign
    (> 0) of every FFN hidden pre-activation it produces, concatenated over the ``ffn`` sublayers (each
    feature of every op's output when there is no ``ffn``); tokens play the role of the paper's images:
    the batch's real tokens, at most 256, evenly spaced. K = c c^T + (1-c)(1-c)^T counts the units on
    which two tokens agree; log|det K| (float64) is large when the codes are far apart. A singular K
    (tokens with equal codes) gets a jitter of 1e-6 x code length on its diagonal, so the score stays
    finite and such networks rank low. Higher = predicted better.
    """
    encoder = model.encoder
    codes: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: codes.append((out > 0).flatten(0, -2)))
             for m in _code_sources(encoder)]
    try:
        with torch.no_grad():
            encoder(batch["input_ids"], batch.get("attention_mask"))
    finally:
        for hook in hooks:
            hook.remove()
    c = torch.cat(codes, dim=1)  # (B*T, H)
    if batch.get("attention_mask") is not None:
        c = c[batch["attention_mask"].bool().flatten()]
    if c.shape[0] > MAX_TOKENS:
        c = c[torch.linspace(0, c.shape[0] - 1, MAX_TOKENS, device=c.device).round().long()]
    c = c.to(torch.float64)
    K = c @ c.T + (1 - c) @ (1 - c).T  # (N, N)
    logdet = torch.linalg.slogdet(K).logabsdet
    if not torch.isfinite(logdet):
        K = K + JITTER * c.shape[1] * torch.eye(K.shape[0], dtype=K.dtype, device=K.device)
        logdet = torch.linalg.slogdet(K).logabsdet
    return float(logdet)
