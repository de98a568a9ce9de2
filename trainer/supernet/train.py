"""Training a study's supernet once: under the study's lock (the first process trains, any other waits and
finds it trained), resuming its checkpoint after a kill, with Lightning as a proxy run is trained."""

from __future__ import annotations

import json
import socket
from dataclasses import asdict, replace
from pathlib import Path

from layernas.trainer.plan.search import SearchPlan
from layernas.trainer.plan.strategy import SupernetConfig
from layernas.trainer.plumbing import busy, interrupts
from layernas.trainer.plumbing.files import atomic_write_text
from layernas.trainer.search.slots import study_lock
from layernas.trainer.supernet import checkpoint
from layernas.trainer.supernet.checkpoint import TrainState

ATTR = "supernet"  # study user attribute: the finished supernet (steps, wall time, where it was trained)
UNTRAINED_KEYS = ("top_k", "random_k", "checkpoint_every", "val_paths")  # settings that do not change the weights


class SupernetFailed(ValueError):
    """The supernet's training failed (a non-finite loss); one line, like a bad setting."""


def fingerprint(plan: SearchPlan, settings: SupernetConfig) -> dict:
    """The settings that decide the supernet's weights: a checkpoint made with others is not resumed."""
    space = {k: v for k, v in asdict(plan.space).items() if k not in ("model", "vocab_size", "seq_len",
                                                                      "fixed_length")}
    data = {k: v for k, v in plan.run.data.to_dict().items() if k not in ("cache_dir", "data_dir")}
    trainer = {"optim": plan.run.trainer.optim, "gradient_clip_val": plan.run.trainer.gradient_clip_val,
               "precision": plan.run.trainer.precision}
    strategy = {k: v for k, v in asdict(settings).items() if k not in UNTRAINED_KEYS}
    return json.loads(json.dumps({"space": space, "model": plan.run.model.to_dict(), "data": data,
                                  "trainer": trainer, "task": plan.run.task.to_dict(), "seed": plan.run.seed,
                                  "supernet": strategy}, default=_plain))


def _plain(value):
    """JSON for the typed views inside a fingerprint."""
    return asdict(value)


def _difference(old: dict, new: dict, prefix: str = "") -> str:
    """The first setting where two fingerprints differ, as ``key: old -> new``."""
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found = _difference(a, b, f"{prefix}{key}.")
            if found:
                return found
        elif a != b:
            return f"{prefix}{key}: {a!r} -> {b!r}"
    return ""


def train_supernet(plan, study, settings: SupernetConfig) -> TrainState:
    """The study's trained supernet (training or resuming it first if needed), once per study."""
    path = checkpoint.path_of(plan.study_dir)
    lock = study_lock(study, plan.study_dir, plan.storage)
    wanted = fingerprint(plan, settings)
    with lock.held():
        state = checkpoint.read_state(path)
        recorded = study.user_attrs.get(ATTR)
        if state is None and recorded and recorded.get("host") != socket.gethostname():
            raise ValueError(f"the supernet of study {plan.name!r} was trained on {recorded['host']} into its "
                             f"{path.parent}; workers on other machines need that folder (a shared file system)")
        if state is not None and state.fingerprint != wanted:
            changed = _difference(state.fingerprint, wanted)
            raise ValueError(f"{path} holds a supernet trained with other settings ({changed}); use another "
                             "study.name, or delete that folder to train it again")
        if state is None or not state.complete:
            state = _fit(plan, settings, path, state or TrainState(fingerprint=wanted))
        elif recorded is None:  # a new study (its storage was deleted) on the supernet trained before
            print(f"supernet: {path} holds it trained ({state.step} steps in {state.wall_s:.0f} s); not training "
                  "it again", flush=True)
        if recorded is None or recorded.get("step") != state.step:
            study.set_user_attr(ATTR, {"step": state.step, "wall_s": state.wall_s, "sessions": state.sessions,
                                       "host": socket.gethostname(), "path": str(path)})
    return state


