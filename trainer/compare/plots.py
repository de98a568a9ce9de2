"""The compare's plots: the anytime curves, the distribution of each arm's best, and the op-by-position
frequency of each arm's top networks side by side."""

from __future__ import annotations

import math
from pathlib import Path

from layernas.trainer.results.plots import _figure, _save


def anytime_plot(doc: dict, path: Path) -> Path:
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = doc["anytime"]["steps"]
    for arm, curve in doc["anytime"]["arms"].items():
        line, = ax.plot(steps, curve["mean"], label=arm)
        ax.fill_between(steps, curve["low"], curve["high"], alpha=0.2, color=line.get_color())
    ax.set_xlabel("training steps (cumulative)")
    ax.set_ylabel(f"best {doc['metric']} so far")
    ax.set_title("best so far: mean over seeds and its 95% interval")
    ax.legend()
    return _save(fig, path)


def final_plot(doc: dict, path: Path) -> Path:
    plt = _figure()
    fig, ax = plt.subplots(figsize=(1.6 * len(doc["arms"]) + 2, 4))
    for i, arm in enumerate(a["arm"] for a in doc["arms"]):
        values = [r["best_at_budget"] for r in doc["runs"] if r["arm"] == arm and r["best_at_budget"] is not None]
        ax.scatter([i] * len(values), values, zorder=3)
        if values:
            ax.hlines(sum(values) / len(values), i - 0.25, i + 0.25, color="black")
        if any(r["regret"] is not None for r in doc["runs"]):
            checked = [r["check"]["mean"] for r in doc["runs"] if r["arm"] == arm and r["check"]
                       and r["check"]["mean"] is not None]
            ax.scatter([i + 0.15] * len(checked), checked, marker="x", color="grey", zorder=3,
                       label=f"x{doc['check_budget']:g} check of the answer" if i == 0 else None)
    ax.set_xticks(range(len(doc["arms"])), [a["arm"] for a in doc["arms"]])
    ax.set_ylabel(doc["metric"])
    ax.set_title(f"each run's best at {doc['budget']:,} steps (bar: mean)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return _save(fig, path)


def ops_plot(doc: dict, path: Path) -> Path | None:
    freq = doc["op_frequency"]
    positions = sorted({int(i) for a in freq.values() for i in a["share"]})
    ops = sorted({op for a in freq.values() for i in a["share"].values() for op in i})
    if not positions or not ops:
        return None
    plt = _figure()
    fig, axes = plt.subplots(1, len(freq), figsize=(1.0 * len(ops) * len(freq) + 2, 0.4 * len(positions) + 1.8),
                             squeeze=False)
    for ax, (arm, a) in zip(axes[0], freq.items(), strict=True):
        grid = [[a["share"].get(str(i), {}).get(op, 0.0) for op in ops] for i in positions]
        image = ax.imshow(grid, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        for r in range(len(positions)):
            for c in range(len(ops)):
                if not math.isclose(grid[r][c], 0.0):
                    ax.text(c, r, f"{grid[r][c]:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if grid[r][c] > 0.6 else "black")
        ax.set_xticks(range(len(ops)), ops)
        ax.set_yticks(range(len(positions)), [str(i) for i in positions])
        ax.set_title(f"{arm}: top networks (n={a['n']})", fontsize=9)
        ax.set_xlabel("op")
    axes[0][0].set_ylabel("position")
    fig.colorbar(image, ax=list(axes[0]), label="share")
    return _save(fig, path)
