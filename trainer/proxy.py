"""One proxy run: an architecture and a config (and optionally an Optuna trial) -> metrics.

Tasks: ``mlm`` (objective: validation masked-LM loss), ``classify`` (from scratch; validation accuracy)
and ``pretrain_finetune`` (masked-LM pre-training, then fine-tuning; validation accuracy).
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import lightning.pytorch as pl
import torch
from omegaconf import DictConfig, OmegaConf

from layernas.search_space import Architecture, MaskedLM, ModelConfig, SequenceClassifier, build_encoder
from layernas.search_space.cost import count_params, flops

from . import busy, interrupts
from .callbacks import AttachLogger, NonFiniteGuard, ObjectiveCurve, StatusLine, StepProgressBar, Stopwatch
from .class_names import with_label_names
from .config import TaskConfig, TrainerConfig, check_run_config
from .data import ClassificationDataModule, DataConfig, MLMDataModule
from .logs import LIBRARY_WARNINGS
from .metrics import PRETRAIN_FLAG, flags
from .module import ClassifierModule, MaskedLMModule
from .names import check_name
from .tracking import RunInfo, finish, make_logger, redact

log = logging.getLogger(__name__)


@dataclass
class ProxyResult:
    """What a proxy run measured. ``state`` is complete, pruned or failed (then ``reason`` says why)."""

    arch: str
    key: str
    task: str
    state: str
    objective_name: str
    objective: float | None
    direction: str = "minimize"  # of the objective: "maximize" when higher is better
    metrics: dict[str, float] = field(default_factory=dict)
    curve: list[tuple[int, float]] = field(default_factory=list)
    params: int = 0  # the encoder's, embeddings included (what space.max_params bounds and trials.csv lists)
    model_params: int = 0  # with the task head (masked-LM or classifier)
    flops: int = 0
    steps: int = 0
    tokens_per_s: float = 0.0
    wall_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    run_dir: str | None = None
    classes: dict | None = None  # named classes: {"names": [class 0's, ...], "majority": the majority class's}
    model: object = field(default=None, repr=False, compare=False)  # the trained model, when kept

    def to_dict(self) -> dict:
        out = asdict(replace(self, model=None))  # asdict deep-copies: never with the model in it
        del out["model"]
        return out


@dataclass
class _Phase:
    """Outcome of one Lightning fit."""

    steps: int
    metrics: dict[str, float]
    curve: list[tuple[int, float]]
    pruned: bool
    reason: str | None


def resolve_precision(precision: str) -> str:
    """``auto``: bf16 mixed precision on a GPU that has it, 16-bit mixed on older GPUs, else fp32."""
    if precision != "auto":
        return precision
    if torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def spawns(tcfg: TrainerConfig) -> bool:
    """Whether Lightning runs the fit in child processes (``ddp_spawn``, ``ddp_notebook``...): then this
    process's trainer never steps, and callbacks and loggers travel to the ranks as copies."""
    return "spawn" in str(tcfg.strategy) or "notebook" in str(tcfg.strategy) or "fork" in str(tcfg.strategy)


def _trainer(tcfg: TrainerConfig, max_steps: int, callbacks: list, logger, description: str) -> pl.Trainer:
    if tcfg.shows_progress:
        callbacks = [*callbacks, StepProgressBar(description)]
    elif tcfg.status_every_s:
        callbacks = [*callbacks, StatusLine(description, tcfg.status_every_s)]
    if logger is not None and not spawns(tcfg):  # spawned ranks get the logger as it is
        callbacks, logger = [*callbacks, AttachLogger(logger)], None
    return pl.Trainer(
        max_steps=max_steps,
        max_epochs=-1,
        max_time=timedelta(seconds=tcfg.max_time) if tcfg.max_time else None,
        val_check_interval=min(tcfg.val_check_interval, max_steps),
        check_val_every_n_epoch=None,
        limit_val_batches=tcfg.limit_val_batches if tcfg.limit_val_batches is not None else 1.0,
        num_sanity_val_steps=0,
        gradient_clip_val=tcfg.gradient_clip_val,
        precision=resolve_precision(tcfg.precision),
        accelerator=tcfg.accelerator,
        devices=tcfg.devices,
        strategy=tcfg.strategy,
        logger=logger if logger is not None else False,
        callbacks=callbacks,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=tcfg.shows_progress,
        log_every_n_steps=tcfg.log_every_n_steps,
    )


