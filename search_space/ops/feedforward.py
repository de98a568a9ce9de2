"""Position-wise feed-forward sublayer (``ffn``): BERT's, with GroupBERT's grouped output matmul and
EfficientBERT's activation and depth as keys.

Keys: ``r`` width (every hidden layer has r*D units), ``g`` groups of the output matmul (GroupBERT,
Chelombiev et al. 2021), ``n`` hidden layers and ``a`` activation (EfficientBERT, Dong et al. 2021, whose
MLP search space stacks dense layers of searched widths with activations from a set that holds GELU, ReLU
and Swish; github.com/cheneydon/efficient-bert, ``utils/operator_utils.py``). ``g``, ``n`` and ``a`` have
fixed defaults (1, 1, gelu) at which ``ffn`` is exactly the original one: the same modules and parameters,
and canonical strings leave them out, so ``ffn(r=4)`` keeps its text and ``key()``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .registry import RATIO, Key, OpDef, register

ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu, "swish": F.silu}

GROUPS = Key("g", None, "an integer >= 1 that divides d_model (groups of the output matmul)", lambda v: v >= 1, 2,
             fixed=1)
DEPTH = Key("n", None, "1 or 2 (hidden layers)", lambda v: v in (1, 2), 2, fixed=1)
ACTIVATION = Key("a", None, f"one of {', '.join(ACTIVATIONS)}", lambda v: True, "relu", fixed="gelu",
                 names=tuple(ACTIVATIONS))


class GroupedLinear(nn.Conv1d):
    """GroupBERT's grouped matmul: the input features in g contiguous groups, each mapped by its own
    (d_in/g -> d_out/g) matrix, plus a bias. A kernel-1 ``Conv1d`` with ``groups=g``, as upstream
    (Graphcore's ``GroupBertOutput.grouped_matmul``), so weights copy one to one.

    Args: d_in, d_out: widths (both divisible by g); g: groups.
    Shape: x (B, T, d_in) -> (B, T, d_out).
    """

    def __init__(self, d_in: int, d_out: int, g: int) -> None:
        super().__init__(d_in, d_out, 1, groups=g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)  # (B, d_in, T) -> (B, d_out, T) -> (B, T, d_out)


class FeedForward(nn.Module):
    """Applied to each position alone:

    g=1:  Linear(D, rD) -> a -> [Linear(rD, rD) -> a] * (n-1) -> Linear(rD, D)
    g>1:  the same up to the last matmul, which is GroupedLinear(rD, D, g) -> Linear(D, D): GroupBERT's
          grouped FFN, whose dense output projection mixes the groups again (upstream's
          ``dense_output_projection``; g=1 has no projection, so it is BERT's FFN exactly).

    Args:
        d_model: width D. r: expansion ratio of every hidden layer. g: groups of the output matmul.
        n: hidden layers (EfficientBERT's stacked dense layers). a: activation, gelu (exact), relu or swish.
    Shape:
        x: (B, T, D) -> (B, T, D); the mask is accepted for a uniform interface and not needed.
    """

    def __init__(self, d_model: int, r: int, g: int = 1, n: int = 1, a: str = "gelu") -> None:
        super().__init__()
        width = r * d_model
        self.act = ACTIVATIONS[a]
        self.up = nn.Linear(d_model, width)
        self.inner = nn.ModuleList(nn.Linear(width, width) for _ in range(n - 1))
        self.down = nn.Linear(width, d_model) if g == 1 else GroupedLinear(width, d_model, g)
        self.mix = nn.Linear(d_model, d_model) if g > 1 else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.act(self.up(x))  # (B, T, rD)
        for layer in self.inner:
            h = self.act(layer(h))
        y = self.down(h)  # (B, T, D)
        return y if self.mix is None else self.mix(y)


def ffn_params(d_model: int, r: int, g: int = 1, n: int = 1, a: str = "gelu") -> int:
    """Up (D rD + rD), n-1 inner (rD^2 + rD each), down (rD D / g + D), and the projection (D^2 + D) when g > 1."""
    w = r * d_model
    mix = d_model * d_model + d_model if g > 1 else 0
    return d_model * w + w + (n - 1) * (w * w + w) + w * d_model // g + d_model + mix


def ffn_flops(T: int, d_model: int, r: int, g: int = 1, n: int = 1, a: str = "gelu") -> int:
    w = r * d_model
    mix = d_model * d_model if g > 1 else 0
    return 2 * T * (d_model * w + (n - 1) * w * w + w * d_model // g + mix)


def ffn_activations(T: int, d_model: int, r: int, g: int = 1, n: int = 1, a: str = "gelu") -> int:
    """In and out; every hidden layer before and after its activation; the projection's input when g > 1."""
    return 2 * T * d_model + 2 * n * r * T * d_model + (T * d_model if g > 1 else 0)


def groups_divide(d_model: int | None, r: int, g: int = 1, **_) -> str | None:
    return None if d_model is None or d_model % g == 0 else f"groups g={g} must divide d_model={d_model}"


register(OpDef(
    name="ffn",
    summary="position-wise feed-forward: expansion ratio r, groups g, hidden layers n, activation a",
    keys=(RATIO, GROUPS, DEPTH, ACTIVATION),
    build=FeedForward,
    params=ffn_params,
    flops=ffn_flops,
    sizes=groups_divide,
    reach=lambda **keys: 0,
    activations=ffn_activations,
))
