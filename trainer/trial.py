"""One search trial: sample a candidate, reject or reuse it if it can be, otherwise score it with a proxy
run; and what happens after each trial (progress line, results files)."""

from __future__ import annotations

import math
import time
import warnings

import optuna
from optuna.trial import FrozenTrial, TrialState

from layernas.search_space import Architecture

from .proxy import ProxyResult, run_proxy
from .search import SearchPlan, TrialFailed, fmt
from .slots import FINISHED, counted, pid_alive, worker_identity
from .study import StaleTrialHandler
from .tracking import RunInfo, new_run_id

WAIT_FOR_TWIN_S = 5.0  # poll interval while another worker trains the same architecture


class TrialRunner:
    """The Optuna objective of a search (call it with a trial) and its after-trial callback."""

    def __init__(self, plan: SearchPlan, study: optuna.Study, worker: int = 0) -> None:
        self.plan, self.study, self.worker = plan, study, worker
        self.start = time.time()
        self.slots = None  # set by the trial loop; released once the trial has registered its network

    # ---- the objective ----------------------------------------------------------------------------
    def __call__(self, trial: optuna.Trial):
        try:
            return self._evaluate(trial)
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            trial.set_user_attr("reason", "interrupted")
            raise
        finally:
            self._release()

    def _release(self) -> None:
        if self.slots is not None:
            self.slots.release()

    def _evaluate(self, trial: optuna.Trial):
        space = self.plan.space
        for name, value in {**worker_identity(), "worker": self.worker}.items():
            trial.set_user_attr(name, value)
        try:
            arch = space.sample(trial)
        except ValueError as e:
            return self._reject(trial, f"invalid candidate: {e}")
        trial.set_user_attr("arch", str(arch))
        trial.set_user_attr("key", arch.key())
        twin = self._registered_twin(trial, arch.key())
        self._release()  # registered: other workers may take their slot and see this network
        for name, value in space.cost(arch).items():
            trial.set_user_attr(name, value)
        violation = space.violation(arch)
        if violation:
            return self._reject(trial, f"rejected before training: {violation}")
        if twin is not None:
            twin = self._wait_for(twin)
            if twin.state in (TrialState.COMPLETE, TrialState.PRUNED):
                return self._reuse(trial, twin)
            # its worker died before it finished: train this one instead
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
        run_id = new_run_id()
        trial.set_user_attr("wandb_id", run_id)  # so a crashed worker's run can be closed as failed later
        return RunInfo(name=f"t{trial.number:03d} {trial.user_attrs['arch']}", group=self.plan.name,
                       job_type="trial", save_dir=self.plan.study_dir, config=config, run_id=run_id,
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
    def _registered_twin(self, trial: optuna.Trial, key: str) -> FrozenTrial | None:
        """An earlier-registered trial of the same network that is running or finished (not failed)."""
        for t in self.study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING)):
            if (t.number != trial.number and t.user_attrs.get("key") == key and "duplicate_of" not in t.user_attrs
                    and t.state != TrialState.FAIL and not self._dead(t)):
                return t
        return None

    def _wait_for(self, twin: FrozenTrial) -> FrozenTrial:
        """The twin once finished (another worker may still be training it)."""
        while twin.state == TrialState.RUNNING and not self._dead(twin):
            time.sleep(WAIT_FOR_TWIN_S)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(self.study)  # a twin on another host may have lost its worker
            twin = self.study._storage.get_trial(twin._trial_id)
        return twin

    @staticmethod
    def _dead(t: FrozenTrial) -> bool:
        """A running trial whose worker on this host is gone."""
        import socket

        return (t.state == TrialState.RUNNING and t.user_attrs.get("host") == socket.gethostname()
                and not pid_alive(t.user_attrs.get("pid")))

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


def fail_dead_local_trials(study: optuna.Study, plan: SearchPlan) -> list[int]:
    """Fail (and queue again once) the running trials whose worker is gone: those without a heartbeat for
    ``grace_period`` (RDB storages), and at once those whose process on this host has ended (journal
    files have no heartbeats; a killed single worker is found at the next start without waiting)."""
    import socket

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # storages with heartbeats: workers on any host
    host, failed = socket.gethostname(), []
    handler = StaleTrialHandler(plan.cfg["storage"].get("max_retry", 3))
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if t.user_attrs.get("host") == host and not pid_alive(t.user_attrs.get("pid")):
            study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
            handler(study, study._storage.get_trial(t._trial_id))
            failed.append(t.number)
    return failed


def measure_latency_ms(arch: Architecture, cfg: dict) -> float:
    """Median forward latency (ms) of the encoder on one batch of the configured size."""
    import torch

    from layernas.search_space import ModelConfig, build_encoder
    from layernas.search_space.cost import forward_latency_ms

    mcfg, data = ModelConfig.from_dict(cfg["model"]), cfg["data"]
    encoder = build_encoder(arch, data["tokenizer"]["vocab_size"], data["seq_len"], mcfg).eval()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    ids = torch.randint(0, data["tokenizer"]["vocab_size"], (data["batch_size"], data["seq_len"]), device=device)
    return forward_latency_ms(encoder.to(device), ids, repeats=10, warmup=3)