@dataclass
class _Context:
    """What every phase of a run shares."""

    cfg: dict
    task: TaskConfig
    tcfg: TrainerConfig
    clock: Stopwatch
    logger: object
    trial: object = None
    test: bool = False  # also evaluate the test split after training (retraining)
    name: str = ""  # what the bar and status lines call the run (t003, retrain s1, audit #2 x3 s0)
    val_slice: int | None = None  # also validate on the first N batches only (val_slice/...): a proxy's slice
    callbacks: tuple = ()  # more Lightning callbacks for every fit of the run


def _fit(ctx: _Context, module, datamodule, max_steps: int, monitor: str, trial=None, step_offset: int = 0,
         label: str = "train") -> _Phase:
    """Train, validating every ``val_check_interval`` steps and once more at the end if needed; then, if
    asked, evaluate the test split (its metrics are named test/...)."""
    curve = ObjectiveCurve(monitor, trial, step_offset)
    guard = NonFiniteGuard()
    trainer = _trainer(ctx.tcfg, max_steps, [curve, guard, ctx.clock, *ctx.callbacks], ctx.logger,
                       f"{ctx.name} {label}".strip())
    with warnings.catch_warnings():
        for message in LIBRARY_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        trainer.fit(module, datamodule=datamodule)
        spawned = spawns(ctx.tcfg)
        if spawned:  # the ranks ran in child processes: this trainer never stepped
            curve.sync()
        elif guard.reason is None and curve.pruned_at is None and curve.last_step != trainer.global_step:
            trainer.validate(module, datamodule=datamodule, verbose=False)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
        if ctx.test and guard.reason is None and datamodule.data.test is not None:
            datamodule.setup("test")
            tested = trainer.validate(module, dataloaders=datamodule.test_dataloader(), verbose=False)[0]
            metrics.update({f"test/{k.split('/', 1)[1]}": float(v) for k, v in tested.items() if k.startswith("val/")})
        if ctx.val_slice and guard.reason is None and not spawned:  # last: it changes the trainer's limit
            trainer.limit_val_batches = ctx.val_slice
            sliced = trainer.validate(module, datamodule=datamodule, verbose=False)[0]
            metrics.update({f"val_slice/{k.split('/', 1)[1]}": float(v) for k, v in sliced.items()
                            if k.startswith("val/")})
    steps = (curve.last_step or 0) if spawned else trainer.global_step
    return _Phase(steps, metrics, curve.curve, curve.pruned_at is not None, guard.reason)


def _encoder(arch, cfg: dict, vocab_size: int, seq_len: int):
    encoder = build_encoder(arch, vocab_size, seq_len, ModelConfig.from_dict(cfg["model"]))
    if cfg["trainer"].get("compile"):
        encoder.compile()  # in place: the weights keep their names (export, load_retrained)
    return encoder


def _run_mlm(arch, ctx: _Context, max_steps: int | None = None):
    pretraining = ctx.task.name != "mlm"
    dm = MLMDataModule(DataConfig.from_dict(ctx.cfg["data"]), ctx.cfg["seed"], mask_prob=ctx.task.mask_prob)
    dm.setup("fit")
    steps = max_steps or ctx.tcfg.max_steps
    module = MaskedLMModule(MaskedLM(_encoder(arch, ctx.cfg, dm.vocab_size, dm.data.seq_len)), ctx.tcfg.optim, steps)
    phase = _fit(ctx, module, dm, steps, "val/mlm_loss" if pretraining else ctx.task.objective,
                 trial=None if pretraining else ctx.trial, label="pretrain" if pretraining else "mlm")
    _add_references(phase, dm, ctx)
    return phase, module.model, dm


