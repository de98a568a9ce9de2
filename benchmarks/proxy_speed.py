"""A proxy run's speed against the floor: a plain PyTorch loop over the same model and the same batches.

    python benchmarks/proxy_speed.py --pairs 5             # CPU preset, 4 architectures, 5 pairs, 300 steps
    python benchmarks/proxy_speed.py --steps 100 --pairs 5 trainer.threads=2

For each architecture, in one process and interleaved (a, b, c, c, b, a, a, b, c, ...), tokens per second of

  (a) a plain loop: forward, masked-position loss, backward, clip, AdamW, scheduler; nothing else;
  (b) the same model in the project's LightningModule and Trainer (its callbacks; no logger, no
      validation), over the same batches;
  (c) the whole ``run_proxy`` with W&B offline: start-up, data, validation, logging, tear-down;
      with ``--compile``, also (c) under ``trainer.compile=true`` (compile time included).

(a) and (b) time the steps after the first (warm-up: allocator, kernels); (c) divides the tokens of all
its steps by its wall time. The ratios b/a and c/a are medians over the pairs. Then the per-step
breakdown of (b) from ``torch.profiler`` (Lightning's PyTorchProfiler): data, forward, backward,
optimizer, callbacks and logging, as ms per step.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
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
    from layernas.trainer.config import TrainerConfig
    from layernas.trainer.module import adamw

    torch.manual_seed(seed)
    model = MaskedLM(build_encoder(arch, vocab_size, cfg["data"]["seq_len"], ModelConfig.from_dict(cfg["model"])))
    opt = adamw(model, TrainerConfig.from_dict(cfg["trainer"]).optim, cfg["trainer"]["max_steps"])
    return model, opt["optimizer"], opt["lr_scheduler"]["scheduler"]


def plain_loop(cfg: dict, arch: str, vocab_size: int, batches: list[dict]) -> float:
    """(a): tokens/s of the steps after the first."""
    model, optimizer, scheduler = build(cfg, arch, vocab_size)
    model.train()
    clip = cfg["trainer"]["gradient_clip_val"]
    start = None
    for i, batch in enumerate(batches):
        labels = batch["labels"]
        selected = labels != -100  # (B, T)
        logits = model(batch["input_ids"], None, positions=selected)  # (N, V)
        loss = torch.nn.functional.cross_entropy(logits.float(), labels[selected])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        scheduler.step()
        if i == 0:
            start = time.perf_counter()
    return _tokens(batches[1:]) / (time.perf_counter() - start)


class _StepClock:
    """Lightning callback: the time from the end of the first step to the end of the last."""

    def __new__(cls):
        import lightning.pytorch as pl

        class Clock(pl.Callback):
            def __init__(self) -> None:
                self.first = self.last = None

            def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
                now = time.perf_counter()
                self.first = self.first or now
                self.last = now

        return Clock()


def lightning_loop(cfg: dict, arch: str, vocab_size: int, batches: list[dict], profiler=None) -> float:
    """(b): the project's module and trainer (its callbacks: objective curve, non-finite guard, stopwatch)."""
    from layernas.trainer.callbacks import NonFiniteGuard, ObjectiveCurve, Stopwatch
    from layernas.trainer.config import TrainerConfig
    from layernas.trainer.module import MaskedLMModule
    from layernas.trainer.proxy import _trainer

    tcfg = TrainerConfig.from_dict({**cfg["trainer"], "progress_bar": False})
    model, _, _ = build(cfg, arch, vocab_size)
    module = MaskedLMModule(model, tcfg.optim, len(batches))
    clock = _StepClock()
    callbacks = [ObjectiveCurve("val/mlm_loss"), NonFiniteGuard(), Stopwatch(time.perf_counter()), clock]
    trainer = _trainer(tcfg, len(batches), callbacks, None, "train")
    trainer.limit_val_batches = 0
    if profiler is not None:
        trainer.profiler = profiler
        profiler._lightning_module = module
    loader = torch.utils.data.DataLoader(_Listed(batches), batch_size=None, shuffle=False)
    trainer.fit(module, train_dataloaders=loader)
    return _tokens(batches[1:]) / (clock.last - clock.first)


def whole_run(cfg: dict, arch: str) -> tuple[float, dict]:
    """(c): run_proxy from the call to its return, W&B offline."""
    from layernas.trainer.proxy import run_proxy

    start = time.perf_counter()
    result = run_proxy(arch, cfg)
    wall = time.perf_counter() - start
    assert result.state == "complete", result.reason
    tokens = result.steps * cfg["data"]["batch_size"] * cfg["data"]["seq_len"]
    return tokens / wall, result.timings


class _Listed(torch.utils.data.Dataset):
    def __init__(self, items: list) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return self.items[i]


def run_pair(cfg: dict, arch: str, vocab_size: int, batches: list[dict], reverse: bool) -> dict:
    """One a/b/c repetition; every other one runs c, b, a, so that a drift of the machine's speed over
    the run (other tenants, thermal state) falls on each side in turn instead of always on the later runs."""
    runs = {
        "a": lambda: plain_loop(cfg, arch, vocab_size, batches),
        "b": lambda: lightning_loop(cfg, arch, vocab_size, batches),
        "c": lambda: whole_run(cfg, arch),
    }
    speeds = {which: runs[which]() for which in ("cba" if reverse else "abc")}
    speeds["c"], speeds["timings"] = speeds["c"]
    return speeds


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
    lightning_loop(cfg, arch, vocab_size, batches, profiler=profiler)
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
    p.add_argument("--no-profile", action="store_true", help="skip the torch.profiler breakdown")
    p.add_argument("--compile", action="store_true", help="also (c) with trainer.compile=true, once per architecture")
    p.add_argument("overrides", nargs="*", default=[], help="Hydra overrides of the proxy config")
    args = p.parse_args()
    from layernas.trainer.logs import quiet_lightning

    quiet_lightning()
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
            plain_loop(cfg, arch, vocab, batches[:10])  # untimed: kernels and allocator warm for these shapes
            for pair in range(args.pairs):
                speeds = run_pair(cfg, arch, vocab, batches, reverse=pair % 2 == 1)
                a.append(speeds["a"])
                b.append(speeds["b"])
                c.append(speeds["c"])
                timings[name] = speeds["timings"]
            ba = [x / y for x, y in zip(b, a, strict=True)]
            ca = [x / y for x, y in zip(c, a, strict=True)]
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
                plain, _ = whole_run(cfg, ARCHS[name])
                compiled, t = whole_run({**cfg, "trainer": {**cfg["trainer"], "compile": True}}, ARCHS[name])
                print(f"  {name}: {compiled:,.0f} vs {plain:,.0f} tokens/s ({compiled / plain:.2f}x); first step "
                      f"{t['warmup_s']:.1f} s longer (compilation), validation {t['val_s']:.1f} s", flush=True)
        if not args.no_profile:
            print("\n(b) per step, ms (torch.profiler):")
            for name in args.archs:
                parts = breakdown(cfg, ARCHS[name], vocab, batches, results)
                print(f"  {name}: " + ", ".join(f"{k} {v:.1f}" for k, v in parts.items()), flush=True)


if __name__ == "__main__":
    main()
