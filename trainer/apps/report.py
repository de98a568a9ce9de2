"""``layernas report study.name=...``: rebuild report.md, best.yaml, trials.csv and the plots from the
study's storage (while a search runs, or long after), and write the study's W&B summary run if writing it
failed at the end of the search."""

from __future__ import annotations

from types import SimpleNamespace

from omegaconf import DictConfig, OmegaConf

from ..report import log_summary_run, ranked, write_results
from ..search.format import fmt
from ..search.study import load_existing_study, study_dir


def main(cfg: DictConfig) -> int:
    plain = OmegaConf.to_container(cfg, resolve=True)
    study = load_existing_study(plain)
    folder = study_dir(plain)
    write_results(study, folder, with_plots=True)
    print(f"study {study.study_name}: {len(study.trials)} trials; wrote {folder}/report.md, best.yaml, trials.csv, "
          f"plots/")
    for i, t in enumerate(ranked(study)[:5], 1):
        print(f"  {i}. #{t.number} {fmt(t.values[0])}  {t.user_attrs.get('arch', '')}")
    if study.user_attrs.get("summary_run") == "failed":
        logger = plain.get("logger") or study.user_attrs.get("config", {}).get("logger")
        if log_summary_run(study, SimpleNamespace(study_dir=folder, cfg={"logger": logger})) is not None:
            print(f"wrote the W&B summary run that the search could not write ({folder}/wandb/)")
    return 0
