"""Per-head measures of attention maps and convolution kernels, accumulated over batches.

Attention (Clark et al. 2019, "What Does BERT Look At?", section 3; Kovaleva et al. 2019's head patterns;
Chang et al. 2021 for convolution-likeness), for each real query token, averaged over the query tokens:

- ``distance``: mean |i - j| in tokens under the query's attention;
- ``entropy``: of the attention distribution, in nats;
- ``cls``, ``sep``: attention mass on [CLS] / [SEP] tokens (only over inputs that contain one);
- ``self``, ``prev``, ``next``: mass on the token itself, the one before, the one after (``prev``/``next``
  only over queries that have a real neighbour there);
- ``window<k>``: mass within a span-k window, |i - j| <= (k-1)/2: how much of the head a span-k
  convolution could express.

Padded keys get no mass (a map that gives them any is renormalised over the real keys) and padded
queries, or queries whose map is empty (a bsa key block with no real token), are not counted. Each
measure ``m`` comes with ``uniform/m``: its value for attention spread evenly over the real keys.

Convolution kernels (B, T, h, k), per real position: the same ``distance``, ``entropy``, ``self``
(centre tap), ``prev``, ``next`` and ``window<k>`` over the kernel's taps, plus ``span``: the width of
the smallest centred window holding 90% of the kernel's mass, and ``usage`` = span / k.
"""

from __future__ import annotations

import math

import torch

SPAN_MASS = 0.9  # the share of a kernel's mass its effective span holds


def window_name(k: int) -> str:
    return f"window{k}"


def attention_measures(spans: list[int]) -> list[str]:
    return ["distance", "entropy", "cls", "sep", "self", "prev", "next", *map(window_name, spans)]


def kernel_measures(spans: list[int]) -> list[str]:
    return ["distance", "entropy", "self", "prev", "next", "span", "usage", *map(window_name, spans)]


class _Sums:
    """Per-head sums of a value and counts of the rows it was summed over, in float64."""

    def __init__(self, heads: int) -> None:
        self.heads = heads
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, torch.Tensor] = {}

    def add(self, name: str, values: torch.Tensor, rows: torch.Tensor) -> None:
        """values, rows: (B, h, N) (rows bool, broadcastable); summed over batch and positions."""
        values, rows = torch.broadcast_tensors(values, rows)
        total = (values.double() * rows).sum(dim=(0, 2)).cpu()
        count = rows.sum(dim=(0, 2)).double().cpu()
        self.sums[name] = self.sums.get(name, torch.zeros(self.heads, dtype=torch.float64)) + total
        self.counts[name] = self.counts.get(name, torch.zeros(self.heads, dtype=torch.float64)) + count

    def result(self, names: list[str]) -> dict[str, list[float]]:
        out = {}
        for name in names:
            for key in (name, f"uniform/{name}"):
                if key in self.sums:
                    counts = self.counts[key]
                    out[key] = [s / c if c > 0 else math.nan for s, c in zip(self.sums[key].tolist(),
                                                                             counts.tolist(), strict=True)]
                elif key == name:
                    out[key] = [math.nan] * self.heads
        out["rows"] = self.counts.get("entropy", torch.zeros(self.heads)).tolist()
        return out


def _offsets(T: int, device) -> torch.Tensor:
    pos = torch.arange(T, device=device)
    return (pos[:, None] - pos[None, :]).abs()  # (T, T): |i - j|


