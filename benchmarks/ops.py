"""Forward+backward time, memory and arithmetic of every op, beside reference implementations.

    python benchmarks/ops.py --output table.md     # d_model 256, 4 heads, batch 4, T in {128, 512, 2048}
    python benchmarks/ops.py --lengths 128 --repeats 2

Times come from one process per T that builds every case and times them in interleaved rounds (median of
``--repeats`` forward+backward passes after a warm-up pass), so the ratios compare like with like; that
process also counts the CPU time other processes take during each pass (from ``/proc/stat``) and times a
pass again when they took more than ``--quiet`` of a core.
Memory comes from a fresh process per (case, T): what one forward+backward adds on top of the model and
its input; on CUDA ``max_memory_allocated``; on CPU the process's resident-set high-water mark (``VmHWM``, reset
through ``/proc/self/clear_refs``) with glibc's mmap threshold fixed so freed buffers leave the process.
"Saved" is what one forward keeps for backward (:func:`~layernas.search_space.cost.saved_tensor_bytes`:
each storage autograd packs, counted once, parameters left out), exact where the peak is noisy.
FLOPs are the forward FLOPs of :mod:`layernas.search_space.cost` for the batch (a reference gets those of
the op it implements); "x FLOP time" is the time over the time the op would take if it cost what ``sa``
costs per FLOP: time / (FLOPs / FLOPs of ``sa`` x time of ``sa``).
References: ``nn.MultiheadAttention`` (beside ``sa``), transformers' ``ConvBertAttention`` (beside
``mixed``) and ``ConvBertLayer`` (beside ``mixed ffn``); ``sa[math]`` is ``sa`` forced onto the
non-fused SDPA backend, which materialises the T x T scores like a classic implementation.

Times on a shared machine say little: the command refuses to run when the 1-minute load average is above
``--max-load`` (1 by default; the load and the other processes' CPU share are written into the table).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from layernas.search_space import build_layer  # noqa: E402
from layernas.search_space.cost import flops, measure_latency, saved_tensor_bytes  # noqa: E402

OURS = ["sa", "sa[math]", "bsa(b=2)", "bsa(b=4)", "sdconv(k=9)", "mixed(k=9)", "lconv(k=9)", "dconv(k=9)",
        "lvconv(k=9)", "dsa", "csa(k=9)", "gconv(k=7)", "ffn", "ffn(g=4)", "mixed(k=9) ffn"]
REFERENCES = {"sa": "torch MultiheadAttention", "mixed(k=9)": "HF ConvBertAttention",
              "mixed(k=9) ffn": "HF ConvBertLayer"}
SAME_ARITHMETIC = {ref: ours for ours, ref in REFERENCES.items()}  # a reference costs the FLOPs of its op
RATIOS = [("bsa(b=4)", "sa"), ("bsa(b=4)", "sa[math]"), ("bsa(b=2)", "sa"), ("sa", "torch MultiheadAttention"),
          ("mixed(k=9)", "sa"), ("mixed(k=9)", "HF ConvBertAttention"), ("mixed(k=9) ffn", "HF ConvBertLayer"),
          ("lvconv(k=9)", "dconv(k=9)"), ("dsa", "sa"), ("csa(k=9)", "sa"), ("ffn(g=4)", "ffn")]


class Stack(nn.Module):
    """Sublayers in sequence: x (B, T, D) -> (B, T, D)."""

    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class PreNormMHA(nn.Module):
    """nn.MultiheadAttention in the same pre-norm residual form as our sublayers."""

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.mha = nn.MultiheadAttention(d_model, heads, batch_first=True)

    def forward(self, x):
        h = self.norm(x)
        return x + self.mha(h, h, h, need_weights=False)[0]


class FirstOutput(nn.Module):
    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        return self.module(x)[0]


def hf_config(d_model: int, heads: int):
    from transformers import ConvBertConfig

    return ConvBertConfig(hidden_size=d_model, num_attention_heads=heads, head_ratio=2, conv_kernel_size=9,
                          intermediate_size=4 * d_model, hidden_dropout_prob=0.0,
                          attention_probs_dropout_prob=0.0)


def build_case(name: str, d_model: int, heads: int) -> nn.Module:
    if name == "torch MultiheadAttention":
        return PreNormMHA(d_model, heads)
    if name == "HF ConvBertAttention":
        from transformers.models.convbert.modeling_convbert import ConvBertAttention

        return FirstOutput(ConvBertAttention(hf_config(d_model, heads)))
    if name == "HF ConvBertLayer":
        from transformers.models.convbert.modeling_convbert import ConvBertLayer

        return FirstOutput(ConvBertLayer(hf_config(d_model, heads)))
    pattern = name.replace("[math]", "")
    settings = dict(n_heads=heads, position="none", dropout=0.0)
    return Stack([build_layer(s, d_model=d_model, **settings) for s in pattern.split()])


def _status_mb(key: str) -> float:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"{key}:\s+(\d+)", text).group(1)) / 1024


def make_step(name: str, T: int, args):
    """Build a case; return a closure doing one forward+backward on a fixed input, and the bytes its
    forward keeps for backward."""
    torch.manual_seed(0)
    device = torch.device(args.device)
    model = build_case(name, args.d_model, args.heads).to(device).train()
    x = torch.randn(args.batch, T, args.d_model, device=device, requires_grad=True)
    backend = (lambda: sdpa_kernel(SDPBackend.MATH)) if "[math]" in name else contextlib.nullcontext

    def step():
        model.zero_grad(set_to_none=True)
        x.grad = None
        with backend():
            model(x).float().pow(2).mean().backward()

    step()  # warm-up: kernels, caches
    with backend():
        saved = saved_tensor_bytes(model, x)
    return step, saved


def case_flops(name: str, T: int, args) -> int:
    """Forward FLOPs of the case on the batch, from the registry's formulas."""
    pattern = SAME_ARITHMETIC.get(name, name).replace("[math]", "")
    return args.batch * flops(pattern, T, d_model=args.d_model, n_heads=args.heads)


