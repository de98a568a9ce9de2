"""Attention with relative-position terms in its logits, in query blocks (the kernel of ``dsa`` and ``csa``).

Both ops add to q_i . k_j terms that depend on the offset i - j through a small table of R rows (DeBERTa's
2p buckets, the k taps of composite attention). Handed to ``scaled_dot_product_attention`` as a float mask,
those terms are a (B, h, T, T) tensor that keeps attention off the fused kernel, and autograd keeps it,
the scores and the probabilities for backward. Here the logits of a block of query rows are built from
gathers on the R-row tables, softmaxed, applied to v and dropped; backward recomputes them block by block
(as FlashAttention does). What is kept for backward is q, k, v and the tables, and what lives at once
grows with T x block, not T x T.
"""

from __future__ import annotations

import math

import torch

from .functional import exporting

# Query rows per block: as many as keep each (B h, rows, T) buffer of a block (three are live) within
# BLOCK_ELEMENTS, at least MIN_BLOCK. Larger blocks make the matmuls more efficient, smaller ones keep
# the buffers in cache; 2**23 (256 rows at B h = 16, T = 2048: 32 MiB in float32) measured best at T = 2048.
BLOCK_ELEMENTS = 2**23
MIN_BLOCK = 16
BLOCK: int | None = None  # a fixed number of rows instead (tests)