class AttentionStats:
    """Accumulates the attention measures of one attention part (h heads) over batches."""

    def __init__(self, heads: int, spans: list[int]) -> None:
        self.spans = list(spans)
        self.sums = _Sums(heads)

    def add(self, probs: torch.Tensor, real: torch.Tensor, tokens: dict[str, torch.Tensor] | None = None) -> None:
        """probs: (B, h, T, T) attention of query i over key j; real: (B, T) bool, True = real token;
        tokens: name -> (B, T) bool marking special tokens (``cls``, ``sep``)."""
        real = real.to(probs.device)
        p = probs * real[:, None, None, :]  # padded keys get no mass
        total = p.sum(dim=-1, keepdim=True)
        p = torch.where(total > 0, p / total.clamp_min(torch.finfo(p.dtype).tiny), 0.0)
        rows = real[:, None, :] & (total.squeeze(-1) > 0)  # (B, h, T): queries that are counted
        dist = _offsets(p.shape[-1], p.device).to(p.dtype)
        n_real = real.sum(dim=-1).clamp_min(1).to(p.dtype)[:, None, None]  # (B, 1, 1)
        uniform = real[:, None, None, :].to(p.dtype) / n_real[..., None]  # (B, 1, 1, T)
        add = self.sums.add
        add("distance", (p * dist).sum(-1), rows)
        add("uniform/distance", (uniform * dist).sum(-1), rows)
        add("entropy", -torch.xlogy(p, p).sum(-1), rows)
        add("uniform/entropy", torch.log(n_real).expand_as(rows), rows)
        for name, flag in (tokens or {}).items():
            flag = flag.to(p.device) & real
            present = rows & flag.any(dim=-1)[:, None, None]  # only inputs that contain the token
            add(name, (p * flag[:, None, None, :]).sum(-1), present)
            add(f"uniform/{name}", (uniform * flag[:, None, None, :]).sum(-1), present)
        add("self", p.diagonal(dim1=-2, dim2=-1), rows)
        add("uniform/self", (1 / n_real).expand_as(rows), rows)
        prev_rows, next_rows = rows[..., 1:] & real[:, None, :-1], rows[..., :-1] & real[:, None, 1:]
        add("prev", p.diagonal(offset=-1, dim1=-2, dim2=-1), prev_rows)  # query i, key i - 1
        add("next", p.diagonal(offset=1, dim1=-2, dim2=-1), next_rows)  # query i, key i + 1
        add("uniform/prev", (1 / n_real).expand_as(prev_rows), prev_rows)
        add("uniform/next", (1 / n_real).expand_as(next_rows), next_rows)
        for k in self.spans:
            near = (dist <= (k - 1) // 2).to(p.dtype)
            add(window_name(k), (p * near).sum(-1), rows)
            add(f"uniform/{window_name(k)}", (uniform * near).sum(-1), rows)

    def result(self) -> dict[str, list[float]]:
        """measure -> per-head value (NaN where nothing was counted), ``uniform/<measure>`` and ``rows``."""
        return self.sums.result(attention_measures(self.spans))


class KernelStats:
    """Accumulates the kernel measures of one convolution part (h heads, span k) over batches."""

    def __init__(self, heads: int, k: int, spans: list[int]) -> None:
        self.k, self.spans = k, list(spans)
        self.sums = _Sums(heads)

    def add(self, kernel: torch.Tensor, real: torch.Tensor) -> None:
        """kernel: (B, T, h, k) normalised taps of each position; real: (B, T) bool."""
        w = kernel.permute(0, 2, 1, 3)  # (B, h, T, k)
        k, c = w.shape[-1], (w.shape[-1] - 1) // 2
        rows = real.to(w.device)[:, None, :]  # (B, 1, T)
        off = (torch.arange(k, device=w.device) - c).abs()  # (k,)
        uniform = torch.full((k,), 1.0 / k, dtype=w.dtype, device=w.device)
        add = self.sums.add
        for prefix, taps in (("", w), ("uniform/", uniform.expand_as(w))):
            add(f"{prefix}distance", (taps * off).sum(-1), rows)
            add(f"{prefix}entropy", -torch.xlogy(taps, taps).sum(-1), rows)
            add(f"{prefix}self", taps[..., c], rows)
            zero = torch.zeros_like(taps[..., c])
            add(f"{prefix}prev", taps[..., c - 1] if k > 1 else zero, rows)
            add(f"{prefix}next", taps[..., c + 1] if k > 1 else zero, rows)
            within = torch.stack([(taps * (off <= r)).sum(-1) for r in range(c + 1)], dim=-1)  # (B, h, T, c+1)
            width = 2 * (within < SPAN_MASS - 1e-9).sum(-1).clamp(max=c) + 1  # smallest centred width >= 90%
            add(f"{prefix}span", width.to(w.dtype), rows)
            add(f"{prefix}usage", width.to(w.dtype) / k, rows)
            for span in self.spans:
                add(f"{prefix}{window_name(span)}", (taps * (off <= (span - 1) // 2)).sum(-1), rows)

    def result(self) -> dict[str, list[float]]:
        return self.sums.result(kernel_measures(self.spans))
