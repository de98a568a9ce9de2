"""Which weights an export takes: the study's retrained ones (``retrain/<key>/model-seed<N>.safetensors``)
when they exist, else one proxy run trained now with the study's settings (with a line that says so): the
choice ``layernas analyze`` makes, through the same code (``analyze/source.py``, ``retrain/load.py``)."""

from __future__ import annotations

from layernas.trainer.plan.study import StudyRef
from layernas.trainer.retrain.load import retrained_folder, retrained_seeds


def weights_seed(ref: StudyRef, key: str, seed: int, given: bool) -> int:
    """The seed whose weights to export. A seed given on the command line must have retrained weights when the
    network was retrained on any seed (one-line error otherwise); without one, seed ``seed`` when it was
    retrained, else the lowest retrained seed; with no retrained weights, the proxy run's seed."""
    folder = retrained_folder(ref, key)
    seeds = retrained_seeds(folder)
    if not seeds or seed in seeds:
        return seed
    if given:
        raise ValueError(f"seed={seed} has no retrained weights: {folder / f'model-seed{seed}.safetensors'} is "
                         f"missing; allowed: seed={', '.join(map(str, seeds))} (the seeds this network was "
                         "retrained on)")
    return seeds[0]
