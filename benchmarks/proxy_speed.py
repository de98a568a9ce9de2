"""A proxy run's speed against the floor: a plain PyTorch loop over the same model and the same batches.

    python benchmarks/proxy_speed.py --pairs 5             # CPU preset, 4 architectures, 5 pairs, 300 steps
    python benchmarks/proxy_speed.py --steps 100 --pairs 5 trainer.threads=2

For each architecture, in one process, tokens per second of

  (a) a plain loop: forward, masked-position loss, backward, clip, AdamW, scheduler; nothing else;
  (b) the same model in the project's LightningModule and Trainer (its callbacks; no logger, no
      validation), over the same batches;
  (c) the whole ``run_proxy`` with W&B offline: start-up, data, validation, logging, tear-down;
      with ``--compile``, also (c) under ``trainer.compile=true`` (compile time included).

The cores of a shared machine change speed by up to 2x from second to second, more than the differences
measured here, so (a) runs *inside* (b) and (c), interleaved: after every ``--every`` steps of the run, a
callback runs the next ``--every`` steps of (a) (its own model, the same initial weights, the same batches)
and the run's clock leaves that time out. Each ratio then compares two loops that saw the same machine, a
second or two apart. A pair is one (b) run and one (c) run (every other pair runs (c) first), each with its
own (a); b/a and c/a are medians over the pairs. (a) and (b) time the steps after their first (warm-up:
allocator, kernels); (c) divides the tokens of all its steps by its wall time (without (a)'s time). Then
the per-step breakdown of (b) from ``torch.profiler`` (Lightning's PyTorchProfiler): data, forward,
backward, optimizer, callbacks and logging, as ms per step.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

CONF = str(Path(__file__).resolve().parents[1] / "conf")
ARCHS = {
    "sa": "sa ffn sa ffn sa ffn sa ffn",
    "dconv": "dconv(k=9) ffn dconv(k=9) ffn dconv(k=9) ffn dconv(k=9) ffn",
    "mixed": "mixed(k=9) ffn mixed(k=9) ffn mixed(k=9) ffn mixed(k=9) ffn",
    "bsa": "bsa(b=4) ffn bsa(b=4) ffn bsa(b=4) ffn bsa(b=4) ffn",
}


def build(cfg: dict, arch: str, vocab_size: int, seed: int = 0):
    """The run's model, optimizer and scheduler, with the same initial weights every time."""
    from layernas.search_space import MaskedLM, ModelConfig, build_encoder
    from layernas.trainer.core.module import adamw
    from layernas.trainer.plan.trainer import TrainerConfig

    torch.manual_seed(seed)
    model = MaskedLM(build_encoder(arch, vocab_size, cfg["data"]["seq_len"], ModelConfig.from_dict(cfg["model"])))
    opt = adamw(model, TrainerConfig.from_dict(cfg["trainer"]).optim, cfg["trainer"]["max_steps"])
    return model, opt["optimizer"], opt["lr_scheduler"]["scheduler"]


class PlainLoop:
    """(a): the floor. ``run(n)`` takes the next n batches; the time of every step after the first is kept."""

    def __init__(self, cfg: dict, arch: str, vocab_size: int, batches: list[dict]) -> None:
        self.model, self.optimizer, self.scheduler = build(cfg, arch, vocab_size)
        self.clip = cfg["trainer"]["gradient_clip_val"]
        self.batches, self.done = batches, 0
        self.seconds, self.tokens = 0.0, 0

    def run(self, n: int) -> None:
        self.model.train()
        with torch.enable_grad():
            for batch in self.batches[self.done:self.done + n]:
                start = time.perf_counter()
                self.step(batch)
                if self.done:  # the first step warms up
                    self.seconds += time.perf_counter() - start
                    self.tokens += batch["input_ids"].numel()
                self.done += 1

    def step(self, batch: dict) -> None:
        labels = batch["labels"]
        selected = labels != -100  # (B, T)
        logits = self.model(batch["input_ids"], None, positions=selected)  # (N, V)
        loss = torch.nn.functional.cross_entropy(logits.float(), labels[selected])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.optimizer.step()
        self.scheduler.step()

    @property
    def speed(self) -> float:
        return self.tokens / self.seconds


