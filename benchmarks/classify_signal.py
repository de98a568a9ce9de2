"""Classification proxies against the majority baseline (the ``classify`` part of ``proxy_signal.py``).

A classifier that always predicts the most frequent training label already scores the share of that label
in validation; short proxies on small models often end there. Each run therefore records, beside val/acc
and val/loss, that majority baseline on exactly the examples val/acc was measured on, the accuracy over
the whole validation split from a pass of the kept model, and how many classes that pass predicted.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "benchmarks" / "proxy_signal.jsonl"
TASKS = ("classify", "pretrain_finetune")


def add_classify_parser(sub, archs: dict[str, str]) -> None:
    c = sub.add_parser("classify", help="classification proxies against the majority baseline")
    c.add_argument("--task", choices=TASKS, default="classify")
    c.add_argument("--data", default="sst2", help="labelled data option (the fine-tuning data for pretrain_finetune)")
    c.add_argument("--steps", type=int, nargs="+", default=[100, 300, 1000], help="classification steps")
    c.add_argument("--pretrain-steps", type=int, nargs="+", default=[0], help="masked-LM steps (pretrain_finetune)")
    c.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    c.add_argument("--archs", nargs="+", default=["bert", "conv_only"], choices=list(archs))
    c.add_argument("--tag", default="preset", help="label of this configuration in the report")
    c.add_argument("overrides", nargs="*", help="Hydra overrides applied to the proxy config")
    c.set_defaults(arch_patterns=archs)


def _key(r: dict) -> tuple:
    return (r["tag"], r["task"], r["data"], r["name"], r["seed"], r["max_steps"], r.get("pretrain_steps", 0))


def _overrides(args, steps: int, pretrain: int, seed: int) -> list[str]:
    task = [f"task={args.task}"]
    task += [f"data@task.finetune_data={args.data}", f"task.pretrain_steps={pretrain}"] \
        if args.task == "pretrain_finetune" else [f"data={args.data}"]
    return [*task, *args.overrides, f"seed={seed}", f"trainer.max_steps={steps}", "logger=none",
            "trainer.progress_bar=false"]


def run_classify(args) -> None:
    from layernas.trainer.apps.proxy import run_config as run_proxy

    done = {_key(r) for r in _load() if r.get("task") in TASKS}
    pretrains = args.pretrain_steps if args.task == "pretrain_finetune" else [0]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        for pretrain in pretrains:
            for steps in args.steps:
                for seed in args.seeds:
                    for name in args.archs:
                        row = {"tag": args.tag, "task": args.task, "data": args.data, "name": name, "seed": seed,
                               "max_steps": steps, "pretrain_steps": pretrain}
                        if _key(row) in done:
                            continue
                        cfg = compose("proxy", overrides=_overrides(args, steps, pretrain, seed))
                        r = run_proxy(args.arch_patterns[name], cfg, keep_model=True)
                        row.update(_measure(r, cfg, list(args.overrides)), arch=args.arch_patterns[name])
                        with RUNS.open("a") as f:
                            f.write(json.dumps(row) + "\n")
                        print(_line(row), flush=True)


def _measure(r, cfg, overrides: list[str]) -> dict:
    """The run's metrics, the majority baseline of its validation examples and a pass over all of them."""
    row = {"state": r.state, "reason": r.reason, "objective": r.objective,
           "val_acc": r.metrics.get("val/acc"), "val_loss": r.metrics.get("val/loss"),
           "pretrain_mlm_loss": r.metrics.get("pretrain/mlm_loss"), "steps": r.steps, "wall_s": r.wall_s,
           "tokens_per_s": r.tokens_per_s, "curve": r.curve, "overrides": overrides}
    dm = _datamodule(cfg)
    train, val = dm.train.labels, dm.val.labels
    limit = cfg.trainer.limit_val_batches
    seen = val if limit is None else val[: int(limit) * dm.data.batch_size]  # the batches val/acc saw
    majority = int(torch.bincount(train).argmax())
    row.update({"majority_class": majority, "majority": float((seen == majority).float().mean()),
                "majority_full": float((val == majority).float().mean()), "n_val": len(seen),
                "n_val_full": len(val), "train_label_share": float((train == majority).float().mean())})
    if r.model is not None:
        row.update(_predict(r.model, dm, majority))
    return row


