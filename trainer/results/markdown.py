"""report.md: what the study is and did, the features' lines (an audit, a supernet's weight sharing), the
leaderboard, the baselines against the best, the Pareto set, the features' sections (retrained results),
failures and plots."""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from layernas.trainer.results.extensions import lines as extension_lines
from layernas.trainer.results.format import fmt
from layernas.trainer.results.noise import seed_noise, within_noise
from layernas.trainer.results.ranking import best_trials, ranked, tied_with_best
from layernas.trainer.results.signal import no_signal, verdict
from layernas.trainer.results.summary import header_lines, noise_lines, reference_line, trial_numbers, twins
from layernas.trainer.results.table import objective_labels, reasons, state_name


def markdown(study: optuna.Study, folder: Path, images: dict[str, Path]) -> str:
    """report.md: counts, leaderboard, baselines against the best, the Pareto set, failures, plots."""
    names = objective_labels(study)
    trials = study.get_trials(deepcopy=False)
    lines = header_lines(study, names, trials)
    reference = reference_line(study)
    lines += [reference] if reference else []
    top = ranked(study)
    noise = seed_noise(study)
    said = verdict(study, top, noise)
    lines[2:2] = [f"**{said}**", ""] if said else []
    lines += (noise_lines(study, top, noise) + extension_lines(study, folder, "summary")
              + extension_lines(study, folder, "before_leaderboard") + [""])
    tied = tied_with_best(top)
    if tied:
        lines.insert(len(lines) - 1, f"- the best, #{top[0].number}, is tied with "
                     + ", ".join(f"#{t.number}" for t in tied) + " (the same value): their order is a tie-break")
    lines += leaderboard_lines(study, names, top, noise, trials)
    lines += extension_lines(study, folder, "after_results")
    lines += problem_lines(trials)
    if images:
        lines += ["", "## Plots", ""]
        lines += [f"![{name}](plots/{path.name})" for name, path in images.items()]
        lines += ["", "Interactive versions: `plots/*.html`."]
    return "\n".join(lines) + "\n"


def leaderboard_lines(study: optuna.Study, names: list[str], top: list[FrozenTrial], noise: dict | None,
                      trials: list[FrozenTrial]) -> list[str]:
    """The leaderboard, the baselines against the best and (several objectives) the Pareto front."""
    head = ("| rank | trial | " + " | ".join(names)
            + " | vs best | params | FLOPs/seq | baseline | flags | architecture |")
    sep = "|---" * (7 + len(names)) + "|---|"
    row = _Row(top[0].values[0] if top else None, noise, twins(trials),
               lambda t: no_signal(study, t, noise))
    lines = ["## Leaderboard", "", head, sep]
    for i, t in enumerate(top[:15], 1):
        lines.append(row(i, t))
    base = [t for t in top if t.user_attrs.get("baseline")]
    if base and top:
        lines += ["", "## Baselines against the best", "", head, sep]
        for t in [top[0], *[b for b in base if b.number != top[0].number]]:
            lines.append(row(top.index(t) + 1, t))
    if len(names) > 1:
        lines += ["", "## Pareto front", "", head, sep]
        for t in best_trials(study):
            lines.append(row(top.index(t) + 1 if t in top else "-", t))
    return lines


def problem_lines(trials: list[FrozenTrial]) -> list[str]:
    """Why each failed, pruned or rejected trial ended."""
    why = reasons(trials)
    problems = [t for t in trials if t.state in (TrialState.FAIL, TrialState.PRUNED) and t.number in why]
    if not problems:
        return []
    return ["", "## Failed, pruned and rejected trials", "", "| trial | state | reason | architecture |",
            "|---|---|---|---|", *[f"| {t.number} | {state_name(t)} | {why[t.number]} | "
                                   f"`{t.user_attrs.get('arch', '')}` |" for t in problems]]


class _Row:
    """One leaderboard row; ``vs best`` is the difference to the best's first objective, ``(tie)`` when
    the seed noise cannot tell them apart; ``no signal`` leads the flags of a value within the noise of the
    input-blind reference (or not better than it)."""

    def __init__(self, best: float | None, noise: dict | None, same: dict[int, list[int]] | None = None,
                 silent=lambda t: False) -> None:
        self.best, self.noise, self.same, self.silent = best, noise, same or {}, silent

    def __call__(self, rank, t: FrozenTrial) -> str:
        u = t.user_attrs
        values = " | ".join(fmt(v) for v in t.values)
        number = f"{t.number} (= {trial_numbers(self.same[t.number])})" if t.number in self.same else str(t.number)
        return (f"| {rank} | {number} | {values} | {self._versus(t)} | {fmt(u.get('params'))} | "
                f"{fmt(u.get('flops'))} | {u.get('baseline', '')} | {', '.join(self._flags(t))} | "
                f"`{u.get('arch', '')}` |")

    def _flags(self, t: FrozenTrial) -> list[str]:
        return (["no signal"] if self.silent(t) else []) + list(t.user_attrs.get("flags") or [])

    def _versus(self, t: FrozenTrial) -> str:
        if self.best is None or t.values[0] == self.best:
            return "best" if self.best is not None else "-"
        delta = t.values[0] - self.best
        text = f"{delta:+.4f}"
        return f"{text} (tie)" if within_noise(t.values[0], self.best, self.noise) else text
