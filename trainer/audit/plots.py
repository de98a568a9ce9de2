"""The audit's plots (PNG): proxy value against each budget's, ranks against ranks, tau along the proxy."""

from __future__ import annotations

import statistics
from pathlib import Path

from layernas.trainer.results.plots import _figure, _save


def scatter_plot(plan, archs, path: Path) -> Path | None:
    """One point per architecture and budget: proxy value (x) against the budget's mean, seed std as bars."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    drawn = False
    for b, colour in zip(plan.budgets, ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"), strict=False):
        done = [a for a in archs if a.budgets.get(b)]
        if not done:
            continue
        xs = [plan.sign * a.proxy for a in done]
        vals = [[plan.sign * v for v in a.budgets[b].values()] for a in done]
        ys = [statistics.fmean(v) for v in vals]
        errs = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in vals]
        ax.errorbar(xs, ys, yerr=errs, fmt="o", ms=5, capsize=3, color=colour, label=f"x{b:g}")
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    for a in archs:
        if a.baseline:
            ax.annotate(a.baseline, (plan.sign * a.proxy, ax.get_ylim()[0]), fontsize=7, rotation=90, va="bottom")
    ax.set_xlabel(f"proxy value ({plan.proxy_steps} steps)")
    ax.set_ylabel("value at the longer budget (mean over seeds)")
    ax.set_title("proxy against longer training")
    ax.legend(fontsize=8)
    return _save(fig, path)


def _ranks(values: list[float]) -> list[int]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0] * len(values)
    for r, i in enumerate(order, 1):
        ranks[i] = r
    return ranks


def rank_plot(plan, archs, path: Path) -> Path | None:
    """Rank by the proxy (x) against rank at each budget (y); the diagonal is perfect agreement."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(5, 5))
    drawn = False
    for b in plan.budgets:
        done = [a for a in archs if a.budgets.get(b)]
        if len(done) < 2:
            continue
        ax.plot(_ranks([a.proxy for a in done]), _ranks([statistics.fmean(a.budgets[b].values()) for a in done]),
                "o", label=f"x{b:g}", alpha=0.8)
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    n = len(archs)
    ax.plot([1, n], [1, n], color="grey", lw=0.8, ls="--")
    ax.set_xlabel("rank by the proxy (1 = best)")
    ax.set_ylabel("rank at the longer budget")
    ax.set_title("ranks")
    ax.legend(fontsize=8)
    return _save(fig, path)


def ladder_plot(doc: dict, path: Path) -> Path | None:
    """Kendall tau (with its 95% interval) of the proxy's ranking at each step against the largest budget,
    and each zero-cost proxy's tau as a line."""
    rows = doc["ladder"]
    if not rows:
        return None
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6, 4))
    steps = [r["step"] for r in rows]
    ax.plot(steps, [r["tau"] for r in rows], "o-", color="tab:blue", label="proxy at step s")
    ax.fill_between(steps, [r["tau_ci"][0] for r in rows], [r["tau_ci"][1] for r in rows], alpha=0.2, color="tab:blue")
    for name, r in doc["zero_cost"].items():
        ax.axhline(r["tau"], lw=0.8, ls=":", label=f"zero-cost {name}", color=f"C{2 + len(ax.lines) % 7}")
    ax.axhline(0.6, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("proxy step")
    ax.set_ylabel(f"Kendall tau against x{doc['reference']:g}")
    ax.set_ylim(-1, 1)
    ax.set_title("how early the ranking settles")
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)
