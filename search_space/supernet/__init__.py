"""A weight-sharing supernet over a search space (pure PyTorch): every op the space allows at every
position in one network, with weights shared between the settings of an op where a rule says how
(:mod:`.sharing`), the paths a training step runs (:mod:`.paths`), and each path's weights exported to the
encoder ``build_encoder`` makes of it."""

from .model import SuperEncoder, SuperMaskedLM, space_slots
from .paths import PathSampler, RandomTrial, panel
from .sharing import SAME, SHARING, Share, share

__all__ = ["SAME", "SHARING", "PathSampler", "RandomTrial", "Share", "SuperEncoder", "SuperMaskedLM", "panel",
           "share", "space_slots"]
