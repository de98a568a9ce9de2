"""The layer zoo. Each import registers its ops in :data:`registry.OPS`."""

from . import attention, composite, convolution, dsa, feedforward, groupbert, lvconv, mixed  # noqa: F401  (registration)
from .registry import OPS, Key, OpDef, get_op, register

__all__ = ["OPS", "Key", "OpDef", "get_op", "register"]
