"""One finished search as a compare reads it: best-so-far against cumulative training steps, its total
cost, its answer, and its top networks."""

from __future__ import annotations

import math
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from layernas.trainer.results.extensions import answer
from layernas.trainer.results.noise import seed_noise
from layernas.trainer.results.ranking import candidates, ranked
from layernas.trainer.results.signal import verdict
from layernas.trainer.supernet.standalone import records
from layernas.trainer.supernet.summary import is_supernet


@dataclass(frozen=True)
class History:
    """``events``: (cumulative training steps, value or None) in the order the search trained; ``sign`` 1 when
    lower is better; ``pick``: the study's answer (trial, arch, its proxy value); ``top``: its best networks."""

    events: tuple[tuple[int, float | None], ...]
    sign: float
    pick: dict | None
    top: tuple[str, ...]
    silent: bool = False  # the study's own verdict: no signal at this budget

    @property
    def steps(self) -> int:
        return self.events[-1][0] if self.events else 0

    def best_at(self, steps: int) -> float | None:
        """The best value found within ``steps`` training steps (None: none yet)."""
        best = None
        for at, value in self.events:
            if at > steps:
                break
            if value is not None and (best is None or self.sign * value < self.sign * best):
                best = value
        return best


def history(study: optuna.Study, top: int) -> History:
    sign = -1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    events = _supernet_events(study) if is_supernet(study) else _trial_events(study)
    pick = _pick(study, sign)
    networks = [t.user_attrs.get("arch") for t in candidates(study)][:top]
    silent = verdict(study, ranked(study), seed_noise(study)) is not None
    return History(tuple(events), sign, pick, tuple(a for a in networks if a), silent)


def _trial_events(study: optuna.Study) -> list[tuple[int, float | None]]:
    """Every trial in order: its steps (pruned and failed ones cost what they trained), its value if complete."""
    total, events = 0, []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        if t.state == TrialState.RUNNING or t.state == TrialState.WAITING:
            continue
        total += int(t.user_attrs.get("steps") or 0)
        value = t.values[0] if t.state == TrialState.COMPLETE and t.values and math.isfinite(t.values[0]) else None
        events.append((total, value))
    return events


def _supernet_events(study: optuna.Study) -> list[tuple[int, float | None]]:
    """The supernet's own training first (it finds nothing by itself), then each stand-alone check: the
    values a user of the strategy gets are the checks'."""
    total = int((study.user_attrs.get("supernet") or {}).get("step") or 0)
    events: list[tuple[int, float | None]] = [(total, None)]
    for _, r in sorted(records(study).items()):
        total += int(r.get("steps") or 0)
        ok = r.get("state") == "complete" and r.get("value") is not None
        events.append((total, float(r["value"]) if ok else None))
    return events


def _pick(study: optuna.Study, sign: float) -> dict | None:
    """The network a user would retrain: the study's answer (an extension's, e.g. the supernet's best check
    or a race's winner), else its best complete trial; with the value that chose it."""
    found = answer(study)
    done = candidates(study)
    if found is None:
        if not done:
            return None
        best = done[0]
        return {"trial": best.number, "arch": best.user_attrs.get("arch"), "value": best.values[0]}
    checked = records(study).get(found["trial"]) if is_supernet(study) else None
    trial = study.trials[found["trial"]]
    value = checked["value"] if checked else (trial.values[0] if trial.values else None)
    return {"trial": found["trial"], "arch": found["arch"], "value": value}