def _run_classify(arch, ctx: _Context, encoder=None, tokenizer=None, offset: int = 0):
    data = DataConfig.from_dict(ctx.task.finetune_data if ctx.task.name == "pretrain_finetune" else ctx.cfg["data"])
    dm = ClassificationDataModule(data, ctx.cfg["seed"], tokenizer=tokenizer)
    dm.setup("fit")
    model = SequenceClassifier(encoder or _encoder(arch, ctx.cfg, dm.vocab_size, data.seq_len), dm.n_classes,
                               ctx.task.pooling)
    module = ClassifierModule(model, ctx.tcfg.optim, ctx.tcfg.max_steps, dm.n_classes)
    phase = _fit(ctx, module, dm, ctx.tcfg.max_steps, ctx.task.objective, ctx.trial, offset,
                 label="finetune" if offset else "classify")
    _add_references(phase, dm, ctx)
    return phase, model, dm


def _add_references(phase: _Phase, dm, ctx: _Context) -> None:
    """What input-blind predictors score on the examples each split's metrics come from (see
    ``dm.references``): the validation batches the run validated on, the proxy's slice, the test split."""
    phase.metrics.update(dm.references("val", ctx.tcfg.limit_val_batches))
    for split, limit in (("val_slice", ctx.val_slice), ("test", None)):
        if any(k.startswith(f"{split}/") for k in phase.metrics):
            phase.metrics.update(dm.references(split, limit))


def _run_pretrain_finetune(arch, ctx: _Context):
    pre, mlm, dm = _run_mlm(arch, ctx, max_steps=ctx.task.pretrain_steps)
    if pre.reason:
        return pre, mlm, dm
    loss, floor = pre.metrics.get("val/mlm_loss"), pre.metrics.get("val/context_free_loss")
    if loss is not None and floor is not None and loss >= floor:
        print(f"note: {PRETRAIN_FLAG} (val/mlm_loss {loss:.4f} against {floor:.4f} for a predictor that sees only "
              f"each token itself; unigram {pre.metrics['val/unigram_loss']:.4f}): fine-tuning starts from an "
              "encoder that does not use context yet", flush=True)
    fine, model, dm = _run_classify(arch, ctx, encoder=mlm.encoder, tokenizer=dm.tokenizer, offset=pre.steps)
    fine.metrics.update({f"pretrain/{k.split('/', 1)[1]}": v for k, v in pre.metrics.items()})
    fine.steps += pre.steps
    return fine, model, dm


@dataclass(frozen=True)
class DataInfo:
    """What preparing a run's data tells about its model: the tokenizer's vocabulary and, for a labelled
    task, the number of classes and, when they have names, the classes (``ClassificationDataModule.classes``)."""

    vocab_size: int
    n_classes: int | None = None
    classes: dict | None = None


def prepare_data(cfg, test: bool = False) -> DataInfo:
    """Build (or load) the tokenizer and every token cache a run of ``cfg`` needs (``test``: the test split's
    too, when the data has one), raising data errors here rather than inside trials."""
    cfg = _plain(cfg)
    task = TaskConfig.from_dict(cfg["task"])
    stage = None if test else "fit"  # None: the test split too, where one is configured
    if task.name == "classify":
        dm = ClassificationDataModule(DataConfig.from_dict(cfg["data"]), cfg["seed"])
    else:
        dm = MLMDataModule(DataConfig.from_dict(cfg["data"]), cfg["seed"], mask_prob=task.mask_prob)
    dm.setup(stage)
    labelled = dm
    if task.name == "pretrain_finetune":
        labelled = ClassificationDataModule(DataConfig.from_dict(task.finetune_data), cfg["seed"], dm.tokenizer)
        labelled.setup(stage)
    return DataInfo(dm.vocab_size, getattr(labelled, "n_classes", None), getattr(labelled, "classes", None))


RUNNERS = {"mlm": _run_mlm, "classify": _run_classify, "pretrain_finetune": _run_pretrain_finetune}


