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
    (d_in/g -> d_out/g) matrix, plus a bias. Its parameters are those of a kernel-1 ``Conv1d`` with
    ``groups=g``, as upstream (Graphcore's ``GroupBertOutput.grouped_matmul``), so weights copy one to one;
    it is computed as one batched matmul over the groups, not as a convolution (torch's grouped 1x1
    convolution on CPU took longer than the dense matmul it replaces).

    Args: d_in, d_out: widths (both divisible by g); g: groups.
    Shape: x (B, T, d_in) -> (B, T, d_out).
    """

    def __init__(self, d_in: int, d_out: int, g: int) -> None:
        super().__init__(d_in, d_out, 1, groups=g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return self.features_first(x.reshape(B * T, -1).T).T.reshape(B, T, -1)  # via (d_in, B T) -> (d_out, B T)

    def features_first(self, h: torch.Tensor) -> torch.Tensor:
        """The grouped matmul on features-first input: (d_in, N) -> (d_out, N). Group i's features are rows
        i d_in/g .. (i+1) d_in/g, so the g products are one ``baddbmm`` over views, without copies."""
        g = self.groups
        weight = self.weight.squeeze(-1).unflatten(0, (g, -1))  # (g, d_out/g, d_in/g)
        out = torch.baddbmm(self.bias.view(g, -1, 1), weight, h.unflatten(0, (g, -1)))  # (g, d_out/g, N)
        return out.flatten(0, 1)


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
        if self.mix is not None:
            return self.grouped(x)
        h = self.act(self.up(x))  # (B, T, rD)
        for layer in self.inner:
            h = self.act(layer(h))
        return self.down(h)  # (B, T, D)

    def grouped(self, x: torch.Tensor) -> torch.Tensor:
        """g > 1, computed features-first: the hidden layers as (rD, B T), so that each group of the grouped
        matmul is a contiguous block of rows and the products need no transposed copies (a matmul reads
        the transposed views of x and of the result in place). The same modules and arithmetic as
        ``up``, ``inner``, ``down`` and ``mix`` applied to (B, T, .) tensors."""
        B, T, D = x.shape
        h = self.act(torch.addmm(self.up.bias[:, None], self.up.weight, x.reshape(B * T, D).T))  # (rD, B T)
        for layer in self.inner:
            h = self.act(torch.addmm(layer.bias[:, None], layer.weight, h))
        y = self.down.features_first(h)  # (D, B T)
        return F.linear(y.T, self.mix.weight, self.mix.bias).view(B, T, D)


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
