"""A validated search: every check of the config, before anything is imported, tokenized or written."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from layernas.search_space import ModelConfig
from layernas.search_space.space import SearchSpace, make_space

from ..budget import check_budget
from ..config import check_run_config
from ..inputs import check_writable
from ..names import check_name
from ..supernet.settings import supernet_settings
from .objectives import Objective, objectives_from
from .samplers import make_pruner, make_sampler
from .settings import StorageConfig, StudyConfig
from .storage import storage_url


class TrialFailed(RuntimeError):
    """A proxy run that failed (NaN loss, out of memory, an exception); its reason is a user attr."""


@dataclass
class SearchPlan:
    """A validated search: nothing is written before this exists."""

    cfg: dict
    study: StudyConfig
    storage: StorageConfig
    space: SearchSpace
    objectives: list[Objective]
    study_dir: Path
    budget: str = ""  # the largest candidate's size, FLOPs and memory against the machine's
    supernet: object = None  # strategy=supernet: its SupernetConfig (None: a proxy run per candidate)
    classes: dict | None = None  # the labelled data's named classes, once the data is prepared

    @property
    def name(self) -> str:
        return self.study.name

    @property
    def n_trials(self) -> int:
        return self.study.n_trials

    @property
    def timeout(self) -> float | None:
        return self.study.timeout

    @property
    def n_workers(self) -> int:
        return self.study.n_workers

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    @property
    def prunes(self) -> bool:
        return len(self.objectives) == 1 and self.cfg["pruner"].get("name", "none") != "none"

    @property
    def pruner_note(self) -> str | None:
        """Why the configured pruner does not run, or None: Optuna prunes single-objective studies only."""
        asked = self.cfg["pruner"].get("name", "none")
        if asked == "none" or self.prunes:
            return None
        return (f"pruner={asked} is not used: Optuna prunes only studies of one objective, and "
                f"objectives={[o.name for o in self.objectives]} has {len(self.objectives)}; every trial runs "
                "its whole budget")

    def with_data(self, info) -> SearchPlan:
        """The same plan with the space's costs (and constraints) for the tokenizer's real vocabulary, and
        the size line for it and the data's classes, known once the data is prepared; the check that some
        candidate fits is made again. The config names the classes from here on (``data.label_names``)."""
        from ..class_names import with_label_names  # reads data: not imported with the plan

        space = replace(self.space, vocab_size=info.vocab_size)
        space.check_feasible()
        return replace(self, space=space, budget=check_budget(space, self.cfg, info.vocab_size, info.n_classes),
                       cfg=with_label_names(self.cfg), classes=info.classes)


def plan_search(cfg: dict) -> SearchPlan:
    """Check the whole config; one-line ValueErrors name the bad value and what is allowed."""
    name = check_name("study.name", cfg["study"]["name"], cfg["results_dir"])
    study = StudyConfig.from_dict({**cfg["study"], "name": name})
    storage = StorageConfig.from_dict(cfg["storage"])
    run = check_run_config("ffn", cfg, budget=False)
    objectives = objectives_from(list(cfg["objectives"]), cfg["task"])
    # every run of the study (trials, seed noise, retraining) reports and prunes on the study's first objective
    cfg = {**cfg, "task": {**cfg["task"], "objective": objectives[0].key, "direction": objectives[0].direction}}
    supernet = supernet_settings(cfg)
    space_cfg = dict(cfg["space"])
    space = make_space(space_cfg.pop("name"), space_cfg.pop("structure"), space_cfg.pop("n_sublayers"),
                       space_cfg.pop("ops"), ModelConfig.from_dict(cfg["model"]),
                       vocab_size=run.data.tokenizer.vocab_size, seq_len=run.data.seq_len,
                       fixed_length=bool(cfg["sampler"].get("fixed_length", False)), **space_cfg)
    space.check_feasible()
    budget = check_budget(space, cfg)
    study_dir = Path(cfg["results_dir"]) / name
    url = storage_url(cfg["storage"], study_dir)
    local = url.removeprefix("sqlite:///") if storage.kind == "journal" or url.startswith("sqlite:///") else None
    if local is not None:  # a storage file in a folder that cannot be written fails here, not after tokenizing
        check_writable(Path(local).parent, "storage.url" if storage.url else "results_dir")
    make_sampler(cfg["sampler"], len(objectives))
    make_pruner(cfg["pruner"], len(objectives))
    return SearchPlan(cfg, study, storage, space, objectives, study_dir, budget, supernet)
