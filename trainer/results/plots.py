"""Study plots: optimisation history, Pareto front and which op pays off at which position (PNG via
matplotlib), plus Optuna's interactive plotly figures (HTML)."""

from __future__ import annotations

import math
import re
import statistics
import warnings
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from layernas.trainer.plumbing.files import atomic_write_bytes

_OP = re.compile(r"^([a-z]+)")
PLOTLY_JS = "plotly.min.js"  # beside the HTML plots (offline)


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    _figure().close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def history(trials: list[FrozenTrial], name: str, direction: str, path: Path) -> Path:
    """Objective of every complete trial, best-so-far line, baselines marked."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 4))
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    xs, ys = [t.number for t in done], [t.values[0] for t in done]
    ax.scatter(xs, ys, s=18, color="tab:blue", label="trial")
    best, line = None, []
    for t in sorted(done, key=lambda t: t.number):
        v = t.values[0]
        best = v if best is None or (v < best if direction == "minimize" else v > best) else best
        line.append((t.number, best))
    if line:
        ax.step(*zip(*line, strict=True), where="post", color="tab:red", label="best so far")
    for t in done:
        if t.user_attrs.get("baseline"):
            ax.annotate(t.user_attrs["baseline"], (t.number, t.values[0]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(_integer_ticks())
    ax.set_ylabel(name)
    ax.set_title(f"optimisation history ({direction})")
    ax.legend(fontsize=8)
    return _save(fig, path)


def _integer_ticks():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


OFFSETS = [(4, 4), (4, -11), (-4, 4), (-4, -11), (4, 14), (-4, -21), (4, 24), (-4, -31)]  # points from the dot


def place_labels(ax, labels: list[tuple[str, float, float]], fontsize: int = 7) -> None:
    """Annotate each (text, x, y) at the first of a few offsets around its point where it overlaps no label
    placed before it (points close together on a Pareto front would print their labels over each other)."""
    fig = ax.figure
    fig.canvas.draw()  # fixes the axes' limits, so the labels' extents are where they will be drawn
    placed = []
    for text, x, y in labels:
        for i, (dx, dy) in enumerate(OFFSETS):
            note = ax.annotate(text, (x, y), fontsize=fontsize, xytext=(dx, dy), textcoords="offset points",
                               ha="left" if dx >= 0 else "right")
            box = note.get_window_extent(fig.canvas.get_renderer())
            if not any(box.overlaps(other) for other in placed) or i == len(OFFSETS) - 1:
                placed.append(box)
                break
            note.remove()


def pareto(study: optuna.Study, names: list[str], path: Path) -> Path:
    """First two objectives of every complete trial, the Pareto front highlighted."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    front = {t.number for t in study.best_trials}
    others = [t for t in done if t.number not in front]
    ax.scatter([t.values[1] for t in others], [t.values[0] for t in others], s=16, color="tab:gray", label="trial")
    best = sorted((t for t in done if t.number in front), key=lambda t: t.values[1])
    ax.plot([t.values[1] for t in best], [t.values[0] for t in best], "o-", color="tab:red", label="Pareto front")
    place_labels(ax, [(f"#{t.number}", t.values[1], t.values[0]) for t in best])
    ax.set_xlabel(names[1])
    ax.set_ylabel(names[0])
    ax.legend(fontsize=8)
    return _save(fig, path)


def op_by_position(trials: list[FrozenTrial], name: str, path: Path) -> Path | None:
    """Heatmap of the mean objective of the complete trials that put op X at position i."""
    cells: dict[tuple[int, str], list[float]] = {}
    for t in trials:
        if t.state != TrialState.COMPLETE or "duplicate_of" in t.user_attrs:
            continue
        for i, sub in enumerate(t.user_attrs.get("arch", "").split()):
            cells.setdefault((i, _OP.match(sub).group(1)), []).append(t.values[0])
    if not cells:
        return None
    # a position where every trial has the same op (the ffn slots of an interleaved space) says nothing
    positions = sorted(i for i in {i for i, _ in cells} if sum(1 for j, _ in cells if j == i) > 1)
    if not positions:
        return None
    ops = sorted({op for i, op in cells if i in positions})
    grid = [[statistics.mean(cells[(i, op)]) if (i, op) in cells else math.nan for op in ops] for i in positions]
    plt = _figure()
    fig, ax = plt.subplots(figsize=(1.1 * len(ops) + 2, 0.45 * len(positions) + 1.5))
    image = ax.imshow(grid, cmap="viridis_r" if "loss" in name else "viridis", aspect="auto")
    for r, i in enumerate(positions):
        for c, op in enumerate(ops):
            if (i, op) in cells:
                red, green, blue, _ = image.cmap(image.norm(grid[r][c]))
                dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5  # text that reads on the cell's colour
                ax.text(c, r, f"{grid[r][c]:.3g}\nn={len(cells[(i, op)])}", ha="center", va="center", fontsize=6,
                        color="white" if dark else "black")
    ax.set_xticks(range(len(ops)), ops)
    ax.set_yticks(range(len(positions)), [f"{i}" for i in positions])
    ax.set_xlabel("op")
    ax.set_ylabel("position")
    ax.set_title(f"mean {name} by op and position")
    fig.colorbar(image, ax=ax, label=name)
    return _save(fig, path)


def interactive(study: optuna.Study, names: list[str], folder: Path) -> list[Path]:
    """Optuna's plotly figures as HTML. plotly.js is written once beside them (``plotly.min.js``) and each
    page loads that file, so the pages work without a network and each stays small."""
    from optuna import visualization as vis
    from plotly.offline import get_plotlyjs

    figures = {"history": lambda: vis.plot_optimization_history(study, target=lambda t: t.values[0],
                                                                target_name=names[0])}
    if len(names) > 1:
        figures["pareto"] = lambda: vis.plot_pareto_front(study, target_names=names)
    complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    if complete >= 3 and len(names) == 1:
        figures["importance"] = lambda: vis.plot_param_importances(study)
    written = []
    for name, make in figures.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. "some regimes have less than 2 trials" in small studies
                html = make().to_html(include_plotlyjs=PLOTLY_JS, full_html=True)
        except (ValueError, RuntimeError, ZeroDivisionError):
            continue  # e.g. importances when every trial has the same parameters
        path = folder / f"{name}.html"
        library = get_plotlyjs().encode()
        if not (folder / PLOTLY_JS).exists() or (folder / PLOTLY_JS).stat().st_size != len(library):
            atomic_write_bytes(folder / PLOTLY_JS, library)
        atomic_write_bytes(path, html.encode())
        written.append(path)
    return written
