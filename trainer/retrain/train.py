"""``layernas retrain``: train a chosen architecture with the full budget on each seed, evaluate it on the
test split, and keep its weights.

    layernas retrain study.name=cpu_demo                     # the study's answer (its best trial), seed 0
    layernas retrain study.name=cpu_demo trial=3 seeds=[0,1,2]
    layernas retrain arch="sdconv(k=9) ffn sa ffn" study.name=mine
    layernas retrain study.name=cpu_demo task=pretrain_finetune   # then fine-tune on a labelled set

The study's model, data and task settings are used unless the command overrides them. Writes
``results/<study>/retrain/<key>/``: ``model-seed<N>.safetensors``, ``metrics.json``, ``config.yaml``,
``arch.txt``; load a model back with :func:`~.load.load_retrained`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import yaml

from layernas.trainer.plan.labels import named_classes
from layernas.trainer.plan.metrics import flags
from layernas.trainer.plumbing.files import atomic_write, atomic_write_text
from layernas.trainer.retrain.plan import RetrainPlan
from layernas.trainer.retrain.record import (
    earlier_runs,
    headline,
    remove_earlier,
    retrain_settings,
    saved_config,
    seed_line,
    summary_document,
)


class RetrainFailed(RuntimeError):
    """A seed's training failed (e.g. NaN loss); nothing for that seed is written."""


def retrain(plan: RetrainPlan) -> dict:
    """Train once per seed; write weights, metrics (per seed, mean and std of every objective and metric,
    each beside its input-blind reference) and the config. Seeds already retrained with the same settings
    are kept; a retrain of this network with other settings is refused unless ``replace=true``."""
    from layernas.trainer.core.prepare import prepare_data
    from layernas.trainer.plan.budget import check_budget

    out, objectives = plan.folder, plan.run.objectives
    # the model as it will be built (model.segments resolved), as config.yaml records it
    settings = retrain_settings({**plan.config, "model": plan.run.model.to_dict()}, plan.arch)
    kept = earlier_runs(out, settings, plan.replace)
    if plan.replace:
        remove_earlier(out)
    if plan.note:
        print(plan.note, flush=True)
    info = prepare_data(plan.run, test=True)  # a test label that is not a class fails here, before training
    run, config = named_classes(plan.run, plan.config)  # config.yaml and the runs name the classes
    plan = replace(plan, run=run, config=config)
    print(check_budget(plan.arch, plan.run, info.vocab_size, info.n_classes), flush=True)
    runs, model = dict(kept), None
    for seed in plan.seeds:
        if seed in kept:
            print(f"seed {seed}: kept from the earlier retrain with the same settings "
                  f"({objectives[0].key} = {kept[seed]['metrics'].get(objectives[0].key, float('nan')):.4f})")
            continue
        runs[seed], model = _train_seed(plan, seed, info.classes)
    document = summary_document(plan.arch, plan.trial, [runs[s] for s in sorted(runs)], objectives,
                                plan.run.trainer.limit_val_batches, plan.proxy_slice, info.classes)
    atomic_write_text(out / "metrics.json", json.dumps(document, indent=2))
    atomic_write_text(out / "arch.txt", str(plan.arch) + "\n")
    if model is not None:
        atomic_write_text(out / "config.yaml", yaml.safe_dump(saved_config(plan.config, plan.run, plan.arch, model),
                                                              sort_keys=False))
    print(f"{plan.arch}\n{headline(document)}; wrote {out}")
    return document


def _train_seed(plan: RetrainPlan, seed: int, classes: dict | None = None) -> tuple[dict, object]:
    """One seed's run: trained, its weights saved, its line printed; returns its record and the model."""
    from layernas.trainer.core.proxy import RunSpec, run_proxy
    from layernas.trainer.core.tracking import RunInfo

    info = RunInfo(name=f"retrain s{seed} {plan.arch}", group=plan.ref.name, job_type="retrain",
                   save_dir=plan.ref.folder, config={"retrain/trial": plan.trial, "retrain/seed": seed})
    result = run_proxy(RunSpec(plan.arch, plan.run.with_seed(seed), run=info, test=True, keep_model=True,
                               val_slice=plan.proxy_slice))
    if result.state != "complete":
        raise RetrainFailed(f"retraining seed {seed} failed: {result.reason}")
    _save_weights(result.model, plan.folder / f"model-seed{seed}.safetensors")
    record = {"seed": seed, "objective": result.objective, "metrics": result.metrics, "steps": result.steps,
              "params": result.params, "flops": result.flops, "wall_s": result.wall_s, "run_dir": result.run_dir,
              "flags": flags(result.metrics, plan.run.objective.key)}
    print(f"seed {seed}: {seed_line(result.metrics, plan.run.objectives, classes)}", flush=True)
    return record, result.model


def _save_weights(model, path: Path) -> None:
    from safetensors.torch import save_model

    atomic_write(path, lambda tmp: save_model(model, tmp))
