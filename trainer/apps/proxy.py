"""``layernas proxy``: run one proxy and print its metrics as a small table."""

from __future__ import annotations

import math

from omegaconf import DictConfig, OmegaConf

from layernas.trainer.core.proxy import RunSpec
from layernas.trainer.plan.checks import check_run
from layernas.trainer.plan.labels import named_classes
from layernas.trainer.plan.metrics import REFERENCES, flags, per_class_text, reference_text
from layernas.trainer.plan.run import run_plan
from layernas.trainer.plumbing.names import check_name
from layernas.trainer.plumbing.provenance import study_config


def format_result(spec: RunSpec, result) -> str:
    """A two-column table of what a proxy run measured."""
    name, task = spec.plan.task.objective, spec.plan.task
    rows = [("arch", str(spec.arch)), ("key", spec.arch.key()), ("task", task.name), ("state", result.state)]
    if result.reason:
        rows.append(("reason", result.reason))
    rows += [(name, _num(value)) for name, value in sorted(result.metrics.items()) if "/recall_" not in name]
    per_class = per_class_text(result.metrics, "val", result.classes)
    rows += [("val recall by class", per_class)] if per_class else []
    t = result.timings
    reference = REFERENCES.get(name)
    rows += [
        ("objective", f"{name} = {_num(result.objective)}"
                      + (f" ({reference_text(reference, _num(result.metrics[reference]), result.classes)}; "
                         f"{'higher' if task.direction == 'maximize' else 'lower'} is better)"
                         if reference in result.metrics else "")),
        *([("flags", ", ".join(flags(result.metrics, name)))] if flags(result.metrics, name) else []),
        ("parameters", f"{result.params:,} in the encoder, {result.model_params:,} with the task head"),
        ("FLOPs / sequence", f"{result.flops:,}"),
        ("optimizer steps", str(result.steps)),
        ("train tokens/s", f"{result.tokens_per_s:,.0f}"),
        ("wall time", f"{result.wall_s:.1f} s (first step after {t.get('first_step_s', math.nan):.1f} s; "
                      f"{100 * t.get('other_frac', math.nan):.1f}% outside train/val steps)"),
    ]
    if t.get("warmup_s", 0.0) >= 1.0:  # torch.compile (trainer.compile=true) or a slow first allocation
        rows.append(("first step", f"{t['warmup_s']:.1f} s longer than the others (compilation and warm-up)"))
    if result.run_dir:
        rows.append(("W&B run", result.run_dir))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _num(value) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def run_config(arch: str, cfg, **wants):
    """``run_proxy`` of a composed config (a DictConfig or its plain dict), as ``layernas proxy`` runs it,
    for notebooks and benchmarks: the typed plan, the architecture checked against it, and ``wants``
    (trial, run, test, val_slice, keep_model, callbacks) as the spec's."""
    from layernas.trainer.core.proxy import run_proxy

    plain = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    plan = run_plan(plain)
    parsed, _ = check_run(arch, plan, budget=False)
    return run_proxy(RunSpec(parsed, plan, **{k: tuple(v) if k == "callbacks" else v for k, v in wants.items()}))


def main(cfg: DictConfig) -> int:
    plain = OmegaConf.to_container(cfg, resolve=True)
    name = check_name("run_name", plain.get("run_name") or "proxy", plain["results_dir"])
    plan = run_plan(plain)
    arch, _ = check_run(plain["arch"], plan)  # fail fast, before Lightning
    from layernas.trainer.core.prepare import prepare_data
    from layernas.trainer.core.proxy import run_proxy
    from layernas.trainer.core.tracking import RunInfo
    from layernas.trainer.plan.budget import check_budget
    from layernas.trainer.plumbing.logs import quiet_lightning

    quiet_lightning()
    info = prepare_data(plan)  # data errors as one-line errors, not as a failed run
    plan, config = named_classes(plan, study_config(plain))  # the run's records name the classes
    print(check_budget(arch, plan, info.vocab_size, info.n_classes), flush=True)
    run = RunInfo(name=f"{name} {arch}", group=name, job_type="proxy", save_dir=plan.results_dir / name,
                  config=config)
    spec = RunSpec(arch, plan, run=run)
    result = run_proxy(spec)
    print(format_result(spec, result))
    return 0 if result.state != "failed" else 1
