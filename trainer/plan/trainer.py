"""``trainer.*``: the budget and Lightning settings of a run, and its optimizer (mirrors ``conf/trainer/*.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from layernas.trainer.plan.views import from_dict, plain

SCHEDULES = ("linear", "cosine", "constant")


PRECISIONS = ("auto", "32-true", "bf16-mixed", "16-mixed", "64-true")


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with linear warm-up then linear/cosine decay (to ``min_lr_ratio`` x lr) or constant."""

    lr: float = 2e-3
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    warmup_ratio: float = 0.1
    schedule: str = "linear"
    min_lr_ratio: float = 0.0
    fused: bool | None = None  # torch's fused AdamW kernel; None: wherever torch has it (see module.adamw)

    def __post_init__(self) -> None:
        if self.fused is not None and not isinstance(self.fused, bool):
            raise ValueError(f"optim.fused={self.fused!r} is not allowed; allowed: true, false, null (auto)")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"optim.schedule={self.schedule!r} is not allowed; allowed: {', '.join(SCHEDULES)}")
        if not self.lr > 0:
            raise ValueError(f"optim.lr={self.lr!r} must be > 0")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"optim.warmup_ratio={self.warmup_ratio!r} must be in [0, 1)")
        object.__setattr__(self, "betas", tuple(self.betas))


@dataclass(frozen=True)
class TrainerConfig:
    """Budget and Lightning settings of one training run.

    ``max_steps`` and/or ``max_time`` (seconds) bound the run; validation runs every
    ``val_check_interval`` optimizer steps on at most ``limit_val_batches`` batches and once more at the
    end if the last step was not validated. ``threads`` caps torch's CPU threads (None: leave as is).
    """

    max_steps: int = 300
    max_time: float | None = None
    val_check_interval: int = 100
    limit_val_batches: int | None = None
    gradient_clip_val: float | None = 1.0
    precision: str = "auto"
    accelerator: str = "auto"
    devices: Any = 1
    strategy: str = "auto"
    threads: int | None = None
    log_every_n_steps: int = 10
    progress_bar: bool | str = "auto"  # auto: only when the output is a terminal
    status_every_s: float | None = 30.0  # without a bar: a status line at most this often (null: none)
    compile: bool = False  # torch.compile the encoder; its compile time is part of the first step
    optim: OptimConfig = field(default_factory=OptimConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.max_steps, int) or self.max_steps < 1:
            raise ValueError(f"trainer.max_steps={self.max_steps!r} must be a positive integer")
        if self.max_time is not None and not self.max_time > 0:
            raise ValueError(f"trainer.max_time={self.max_time!r} must be a positive number of seconds or null")
        if not isinstance(self.val_check_interval, int) or self.val_check_interval < 1:
            raise ValueError(f"trainer.val_check_interval={self.val_check_interval!r} must be a positive integer")
        if self.precision not in PRECISIONS:
            raise ValueError(f"trainer.precision={self.precision!r} is not allowed; allowed: {', '.join(PRECISIONS)}")
        if self.progress_bar not in (True, False, "auto"):
            raise ValueError(f"trainer.progress_bar={self.progress_bar!r} is not allowed; allowed: auto, true, false")
        if self.status_every_s is not None and (isinstance(self.status_every_s, bool)
                                                or not isinstance(self.status_every_s, (int, float))
                                                or self.status_every_s <= 0):
            raise ValueError(f"trainer.status_every_s={self.status_every_s!r} is not allowed; allowed: a number of "
                             "seconds > 0, or null for none")
        if not isinstance(self.compile, bool):
            raise ValueError(f"trainer.compile={self.compile!r} is not allowed; allowed: true, false")
        if isinstance(self.optim, dict):
            object.__setattr__(self, "optim", from_dict(OptimConfig, self.optim, "trainer.optim"))

    @classmethod
    def from_dict(cls, data: dict) -> TrainerConfig:
        return from_dict(cls, data, "trainer")

    def to_dict(self) -> dict:
        return plain(self)

    @property
    def shows_progress(self) -> bool:
        import sys

        return sys.stderr.isatty() if self.progress_bar == "auto" else bool(self.progress_bar)
