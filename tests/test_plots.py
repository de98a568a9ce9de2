"""Study plots read as they should: whole trial numbers on the history's axis, Pareto labels apart."""

from __future__ import annotations

import optuna
import pytest


@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures the plot functions draw, kept open (they are closed once saved)."""
    from layernas.trainer.results import plots

    kept = []

    def save(fig, path):
        fig.canvas.draw()
        kept.append(fig)
        return path

    monkeypatch.setattr(plots, "_save", save)
    yield kept


def small_study(n: int, values) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(directions=["minimize"] * len(values(0)))
    for i in range(n):
        study.add_trial(optuna.trial.create_trial(values=values(i), user_attrs={"arch": "sa ffn"}))
    return study


def test_the_history_axis_shows_whole_trial_numbers(figures, tmp_path):
    from layernas.trainer.results import plots

    study = small_study(3, lambda i: [5.0 - i])
    plots.history(study.trials, "val_loss", "minimize", tmp_path / "h.png")
    ticks = [t for t in figures[0].axes[0].get_xticks() if -0.5 <= t <= 2.5]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_pareto_labels_do_not_overlap(figures, tmp_path):
    from layernas.trainer.results import plots

    # a front of 8 points close together beside one trial far off, as a short NSGA-II search leaves it
    study = small_study(9, lambda i: [6.5 - 0.002 * i, 640_000 + 300 * i] if i < 8 else [7.5, 700_000])
    plots.pareto(study, ["val_loss", "params"], tmp_path / "p.png")
    fig = figures[0]
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in fig.axes[0].texts]
    assert len(boxes) == 8
    overlapping = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:] if a.overlaps(b)]
    assert not overlapping