def _plain(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


def default_run_info(cfg: dict, arch: Architecture) -> RunInfo:
    name = check_name("run_name", cfg.get("run_name") or "proxy")
    return RunInfo(name=f"{name} {arch}", group=name, job_type="proxy",
                   save_dir=Path(cfg.get("results_dir", "results")) / name)


def run_proxy(arch: str | Architecture, cfg, trial=None, run: RunInfo | None = None, test: bool = False,
              keep_model: bool = False, val_slice: int | None = None, callbacks=()) -> ProxyResult:
    """Train ``arch`` with the budget in ``cfg.trainer`` on ``cfg.task`` and return what it measured.

    Bad configuration raises ``ValueError`` before anything trains; failures while training (NaN loss,
    out of memory, any exception) come back as ``state="failed"`` with the reason. ``test`` adds the test
    split's metrics (test/...); ``keep_model`` leaves the trained model on ``result.model``; ``val_slice=N``
    adds the metrics on the first N validation batches only (val_slice/...), where a proxy validated;
    ``callbacks``: more Lightning callbacks, added to every fit of the run after the run's own.
    """
    start = time.perf_counter()
    cfg = _plain(cfg)
    checked = check_run_config(arch, cfg, budget=False)  # sizes: checked by the command that asked
    cfg = with_label_names(cfg)  # the run's records name the classes
    arch, task, tcfg, mcfg = checked.arch, checked.task, checked.trainer, checked.model
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    busy.announce()
    pl.seed_everything(cfg["seed"], verbose=False)
    run = run or default_run_info(cfg, arch)
    run.config = redact({**cfg, **run.config, "arch": str(arch), "arch_key": arch.key(),
                         **{f"arch/{k}": v for k, v in arch.flat().items()}})  # no storage password in W&B
    clock = Stopwatch(start)
    logger = make_logger(cfg.get("logger"), run)
    result = ProxyResult(str(arch), arch.key(), task.name, "failed", task.objective, None, task.direction)
    try:
        ctx = _Context(cfg, task, tcfg, clock, logger, trial, test, _short_name(run.name, str(arch)), val_slice,
                       tuple(callbacks))
        with interrupts.interruptible():  # a signal stops training at once
            phase, model, dm = RUNNERS[task.name](arch, ctx)
    except (KeyboardInterrupt, SystemExit) as e:  # Lightning turns Ctrl-C into SystemExit(1) and ignores SIGINT
        interrupts.restore()
        stop = interrupts.Interrupted.of(e)
        finish(logger, {"state": "interrupted", "reason": f"interrupted by {stop}"}, exit_code=stop.exit_code)
        raise stop from None
    except Exception as e:  # noqa: BLE001  (a failed trial is recorded, not fatal)
        log.debug("proxy run failed", exc_info=True)
        result.reason = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
    else:
        _fill(result, phase, model, dm, arch, mcfg)
        result.model = model if keep_model else None
    result.wall_s = time.perf_counter() - start
    result.timings = _timings(clock, result.wall_s)
    result.tokens_per_s = clock.tokens / clock.train_s if clock.train_s else 0.0
    summary = {"state": result.state, "objective": result.objective,
               "flags": ", ".join(flags(result.metrics, result.objective_name)), "params": result.params,
               "model_params": result.model_params, "flops": result.flops, "tokens_per_s": result.tokens_per_s,
               "reason": result.reason or "",
               **result.metrics, **{f"time/{k}": v for k, v in result.timings.items()}}
    result.run_dir = finish(logger, summary, failed=result.state == "failed")
    return result


def _short_name(name: str | None, arch: str) -> str:
    """The run's name without its architecture (``t003 sa ffn`` -> ``t003``)."""
    name = name or ""
    return name[: -len(arch)].strip() if name.endswith(arch) else name


def _fill(result: ProxyResult, phase: _Phase, model, dm, arch, mcfg) -> None:
    result.metrics, result.curve, result.steps = phase.metrics, phase.curve, phase.steps
    result.params, result.model_params = count_params(model.encoder), count_params(model)
    result.flops = flops(arch, dm.data.seq_len, mcfg)
    result.classes = getattr(dm, "classes", None)
    value = phase.metrics.get(result.objective_name)
    result.objective = value
    if phase.reason:
        result.reason = phase.reason
    elif value is None or not math.isfinite(value):
        result.reason = f"objective {result.objective_name} was not measured (got {value})"
    else:
        result.state = "pruned" if phase.pruned else "complete"


def _timings(clock: Stopwatch, wall: float) -> dict[str, float]:
    other = wall - clock.train_s - clock.val_s
    return {"first_step_s": clock.first_step_s or float("nan"), "train_s": clock.train_s, "val_s": clock.val_s,
            "other_s": other, "other_frac": other / wall if wall else float("nan"),
            "warmup_s": clock.warmup_s}


__all__ = ["ProxyResult", "RunInfo", "run_proxy", "resolve_precision"]