def _fit(plan, settings: SupernetConfig, path: Path, state: TrainState) -> TrainState:
    """Train from ``state.step`` to ``settings.steps``, checkpointing; write the summary when done."""
    import lightning.pytorch as pl
    import torch

    from layernas.search_space.supernet import PathSampler, SuperEncoder, SuperMaskedLM, panel
    from layernas.trainer.core.callbacks import NonFiniteGuard
    from layernas.trainer.core.fit import build_trainer
    from layernas.trainer.core.tracking import RunInfo, finish, make_logger
    from layernas.trainer.data import MLMDataModule
    from layernas.trainer.supernet.callbacks import Checkpointing
    from layernas.trainer.supernet.module import SupernetModule, stream_loader

    run, space = plan.run, plan.space
    tcfg = replace(run.trainer, max_time=None)  # the proxy's time limit is a proxy's
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    busy.announce()
    pl.seed_everything(run.seed, verbose=False)
    dm = MLMDataModule(run.data, run.seed, mask_prob=run.task.mask_prob)
    dm.setup("fit")
    model = SuperMaskedLM(SuperEncoder.from_space(space, dm.vocab_size, dm.data.seq_len))
    sampler = PathSampler(space, run.seed, settings.sandwich, settings.fairness)
    resume = None
    if state.step:
        state, adam, rng = checkpoint.load(path, model)
        sampler.load_state(state.sampler)
        resume = (adam, rng)
        print(f"supernet: resuming at step {state.step}/{settings.steps} from {path}", flush=True)
    else:
        print(f"supernet: {sum(p.numel() for p in model.parameters()):,} parameters, "
              f"{sum(len(c) for c in model.encoder.slots)} shared modules over {len(model.encoder.slots)} positions; "
              f"training {settings.steps} steps", flush=True)
    module = SupernetModule(model, tcfg.optim, settings.steps, sampler, panel(space, settings.val_paths, run.seed),
                            state.step, resume)
    guard = NonFiniteGuard()
    saver = Checkpointing(path, settings.checkpoint_every, settings.steps, state)
    info = RunInfo(name=f"{plan.name} supernet", group=plan.name, job_type="supernet", save_dir=plan.study_dir,
                  config={**plan.config, **run.to_dict(), "supernet/start_step": state.step})
    logger = make_logger(plan.run.logger, info)
    trainer = build_trainer(tcfg, settings.steps - state.step, [guard, saver], logger, "supernet")
    val = dm.val_dataloader()
    val.generator = torch.Generator()  # its iterators draw a seed: from the global random state without one
    try:
        with interrupts.interruptible():
            trainer.fit(module, train_dataloaders=stream_loader(dm.train_dataloader(), state.step),
                        val_dataloaders=val)
            if guard.reason is None and not saver.validated:
                trainer.validate(module, dataloaders=val, verbose=False)
    except (KeyboardInterrupt, SystemExit) as e:  # Lightning turns Ctrl-C into SystemExit(1)
        interrupts.restore()
        finish(logger, {"state": "interrupted", "step": saver.state.step}, failed=True)
        raise interrupts.Interrupted.of(e) from None
    if guard.reason is not None:
        finish(logger, {"state": "failed", "reason": guard.reason}, failed=True)
        raise SupernetFailed(f"the supernet's {guard.reason} (checkpoint at step {saver.state.step}); lower "
                             "trainer.optim.lr; the same command resumes from the checkpoint")
    state = saver.finish(trainer, module)
    finish(logger, {"state": "complete", "step": state.step, "wall_s": state.wall_s,
                    "val/mlm_loss": state.curve[-1][1] if state.curve else None})
    summary = {k: v for k, v in state.__dict__.items() if k not in ("sampler", "optimizer")}
    summary["params"] = sum(p.numel() for p in model.parameters())
    summary["modules"] = [sorted(c) for c in model.encoder.slots]
    atomic_write_text(path.parent / "supernet.json", json.dumps(summary, indent=2))
    last = f"; panel val/mlm_loss {state.curve[-1][1]:.4f}" if state.curve else ""
    print(f"supernet: trained {state.step} steps in {state.wall_s:.0f} s over {state.sessions} session(s){last}",
          flush=True)
    return state