def _datamodule(cfg):
    """The run's validation data, tokenized as the run did (the pre-training tokenizer when fine-tuning)."""
    from layernas.trainer.data import ClassificationDataModule, DataConfig, get_tokenizer

    tokenizer = None
    data = DataConfig.from_dict(_container(cfg.data))
    if cfg.task.name == "pretrain_finetune":
        tokenizer = get_tokenizer(data)
        data = DataConfig.from_dict(_container(cfg.task.finetune_data))
    dm = ClassificationDataModule(data, cfg.seed, tokenizer=tokenizer)
    dm.setup("fit")
    return dm


def _container(node) -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(node, resolve=True)


@torch.no_grad()
def _predict(model, dm, majority: int) -> dict:
    """Accuracy over the whole validation split and the share of its most frequent prediction."""
    model.eval()
    preds, labels = [], []
    for batch in dm.val_dataloader():
        preds.append(model(batch["input_ids"], batch["attention_mask"]).argmax(-1))
        labels.append(batch["labels"])
    p, y = torch.cat(preds), torch.cat(labels)
    counts = Counter(p.tolist())
    top, n_top = counts.most_common(1)[0]
    return {"acc_full": float((p == y).float().mean()), "pred_classes": len(counts), "top_pred": top,
            "top_pred_share": n_top / len(p), "constant_majority": len(counts) == 1 and top == majority}


def _line(r: dict) -> str:
    pre = f" pre {r['pretrain_steps']}" if r["task"] == "pretrain_finetune" else ""
    acc = f"{r['val_acc']:.4f}" if r["val_acc"] is not None else "-"
    return (f"{r['task']} {r['data']}{pre} {r['max_steps']} steps {r['name']:9s} seed {r['seed']}: acc {acc} "
            f"(majority {r['majority']:.4f}, full {r.get('acc_full', float('nan')):.4f}, "
            f"{r.get('pred_classes', '-')} classes predicted, top share {r.get('top_pred_share', float('nan')):.2f})"
            f" {r['wall_s']:.0f} s")


def _load() -> list[dict]:
    return [json.loads(line) for line in RUNS.read_text().splitlines() if line.strip()] if RUNS.exists() else []


def report_classify(runs: list[dict]) -> None:
    """Markdown table: mean val/acc over seeds per (task, data, pre-training, steps, arch) against majority.

    "beats majority": mean - majority > 2 x the seed std. Wall times on a shared machine vary several-fold
    with its load, hence the median and the fastest run.
    """
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        if r.get("task") in TASKS and r["state"] == "complete":
            groups.setdefault((r["tag"], r["task"], r["data"], r["pretrain_steps"], r["max_steps"], r["name"]),
                              []).append(r)
    if not groups:
        return
    print("\n### Classification proxies (val/acc against the majority baseline)\n")
    print("| tag | task | data | pre-train steps | steps | arch | mean acc | std | seeds | majority | mean - majority "
          "| beats majority | constant runs | wall s/run, median (min) |\n" + "|---" * 14 + "|")
    for (tag, task, data, pre, steps, name), rows in sorted(groups.items()):
        accs = [r["val_acc"] for r in rows]
        mean = statistics.mean(accs)
        std = statistics.stdev(accs) if len(accs) > 1 else float("nan")
        majority = rows[0]["majority"]
        margin = mean - majority
        beats = ("yes" if margin > 2 * std else "no") if len(accs) > 1 else "? (1 seed)"
        constant = sum(r.get("pred_classes") == 1 for r in rows)
        walls = [r["wall_s"] for r in rows]
        print(f"| {tag} | {task} | {data} | {pre or '-'} | {steps} | {name} | {mean:.4f} | {std:.4f} | {len(accs)} "
              f"| {majority:.4f} | {margin:+.4f} | {beats} | {constant}/{len(rows)} "
              f"| {statistics.median(walls):.0f} ({min(walls):.0f}) |")