def interleaved(plain: PlainLoop, every: int):
    """A Lightning callback that runs ``every`` steps of ``plain`` after every ``every`` steps of its
    trainer and keeps the (start, end) of each chunk, so that the run's clock can leave them out. Put it
    after the callbacks that time the run's steps."""
    import lightning.pytorch as pl

    class Interleaved(pl.Callback):
        def __init__(self) -> None:
            self.chunks: list[tuple[float, float]] = []

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
            if trainer.global_step % every == 0:
                start = time.perf_counter()
                plain.run(every)
                self.chunks.append((start, time.perf_counter()))

        def within(self, first: float, last: float) -> float:
            """Seconds of (a) between two times of the run."""
            return sum(end - start for start, end in self.chunks if start >= first and end <= last)

    return Interleaved()


def step_clock():
    """A Lightning callback: the time at the end of every training step."""
    import lightning.pytorch as pl

    class Clock(pl.Callback):
        def __init__(self) -> None:
            self.ends: list[float] = []

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
            self.ends.append(time.perf_counter())

    return Clock()


def lightning_loop(cfg: dict, arch: str, vocab_size: int, batches: list[dict], profiler=None, every: int = 0):
    """(b): the project's module and trainer (its callbacks: objective curve, non-finite guard, stopwatch).
    Returns its tokens/s and, with ``every``, that of the (a) interleaved with it."""
    from layernas.trainer.core.callbacks import NonFiniteGuard, ObjectiveCurve, Stopwatch
    from layernas.trainer.core.fit import build_trainer as _trainer
    from layernas.trainer.core.module import MaskedLMModule
    from layernas.trainer.plan.trainer import TrainerConfig

    tcfg = TrainerConfig.from_dict({**cfg["trainer"], "progress_bar": False})
    plain = PlainLoop(cfg, arch, vocab_size, batches) if every else None
    model, _, _ = build(cfg, arch, vocab_size)
    module = MaskedLMModule(model, tcfg.optim, len(batches))
    clock = step_clock()
    mixer = interleaved(plain, every) if plain is not None else None
    callbacks = [ObjectiveCurve("val/mlm_loss"), NonFiniteGuard(), Stopwatch(time.perf_counter()), clock]
    callbacks += [mixer] if mixer is not None else []
    trainer = _trainer(tcfg, len(batches), callbacks, None, "train")
    trainer.limit_val_batches = 0
    if profiler is not None:
        trainer.profiler = profiler
        profiler._lightning_module = module
    loader = torch.utils.data.DataLoader(_Listed(batches), batch_size=None, shuffle=False)
    trainer.fit(module, train_dataloaders=loader)
    first, last = clock.ends[0], clock.ends[-1]
    seconds = last - first - (mixer.within(first, last) if mixer is not None else 0.0)
    return _tokens(batches[1:]) / seconds, plain.speed if plain is not None else None


def whole_run(cfg: dict, arch: str, vocab_size: int = 0, batches: list[dict] | None = None, every: int = 0):
    """(c): run_proxy from the call to its return, W&B offline; with ``every``, (a) interleaved with its
    training steps (over ``batches``, the run's own first batches) and left out of its time.
    Returns (c)'s tokens/s, (a)'s (or None) and the run's timings, (a)'s time taken out of "other"."""
    from layernas.trainer.apps.proxy import run_config as run_proxy

    plain = PlainLoop(cfg, arch, vocab_size, batches) if every else None
    extra = [interleaved(plain, every)] if plain is not None else []
    start = time.perf_counter()
    result = run_proxy(arch, cfg, callbacks=extra)
    wall = time.perf_counter() - start
    assert result.state == "complete", result.reason
    away = sum(end - begin for begin, end in extra[0].chunks) if extra else 0.0
    timings = {**result.timings, "other_s": result.timings["other_s"] - away}
    timings["other_frac"] = timings["other_s"] / (wall - away)
    tokens = result.steps * cfg["data"]["batch_size"] * cfg["data"]["seq_len"]
    return tokens / (wall - away), plain.speed if plain is not None else None, timings