def block_rows(BH: int, T: int) -> int:
    """Query rows per block for B h heads of T keys."""
    return BLOCK or max(MIN_BLOCK, BLOCK_ELEMENTS // (BH * T))


class _Terms:
    """The tables of one call in the layout of a batched matmul over B h; built from the saved inputs in
    forward and again in backward, so that only the inputs are kept.

    pos_k, pos_q: (B h, R, d); fixed: (B h, 1, R); mask: (B h, 1, T) additive, 0 or -inf.

    The far offsets share the table's edge rows (DeBERTa's buckets clamp beyond max_relative_positions, the
    convolution taps beyond the span): every offset o >= o_hi reads row r_hi = rel[-1], every o <= o_lo row
    r_lo = rel[0]. For a block of query rows, the keys far enough left or right of all of them take the
    relative terms as a broadcast sum of one row score and one key score; only the keys in between need
    the gathers (and, in backward, the scatters): at T = 2048 about half of them for ``dsa(p=256)``, the
    block and k - 1 keys around it for ``csa(k)``.
    """

    def __init__(self, B, h, T, scale, rel, pos_k, pos_q, fixed, keep, like):
        self.B, self.h, self.T, self.scale, self.rel = B, h, T, scale, rel
        expand = lambda t: t.expand(B, h, *t.shape[-2:]).reshape(B * h, *t.shape[-2:])  # noqa: E731
        self.pos_k = None if pos_k is None else expand(pos_k)
        self.pos_q = None if pos_q is None else expand(pos_q)
        self.fixed = None if fixed is None else fixed.expand(B, *fixed.shape).reshape(B * h, 1, -1)
        self.R = fixed.shape[-1] if fixed is not None else (pos_k if pos_k is not None else pos_q).shape[-2]
        self.mask = None
        if keep is not None:
            mask = like.new_zeros(B, 1, T).masked_fill_(~keep[:, None, :], float("-inf"))
            self.mask = mask.repeat_interleave(h, dim=0)  # (B h, 1, T)
        changes = torch.nonzero(rel[1:] != rel[:-1]).flatten().tolist()  # where the row index steps
        self.r_lo, self.r_hi = int(rel[0]), int(rel[-1])
        self.o_lo = -(T - 1) + changes[0] if changes else -T  # a constant rel: every offset is "high"
        self.o_hi = -(T - 1) + changes[-1] + 1 if changes else -(T - 1)

    def regions(self, start: int, stop: int) -> tuple[int, int, torch.Tensor]:
        """For query rows start..stop: keys [0, a) read row r_hi, keys [b, T) row r_lo, and the table rows of
        the keys in between, (B h, n, b - a) long."""
        T = self.T
        a = min(max(start - self.o_hi + 1, 0), T)  # j < a: i - j >= o_hi for every row i of the block
        b = max(min(max(stop - 1 - self.o_lo, 0), T), a)  # j >= b: i - j <= o_lo for every row
        i = torch.arange(start, stop, device=self.rel.device)
        j = torch.arange(a, b, device=self.rel.device)
        index = self.rel[i[:, None] - j[None, :] + (T - 1)]  # (n, b - a)
        return a, b, index.expand(self.B * self.h, -1, -1)

    def key_table(self, kf: torch.Tensor) -> torch.Tensor | None:
        """s k_j . pos_q[r] for every row r and key j, -inf on masked keys: (B h, R, T), or None."""
        if self.pos_q is None:
            return None
        ktab = torch.bmm(self.pos_q, kf.transpose(1, 2)).mul_(self.scale)  # (B h, R, T)
        if self.mask is not None:
            ktab.add_(self.mask)  # a masked key's p2c is -inf in every row, so its logit is too
        return ktab

    def row_table(self, qb: torch.Tensor, flat: torch.Tensor) -> torch.Tensor | None:
        """s q_i . pos_k[r] + fixed[r] for the query rows qb (B h, n, d), in the flat buffer: (B h, n, R),
        or None."""
        if self.pos_k is None:
            return None if self.fixed is None else self.fixed.expand(qb.shape[0], qb.shape[1], -1)
        out = _view(flat, qb.shape[0], qb.shape[1], self.R)
        if self.fixed is None:
            return torch.bmm(qb, self.pos_k.transpose(1, 2), out=out).mul_(self.scale)
        return torch.baddbmm(self.fixed, qb, self.pos_k.transpose(1, 2), alpha=self.scale, out=out)

    def probs(self, qb, kf, ktab, region, out, spare, tab_flat):
        """Softmax over every key of the logits of the query rows qb (B h, n, d), written into ``out``
        (B h, n, T); ``region`` is :meth:`regions` of the rows, ``spare`` a flat buffer as large as ``out``,
        ``tab_flat`` one for the (B h, n, R) row table."""
        a, b, index = region
        tab = self.row_table(qb, tab_flat)  # (B h, n, R)
        keys = ktab if ktab is not None else self.mask  # what a key adds: its p2c row (mask included), or mask
        for cols, r in ((slice(0, a), self.r_hi), (slice(b, self.T), self.r_lo)):
            dst = out[..., cols]  # (B h, n, m): c2p = tab[i, r], p2c = ktab[r, j]
            row = None if tab is None else tab[..., r:r + 1]  # (B h, n, 1)
            col = None if keys is None else keys[:, r:r + 1, cols] if ktab is not None else keys[..., cols]
            if row is not None and col is not None:
                torch.add(row, col, out=dst)
            elif row is not None or col is not None:
                dst.copy_((row if row is not None else col).expand_as(dst))
            else:
                dst.zero_()
        if b > a:
            dst = out[..., a:b]
            if tab is not None:
                torch.gather(tab, -1, index, out=dst)  # c2p[i, j] = tab[i, r(i, j)]
                if ktab is not None:  # + p2c[i, j] = ktab[r(i, j), j]
                    dst.add_(torch.gather(ktab[..., a:b], -2, index, out=_view(spare, *index.shape)))
                elif self.mask is not None:
                    dst.add_(self.mask[..., a:b])
            elif ktab is not None:
                torch.gather(ktab[..., a:b], -2, index, out=dst)
            elif self.mask is not None:
                dst.copy_(self.mask[..., a:b].expand_as(dst))
            else:
                dst.zero_()
        _accumulate(out, qb, kf.transpose(1, 2), self.scale)  # + s q_i . k_j
        return torch.ops.aten._softmax.out(out, -1, False, out=out)  # in place: the kernel works row by row

    def table_grads(self, d_logits, region, d_tab, d_ktab) -> None:
        """Add the logits' gradient (B h, n, T) of one block to those of its row table (B h, n, R) and of
        the key table (B h, R, T): sums over the edge keys, scatters over the keys in between."""
        a, b, index = region
        for cols, r in ((slice(0, a), self.r_hi), (slice(b, self.T), self.r_lo)):
            if cols.stop > cols.start:
                if d_tab is not None:
                    d_tab[..., r].add_(d_logits[..., cols].sum(-1))
                if d_ktab is not None:
                    d_ktab[:, r, cols].add_(d_logits[..., cols].sum(-2))
        if b > a:
            if d_tab is not None:
                d_tab.scatter_add_(-1, index, d_logits[..., a:b])
            if d_ktab is not None:
                d_ktab[..., a:b].scatter_add_(-2, index, d_logits[..., a:b])

    def reduce(self, grad: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """(B h, ...) gradient of an expanded table -> the table's own shape: the copies summed."""
        grad = grad.view(self.B, self.h, *grad.shape[1:]).sum(0)  # (h, ...)
        return grad.sum(0, keepdim=True) if table.shape[0] == 1 and self.h > 1 else grad.view(table.shape)


def _accumulate(acc: torch.Tensor, a: torch.Tensor, b: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """acc += alpha a @ b in place: ``baddbmm`` with ``out=acc`` rather than ``baddbmm_``, which
    FlopCounterMode does not count."""
    return torch.baddbmm(acc, a, b, alpha=alpha, out=acc)


def _buffers(BH: int, n: int, T: int, R: int, like: torch.Tensor) -> list[torch.Tensor]:
    """Flat buffers reused by every block (a fresh tensor of this size costs page faults each time): three
    for (B h, n, T) tensors, two for (B h, n, R) ones."""
    return [like.new_empty(BH * n * T) for _ in range(3)] + [like.new_empty(BH * n * R) for _ in range(2)]


def _view(flat: torch.Tensor, *shape: int) -> torch.Tensor:
    """The first elements of a flat buffer as a contiguous tensor of ``shape``."""
    return flat[:math.prod(shape)].view(shape)


def _dropout_scale(generator, shape, p, like):
    """The next dropout mask of ``generator`` as a keep / (1 - p) multiplier."""
    keep = torch.rand(shape, generator=generator, device=like.device, dtype=like.dtype) >= p
    return keep.to(like.dtype).div_(1 - p)


class _BlockedRelativeAttention(torch.autograd.Function):
    """See :func:`relative_attention`."""

    @staticmethod
    def forward(ctx, q, k, v, rel, scale, pos_k, pos_q, fixed, keep, dropout_p, block):
        B, h, T, d = q.shape
        BH = B * h
        qf, kf, vf = (t.contiguous().view(BH, T, d) for t in (q, k, v))  # (B h, T, d)
        terms = _Terms(B, h, T, scale, rel, pos_k, pos_q, fixed, keep, q)
        ktab = terms.key_table(kf)
        seed = int(torch.randint(0, 2**62, (1,)).item()) if dropout_p > 0 else None
        generator = None if seed is None else torch.Generator(device=q.device).manual_seed(seed)
        flat, spare, _, tab_flat, _ = _buffers(BH, min(block, T), T, terms.R, q)
        out = torch.empty_like(qf)  # (B h, T, d)
        for start in range(0, T, block):
            stop = min(start + block, T)
            probs = _view(flat, BH, stop - start, T)
            terms.probs(qf[:, start:stop], kf, ktab, terms.regions(start, stop), probs, spare, tab_flat)  # (B h, n, T)
            if generator is not None:
                probs.mul_(_dropout_scale(generator, probs.shape, dropout_p, probs))
            torch.bmm(probs, vf, out=out[:, start:stop])
        ctx.save_for_backward(qf, kf, vf, rel, pos_k, pos_q, fixed, keep)
        ctx.scale, ctx.dropout_p, ctx.block, ctx.seed = scale, dropout_p, block, seed
        return out.view(B, h, T, d)

    @staticmethod
    def backward(ctx, grad_out):
        qf, kf, vf, rel, pos_k, pos_q, fixed, keep = ctx.saved_tensors
        B, h, T, d = grad_out.shape
        BH, s = B * h, ctx.scale
        terms = _Terms(B, h, T, s, rel, pos_k, pos_q, fixed, keep, qf)
        go = grad_out.contiguous().view(BH, T, d)  # (B h, T, d)
        dq, dk, dv = torch.empty_like(qf), torch.zeros_like(kf), torch.zeros_like(vf)
        d_pos_k = None if pos_k is None else torch.zeros_like(terms.pos_k)  # (B h, R, d)
        d_fixed = None if fixed is None else torch.zeros_like(terms.fixed)  # (B h, 1, R)
        ktab = terms.key_table(kf)  # (B h, R, T)
        d_ktab = None if ktab is None else torch.zeros_like(ktab)
        generator = None if ctx.seed is None else torch.Generator(device=qf.device).manual_seed(ctx.seed)
        flat, spare, flat_grad, tab_flat, d_tab_flat = _buffers(BH, min(ctx.block, T), T, terms.R, qf)
        vT = vf.transpose(1, 2)  # (B h, d, T)
        for start in range(0, T, ctx.block):
            stop = min(start + ctx.block, T)
            n = stop - start
            region = terms.regions(start, stop)
            qb, gb = qf[:, start:stop], go[:, start:stop]  # (B h, n, d)
            probs, d_logits = _view(flat, BH, n, T), _view(flat_grad, BH, n, T)
            terms.probs(qb, kf, ktab, region, probs, spare, tab_flat)  # (B h, n, T)
            torch.bmm(gb, vT, out=d_logits)  # d probs
            if generator is not None:
                drop = _dropout_scale(generator, probs.shape, ctx.dropout_p, probs)
                _accumulate(dv, torch.mul(probs, drop, out=_view(spare, BH, n, T)).transpose(1, 2), gb)
                d_logits.mul_(drop)
            else:
                _accumulate(dv, probs.transpose(1, 2), gb)
            # d logits = probs * (d probs - sum_j probs d probs), in place (row by row, as the softmax)
            torch.ops.aten._softmax_backward_data.out(d_logits, probs, -1, probs.dtype, grad_input=d_logits)
            torch.bmm(d_logits, kf, out=dq[:, start:stop]).mul_(s)
            _accumulate(dk, d_logits.transpose(1, 2), qb, s)
            d_tab = None if d_pos_k is None and d_fixed is None else _view(d_tab_flat, BH, n, terms.R).zero_()
            terms.table_grads(d_logits, region, d_tab, d_ktab)
            if d_pos_k is not None:
                _accumulate(dq[:, start:stop], d_tab, terms.pos_k, s)
                _accumulate(d_pos_k, d_tab.transpose(1, 2), qb, s)
            if d_fixed is not None:
                d_fixed.add_(d_tab.sum(dim=1, keepdim=True))
        d_pos_q = None
        if d_ktab is not None:
            _accumulate(dk, d_ktab.transpose(1, 2), terms.pos_q, s)
            d_pos_q = terms.reduce(torch.bmm(d_ktab, kf).mul_(s), pos_q)
        d_pos_k = None if d_pos_k is None else terms.reduce(d_pos_k, pos_k)
        d_fixed = None if d_fixed is None else terms.reduce(d_fixed, fixed.unsqueeze(1)).view(fixed.shape)
        shape = (B, h, T, d)
        return dq.view(shape), dk.view(shape), dv.view(shape), None, None, d_pos_k, d_pos_q, d_fixed, None, None, None


def rel_rows(rel: torch.Tensor, start: int, stop: int, T: int) -> torch.Tensor:
    """Rows start..stop of the (T, T) index rel[i - j + T - 1]: (stop - start, T) long."""
    i = torch.arange(start, stop, device=rel.device)
    j = torch.arange(T, device=rel.device)
    return rel[i[:, None] - j[None, :] + (T - 1)]


def relative_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rel: torch.Tensor, scale: float,
                       pos_k: torch.Tensor | None = None, pos_q: torch.Tensor | None = None,
                       fixed: torch.Tensor | None = None, keep: torch.Tensor | None = None,
                       dropout_p: float = 0.0, block: int | None = None) -> torch.Tensor:
    """softmax_j(S_ij) applied to v, with r(i, j) = rel[i - j + T - 1] and

        S_ij = s (q_i . k_j  +  q_i . pos_k[r]  +  k_j . pos_q[r])  +  fixed[r]      (-inf where keep_j is False)

    computed ``block`` query rows at a time; the logits and probabilities are recomputed in backward
    instead of kept.

    Args:
        q, k, v: (B, h, T, d).
        rel: (2T - 1,) long, the table row of each offset i - j (from -(T-1) at index 0), values in [0, R).
        scale: s.
        pos_k: (h or 1, R, d) rows scored against the query (DeBERTa's c2p, composite attention's query-based
            kernel), or None.
        pos_q: (h or 1, R, d) rows scored against the key (DeBERTa's p2c), or None.
        fixed: (h, R) per-head constants (composite attention's fixed kernel), or None.
        keep: (B, T) bool, False = a key no query attends to (None: all); each row needs one True.
        dropout_p: dropout on the probabilities; the masks come from a generator seeded from torch's
            global one and are drawn again in backward.
        block: query rows per block (None: :func:`block_rows`).
    Shape: -> (B, h, T, d).
    """
    if exporting():  # one graph for every length: the whole (B, h, T, T) logits, no Python loop over blocks
        return whole_relative_attention(q, k, v, rel, scale, pos_k, pos_q, fixed, keep)
    block = block or block_rows(q.shape[0] * q.shape[1], q.shape[2])
    return _BlockedRelativeAttention.apply(q, k, v, rel, scale, pos_k, pos_q, fixed, keep, dropout_p, block)


def whole_relative_attention(q, k, v, rel, scale, pos_k=None, pos_q=None, fixed=None, keep=None) -> torch.Tensor:
    """:func:`relative_attention` with the whole (B, h, T, T) logits in plain autograd and no dropout (what an
    exported graph runs, and a reference for the blocked kernel): same arguments, -> (B, h, T, d)."""
    B, h, T, _ = q.shape
    index = rel_rows(rel, 0, T, T)  # (T, T) table row of query i and key j
    logits = q @ k.transpose(-1, -2)  # (B, h, T, T)
    if pos_k is not None:
        logits = logits + torch.gather(q @ pos_k.transpose(-1, -2), -1, index.expand(B, h, T, T))
    if pos_q is not None:  # scored against the key's row: gather along it, then transpose
        logits = logits + torch.gather(k @ pos_q.transpose(-1, -2), -1, index.T.expand(B, h, T, T)).transpose(-1, -2)
    logits = logits * scale
    if fixed is not None:
        logits = logits + fixed[:, index]  # (h, T, T)
    if keep is not None:
        logits = logits.masked_fill(~keep[:, None, None, :], float("-inf"))
    return logits.softmax(dim=-1) @ v
