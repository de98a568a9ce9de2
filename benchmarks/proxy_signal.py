"""Is the proxy's signal larger than its noise, and does its ranking survive a longer budget?

    python benchmarks/proxy_signal.py run --seeds 0 1 2                 # the CPU preset, 3 seeds
    python benchmarks/proxy_signal.py run --seeds 0 --budget 10         # 10x the steps, one seed
    python benchmarks/proxy_signal.py run --seeds 0 model.position=learned --tag learned
    python benchmarks/proxy_signal.py classify --data sst2 --steps 100 300 1000   # classification proxies
    python benchmarks/proxy_signal.py classify --task pretrain_finetune --pretrain-steps 300 1000 --steps 300
    python benchmarks/proxy_signal.py report                            # markdown tables from all runs

Runs go to a JSON-lines file (one line per run; finished runs are skipped when the command is repeated).
The report gives mean and std over seeds per architecture, the spread between architectures against
the seed std, and the Kendall tau between the rankings of different budgets. For classification it sets
each budget's validation accuracy against the majority baseline (always predicting the most frequent
training label), since a constant predictor already scores that much: a proxy whose accuracy does not
leave it by more than the seed noise carries no signal.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "benchmarks" / "proxy_signal.jsonl"
ARCHS = {
    "bert": "sa ffn sa ffn sa ffn sa ffn",
    "all_ffn": "ffn ffn ffn ffn ffn ffn ffn ffn",
    "convbert": "mixed(k=9) ffn mixed(k=9) ffn mixed(k=9) ffn mixed(k=9) ffn",
    "conv_only": "sdconv(k=9) ffn sdconv(k=9) ffn sdconv(k=9) ffn sdconv(k=9) ffn",
    "sandwich": "sa sa sa ffn sa ffn ffn ffn",
}


def load_runs(path: Path = RUNS) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def mlm_runs() -> list[dict]:
    """The masked-LM runs (lines without a ``task`` field predate the classification runs)."""
    return [r for r in load_runs() if r.get("task", "mlm") == "mlm"]


def run(args) -> None:
    from layernas.trainer.apps.proxy import run_config as run_proxy

    done = {(r["tag"], r["budget"], r["name"], r["seed"]) for r in mlm_runs()}
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        base = compose("proxy", overrides=list(args.overrides))
        steps = base.trainer.max_steps * args.budget
        for seed in args.seeds:
            for name in args.archs:
                if (args.tag, args.budget, name, seed) in done:
                    continue
                interval = base.trainer.val_check_interval * args.budget
                cfg = compose("proxy", overrides=[*args.overrides, f"seed={seed}", f"trainer.max_steps={steps}",
                                                  f"trainer.val_check_interval={interval}", "logger=none",
                                                  "trainer.progress_bar=false"])
                r = run_proxy(ARCHS[name], cfg)
                row = {"tag": args.tag, "budget": args.budget, "name": name, "seed": seed, "arch": ARCHS[name],
                       "state": r.state, "objective": r.objective, "steps": r.steps, "wall_s": r.wall_s,
                       "tokens_per_s": r.tokens_per_s, "unigram": r.metrics.get("val/unigram_loss"),
                       "curve": r.curve, "overrides": list(args.overrides)}
                with RUNS.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                print(f"{args.tag} x{args.budget} {name:10s} seed {seed}: {r.objective:.4f} ({r.wall_s:.0f} s)",
                      flush=True)


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-a between two score lists over the same items."""
    n, s = len(a), 0
    for i in range(n):
        for j in range(i + 1, n):
            s += ((a[i] > a[j]) - (a[i] < a[j])) * ((b[i] > b[j]) - (b[i] < b[j]))
    return s / (n * (n - 1) / 2)


def report(_args) -> None:
    runs = [r for r in mlm_runs() if r["state"] == "complete"]
    groups: dict[tuple, dict[str, list[float]]] = {}
    for r in runs:
        groups.setdefault((r["tag"], r["budget"]), {}).setdefault(r["name"], []).append(r["objective"])
    means = {}
    for (tag, budget), by_arch in sorted(groups.items()):
        print(f"\n### {tag}, {budget}x budget (validation MLM loss, nats; lower is better)\n")
        print("| architecture | mean | std | seeds |\n|---|---|---|---|")
        for name in ARCHS:
            values = by_arch.get(name)
            if values:
                std = f"{statistics.stdev(values):.3f}" if len(values) > 1 else "-"
                print(f"| {name} | {statistics.mean(values):.3f} | {std} | {len(values)} |")
        means[(tag, budget)] = {n: statistics.mean(v) for n, v in by_arch.items()}
        stds = [statistics.stdev(v) for v in by_arch.values() if len(v) > 1]
        if stds:
            spread = max(means[(tag, budget)].values()) - min(means[(tag, budget)].values())
            print(f"\nspread of the means {spread:.3f}; largest seed std {max(stds):.3f} "
                  f"(ratio {spread / max(stds):.1f}); mean seed std {statistics.mean(stds):.3f} "
                  f"(ratio {spread / statistics.mean(stds):.1f})")
    keys = sorted(means)
    for i, k1 in enumerate(keys):
        for k2 in keys[i + 1:]:
            common = [n for n in ARCHS if n in means[k1] and n in means[k2]]
            if len(common) >= 3:
                tau = kendall_tau([means[k1][n] for n in common], [means[k2][n] for n in common])
                order1 = " < ".join(sorted(common, key=means[k1].get))
                order2 = " < ".join(sorted(common, key=means[k2].get))
                print(f"\n{k1} vs {k2}: Kendall tau {tau:.2f}\n  {k1}: {order1}\n  {k2}: {order2}")
    from classify_signal import report_classify

    report_classify(load_runs())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    r.add_argument("--budget", type=int, default=1, help="multiple of the preset's max_steps")
    r.add_argument("--archs", nargs="+", default=list(ARCHS), choices=list(ARCHS))
    r.add_argument("--tag", default="rotary", help="label of this configuration in the report")
    r.add_argument("overrides", nargs="*", help="Hydra overrides applied to the proxy config")
    from classify_signal import add_classify_parser, run_classify

    add_classify_parser(sub, ARCHS)
    sub.add_parser("report")
    args = p.parse_args()
    {"run": run, "classify": run_classify, "report": report}[args.command](args)


if __name__ == "__main__":
    main()
