"""One search trial: sample a candidate, reject or reuse it if it can be, otherwise score it with a proxy
run; and what happens after each trial (progress line, results files)."""

from __future__ import annotations

import math
import time

import optuna
from optuna.trial import FrozenTrial, TrialState

from search_space import Architecture

from .proxy import ProxyResult, run_proxy
from .search import FINISHED, SearchPlan, TrialFailed, counted, fmt
from .tracking import RunInfo

WAIT_FOR_TWIN_S = 5.0  # poll interval while another worker trains the same architecture


class TrialRunner:
    """The Optuna objective of a search (call it with a trial) and its after-trial callback."""

    def __init__(self, plan: SearchPlan, study: optuna.Study) -> None:
        self.plan, self.study = plan, study
        self.start = time.time()

    # ---- the objective ----------------------------------------------------------------------------
    def __call__(self, trial: optuna.Trial):
        try:
            return self._evaluate(trial)
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            trial.set_user_attr("reason", "interrupted")
            raise

    def _evaluate(self, trial: optuna.Trial):
        space = self.plan.space
        try:
            arch = space.sample(trial)
        except ValueError as e:
            return self._reject(trial, f"invalid candidate: {e}")
        trial.set_user_attr("arch", str(arch))
        trial.set_user_attr("key", arch.key())
        for name, value in space.cost(arch).items():
            trial.set_user_attr(name, value)
        violation = space.violation(arch)
        if violation:
            return self._reject(trial, f"rejected before training: {violation}")
        twin = self._twin(trial, arch.key())
        if twin is not None:
            return self._reuse(trial, twin)
        result = run_proxy(arch, self.plan.cfg, trial=trial if self.plan.prunes else None, run=self._run_info(trial))
        self._record(trial, result)
        if result.state == "failed":
            raise TrialFailed(result.reason)
        if result.state == "pruned":
            raise optuna.TrialPruned(f"pruned at step {result.curve[-1][0] if result.curve else 0}")
        return self._values(trial, result, arch)

    def _reject(self, trial: optuna.Trial, reason: str):
        trial.set_user_attr("reason", reason)
        raise optuna.TrialPruned(reason)

    def _run_info(self, trial: optuna.Trial) -> RunInfo:
        config = {"trial/number": trial.number, **{f"trial/{k}": v for k, v in trial.params.items()}}
        baseline = trial.user_attrs.get("baseline")
        return RunInfo(name=f"t{trial.number:03d} {trial.user_attrs['arch']}", group=self.plan.name,
                       job_type="trial", save_dir=self.plan.study_dir, config=config,
                       tags=(f"baseline:{baseline}",) if baseline else ())

    def _record(self, trial: optuna.Trial, r: ProxyResult) -> None:
        for name in ("params", "flops", "steps", "wall_s", "tokens_per_s", "run_dir"):
            trial.set_user_attr(name, getattr(r, name))
        trial.set_user_attr("metrics", {k: v for k, v in r.metrics.items() if math.isfinite(v)})
        trial.set_user_attr("curve", [list(p) for p in r.curve])
        if r.reason:
            trial.set_user_attr("reason", r.reason)

    def _values(self, trial: optuna.Trial, r: ProxyResult, arch: Architecture):
        values = []
        for objective in self.plan.objectives:
            if objective.key == "latency_ms":
                value = measure_latency_ms(arch, self.plan.cfg)
                trial.set_user_attr("latency_ms", value)
            elif objective.key in ("params", "flops"):
                value = getattr(r, objective.key)
            else:
                value = r.metrics.get(objective.key)
            if value is None or not math.isfinite(value):
                raise TrialFailed(f"objective {objective.name} ({objective.key}) was not measured")
            values.append(float(value))
        return values[0] if len(values) == 1 else values

    # ---- identical architectures --------------------------------------------------------------------
    def _twin(self, trial: optuna.Trial, key: str) -> FrozenTrial | None:
        """An earlier trial of the same network (waiting while another worker is still training it)."""
        while True:
            twins = [t for t in self.study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING))
                     if t.number < trial.number and t.user_attrs.get("key") == key
                     and "duplicate_of" not in t.user_attrs and t.state != TrialState.FAIL]
            if not twins:
                return None
            done = [t for t in twins if t.state != TrialState.RUNNING]
            if done:
                return done[0]
            time.sleep(WAIT_FOR_TWIN_S)

    def _reuse(self, trial: optuna.Trial, twin: FrozenTrial):
        trial.set_user_attr("duplicate_of", twin.number)
        for name in ("params", "flops", "steps", "metrics", "latency_ms", "run_dir"):
            if name in twin.user_attrs:
                trial.set_user_attr(name, twin.user_attrs[name])
        trial.set_user_attr("steps", 0)  # nothing was trained for this trial
        if twin.state == TrialState.PRUNED:
            return self._reject(trial, f"same network as pruned trial {twin.number}")
        return twin.values[0] if len(twin.values) == 1 else list(twin.values)

    # ---- after each trial ---------------------------------------------------------------------------
    def after_trial(self, study: optuna.Study, frozen: FrozenTrial) -> None:
        print(self.progress_line(frozen), flush=True)
        self.write_results()
        if counted(study) >= self.plan.n_trials:
            study.stop()

    def progress_line(self, frozen: FrozenTrial) -> str:
        trials = self.study.get_trials(deepcopy=False)
        states = [t.state for t in trials]
        value = fmt(frozen.values[0]) if frozen.values else frozen.user_attrs.get("reason", "")
        twin = frozen.user_attrs.get("duplicate_of")
        note = f" (same as #{twin})" if twin is not None else ""
        elapsed = int(time.time() - self.start)
        best = self._best_text()
        return (f"[{counted(self.study):>3}/{self.plan.n_trials}] #{frozen.number} {frozen.state.name.lower()}"
                f"{note}: {value} | {frozen.user_attrs.get('arch', '')}\n"
                f"          {states.count(TrialState.COMPLETE)} complete, {states.count(TrialState.PRUNED)} pruned, "
                f"{states.count(TrialState.FAIL)} failed | {best} | {elapsed // 60}m{elapsed % 60:02d}s")

    def _best_text(self) -> str:
        if len(self.plan.objectives) > 1:
            return f"Pareto front {len(self.study.best_trials)} trials"
        try:
            best = self.study.best_trial
        except ValueError:
            return "best -"
        return f"best {fmt(best.value)} (#{best.number})"

    def write_results(self, plots: bool = False) -> None:
        from .report import write_results

        write_results(self.study, self.plan.study_dir, with_plots=plots)

    def finish(self) -> None:
        """Final results with plots, and the study's summary run in W&B."""
        from .report import log_summary_run

        self.write_results(plots=True)
        log_summary_run(self.study, self.plan)


def measure_latency_ms(arch: Architecture, cfg: dict) -> float:
    """Median forward latency (ms) of the encoder on one batch of the configured size."""
    import torch

    from search_space import ModelConfig, build_encoder
    from search_space.cost import forward_latency_ms

    mcfg, data = ModelConfig.from_dict(cfg["model"]), cfg["data"]
    settings = {k: v for k, v in mcfg.to_dict().items() if k != "d_model"}
    encoder = build_encoder(arch, data["tokenizer"]["vocab_size"], data["seq_len"], d_model=mcfg.d_model,
                            **settings).eval()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    ids = torch.randint(0, data["tokenizer"]["vocab_size"], (data["batch_size"], data["seq_len"]), device=device)
    return forward_latency_ms(encoder.to(device), ids, repeats=10, warmup=3)
