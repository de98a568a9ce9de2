"""``logger.*``: where and how runs are recorded (W&B offline by default)."""

from __future__ import annotations

from dataclasses import dataclass

from layernas.trainer.plan.views import from_dict

MODES = ("offline", "online", "disabled")


KINDS = ("wandb", "none")


@dataclass(frozen=True)
class LoggerConfig:
    """``logger.*`` (mirrors ``conf/logger/*.yaml``): ``kind`` wandb or none; W&B's ``mode`` (offline
    writes runs under the study's folder for ``wandb sync``), project, entity, extra tags, and whether to
    record system metrics (CPU, GPU, memory) too."""

    kind: str
    mode: str
    project: str
    entity: str | None
    tags: tuple[str, ...]
    system_metrics: bool

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"logger.kind={self.kind!r} is not allowed; allowed: {', '.join(KINDS)}")
        if self.mode not in MODES:
            raise ValueError(f"logger.mode={self.mode!r} is not allowed; allowed: {', '.join(MODES)}")
        object.__setattr__(self, "tags", tuple(self.tags or ()))

    @classmethod
    def from_dict(cls, data: dict | None) -> LoggerConfig:
        if not data:  # no logger config at all (library use): no tracking
            data = {"kind": "none", "mode": "disabled", "project": "layernas", "entity": None, "tags": (),
                    "system_metrics": False}
        return from_dict(cls, data, "logger")

    @property
    def enabled(self) -> bool:
        return self.kind != "none"
