"""Console hygiene for the command line: Lightning's start-up chatter off, its warnings once."""

from __future__ import annotations

import logging


def quiet_lightning() -> None:
    """Call after Lightning is imported (its import sets its loggers to INFO and adds its own console
    handler, which doubles every message when the root logger already prints, as under Hydra)."""
    import lightning  # noqa: F401

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    root, lightning_logger = logging.getLogger(), logging.getLogger("lightning")
    if root.handlers:
        for handler in list(lightning_logger.handlers):
            lightning_logger.removeHandler(handler)
