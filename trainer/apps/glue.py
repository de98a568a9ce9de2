"""``layernas glue study.name=...``: a study's network and its baseline on GLUE tasks; see ``trainer.glue``."""

from __future__ import annotations

import sys

from omegaconf import DictConfig, OmegaConf

from layernas.trainer.glue.plan import plan_glue


def main(cfg: DictConfig) -> int:
    from layernas.trainer.glue.report import write_glue
    from layernas.trainer.glue.runs import finished, jobs, run_glue_jobs
    from layernas.trainer.plumbing import interrupts
    from layernas.trainer.plumbing.logs import quiet_lightning

    plan = plan_glue(OmegaConf.to_container(cfg, resolve=True))
    quiet_lightning()
    total = len(jobs(plan))
    print(f"glue of study {plan.study.study_name}: {', '.join(n.label for n in plan.networks)} on "
          f"{', '.join(plan.settings.tasks)}, seeds {list(plan.seeds)}: {total} fine-tuning runs "
          f"({len(finished(plan))} done); results in {plan.folder}", flush=True)
    try:
        run_glue_jobs(plan)
    except interrupts.Interrupted:
        print(f"\ninterrupted: finished runs are kept; run the same command to resume ({len(finished(plan))} of "
              f"{total} runs done)", file=sys.stderr, flush=True)
        raise
    done = finished(plan)
    if len(done) < total:
        print(f"{total - len(done)} runs are being trained by other processes; the last to finish writes glue/",
              flush=True)
        return 0
    doc = write_glue(plan, done)
    for row in doc["rows"]:
        average = "-" if row["average"] is None else f"{row['average']:.4f}"
        print(f"{row['network']}: " + ", ".join(f"{n} {row['cells'][n]['mean']:.4f}" for n in doc["columns"]
                                                 if row["cells"][n]["mean"] is not None) + f"; GLUE average {average}")
    print(f"wrote {plan.folder / 'glue.md'}", flush=True)
    return 0
