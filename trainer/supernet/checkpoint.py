"""The supernet's checkpoint: one safetensors file, ``results/<study>/supernet/supernet.safetensors``,
replaced atomically, holding the weights, AdamW's state and the torch random state, with everything else a
restart needs (steps done, the path sampler's state, wall time, the loss curve, what it was trained with)
as JSON in the file's metadata. Nothing is pickled."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from layernas.trainer.plumbing.files import atomic_write

NAME = "supernet.safetensors"
WEIGHT, ADAM, RNG = "model/", "optimizer/", "rng/torch"


@dataclass
class TrainState:
    """What a checkpoint says of the training besides its tensors."""

    step: int = 0
    complete: bool = False
    wall_s: float = 0.0  # training time over every session that worked on it
    sessions: int = 0
    sampler: dict | None = None
    curve: list = field(default_factory=list)  # [step, mean validation loss over the panel]
    train_loss: list = field(default_factory=list)  # [step, training loss]
    fingerprint: dict = field(default_factory=dict)  # the settings it was trained with
    optimizer: dict = field(default_factory=dict)  # AdamW's param_groups (hyperparameters, no tensors)


def path_of(study_dir: Path) -> Path:
    return Path(study_dir) / "supernet" / NAME


def _unique(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """One name per storage (the tied LM decoder is the embedding), as safetensors requires."""
    seen, out = set(), {}
    for name, t in state.items():
        if t.data_ptr() not in seen:
            seen.add(t.data_ptr())
            out[name] = t.detach().contiguous().cpu()
    return out


def save(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None, state: TrainState) -> None:
    """Write the checkpoint atomically (a reader, or a restart after a kill, never sees half of it)."""
    from safetensors.torch import save_file

    tensors = {WEIGHT + k: v for k, v in _unique(model.state_dict()).items()}
    groups = state.optimizer
    if optimizer is not None:
        opt = optimizer.state_dict()
        groups = opt["param_groups"]
        for index, values in opt["state"].items():
            for name, value in values.items():
                tensors[f"{ADAM}{index}/{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors[RNG] = torch.get_rng_state()
    doc = {**state.__dict__, "optimizer": groups}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"state": json.dumps(doc)}))


def read_state(path: Path) -> TrainState | None:
    """The checkpoint's state without loading its tensors, or None when there is none."""
    from safetensors import safe_open

    if not Path(path).is_file():
        return None
    with safe_open(str(path), framework="pt") as f:
        return TrainState(**json.loads(f.metadata()["state"]))


def load(path: Path, model: torch.nn.Module) -> tuple[TrainState, dict | None, torch.Tensor]:
    """Load the weights into ``model``; return the state, AdamW's state dict (None if not saved) and the
    torch random state saved with them."""
    from safetensors.torch import load_file

    state = read_state(path)
    tensors = load_file(str(path))
    weights = {k[len(WEIGHT):]: v for k, v in tensors.items() if k.startswith(WEIGHT)}
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError:  # a tensor of another shape
        missing, unexpected = [], ["(tensors of other shapes)"]
    if unexpected or not _tied_only(model, set(missing)):
        raise ValueError(f"{path} does not hold this supernet's weights (missing {sorted(missing)[:3]}, unexpected "
                         f"{sorted(unexpected)[:3]}); it was trained for another space or model: use another "
                         "study.name")
    adam: dict[int, dict] = {}
    for k, v in tensors.items():
        if k.startswith(ADAM):
            index, name = k[len(ADAM):].split("/", 1)
            adam.setdefault(int(index), {})[name] = v
    optimizer = {"state": adam, "param_groups": state.optimizer} if adam else None
    return state, optimizer, tensors[RNG]


def _tied_only(model: torch.nn.Module, missing: set[str]) -> bool:
    """Whether every name the file leaves out shares its storage with a name it has."""
    state = model.state_dict()
    kept = {t.data_ptr() for k, t in state.items() if k not in missing}
    return all(state[k].data_ptr() in kept for k in missing)
