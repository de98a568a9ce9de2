"""``layernas report study.name=...``: rebuild report.md, best.yaml, trials.csv and the plots from the
study's storage (while a search runs, or long after), and write the study's W&B summary run if writing it
failed at the end of the search."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from layernas.trainer.plan.logger import LoggerConfig
from layernas.trainer.plan.recorded import Recorded
from layernas.trainer.plan.study import StudyRef
from layernas.trainer.results.format import fmt
from layernas.trainer.results.ranking import ranked
from layernas.trainer.results.summary_run import log_summary_run
from layernas.trainer.results.writer import write_results
from layernas.trainer.search.study import load_existing_study


def main(cfg: DictConfig) -> int:
    plain = OmegaConf.to_container(cfg, resolve=True)
    ref = StudyRef.from_dict(plain)
    study = load_existing_study(ref)
    write_results(study, ref.folder, with_plots=True)
    print(f"study {study.study_name}: {len(study.trials)} trials; wrote {ref.folder}/report.md, best.yaml, "
          "trials.csv, plots/")
    for i, t in enumerate(ranked(study)[:5], 1):
        print(f"  {i}. #{t.number} {fmt(t.values[0])}  {t.user_attrs.get('arch', '')}")
    if study.user_attrs.get("summary_run") == "failed":
        logger = LoggerConfig.from_dict(plain["logger"]) if plain.get("logger") else \
            Recorded.of(study).logger
        if log_summary_run(study, ref.folder, logger) is not None:
            print(f"wrote the W&B summary run that the search could not write ({ref.folder}/wandb/)")
    return 0
