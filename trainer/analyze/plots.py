"""Layer x head heatmaps of one measure: a PNG (matplotlib) and an HTML page (plotly, with plotly.min.js
written once beside the pages, so they open without a network)."""

from __future__ import annotations

import math
from pathlib import Path

from layernas.trainer.plumbing.files import atomic_write_bytes
from layernas.trainer.results.plots import PLOTLY_JS, _figure, _save


def heatmap_png(grid: list[list[float]], rows: list[str], title: str, path: Path,
                bounds: tuple[float, float] | None = None) -> Path:
    """grid: one list per row (a sublayer part), one value per head (NaN: no such head); ``bounds``: the
    colour scale's (low, high), e.g. (0, 1) for shares, so figures compare; None: the data's range."""
    plt = _figure()
    heads = max(len(r) for r in grid)
    fig, ax = plt.subplots(figsize=(0.9 * heads + 3.2, 0.42 * len(rows) + 1.4))
    padded = [r + [math.nan] * (heads - len(r)) for r in grid]
    low, high = bounds or (None, None)
    image = ax.imshow(padded, cmap="viridis", aspect="auto", vmin=low, vmax=high)
    for r, row in enumerate(padded):
        for c, value in enumerate(row):
            if math.isfinite(value):
                red, green, blue, _ = image.cmap(image.norm(value))
                dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5  # text that reads on the cell's colour
                ax.text(c, r, f"{value:.3g}", ha="center", va="center", fontsize=7, color="white" if dark else "black")
    ax.set_xticks(range(heads), [str(h) for h in range(heads)])
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("head")
    ax.set_ylabel("sublayer")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax)
    return _save(fig, path)


def heatmap_html(grid: list[list[float]], rows: list[str], title: str, path: Path,
                 bounds: tuple[float, float] | None = None) -> Path:
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs

    heads = max(len(r) for r in grid)
    z = [[v if math.isfinite(v) else None for v in r] + [None] * (heads - len(r)) for r in grid]
    low, high = bounds or (None, None)
    fig = go.Figure(go.Heatmap(z=z, x=list(range(heads)), y=rows, colorscale="Viridis", zmin=low, zmax=high,
                               hovertemplate="sublayer %{y}<br>head %{x}<br>%{z:.4g}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="head", yaxis_title="sublayer", yaxis_autorange="reversed",
                      height=120 + 32 * len(rows), width=260 + 70 * heads)
    library = get_plotlyjs().encode()
    script = path.parent / PLOTLY_JS
    if not script.exists() or script.stat().st_size != len(library):
        atomic_write_bytes(script, library)
    atomic_write_bytes(path, fig.to_html(include_plotlyjs=PLOTLY_JS, full_html=True).encode())
    return path


def heatmap(grid: list[list[float]], rows: list[str], title: str, folder: Path, name: str,
            bounds: tuple[float, float] | None = None) -> Path:
    """Both files, ``<folder>/<name>.png`` and ``.html``; returns the PNG's path."""
    heatmap_html(grid, rows, title, folder / f"{name}.html", bounds)
    return heatmap_png(grid, rows, title, folder / f"{name}.png", bounds)
