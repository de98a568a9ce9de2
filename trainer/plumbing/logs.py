"""Console hygiene for the command line: Lightning's start-up chatter off, its warnings once."""

from __future__ import annotations

import logging
import warnings

# Warnings of the libraries about themselves, which a user of layernas cannot act on: torch's deprecation of
# the pytree API Lightning still calls, and Lightning's advice to add DataLoader workers (the batches are
# in memory already; workers would only add start-up time).
LIBRARY_WARNINGS = (r".*LeafSpec.*deprecated.*", r".*isinstance\(treespec, LeafSpec\).*",
                    r".*does not have many workers.*")


def quiet_lightning() -> None:
    """Call after Lightning is imported (its import sets its loggers to INFO and adds its own console
    handler, which doubles every message when the root logger already prints, as under Hydra)."""
    import lightning  # noqa: F401

    for message in LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", message=message)

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    root, lightning_logger = logging.getLogger(), logging.getLogger("lightning")
    if root.handlers:
        for handler in list(lightning_logger.handlers):
            lightning_logger.removeHandler(handler)
