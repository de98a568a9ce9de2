"""``glue.*`` (mirrors ``conf/glue.yaml``), checked in one line each."""

from __future__ import annotations

from dataclasses import dataclass

from layernas.trainer.data.glue import TASKS
from layernas.trainer.plan.views import from_dict


def _positive(name: str, value, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        extra = " or null" if optional else ""
        raise ValueError(f"{name}={value!r} is not allowed; allowed: an integer >= 1{extra}")


@dataclass(frozen=True)
class GlueConfig:
    """``tasks``: GLUE tasks (cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli); ``pretrain_steps``: masked-LM
    steps with the study's settings before fine-tuning (a ``layernas retrain`` of the network trained for as many
    steps is used instead where its weights exist); ``steps``: each task's fine-tuning steps; ``lr``: the
    fine-tuning learning rate (null: the study's); ``glue_dir``: a local folder in GLUE's layout (null: the
    Hugging Face hub); ``max_train_docs``: the first N training examples of each task (null: all);
    ``baseline``: the study's baseline fine-tuned beside the network (null: none)."""

    tasks: tuple[str, ...]
    pretrain_steps: int
    steps: dict
    lr: float | None = None
    glue_dir: str | None = None
    max_train_docs: int | None = None
    baseline: str | None = "bert"

    def __post_init__(self) -> None:
        tasks = list(self.tasks) if isinstance(self.tasks, (list, tuple)) else None
        if not tasks or len(set(tasks)) < len(tasks):
            raise ValueError(f"glue.tasks={self.tasks!r} is not allowed; allowed: a list of distinct GLUE tasks "
                             f"({', '.join(TASKS)})")
        unknown = [t for t in tasks if t not in TASKS]
        if unknown:
            raise ValueError(f"glue.tasks has unknown task {unknown[0]!r}; allowed: {', '.join(TASKS)}")
        _positive("glue.pretrain_steps", self.pretrain_steps)
        if not isinstance(self.steps, dict):
            raise ValueError(f"glue.steps={self.steps!r} is not allowed; allowed: a mapping of task to fine-tuning "
                             "steps, e.g. {sst2: 300, mrpc: 200}")
        for task in tasks:
            if task not in self.steps:
                raise ValueError(f"glue.steps has no budget for task {task!r}; allowed: glue.steps.{task}=<steps>")
            _positive(f"glue.steps.{task}", self.steps[task])
        if self.lr is not None and (isinstance(self.lr, bool) or not isinstance(self.lr, (int, float))
                                    or not 0 < self.lr < 1):
            raise ValueError(f"glue.lr={self.lr!r} is not allowed; allowed: a learning rate in (0, 1), or null")
        _positive("glue.max_train_docs", self.max_train_docs, optional=True)
        if self.glue_dir is not None and (not isinstance(self.glue_dir, str) or not self.glue_dir):
            raise ValueError(f"glue.glue_dir={self.glue_dir!r} is not allowed; allowed: a folder, or null (the hub)")
        if self.baseline is not None and (not isinstance(self.baseline, str) or not self.baseline):
            raise ValueError(f"glue.baseline={self.baseline!r} is not allowed; allowed: a baseline name, or null")
        object.__setattr__(self, "tasks", tuple(tasks))

    @classmethod
    def from_dict(cls, data: dict) -> GlueConfig:
        return from_dict(cls, data, "glue")
