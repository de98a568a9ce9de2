"""The race's plot: each contender's mean ± std over seeds at each rung, ended by a cross where it was
dropped."""

from __future__ import annotations

from pathlib import Path

from layernas.trainer.results.plots import _figure, _save


def race_plot(doc: dict, path: Path) -> Path | None:
    if not doc["rungs"]:
        return None
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    budgets = [r["budget"] for r in doc["rungs"]]
    for c in doc["contenders"]:
        points = [(r["budget"], row) for r in doc["rungs"] for row in r["rows"] if row["trial"] == c["trial"]
                  and row["mean"] is not None]
        if not points:
            continue
        xs, rows = [b for b, _ in points], [row for _, row in points]
        label = f"#{c['trial']}" + (f" {c['baseline']}" if c["baseline"] else "")
        style = "--" if c["baseline"] else "-"
        line = ax.errorbar(xs, [r["mean"] for r in rows], yerr=[r["std"] or 0 for r in rows], fmt="o" + style,
                           ms=4, capsize=3, label=label)
        dropped = [(b, row) for b, row in points if row["status"].startswith("dropped")]
        for b, row in dropped:
            ax.plot([b], [row["mean"]], "x", ms=10, color=line[0].get_color())
    ax.set_xscale("log")
    ax.set_xticks(budgets, [f"x{b:g}" for b in budgets])
    ax.set_xlabel(f"rung (multiple of the {doc['proxy_steps']}-step proxy)")
    ax.set_ylabel(f"{doc['metric']} (mean ± std over seeds)")
    ax.set_title("race: x = dropped at that rung")
    ax.legend(fontsize=7, ncols=2)
    return _save(fig, path)