class _Listed(torch.utils.data.Dataset):
    def __init__(self, items: list) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return self.items[i]


def run_pair(cfg: dict, arch: str, vocab_size: int, batches: list[dict], every: int, reverse: bool) -> dict:
    """One (b) run and one (c) run, each with its own interleaved (a); every other pair runs (c) first."""
    out = {}
    for which in ("cb" if reverse else "bc"):
        if which == "b":
            out["b"], out["ab"] = lightning_loop(cfg, arch, vocab_size, batches, every=every)
        else:
            out["c"], out["ac"], out["timings"] = whole_run(cfg, arch, vocab_size, batches, every)
    return out


def _tokens(batches: list[dict]) -> int:
    return sum(b["input_ids"].numel() for b in batches)


def batches_of(cfg: dict, steps: int) -> tuple[list[dict], int]:
    """The first ``steps`` training batches of the run (masked as the run masks them) and the vocabulary."""
    from layernas.trainer.data import DataConfig, MLMDataModule

    dm = MLMDataModule(DataConfig.from_dict(cfg["data"]), cfg["seed"])
    dm.setup("fit")
    out = []
    for batch in dm.train_dataloader():
        out.append(batch)
        if len(out) == steps:
            return out, dm.vocab_size
    raise SystemExit(f"the training split has fewer than {steps} batches")


CATEGORIES = {  # Lightning's profiler action -> the breakdown's category
    "train_dataloader_next": "data", "training_step": "forward", "backward": "backward",
    "optimizer_step": "optimizer", "on_train_batch_end": "callbacks/logging",
    "on_train_batch_start": "callbacks/logging", "on_before_zero_grad": "callbacks/logging",
    "on_before_optimizer_step": "callbacks/logging", "on_after_backward": "callbacks/logging",
    "on_before_backward": "callbacks/logging", "zero_grad": "optimizer",
}


