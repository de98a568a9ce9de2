"""``study.noise_seeds=[1,2]``: once the study is full, each baseline is trained again on each of these
seeds with the study's own proxy config, so the report can say which differences the seed noise at this
budget cannot tell apart (:mod:`layernas.trainer.seed_noise`).

Each finished run is written to the study's storage at once (a study user attribute), so an interrupted
search resumes with the runs left to do, and workers on other machines see the same noise.
"""

from __future__ import annotations

import math

import optuna

from layernas.trainer.core.proxy import RunSpec, run_proxy
from layernas.trainer.core.tracking import RunInfo, new_run_id
from layernas.trainer.plan.metrics import flags
from layernas.trainer.plan.search import SearchPlan
from layernas.trainer.plumbing import interrupts
from layernas.trainer.results.format import fmt
from layernas.trainer.results.noise import noise_key


def pending_noise_runs(plan: SearchPlan, study: optuna.Study) -> list[tuple[str, str, int]]:
    """(baseline, arch, seed) of the runs still to do; none when the first objective is a cost (it is the
    same on every seed)."""
    if plan.objectives[0].key in ("params", "flops", "latency_ms"):
        return []
    archs = plan.space.baseline_archs()
    return [(name, str(arch), seed) for name, arch in archs.items() for seed in plan.study.noise_seeds
            if seed != plan.run.seed and noise_key(name, seed) not in study.user_attrs]


def run_noise_runs(plan: SearchPlan, study: optuna.Study) -> None:
    """Train the pending extra-seed runs of the baselines, one line each."""
    todo = pending_noise_runs(plan, study)
    key = plan.objectives[0].key
    for i, (name, arch, seed) in enumerate(todo, 1):
        interrupts.check()
        run = RunInfo(name=f"noise {name} seed {seed}", group=plan.name, job_type="noise",
                      save_dir=plan.study_dir, config={"noise/baseline": name, "noise/seed": seed},
                      run_id=new_run_id(), tags=(f"baseline:{name}",))
        result = run_proxy(RunSpec(plan.space.baseline_archs()[name], plan.run.with_seed(seed), run=run))
        value = result.metrics.get(key)
        finished = result.state == "complete" and value is not None and math.isfinite(value)
        record = {"baseline": name, "arch": arch, "seed": seed, "state": "complete" if finished else result.state,
                  "value": float(value) if finished else None, "metric": key, "steps": result.steps,
                  "wall_s": round(result.wall_s, 2), "reason": result.reason or ""}
        problems = flags(result.metrics, key) if finished else []
        record["flags"] = problems
        study.set_user_attr(noise_key(name, seed), record)
        print(f"[noise {i}/{len(todo)}] {name} seed {seed}: "
              f"{fmt(value) if finished else result.state + ' ' + (result.reason or '')}"
              + (f" ({'; '.join(problems)})" if problems else ""), flush=True)
