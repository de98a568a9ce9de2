"""One search trial, asked of Optuna and told back: sample a candidate, reject it if a constraint
forbids it, reuse an identical earlier network's result, or score it with a proxy run; then the
progress line and the results files."""

from __future__ import annotations

import math
import socket
import time
import warnings
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from layernas.search_space import Architecture
from layernas.trainer.core.callbacks import StepRate
from layernas.trainer.core.latency import measure_latency_ms
from layernas.trainer.core.proxy import ProxyResult, RunSpec, run_proxy
from layernas.trainer.core.tracking import RunInfo, new_run_id
from layernas.trainer.plan.metrics import flags
from layernas.trainer.plumbing import interrupts
from layernas.trainer.plumbing.optuna_private import beating, reload
from layernas.trainer.results.format import fmt
from layernas.trainer.search.plan import SearchPlan, TrialFailed
from layernas.trainer.search.slots import FINISHED, counted, pid_alive, worker_identity
from layernas.trainer.search.timing import duration, estimated_run_s

WAIT_FOR_TWIN_S = 5.0  # poll interval while another worker trains the same architecture


@dataclass
class Candidate:
    """What a trial proposes, decided while its slot is held: the network, an earlier trial of the same
    network (``twin``), or why it is not trained (``rejected``)."""

    arch: Architecture | None = None
    twin: FrozenTrial | None = None
    rejected: str | None = None