def breakdown(cfg: dict, arch: str, vocab_size: int, batches: list[dict], folder: str) -> dict[str, float]:
    """ms per step of (b) by category, from torch.profiler (optimizer_step holds the forward and backward
    of its closure: they are taken out of it)."""
    from lightning.pytorch.profilers import PyTorchProfiler

    profiler = PyTorchProfiler(dirpath=folder, filename="profile", record_shapes=False, profile_memory=False,
                               with_stack=False, schedule=None, sort_by_key="cpu_time_total")
    lightning_loop(cfg, arch, vocab_size, batches, profiler=profiler)  # no (a) in it
    events = profiler.function_events
    totals: dict[str, float] = defaultdict(float)
    for e in events or []:
        if not e.name.startswith("["):
            continue
        hook = e.name.rsplit(".", 1)[-1]
        category = CATEGORIES.get(hook)
        if category:
            totals[category] += e.cpu_time_total / 1e3  # ms
    totals["optimizer"] -= totals["forward"] + totals["backward"]  # the closure runs inside optimizer_step
    return {k: v / len(batches) for k, v in sorted(totals.items())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=300, help="optimizer steps of every run (300: the CPU proxy's)")
    p.add_argument("--pairs", type=int, default=3, help="a/b/c repetitions per architecture")
    p.add_argument("--archs", nargs="+", choices=list(ARCHS), default=list(ARCHS))
    p.add_argument("--every", type=int, default=10, help="steps of a run between two chunks of (a), and per chunk")
    p.add_argument("--no-profile", action="store_true", help="skip the torch.profiler breakdown")
    p.add_argument("--compile", action="store_true", help="also (c) with trainer.compile=true, once per architecture")
    p.add_argument("overrides", nargs="*", default=[], help="Hydra overrides of the proxy config")
    args = p.parse_args()
    from layernas.trainer.plumbing.logs import quiet_lightning

    quiet_lightning()
    warnings.filterwarnings("ignore", message=".*have no `val_dataloader`.*")  # (b) trains without validation
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    with tempfile.TemporaryDirectory() as results, initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = OmegaConf.to_container(compose("proxy", overrides=[
            f"trainer.max_steps={args.steps}", "trainer.progress_bar=false", "logger=wandb_offline",
            f"results_dir={results}", *args.overrides]), resolve=True)
        batches, vocab = batches_of(cfg, args.steps)
        print(f"{args.steps} steps of batch {cfg['data']['batch_size']} x {cfg['data']['seq_len']} tokens, "
              f"d_model {cfg['model']['d_model']}, {torch.get_num_threads()} threads; {args.pairs} pairs", flush=True)
        print("| architecture | (a) plain tokens/s | (b) Lightning tokens/s | (c) run_proxy tokens/s | b/a | c/a |")
        print("|---|---|---|---|---|---|")
        timings, pairs = {}, {}
        for name in args.archs:
            arch, a, b, c = ARCHS[name], [], [], []
            PlainLoop(cfg, arch, vocab, batches).run(10)  # untimed: kernels and allocator warm for these shapes
            ba, ca = [], []
            for pair in range(args.pairs):
                speeds = run_pair(cfg, arch, vocab, batches, args.every, reverse=pair % 2 == 1)
                a += [speeds["ab"], speeds["ac"]]
                b.append(speeds["b"])
                c.append(speeds["c"])
                ba.append(speeds["b"] / speeds["ab"])
                ca.append(speeds["c"] / speeds["ac"])
                timings[name] = speeds["timings"]
            print(f"| `{arch}` | {statistics.median(a):,.0f} | {statistics.median(b):,.0f} | "
                  f"{statistics.median(c):,.0f} | {statistics.median(ba):.3f} | {statistics.median(ca):.3f} |",
                  flush=True)
            pairs[name] = (ba, ca)
        print("\nper pair (b/a, c/a), in the order run:")
        for name, (ba, ca) in pairs.items():
            print(f"  {name}: " + ", ".join(f"{x:.3f}/{y:.3f}" for x, y in zip(ba, ca, strict=True)))
        print("\nwhere (c)'s wall time went (last run of each): first step s, train s, validation s, other s")
        for name, t in timings.items():
            print(f"  {name}: first step {t['first_step_s']:.2f} s, train {t['train_s']:.1f} s, "
                  f"validation {t['val_s']:.1f} s, other {t['other_s']:.2f} s ({100 * t['other_frac']:.1f}%)")
        if args.compile:
            print("\n(c) with trainer.compile=true: tokens/s over the whole run, against (c) without")
            for name in args.archs:
                plain, _, _ = whole_run(cfg, ARCHS[name])
                compiled, _, t = whole_run({**cfg, "trainer": {**cfg["trainer"], "compile": True}}, ARCHS[name])
                print(f"  {name}: {compiled:,.0f} vs {plain:,.0f} tokens/s ({compiled / plain:.2f}x); first step "
                      f"{t['warmup_s']:.1f} s longer (compilation), validation {t['val_s']:.1f} s", flush=True)
        if not args.no_profile:
            print("\n(b) per step, ms (torch.profiler):")
            for name in args.archs:
                parts = breakdown(cfg, ARCHS[name], vocab, batches, results)
                print(f"  {name}: " + ", ".join(f"{k} {v:.1f}" for k, v in parts.items()), flush=True)


if __name__ == "__main__":
    main()
