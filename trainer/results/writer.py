"""What a study leaves in ``results/<study>/``: trials.csv, best.yaml, report.md and plots, rebuilt from
the storage after every trial (so an interrupted search still has an up-to-date leaderboard);
``layernas report study.name=...`` rebuilds them."""

from __future__ import annotations

from pathlib import Path

import optuna
import yaml

from layernas.trainer.plumbing.files import atomic_write_text
from layernas.trainer.results import plots
from layernas.trainer.results.best import best_document, yaml_safe
from layernas.trainer.results.markdown import markdown
from layernas.trainer.results.ranking import best_trials
from layernas.trainer.results.table import as_csv, objective_labels, rows


def write_results(study: optuna.Study, study_dir: Path, with_plots: bool = False) -> None:
    """Rewrite trials.csv, best.yaml and report.md (and the plots when asked) atomically."""
    study_dir.mkdir(parents=True, exist_ok=True)
    columns, data = rows(study)
    atomic_write_text(study_dir / "trials.csv", as_csv(columns, data))
    if best_trials(study):
        atomic_write_text(study_dir / "best.yaml", yaml.safe_dump(yaml_safe(best_document(study)), sort_keys=False,
                                                                   width=120))
    else:
        (study_dir / "best.yaml").unlink(missing_ok=True)  # it would name a best the storage does not have
    images = draw(study, study_dir / "plots") if with_plots else existing_images(study_dir / "plots")
    atomic_write_text(study_dir / "report.md", markdown(study, study_dir, images))


DERIVED = ("trials.csv", "best.yaml", "report.md")


def clear_results(study_dir: Path) -> None:
    """Remove the results files of a study that is no longer in the storage (its storage was deleted and
    a new study of the same name begins): they would describe trials that do not exist."""
    import shutil

    for name in DERIVED:
        (study_dir / name).unlink(missing_ok=True)
    shutil.rmtree(study_dir / "plots", ignore_errors=True)


def existing_images(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.glob("*.png"))} if folder.exists() else {}


def draw(study: optuna.Study, folder: Path) -> dict[str, Path]:
    """All plots of the study; returns the PNGs by name."""
    names = objective_labels(study)
    trials = study.get_trials(deepcopy=False)
    direction = study.directions[0].name.lower()
    images = {"history": plots.history(trials, names[0], direction, folder / "history.png")}
    if len(names) > 1 and study.best_trials:
        images["pareto"] = plots.pareto(study, names, folder / "pareto.png")
    heat = plots.op_by_position(trials, names[0], folder / "op_by_position.png")
    if heat:
        images["op_by_position"] = heat
    plots.interactive(study, names, folder)
    return images
