"""``layernas report study.name=...``: rebuild report.md, best.yaml, trials.csv and the plots from the
study's storage (while a search runs, or long after)."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from ..report import ranked, write_results
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
    return 0
