"""Numbers as the progress lines, the leaderboard and the reports print them."""

from __future__ import annotations

import math


def fmt(value) -> str:
    """4 decimals for ordinary floats, 4 significant digits for huge or non-finite ones, thousands
    separators for integers, ``-`` for a missing value."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) and abs(value) < 1e5 else f"{value:.4g}"
    return f"{value:,}" if isinstance(value, int) else str(value)