class TrialRunner:
    """Runs the trials of one process: :meth:`register` under the slot lock, then :meth:`run`."""

    scores_without_training = False  # a strategy that scores without training counts each network once

    def __init__(self, plan: SearchPlan, study: optuna.Study, worker: int = 0) -> None:
        self.plan, self.study, self.worker = plan, study, worker
        self.start = time.time()
        self._step_s: float | None = None  # seconds per training step, measured in the first trained trial
        self._walls: list[float] = []  # wall times of this process's trained trials

    # ---- under the slot lock ----------------------------------------------------------------------
    def register(self, trial: optuna.Trial) -> Candidate:
        """Sample the trial's network and record it, so that other workers see it before it trains."""
        space = self.plan.space
        for name, value in {**worker_identity(), "worker": self.worker}.items():
            trial.set_user_attr(name, value)
        try:
            arch = space.sample(trial)
        except ValueError as e:
            return self._reject(trial, f"invalid candidate: {e}")
        trial.set_user_attr("arch", str(arch))
        trial.set_user_attr("key", arch.key())
        for name, value in space.cost(arch).items():
            trial.set_user_attr(name, value)
        violations = space.violations(arch)
        for name, amount in violations.items():
            trial.set_constraint(name, float(amount))  # > 0: infeasible, for constraint-aware samplers
        if any(amount > 0 for amount in violations.values()):
            return self._reject(trial, f"rejected before training: {space.violation(arch)}", arch)
        return Candidate(arch, twin=self._registered_twin(trial, arch.key()))

    def _reject(self, trial: optuna.Trial, reason: str, arch: Architecture | None = None) -> Candidate:
        trial.set_user_attr("rejected", True)
        trial.set_user_attr("reason", reason)
        return Candidate(arch, rejected=reason)

    # ---- after the lock ---------------------------------------------------------------------------
    def run(self, trial: optuna.Trial, candidate: Candidate) -> FrozenTrial:
        """Score the candidate, tell Optuna the outcome, print the progress line and rewrite the results.
        An interruption is told as a failed trial marked ``interrupted`` (it does not count), then raised."""
        try:
            with beating(self.study, trial):
                state, values = self._outcome(trial, candidate)
        except BaseException as e:
            interrupted = isinstance(e, KeyboardInterrupt)
            trial.set_user_attr("reason", "interrupted" if interrupted else f"{type(e).__name__}: {e}")
            if interrupted:
                trial.set_user_attr("interrupted", True)
            self.study.tell(trial, state=TrialState.FAIL)
            raise
        frozen = self.study.tell(trial, values, state=state)
        self.after_trial(frozen)
        return frozen

    def _outcome(self, trial: optuna.Trial, candidate: Candidate) -> tuple[TrialState, list | None]:
        interrupts.check()  # a signal held while the trial was being registered
        if candidate.rejected:
            return TrialState.PRUNED, None
        if candidate.twin is not None:
            twin = self._wait_for(candidate.twin)
            if twin.state in (TrialState.COMPLETE, TrialState.PRUNED):
                return self._reuse(trial, twin)
            # its worker died before it finished: train this one instead
        return self._result(trial, self.train(trial, candidate.arch), candidate.arch)

    def train(self, trial: optuna.Trial, arch: Architecture) -> ProxyResult:
        """Measure the candidate: a proxy run (a supernet strategy scores it with shared weights instead). The
        first one of the process also measures the training speed, for the search's time estimate."""
        probe = [] if self._step_s is not None else [StepRate(self._measured)]
        spec = RunSpec(arch, self.plan.run, trial=trial if self.plan.prunes else None, run=self._run_info(trial),
                       callbacks=tuple(probe))
        result = run_proxy(spec)  # training is interruptible, its storage writes are not
        if result.steps:
            self._walls.append(result.wall_s)
        return result

    def _measured(self, step_s: float, tokens_per_s: float) -> None:
        """The speed line: tokens/s in the first trial's first steps and what it means for the search."""
        self._step_s = step_s
        trial_s = estimated_run_s(self.plan.run, step_s)
        print(f"speed: {tokens_per_s:,.0f} tokens/s ({step_s:.3f} s a step) in this trial's first steps: about "
              f"{duration(trial_s)} a trial, {duration(self.seconds_left(trial_s))} for the "
              f"{self.runs_left()} runs left" + (f" on {self.plan.n_workers} workers" if self.plan.n_workers > 1
                                                else ""), flush=True)

    def runs_left(self) -> int:
        """Trials still to count, this one included, and the seed-noise runs that follow them."""
        from layernas.trainer.search.noise_runs import pending_noise_runs

        return max(0, self.plan.n_trials - counted(self.study)) + len(pending_noise_runs(self.plan, self.study))

    def seconds_left(self, trial_s: float | None = None) -> float | None:
        """The search's time left: the mean of this process's trained trials (or ``trial_s`` before one ends)
        times the runs left, shared among the workers."""
        per_run = sum(self._walls) / len(self._walls) if self._walls else trial_s
        if per_run is None:
            return None
        return per_run * self.runs_left() / self.plan.n_workers

    def _result(self, trial: optuna.Trial, result: ProxyResult, arch: Architecture) -> tuple[TrialState, list | None]:
        self._record(trial, result)
        if result.state == "failed":
            return TrialState.FAIL, None
        if result.state == "pruned":
            return TrialState.PRUNED, None
        try:
            return TrialState.COMPLETE, self._values(trial, result, arch)
        except TrialFailed as e:
            trial.set_user_attr("reason", str(e))
            return TrialState.FAIL, None

    def _run_info(self, trial: optuna.Trial) -> RunInfo:
        config = {**self.plan.config, "trial/number": trial.number,
                  **{f"trial/{k}": v for k, v in trial.params.items()}}
        baseline = trial.user_attrs.get("baseline")
        run_id = new_run_id()
        trial.set_user_attr("wandb_id", run_id)  # so a crashed worker's run can be closed as failed later
        return RunInfo(name=f"t{trial.number:03d} {trial.user_attrs['arch']}", group=self.plan.name,
                       job_type="trial", save_dir=self.plan.study_dir, config=config, run_id=run_id,
                       tags=(f"baseline:{baseline}",) if baseline else ())

    def _record(self, trial: optuna.Trial, r: ProxyResult) -> None:
        # "params" and "flops" stay the space's encoder costs (what space.max_params bounds); the
        # trained model with its task head is counted apart
        trial.set_user_attr("model_params", r.model_params)
        for name in ("steps", "wall_s", "tokens_per_s", "run_dir"):
            trial.set_user_attr(name, getattr(r, name))
        trial.set_user_attr("metrics", {k: v for k, v in r.metrics.items() if math.isfinite(v)})
        # e.g. a constant predictor: its value is no signal
        trial.set_user_attr("flags", flags(r.metrics, self.plan.objectives[0].key))
        trial.set_user_attr("curve", [list(p) for p in r.curve])
        if r.reason:
            trial.set_user_attr("reason", r.reason)
        elif r.state == "pruned":
            trial.set_user_attr("reason", f"pruned at step {r.curve[-1][0] if r.curve else 0}")

    def _values(self, trial: optuna.Trial, r: ProxyResult, arch: Architecture) -> list[float]:
        values = []
        for objective in self.plan.objectives:
            if objective.key == "latency_ms":
                value = measure_latency_ms(arch, self.plan.run)
                trial.set_user_attr("latency_ms", value)
            elif objective.key in ("params", "flops"):
                value = trial.user_attrs[objective.key]  # the encoder's, as the space's constraints count it
            else:
                value = r.metrics.get(objective.key)
            if value is None or not math.isfinite(value):
                raise TrialFailed(f"objective {objective.name} ({objective.key}) was not measured")
            values.append(float(value))
        return values

    # ---- identical architectures --------------------------------------------------------------------
    def _registered_twin(self, trial: optuna.Trial, key: str) -> FrozenTrial | None:
        """An earlier-registered trial of the same network that is running or finished (not failed)."""
        for t in self.study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING)):
            if (t.number != trial.number and t.user_attrs.get("key") == key and "duplicate_of" not in t.user_attrs
                    and t.state != TrialState.FAIL and not t.user_attrs.get("rejected") and not self._dead(t)):
                return t
        return None

    def _wait_for(self, twin: FrozenTrial) -> FrozenTrial:
        """The twin once finished (another worker may still be training it)."""
        while twin.state == TrialState.RUNNING and not self._dead(twin):
            with interrupts.interruptible():
                time.sleep(WAIT_FOR_TWIN_S)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(self.study)  # a twin on another host may have lost its worker
            twin = reload(self.study, twin)
        return twin

    @staticmethod
    def _dead(t: FrozenTrial) -> bool:
        """A running trial whose worker on this host is gone."""
        return (t.state == TrialState.RUNNING and t.user_attrs.get("host") == socket.gethostname()
                and not pid_alive(t.user_attrs.get("pid")))

    def _reuse(self, trial: optuna.Trial, twin: FrozenTrial) -> tuple[TrialState, list | None]:
        trial.set_user_attr("duplicate_of", twin.number)
        for name in ("model_params", "steps", "metrics", "flags", "latency_ms", "run_dir"):
            if name in twin.user_attrs:
                trial.set_user_attr(name, twin.user_attrs[name])
        trial.set_user_attr("steps", 0)  # nothing was trained for this trial
        if twin.state == TrialState.PRUNED:
            trial.set_user_attr("reason", f"same network as pruned trial {twin.number}")
            return TrialState.PRUNED, None
        return TrialState.COMPLETE, list(twin.values)

    # ---- after each trial ---------------------------------------------------------------------------
    def after_trial(self, frozen: FrozenTrial) -> None:
        print(self.progress_line(frozen), flush=True)
        self.write_results()

    def progress_line(self, frozen: FrozenTrial) -> str:
        from layernas.trainer.results.table import state_name

        states = [state_name(t) for t in self.study.get_trials(deepcopy=False)]
        value = fmt(frozen.values[0]) if frozen.values else frozen.user_attrs.get("reason", "")
        if frozen.values and frozen.user_attrs.get("flags"):
            value += f" ({'; '.join(frozen.user_attrs['flags'])})"
        twin = frozen.user_attrs.get("duplicate_of")
        note = f" (same as #{twin})" if twin is not None else ""
        elapsed = int(time.time() - self.start)
        counts = ", ".join(f"{states.count(s)} {s}" for s in ("complete", "pruned", "failed", "rejected", "interrupted")
                           if states.count(s) or s in ("complete", "pruned", "failed"))
        left = self.seconds_left(estimated_run_s(self.plan.run, self._step_s) if self._step_s else None)
        return (f"[{counted(self.study):>3}/{self.plan.n_trials}] #{frozen.number} {state_name(frozen)}"
                f"{note}: {value} | {frozen.user_attrs.get('arch', '')}\n"
                f"          {counts} | {self._best_text()} | {elapsed // 60}m{elapsed % 60:02d}s"
                + (f" | ~{duration(left)} left" if left is not None and self.runs_left() else ""))

    def _best_text(self) -> str:
        from layernas.trainer.results.ranking import best_trials

        best = best_trials(self.study)
        if len(self.plan.objectives) > 1:
            return f"Pareto front {len(best)} trials"
        return f"best {fmt(best[0].values[0])} (#{best[0].number})" if best else "best -"

    def done(self) -> None:
        """Called when this process has no trial left to run (a strategy records what it measured)."""

    def write_results(self, plots: bool = True) -> None:
        """trials.csv, best.yaml, report.md and the plots (a few tenths of a second), rewritten."""
        from layernas.trainer.results.writer import write_results

        write_results(self.study, self.plan.study_dir, with_plots=plots)
