"""One proxy run: a :class:`RunSpec` (an architecture, its typed plan, and what the caller wants beyond the
validation metrics) -> a :class:`ProxyResult`.

Tasks: ``mlm`` (objective: validation masked-LM loss), ``classify`` (from scratch; validation accuracy)
and ``pretrain_finetune`` (masked-LM pre-training, then fine-tuning; validation accuracy); see
:mod:`.tasks`. Every run is one W&B run (:mod:`.tracking`), finished before this returns.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field, replace

import lightning.pytorch as pl
import torch

from layernas.search_space import Architecture
from layernas.search_space.cost import count_params, flops
from layernas.trainer.core.callbacks import Stopwatch
from layernas.trainer.core.fit import FitContext, Phase
from layernas.trainer.core.tasks import RUNNERS
from layernas.trainer.core.tracking import RunInfo, finish, make_logger, redact
from layernas.trainer.plan.labels import named_classes
from layernas.trainer.plan.metrics import flags
from layernas.trainer.plan.run import RunPlan
from layernas.trainer.plumbing import busy, interrupts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSpec:
    """A run asked of :func:`run_proxy`: the architecture and its plan; the Optuna trial it reports to (for
    pruning); how W&B records it (default: a ``proxy`` run under ``results_dir/proxy``); and what the caller
    needs beyond the validation metrics: the test split (``test/...``), the first ``val_slice`` validation
    batches (``val_slice/...``, where a proxy validated), the trained model, more Lightning callbacks; and for a
    classifier or regressor, ``start``: ``(encoder, tokenizer)`` of a pre-trained encoder to fine-tune."""

    arch: Architecture
    plan: RunPlan
    trial: object = None
    run: RunInfo | None = None
    test: bool = False
    val_slice: int | None = None
    keep_model: bool = False
    callbacks: tuple = ()
    start: tuple | None = None


@dataclass
class ProxyResult:
    """What a run measured: ``state`` complete, pruned or failed (then ``reason`` says why), the value of
    the plan's first objective, every metric, the validation curve and the costs."""

    state: str = "failed"
    objective: float | None = None
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
    model: object = field(default=None, repr=False, compare=False)  # the trained model, when the spec kept it

    def to_dict(self) -> dict:
        out = asdict(replace(self, model=None))  # asdict deep-copies: never with the model in it
        del out["model"]
        return out


def run_proxy(spec: RunSpec) -> ProxyResult:
    """Train ``spec.arch`` with its plan's budget and task and return what it measured.

    The plan was checked when it was built; failures while training (NaN loss, out of memory, any
    exception) come back as ``state="failed"`` with the reason; a signal finishes the W&B run as
    interrupted and is raised again.
    """
    start = time.perf_counter()
    plan, _ = named_classes(spec.plan, {})  # the run's records name the classes
    arch = spec.arch
    if plan.trainer.threads:
        torch.set_num_threads(plan.trainer.threads)
    busy.announce()
    pl.seed_everything(plan.seed, verbose=False)
    run = spec.run or RunInfo(name=f"proxy {arch}", group="proxy", job_type="proxy",
                              save_dir=plan.results_dir / "proxy")
    run.config = redact({**run.config, **plan.to_dict(), "arch": str(arch), "arch_key": arch.key(),
                         **{f"arch/{k}": v for k, v in arch.flat().items()}})  # no storage password in W&B
    clock = Stopwatch(start)
    logger = make_logger(plan.logger, run)
    result = ProxyResult()
    try:
        ctx = FitContext(plan.trainer, clock, logger, spec.trial, spec.test, spec.val_slice, tuple(spec.callbacks),
                         _short_name(run.name, str(arch)))
        with interrupts.interruptible():  # a signal stops training at once
            given = {"encoder": spec.start[0], "tokenizer": spec.start[1]} if spec.start else {}
            phase, model, dm = RUNNERS[plan.task.name](arch, plan, ctx, **given)
    except (KeyboardInterrupt, SystemExit) as e:  # Lightning turns Ctrl-C into SystemExit(1) and ignores SIGINT
        interrupts.restore()
        stop = interrupts.Interrupted.of(e)
        finish(logger, {"state": "interrupted", "reason": f"interrupted by {stop}"}, exit_code=stop.exit_code)
        raise stop from None
    except Exception as e:  # noqa: BLE001  (a failed trial is recorded, not fatal)
        log.debug("proxy run failed", exc_info=True)
        result.reason = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
    else:
        _fill(result, phase, model, dm, arch, plan)
        result.model = model if spec.keep_model else None
    _finish(result, clock, logger, plan, start)
    return result


def _finish(result: ProxyResult, clock: Stopwatch, logger, plan: RunPlan, start: float) -> None:
    """The run's times, and its W&B summary written and the run closed."""
    result.wall_s = time.perf_counter() - start
    result.timings = _timings(clock, result.wall_s)
    result.tokens_per_s = clock.tokens / clock.train_s if clock.train_s else 0.0
    summary = {"state": result.state, "objective": result.objective,
               "flags": ", ".join(flags(result.metrics, plan.objective.key)), "params": result.params,
               "model_params": result.model_params, "flops": result.flops, "tokens_per_s": result.tokens_per_s,
               "reason": result.reason or "",
               **result.metrics, **{f"time/{k}": v for k, v in result.timings.items()}}
    result.run_dir = finish(logger, summary, failed=result.state == "failed")


def _short_name(name: str | None, arch: str) -> str:
    """The run's name without its architecture (``t003 sa ffn`` -> ``t003``)."""
    name = name or ""
    return name[: -len(arch)].strip() if name.endswith(arch) else name


def _fill(result: ProxyResult, phase: Phase, model, dm, arch, plan: RunPlan) -> None:
    result.metrics, result.curve, result.steps = phase.metrics, phase.curve, phase.steps
    result.params, result.model_params = count_params(model.encoder), count_params(model)
    result.flops = flops(arch, dm.data.seq_len, plan.model)
    result.classes = getattr(dm, "classes", None)
    name = plan.task.objective
    value = phase.metrics.get(name)
    result.objective = value
    if phase.reason:
        result.reason = phase.reason
    elif value is None or not math.isfinite(value):
        result.reason = f"objective {name} was not measured (got {value})"
    else:
        result.state = "pruned" if phase.pruned else "complete"


def _timings(clock: Stopwatch, wall: float) -> dict[str, float]:
    other = wall - clock.train_s - clock.val_s
    return {"first_step_s": clock.first_step_s or float("nan"), "train_s": clock.train_s, "val_s": clock.val_s,
            "other_s": other, "other_frac": other / wall if wall else float("nan"),
            "warmup_s": clock.warmup_s}


__all__ = ["ProxyResult", "RunInfo", "RunSpec", "run_proxy"]
