"""Where a proxy run's wall time goes, with the token cache warm.

    python benchmarks/proxy_overhead.py                 # CPU preset, W&B offline, two runs in one process

Prints, for each run: time from the ``run_proxy`` call to the end of the first optimizer step, and the
share of wall time outside training and validation steps (start-up, logging, data, tear-down). The first
run in a process also pays one-off imports (W&B, Lightning's trainer machinery); a search pays them once.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

CONF = str(Path(__file__).resolve().parents[1] / "conf")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, nargs="+", default=[20, 300], help="max_steps of each run, in order")
    p.add_argument("overrides", nargs="*", default=[], help="Hydra overrides, e.g. logger=none")
    args = p.parse_args()
    from layernas.trainer.apps.proxy import run_config as run_proxy
    from layernas.trainer.data import DataConfig, MLMDataModule
    from layernas.trainer.plumbing.logs import quiet_lightning

    quiet_lightning()

    with tempfile.TemporaryDirectory() as results, initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfgs = [compose("proxy", overrides=[f"trainer.max_steps={n}", "trainer.progress_bar=false",
                                            f"results_dir={results}", *args.overrides]) for n in args.steps]
        t = time.perf_counter()
        MLMDataModule(DataConfig.from_dict(cfgs[0].data), 0).setup("fit")  # warm the token cache
        print(f"token cache ready in {time.perf_counter() - t:.1f} s")
        print("| run | steps | wall s | first step s | train s | val s | other s | other % | tokens/s |")
        print("|---|---|---|---|---|---|---|---|---|")
        for i, cfg in enumerate(cfgs):
            r = run_proxy(cfg.arch, cfg)
            t = r.timings
            print(f"| {i + 1} | {r.steps} | {r.wall_s:.1f} | {t['first_step_s']:.2f} | {t['train_s']:.1f} | "
                  f"{t['val_s']:.1f} | {t['other_s']:.2f} | {100 * t['other_frac']:.1f} | {r.tokens_per_s:,.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
