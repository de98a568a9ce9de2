"""What ``layernas glue`` will do, checked before anything trains: the study's network (its answer, ``trial=N`` or
``arch=...``) and its baseline, the seeds, and one fine-tuning plan per GLUE task (one-line ``ValueError`` for a
bad value)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import optuna
from omegaconf import OmegaConf

from layernas.search_space import Architecture
from layernas.trainer.data.config import DataConfig
from layernas.trainer.data.glue import TASKS
from layernas.trainer.glue.settings import GlueConfig
from layernas.trainer.plan.logger import LoggerConfig
from layernas.trainer.plan.objectives import objectives_from
from layernas.trainer.plan.recorded import Recorded
from layernas.trainer.plan.run import RunPlan
from layernas.trainer.plan.study import StudyRef
from layernas.trainer.plan.task import TaskConfig
from layernas.trainer.plumbing.inputs import check_seeds
from layernas.trainer.plumbing.paths import conf_dir
from layernas.trainer.results.extensions import answer
from layernas.trainer.results.ranking import best_trials
from layernas.trainer.search.study import load_existing_study

PREFIX = "glue/"


@dataclass(frozen=True)
class Network:
    """A network the command fine-tunes: its trial (None: given by ``arch=...``), architecture and role."""

    trial: int | None
    arch: str
    role: str  # "network" or the baseline's name
    key: str = ""  # the architecture's key with the study's model settings (its retrain folder's name)

    @property
    def label(self) -> str:
        where = f"#{self.trial}" if self.trial is not None else "arch"
        return f"{where} ({self.role})" if self.role != "network" else where


@dataclass(frozen=True)
class GluePlan:
    """The study, its recorded run (this command's logger and results folder), the settings, the networks (the
    chosen one first), the seeds, and each task's fine-tuning plan."""

    study: optuna.Study
    ref: StudyRef
    run: RunPlan
    settings: GlueConfig
    networks: tuple[Network, ...]
    seeds: tuple[int, ...]
    tasks: dict[str, RunPlan]

    @property
    def folder(self) -> Path:
        """``results/<study>/glue/<key>/``, by the chosen network."""
        return self.ref.folder / "glue" / self.networks[0].key

    def pretrain_plan(self, seed: int) -> RunPlan:
        """The study's masked-LM run for ``glue.pretrain_steps`` on ``seed``."""
        return self.run.with_trainer(max_steps=self.settings.pretrain_steps).with_seed(seed)


def plan_glue(cfg: dict) -> GluePlan:
    ref = StudyRef.from_dict(cfg)
    settings = GlueConfig.from_dict(cfg["glue"])
    seeds = tuple(check_seeds("seeds", cfg.get("seeds") or [0]))
    study = load_existing_study(ref)
    recorded = Recorded.of(study)
    if recorded.run is None or recorded.run.task.name != "mlm":
        raise ValueError(f"study {study.study_name!r} is not a masked-LM search (task=mlm): `layernas glue` pre-trains "
                         "its network with the study's masked-LM settings")
    run = replace(recorded.run, logger=LoggerConfig.from_dict(cfg.get("logger")), results_dir=ref.results_dir)
    network = _chosen(study, cfg)
    networks = [replace(n, key=Architecture.parse(n.arch, run.model.d_model, **run.model.key_defaults).key())
                for n in [network, *_baseline(study, settings.baseline, network)]]  # a bad arch= fails here
    tasks = {task: finetune_plan(run, task, settings) for task in settings.tasks}
    for plan in tasks.values():
        plan.data.check_files()
    return GluePlan(study, ref, run, settings, tuple(networks), seeds, tasks)


def _chosen(study: optuna.Study, cfg: dict) -> Network:
    if cfg.get("arch"):
        return Network(None, str(cfg["arch"]), "network")
    trials = {t.number: t for t in study.get_trials(deepcopy=False) if "arch" in t.user_attrs}
    if cfg.get("trial") is not None:
        if cfg["trial"] not in trials:
            raise ValueError(f"trial={cfg['trial']} is not a trial of study {study.study_name!r} with an architecture; "
                             f"trials: 0..{len(study.trials) - 1}")
        return Network(cfg["trial"], trials[cfg["trial"]].user_attrs["arch"], "network")
    found = answer(study)
    if found is not None:
        return Network(found["trial"], found["arch"], "network")
    best = best_trials(study)
    if not best:
        raise ValueError(f"study {study.study_name!r} has no complete trial yet; give trial=N or arch=...")
    return Network(best[0].number, best[0].user_attrs["arch"], "network")


def _baseline(study: optuna.Study, name: str | None, chosen: Network) -> list[Network]:
    if name is None:
        return []
    done = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("baseline") == name
            and t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        have = sorted({t.user_attrs["baseline"] for t in study.trials if t.user_attrs.get("baseline")})
        raise ValueError(f"glue.baseline={name!r} is not a completed baseline of study {study.study_name!r}; allowed: "
                         f"{', '.join(have) or '(none)'}, or null")
    if done[0].user_attrs["arch"] == chosen.arch:
        return []  # the chosen network is the baseline
    return [Network(done[0].number, done[0].user_attrs["arch"], name)]


def task_data(task: str, settings: GlueConfig, pretraining: DataConfig) -> DataConfig:
    """The ``data=glue/<task>`` preset (``conf/data/glue/<task>.yaml`` over ``_base.yaml``) with the command's
    source, the pre-training data's sequence length, batch size and caches."""
    folder = conf_dir() / "data"
    preset = OmegaConf.to_container(OmegaConf.merge(OmegaConf.load(folder / "_base.yaml"),
                                                    OmegaConf.load(folder / "glue" / f"{task}.yaml")))
    preset.pop("defaults", None)
    preset.update(glue_dir=settings.glue_dir, seq_len=pretraining.seq_len, batch_size=pretraining.batch_size,
                  cache_dir=pretraining.cache_dir, max_train_docs=settings.max_train_docs)
    return DataConfig.from_dict(preset)


def finetune_plan(run: RunPlan, task: str, settings: GlueConfig) -> RunPlan:
    """The study's run set to fine-tune on ``task``: its data, the task's head and official metrics, its step
    budget (validated once, at the end, on the whole validation split), segment embeddings for a pair task."""
    data = task_data(task, settings, run.data)
    name = "regress" if data.label_type == "number" else "classify"
    metrics = list(TASKS[task].metrics)
    objectives = tuple(objectives_from(metrics, TaskConfig(name=name, objective="val/" + metrics[0][4:])))
    kind = TaskConfig(name=name, objective=objectives[0].key, direction=objectives[0].direction,
                      pooling=run.task.pooling)
    steps = settings.steps[task]
    trainer = replace(run.trainer, max_steps=steps, val_check_interval=steps, limit_val_batches=None, max_time=None,
                      optim=replace(run.trainer.optim, lr=settings.lr or run.trainer.optim.lr))
    model = replace(run.model, segments=data.text_pair_column is not None)
    return replace(run, data=data, task=kind, trainer=trainer, objectives=objectives, model=model)