def _busy_jiffies() -> int:
    """CPU time all processes have used since boot (user, nice, system, irq, softirq, steal), in jiffies."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return user + nice + system + irq + softirq + steal


def other_cpu(fn) -> tuple[float, float]:
    """Run ``fn()``; return its wall time in ms and the CPU time other processes used meanwhile, in cores
    (1.0 = one core busy all along): the machine's busy time from ``/proc/stat`` less this process's."""
    tick = os.sysconf("SC_CLK_TCK")
    busy, own = _busy_jiffies(), sum(os.times()[:2])
    ms = measure_latency(fn, repeats=1, warmup=0)  # synchronises a GPU around the call
    others = (_busy_jiffies() - busy) / tick - (sum(os.times()[:2]) - own)
    return ms, max(others, 0.0) / (ms / 1000)


def time_worker(names: list[str], T: int, args) -> dict:
    """Median forward+backward time of every case, interleaved round by round so drifts in machine load
    hit all cases alike (the ratios are what to read), and the saved bytes of each. A pass during which
    other processes used more than ``--quiet`` of a core is timed again after a pause (up to ``--retries``
    times, then kept); the result counts the passes taken again and gives the other processes' CPU share
    over the kept passes."""
    steps = {name: make_step(name, T, args) for name in names}
    times: dict[str, list[float]] = {name: [] for name in names}
    retried, kept_others, kept_wall = 0, 0.0, 0.0
    for r in range(args.repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            for attempt in range(args.retries + 1):
                ms, others = other_cpu(steps[name][0])
                if others <= args.quiet or attempt == args.retries:
                    break
                retried += 1
                time.sleep(2.0)
            times[name].append(ms)
            kept_others, kept_wall = kept_others + others * ms, kept_wall + ms
    return {"ms": {name: statistics.median(v) for name, v in times.items()},
            "saved": {name: steps[name][1] for name in names}, "others": kept_others / kept_wall,
            "retried": retried, "passes": args.repeats * len(names)}


def memory_worker(name: str, T: int, args) -> float:
    """MiB that one forward+backward adds on top of the model and its input."""
    step, _ = make_step(name, T, args)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() / 2**20
        step()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() / 2**20 - base
    Path("/proc/self/clear_refs").write_text("5")
    base = _status_mb("VmRSS")
    step()
    return _status_mb("VmHWM") - base


def run_worker(kind: str, names: list[str], T: int, args):
    # A fixed mmap threshold makes glibc hand freed buffers back at once, so the resident-set peak follows
    # the live tensors; it slows allocation, so the timing process runs without it.
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536") if kind == "memory" else dict(os.environ)
    cmd = [sys.executable, __file__, "--worker", kind, str(T), *names, "--d-model", str(args.d_model),
           "--batch", str(args.batch), "--heads", str(args.heads), "--repeats", str(args.repeats),
           "--device", args.device, "--quiet", str(args.quiet), "--retries", str(args.retries)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{kind} of {names} at T={T} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(results: dict, T: int) -> str:
    """One row per case at length T: time, memory peak, saved for backward, FLOPs and time per FLOP."""
    sa = results["sa"][T]
    lines = ["| case | ms | peak MiB | saved MiB | GFLOP | x FLOP time |", "|---|---|---|---|---|---|"]
    for name, by_t in results.items():
        r = by_t[T]
        proportional = r["flops"] / sa["flops"] * sa["ms"]
        lines.append(f"| `{name}` | {r['ms']:.1f} | {r['peak_mb']:.0f} | {r['saved'] / 2**20:.1f} | "
                     f"{r['flops'] / 1e9:.2f} | {r['ms'] / proportional:.2f} |")
    return "\n".join(lines)


def ratios(results: dict, lengths: list[int]) -> str:
    lines = ["| ratio | " + " | ".join(f"T={T} time | T={T} peak | T={T} saved" for T in lengths) + " |",
             "|---" * (1 + 3 * len(lengths)) + "|"]
    for a, b in RATIOS:
        if a not in results or b not in results:
            continue
        cells = " | ".join(f"{results[a][T]['ms'] / results[b][T]['ms']:.2f} | "
                           f"{results[a][T]['peak_mb'] / max(results[b][T]['peak_mb'], 1e-9):.2f} | "
                           f"{results[a][T]['saved'] / max(results[b][T]['saved'], 1):.2f}" for T in lengths)
        lines.append(f"| `{a}` / `{b}` | {cells} |")
    return "\n".join(lines)


def load_average() -> float:
    """The 1-minute load average (0 where the system does not report it)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return 0.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lengths", type=int, nargs="+", default=[128, 512, 2048])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--cases", nargs="+", help="only these cases (default: every op and reference)")
    p.add_argument("--max-load", type=float, default=1.0,
                   help="refuse to start when the 1-minute load average is above this (default 1)")
    p.add_argument("--quiet", type=float, default=0.05,
                   help="time a pass again when other processes used more than this share of a core meanwhile")
    p.add_argument("--retries", type=int, default=5, help="at most this many times per pass (default 5)")
    p.add_argument("--output", type=Path, help="also write the tables to this markdown file")
    p.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        kind, T, names = args.worker[0], int(args.worker[1]), args.worker[2:]
        result = time_worker(names, T, args) if kind == "time" else memory_worker(names[0], T, args)
        print(json.dumps(result))
        return

    load = load_average()
    if load > args.max_load:
        sys.exit(f"error: the 1-minute load average is {load:.2f} (above --max-load {args.max_load}): other work "
                 "would be in the times; wait for a quiet machine, or raise --max-load and keep the load in the table")
    cases = []
    for name in args.cases or OURS:
        cases.append(name)
        if name in REFERENCES and not args.cases:
            cases.append(REFERENCES[name])
    if "sa" not in cases:
        cases.insert(0, "sa")  # the FLOP-proportional time is relative to sa
    results: dict = {name: {} for name in cases}
    others = {}
    for T in args.lengths:
        timed = run_worker("time", cases, T, args)
        others[T] = f"{timed['others']:.3f} at T={T} ({timed['retried']} of {timed['passes']} passes timed again)"
        for name in cases:
            results[name][T] = {"ms": timed["ms"][name], "saved": timed["saved"][name],
                                "flops": case_flops(name, T, args)}
        for name in cases:
            results[name][T]["peak_mb"] = run_worker("memory", [name], T, args)
            r = results[name][T]
            print(f"{name:28s} T={T:5d} {r['ms']:9.1f} ms {r['peak_mb']:8.0f} MiB {r['saved'] / 2**20:8.1f} MiB saved",
                  file=sys.stderr, flush=True)
    threads = torch.get_num_threads()
    busy = "; ".join(others[T] for T in args.lengths)
    text = (f"d_model={args.d_model}, heads={args.heads}, batch={args.batch}, device={args.device} "
            f"({threads} threads), forward+backward, median of {args.repeats}; 1-minute load average "
            f"{load:.2f} at the start; CPU used by other processes during the timed passes (cores): {busy}\n\n")
    for T in args.lengths:
        text += f"T={T}:\n\n{table(results, T)}\n\n"
    text += f"Ratios (below 1: the first is faster / smaller):\n\n{ratios(results, args.lengths)}\n"
    print(text)
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
