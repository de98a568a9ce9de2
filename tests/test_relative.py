"""The blocked attention behind ``dsa`` and ``csa`` (``ops/relative.py``): gradients equal autograd through the
whole (B, h, T, T) logits the ops' ``attention_probs`` build, for any block size, with padding and where the far
offsets share the table's edge rows; gradcheck with every table kind and with dropout; and what training keeps
for backward stays near what ``sa`` keeps (the T x T logits are recomputed, not saved)."""

import pytest
import torch

from layernas.search_space import build_layer
from layernas.search_space.cost import saved_tensor_bytes
from layernas.search_space.ops import relative
from layernas.search_space.ops.composite import CompositeAttention
from layernas.search_space.ops.dsa import DisentangledAttention
from layernas.search_space.ops.functional import split_heads

D, H = 32, 4


def randomised(op):
    torch.manual_seed(1)
    with torch.no_grad():
        for p in op.parameters():
            p.normal_(std=0.3)
    return op


def heads(op, x):
    projections = ("query_proj", "key_proj", "value_proj") if hasattr(op, "query_proj") else ("query", "key", "value")
    return [split_heads(getattr(op, name)(x), op.h) for name in projections]  # (B, h, T, d) each


def gradients(op, x, mask, dense: bool):
    """Gradients of a random projection of the attention output with respect to x and every parameter: through
    ``attend`` (blocked), or through ``attention_probs(q, k) @ v`` (the dense reference)."""
    op.zero_grad()
    x = x.clone().requires_grad_()
    q, k, v = heads(op, x)
    out = op.attention_probs(q, k, mask) @ v if dense else op.attend(q, k, v, mask)
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(2), dtype=out.dtype)
    (out * weights).sum().backward()
    return [x.grad] + [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in op.parameters()], out


OPS = [
    ("dsa p=4", lambda: DisentangledAttention(D, p=4, h=H)),
    ("dsa p=4, edges from offset 7", lambda: DisentangledAttention(D, p=4, h=H, max_relative_positions=8)),
    ("dsa p=2, edges from offset 2", lambda: DisentangledAttention(D, p=2, h=H, max_relative_positions=3)),
    ("dsa p=256", lambda: DisentangledAttention(D, p=256, h=H)),
    ("csa k=1", lambda: CompositeAttention(D, k=1, h=H)),
    ("csa k=5", lambda: CompositeAttention(D, k=5, h=H)),
    ("csa k=31", lambda: CompositeAttention(D, k=31, h=H)),
]


@pytest.mark.parametrize("block", [4, 7, 64])
@pytest.mark.parametrize(("name", "make"), OPS, ids=[o[0] for o in OPS])
def test_blocked_gradients_equal_the_dense_logits(name, make, block, monkeypatch):
    monkeypatch.setattr(relative, "BLOCK", block)
    op = randomised(make()).double()
    x = torch.randn(3, 21, D, dtype=torch.float64)
    mask = torch.ones(3, 21, dtype=torch.bool)
    mask[1, 15:] = False
    mask[2, :] = False  # nothing real: attends to everything
    for m in (None, mask):
        ours, out = gradients(op, x, m, dense=False)
        reference, expected = gradients(op, x, m, dense=True)
        torch.testing.assert_close(out, expected, atol=1e-12, rtol=0)
        for a, b in zip(ours, reference, strict=True):
            torch.testing.assert_close(a, b, atol=1e-11, rtol=0)


def test_past_512_tokens_the_gradients_equal_the_dense_logits(monkeypatch):
    """DeBERTa's buckets clamp beyond max_relative_positions: most keys of a block read the edge rows."""
    monkeypatch.setattr(relative, "BLOCK", 128)
    op = randomised(DisentangledAttention(16, p=4, h=2)).double()
    x = torch.randn(1, 530, 16, dtype=torch.float64)
    mask = torch.ones(1, 530, dtype=torch.bool)
    mask[0, 520:] = False
    ours, out = gradients(op, x, mask, dense=False)
    reference, expected = gradients(op, x, mask, dense=True)
    torch.testing.assert_close(out, expected, atol=1e-12, rtol=0)
    for a, b in zip(ours, reference, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize("tables", ["c2p", "p2c", "c2p p2c", "fixed", "c2p fixed", "c2p shared"])
def test_gradcheck(tables, dropout):
    """torch's numerical gradient check on every table kind; with dropout the global seed is reset before each
    forward, so every call draws the same masks and backward must draw them again."""
    B, h, T, d, R = 2, 2, 9, 3, 5
    g = torch.Generator().manual_seed(0)
    rand = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True)  # noqa: E731
    q, k, v = rand(B, h, T, d), rand(B, h, T, d), rand(B, h, T, d)
    rel = torch.clamp(torch.arange(-(T - 1), T) + R // 2, 0, R - 1)  # offsets beyond +-2 read the edge rows
    pos_k = rand(1 if "shared" in tables else h, R, d) if "c2p" in tables else None
    pos_q = rand(h, R, d) if "p2c" in tables else None
    fixed = rand(h, R) if "fixed" in tables else None
    keep = torch.ones(B, T, dtype=torch.bool)
    keep[1, 6:] = False

    def f(q, k, v, *tables_):
        torch.manual_seed(0)
        it = iter(tables_)
        pk, pq, fx = (next(it) if t is not None else None for t in (pos_k, pos_q, fixed))
        return relative.relative_attention(q, k, v, rel, 0.7, pos_k=pk, pos_q=pq, fixed=fx, keep=keep,
                                           dropout_p=dropout, block=4)

    inputs = (q, k, v, *(t for t in (pos_k, pos_q, fixed) if t is not None))
    assert torch.autograd.gradcheck(f, inputs)
    if dropout:
        torch.manual_seed(0)
        a = relative.relative_attention(q, k, v, rel, 0.7, pos_k=pos_k, pos_q=pos_q, fixed=fixed, keep=keep,
                                        dropout_p=dropout, block=4)
        b = relative.relative_attention(q, k, v, rel, 0.7, pos_k=pos_k, pos_q=pos_q, fixed=fixed, keep=keep,
                                        dropout_p=dropout, block=4)
        assert not torch.equal(a, b)  # a new mask each call


@pytest.mark.parametrize("op", ["dsa", "csa(k=9)", "dsa(p=8)", "csa(k=31)"])
def test_training_keeps_no_T_by_T_tensors(op):
    """At T=1024 one head's T x T logits alone (4 MiB) exceed everything ``sa`` keeps (3 MiB here); the ops
    keep at most 3x what ``sa`` keeps."""
    x = torch.randn(2, 1024, 64, requires_grad=True)
    kept = {}
    for name in ("sa", op):
        torch.manual_seed(0)
        layer = build_layer(name, d_model=64, n_heads=4, position="none", dropout=0.0)
        kept[name] = saved_tensor_bytes(layer, x)
    assert kept[op] <= 3 * kept["sa"], kept
