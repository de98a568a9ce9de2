"""trials.csv (and the W&B leaderboard table): one row per trial, its state, architecture, objectives,
input-blind reference, flags, costs, times and why it ended."""

from __future__ import annotations

import csv
import io

import optuna
from optuna.trial import FrozenTrial

from layernas.trainer.plan.metrics import REFERENCES
from layernas.trainer.results.extensions import extensions

BASE_COLUMNS = ["number", "state", "baseline", "arch", "key"]
# params and flops: the encoder's (what space.max_params and max_flops bound); model_params: with the task head
# reference: what a predictor that ignores the input scores on the first objective (the majority class's
# accuracy, MCC, F1 or loss; the unigram loss for masked LM); flags: e.g. "constant predictor"
COST_COLUMNS = ["reference", "flags", "params", "model_params", "flops", "latency_ms", "steps", "wall_s",
                "tokens_per_s", "duplicate_of", "reason", "started", "finished", "strategy", "standalone"]


def objective_names(study: optuna.Study) -> list[str]:
    return study.metric_names or [f"objective_{i}" for i in range(len(study.directions))]


def objective_labels(study: optuna.Study) -> list[str]:
    """Names with the metric behind them where it differs: ``objective (val/mlm_loss)``."""
    keys = {o["name"]: o["key"] for o in study.user_attrs.get("objectives", [])}
    return [f"{n} ({keys[n]})" if keys.get(n, n) != n else n for n in objective_names(study)]


def state_name(t: FrozenTrial) -> str:
    """Optuna's state, or why a trial did not count: ``rejected`` by a constraint, ``interrupted``."""
    if t.user_attrs.get("rejected"):
        return "rejected"
    if t.user_attrs.get("interrupted"):
        return "interrupted"
    return t.state.name.lower()


def rows(study: optuna.Study) -> tuple[list[str], list[list]]:
    """One row per trial, in trial order (the content of trials.csv and the W&B leaderboard table). Each
    column holds one type, None where a trial has no value (W&B tables refuse mixed columns; the CSV
    writes None as an empty cell)."""
    names = objective_names(study)
    columns = BASE_COLUMNS + names + COST_COLUMNS
    trials = study.get_trials(deepcopy=False)
    why = reasons(trials)
    reference = reference_metric(study)
    extra = {}
    for ext in extensions():
        extra.update(ext.columns(study) if ext.columns else {})
    out = []
    for t in trials:
        values = list(t.values) if t.values else [None] * len(names)
        u = t.user_attrs
        out.append([t.number, state_name(t), u.get("baseline"), u.get("arch"), u.get("key"),
                    *(_number(v) for v in values), _number(u.get("metrics", {}).get(reference)),
                    ", ".join(u.get("flags") or []) or None, _number(u.get("params")), _number(u.get("model_params")),
                    _number(u.get("flops")), _number(u.get("latency_ms")), _number(u.get("steps")),
                    _number(_round(u.get("wall_s"))), _number(_round(u.get("tokens_per_s"))), u.get("duplicate_of"),
                    why.get(t.number), _time(t.datetime_start), _time(t.datetime_complete),
                    u.get("strategy", "standalone"), _number(extra.get("standalone", {}).get(t.number))])
    return columns, out


def reference_metric(study: optuna.Study) -> str | None:
    """The metric that says what an input-blind predictor scores on the study's first objective."""
    objectives = study.user_attrs.get("objectives") or [{}]
    return REFERENCES.get(objectives[0].get("key"))


def reasons(trials: list[FrozenTrial]) -> dict[int, str]:
    """Why each failed, pruned or rejected trial ended; a trial failed by the heartbeat or restart check
    has no reason of its own (its worker died), so it gets one from the trial that re-ran it."""
    rerun = {t.system_attrs["failed_trial"]: t.number for t in trials if "failed_trial" in t.system_attrs}
    out = {t.number: t.user_attrs["reason"] for t in trials if t.user_attrs.get("reason")}
    for number, again in rerun.items():
        out.setdefault(number, f"its worker stopped during the trial; run again as #{again}")
    return out


def _round(value):
    return round(value, 2) if isinstance(value, float) else value


def _number(value):
    """A number as a float or int, anything else (missing, a stray text) as None."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _time(value) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def as_csv(columns: list[str], data: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if v is None else v for v in row] for row in data])
    return buffer.getvalue()
