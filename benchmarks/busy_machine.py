"""Training speed on a machine that other processes keep busy: how many torch threads, and which OpenMP
wait policy, keep a fair share of the cores.

    python benchmarks/busy_machine.py                    # loads 0, 2x and 4x the cores, 4 rounds
    python benchmarks/busy_machine.py --loads 0 8 --rounds 2 --steps 20

Each measurement is a fresh process (OpenMP reads its wait policy once, at start-up) that trains the proxy's
model (``sa ffn`` x4, d_model 64, batch 32 x 128, AdamW) for ``--steps`` steps after two warm-up steps and
prints its steps/s. The load is ``L`` processes each spinning one core in pure Python, started before the
measurements of that load and stopped after them; the settings run in interleaved rounds, so a drift of the
machine's speed falls on all of them alike. The table gives each setting's median steps/s, and its share of
the quiet machine's best: a fair share of a machine with L busy processes on C cores is about C / (C + L)
of it (the training's threads share the cores with L others).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time

CHILD = r"""
import json, os, sys, time
import torch
sys.path.insert(0, {root!r})
from layernas.search_space import MaskedLM, build_encoder
threads, steps = {threads}, {steps}
torch.set_num_threads(threads)
torch.manual_seed(0)
model = MaskedLM(build_encoder("sa ffn " * 4, 8000, 128))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
ids = torch.randint(5, 8000, (32, 128))
labels = torch.where(torch.rand(32, 128) < 0.15, ids, torch.full_like(ids, -100))
def step():
    logits = model(ids, None, positions=labels != -100)
    loss = torch.nn.functional.cross_entropy(logits, labels[labels != -100])
    opt.zero_grad(); loss.backward(); opt.step()
for _ in range(2):
    step()
t = time.perf_counter()
for _ in range(steps):
    step()
print(json.dumps({{"steps_per_s": steps / (time.perf_counter() - t)}}))
"""

SETTINGS = {  # name: (threads, environment)
    "all cores, OpenMP active (torch's default)": (0, {}),
    "all cores, OMP_WAIT_POLICY=PASSIVE": (0, {"OMP_WAIT_POLICY": "PASSIVE"}),
    "1 thread": (1, {}),
    "1 thread, OMP_WAIT_POLICY=PASSIVE": (1, {"OMP_WAIT_POLICY": "PASSIVE"}),
}


def spin() -> None:
    while True:
        pass


def measure(threads: int, env: dict, steps: int) -> float:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = CHILD.format(root=root, threads=threads or os.cpu_count(), steps=steps)
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["steps_per_s"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cores = os.cpu_count() or 1
    p.add_argument("--loads", type=int, nargs="+", default=[0, 2 * cores, 4 * cores],
                   help="busy processes started beside the training")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--steps", type=int, default=30)
    args = p.parse_args()
    print(f"{cores} cores; 1-minute load before starting: {os.getloadavg()[0]:.2f}", flush=True)
    results: dict[tuple[int, str], list[float]] = {}
    for load in args.loads:
        hogs = [mp.Process(target=spin, daemon=True) for _ in range(load)]
        for h in hogs:
            h.start()
        time.sleep(2 if load else 0)
        try:
            for r in range(args.rounds):
                names = list(SETTINGS) if r % 2 == 0 else list(reversed(SETTINGS))
                for name in names:
                    threads, env = SETTINGS[name]
                    value = measure(threads, env, args.steps)
                    results.setdefault((load, name), []).append(value)
                    print(f"load {load} round {r + 1} {name}: {value:.2f} steps/s", flush=True)
        finally:
            for h in hogs:
                h.terminate()
            for h in hogs:
                h.join()
    quiet = max(statistics.median(v) for (load, _), v in results.items() if load == min(args.loads))
    print("\n| busy processes | setting | steps/s (median) | share of the quiet best | fair share |")
    print("|---|---|---|---|---|")
    for (load, name), values in results.items():
        median = statistics.median(values)
        print(f"| {load} | {name} | {median:.2f} | {median / quiet:.2f} | {cores / (cores + load):.2f} |")


if __name__ == "__main__":
    main()
