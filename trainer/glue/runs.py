"""The runs of ``layernas glue``: for each network and seed, the pre-trained encoder (a ``layernas retrain``'s
weights trained for ``glue.pretrain_steps``, else pre-trained here once and kept under ``glue/<key>/pretrained/``),
then one fine-tuning run per task. Each fine-tuning run is a study user attribute ``glue/<network>/<task>/<seed>``
written when it finishes (the claims the audit and the race use), so an interrupted command resumes with the
runs left and never repeats a finished one."""

from __future__ import annotations

import copy
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from layernas.trainer.core.tracking import RunInfo, new_run_id
from layernas.trainer.glue.plan import PREFIX, GluePlan, Network
from layernas.trainer.plumbing import interrupts
from layernas.trainer.plumbing.files import atomic_write
from layernas.trainer.retrain.load import retrained_folder
from layernas.trainer.search.claims import DONE, Claims
from layernas.trainer.search.slots import study_lock, worker_identity


@dataclass(frozen=True)
class Job:
    network: Network
    task: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.network.key}/{self.task}/{self.seed}"


def jobs(plan: GluePlan) -> list[Job]:
    """Every fine-tuning run, network by network and seed by seed (a pre-training serves a seed's tasks)."""
    return [Job(n, task, seed) for n in plan.networks for seed in plan.seeds for task in plan.settings.tasks]


def claims(plan: GluePlan, lock: bool = True) -> Claims:
    return Claims(plan.study, PREFIX, study_lock(plan.study, plan.ref.folder, plan.ref.storage) if lock else None)


def finished(plan: GluePlan) -> dict[str, dict]:
    records = claims(plan, lock=False).records()
    return {j.name: records[j.name] for j in jobs(plan) if records.get(j.name, {}).get("state") in DONE}


def run_glue_jobs(plan: GluePlan) -> int:
    """Claim and train the runs left; one line each. Returns how many this process ran."""
    runs, everything = claims(plan), jobs(plan)
    by_name = {j.name: j for j in everything}
    encoders: dict[tuple[str, int], tuple] = {}
    ran = 0
    while interrupts.check() is None and (name := runs.claim(list(by_name))) is not None:
        job = by_name[name]
        try:
            start = encoders.get((job.network.key, job.seed)) or pretrained(plan, job.network, job.seed)
        except BaseException:
            runs.release(name)
            raise
        encoders = {(job.network.key, job.seed): start}  # one network's encoder held at a time
        record = finetune(plan, job, start, runs)
        ran += 1
        value = f"{record['value']:.4f}" if record["state"] == "complete" else f"failed: {record['reason']}"
        print(f"[glue {len(finished(plan))}/{len(everything)}] {job.network.label} {job.task} seed {job.seed}: "
              f"{record['metric']} {value} ({record['steps']} steps, {record['wall_s']:.0f} s)", flush=True)
    return ran


def pretrained(plan: GluePlan, network: Network, seed: int) -> tuple:
    """``(masked LM, tokenizer, where the weights came from)`` for ``network`` on ``seed``."""
    from layernas.trainer.data.tokenizer import get_tokenizer
    from layernas.trainer.retrain.load import load_retrained

    tokenizer = get_tokenizer(plan.run.data)
    retrained = retrained_folder(plan.ref, network.key)
    if _retrained_steps(retrained, seed) == plan.settings.pretrain_steps:
        return load_retrained(retrained, seed), tokenizer, f"layernas retrain ({retrained})"
    kept = plan.folder / "pretrained" / f"{network.key}-seed{seed}.safetensors"
    model = _masked_lm(plan, network, tokenizer.get_vocab_size())
    if kept.is_file():
        from safetensors.torch import load_model

        load_model(model, str(kept))
        return model, tokenizer, "pre-trained by layernas glue (kept)"
    print(f"[glue] pre-training {network.label} on seed {seed}: {plan.settings.pretrain_steps} masked-LM steps with "
          "the study's settings", flush=True)
    model = _pretrain(plan, network, seed)
    from safetensors.torch import save_model

    atomic_write(kept, lambda tmp: save_model(model, tmp))
    return model, tokenizer, "pre-trained by layernas glue"


def _retrained_steps(folder: Path, seed: int) -> int | None:
    if not (folder / f"model-seed{seed}.safetensors").is_file() or not (folder / "config.yaml").is_file():
        return None
    saved = yaml.safe_load((folder / "config.yaml").read_text()) or {}
    if saved.get("n_classes") or (saved.get("task") or {}).get("name", "mlm") != "mlm":
        return None  # a fine-tuned classifier, not a masked LM
    return (saved.get("trainer") or {}).get("max_steps")


def _masked_lm(plan: GluePlan, network: Network, vocab_size: int):
    from layernas.search_space import MaskedLM, build_encoder

    return MaskedLM(build_encoder(network.arch, vocab_size, plan.run.data.seq_len, plan.run.model))


def _pretrain(plan: GluePlan, network: Network, seed: int):
    from layernas.search_space import Architecture
    from layernas.trainer.core.proxy import RunSpec, run_proxy

    run = plan.pretrain_plan(seed)
    info = RunInfo(name=f"glue pretrain {network.label} s{seed}", group=plan.study.study_name, job_type="glue",
                   save_dir=plan.folder, run_id=new_run_id(),
                   config={"glue/network": network.label, "glue/phase": "pretrain", "glue/seed": seed})
    result = run_proxy(RunSpec(Architecture.parse(network.arch, run.model.d_model, **run.model.key_defaults), run,
                               run=info, keep_model=True))
    if result.state != "complete" or result.model is None:
        raise RuntimeError(f"pre-training {network.label} on seed {seed} failed: {result.reason or result.state}")
    return result.model


def finetune(plan: GluePlan, job: Job, start: tuple, runs: Claims) -> dict:
    """Fine-tune a copy of the pre-trained encoder on the job's task and record the run."""
    from layernas.search_space import Architecture
    from layernas.trainer.core.proxy import RunSpec, run_proxy

    mlm, tokenizer, source = start
    run = plan.tasks[job.task].with_seed(job.seed)
    info = RunInfo(name=f"glue {job.task} {job.network.label} s{job.seed}", group=plan.study.study_name,
                   job_type="glue", save_dir=plan.folder, run_id=new_run_id(),
                   config={"glue/network": job.network.label, "glue/task": job.task, "glue/seed": job.seed,
                           "glue/pretrained": source})
    arch = Architecture.parse(job.network.arch, run.model.d_model, **run.model.key_defaults)
    try:
        result = run_proxy(RunSpec(arch, run, run=info, test=run.data.test is not None,
                                   start=(copy.deepcopy(mlm.encoder), tokenizer)))
    except BaseException:
        runs.release(job.name)
        raise
    metric = run.objective.key
    value = result.metrics.get(metric)
    ok = result.state == "complete" and value is not None and math.isfinite(value)
    record = {"network": job.network.label, "role": job.network.role, "trial": job.network.trial,
              "arch": job.network.arch, "task": job.task, "seed": job.seed, "state": "complete" if ok else "failed",
              "metric": metric, "value": float(value) if ok else None, "steps": result.steps,
              "wall_s": round(result.wall_s, 2), "pretrained": source, "reason": "" if ok else (result.reason or ""),
              "metrics": {k: float(v) for k, v in result.metrics.items() if math.isfinite(v)}, **worker_identity()}
    runs.record(job.name, record)
    if not ok:
        print(f"warning: glue {job.task} of {job.network.label} seed {job.seed} failed: {record['reason']}",
              file=sys.stderr, flush=True)
    return record
