"""Wall time of one study's trials with N worker processes against 1, on the same trials.

    python benchmarks/workers.py                     # journal file, 4 workers vs 1; PostgreSQL, 3 vs 1

The same 24 architectures (drawn once, then enqueued) are trained in every run, so only the number of
workers differs. The PostgreSQL case starts a throw-away server from Debian's binaries (as the tests do).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import optuna
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TINY = ["data.max_train_docs=2000", "data.max_eval_docs=200", "data.seq_len=64", "data.batch_size=16",
        "data.tokenizer.vocab_size=2000", "model.d_model=64", "model.n_sublayers=4", "space=lvbert",
        "trainer.max_steps=60", "trainer.val_check_interval=30", "trainer.limit_val_batches=4", "logger=none",
        "space.baselines=[]"]


def config(results: Path, *overrides: str) -> dict:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return OmegaConf.to_container(compose("search", overrides=[*TINY, f"results_dir={results}", *overrides]),
                                      resolve=True)


def candidates(cfg: dict, n: int) -> list[dict]:
    """n distinct trial-parameter sets of the space."""
    from layernas.trainer.search.plan import plan_search

    space, seen, out = plan_search(cfg).space, set(), []
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    while len(out) < n:
        trial = study.ask()
        key = space.sample(trial).key()
        if key not in seen:
            seen.add(key)
            out.append(dict(trial.params))
        study.tell(trial, 0.0)
    return out


def timed(cfg: dict, params: list[dict]) -> float:
    from layernas.trainer.apps.search import search as run_search
    from layernas.trainer.search.plan import plan_search
    from layernas.trainer.search.study import open_study

    study = open_study(plan_search(cfg))
    for p in params:
        study.enqueue_trial(p)
    start = time.perf_counter()
    run_search(cfg)
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=24)
    args = p.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    from tests.postgres import PostgresServer

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = config(Path(tmp), "study.name=probe")
        params = candidates(base, args.trials)
        server = PostgresServer().start()
        try:
            for storage, extra, n in (("journal", [], 4), ("postgres", [f"storage.url={server.url}"], 3)):
                times = {}
                for workers in (1, n):
                    name = f"{storage}{workers}"
                    cfg = config(Path(tmp), f"storage={storage}", *extra, f"study.name={name}",
                                 f"study.n_trials={args.trials}", f"study.n_workers={workers}", "sampler=random")
                    times[workers] = timed(cfg, params)
                    shutil.rmtree(Path(tmp) / name, ignore_errors=True)
                rows.append((storage, n, times[1], times[n]))
        finally:
            server.stop()
    print(f"\n{args.trials} trials of the same architectures each\n")
    print("| storage | workers | 1 worker s | N workers s | speed-up |\n|---|---|---|---|---|")
    for storage, n, one, many in rows:
        print(f"| {storage} | {n} | {one:.0f} | {many:.0f} | {one / many:.2f}x |")


if __name__ == "__main__":
    main()
