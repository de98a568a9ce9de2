"""``strategy=...``: how a search scores its candidates, from ``conf/strategy/<name>.yaml``.

``standalone`` (the default) trains a proxy per candidate; ``supernet`` trains one weight-sharing
supernet and scores candidates with inherited weights (its keys mirror :class:`SupernetConfig`).
"""

from __future__ import annotations

STRATEGY = "supernet"  # a scored trial's user attribute ``strategy`` (trials.csv's column)
SCORING_PREFIX = "supernet/scoring/"  # study user attributes: each process's scoring wall time


