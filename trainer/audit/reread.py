"""An audit's files written again from its own audit.json, with this version's statistics (the tau among
the searched networks, the proxy's seeds in the intervals), without its study's storage or any training:

    python -m layernas.trainer.audit.reread results/<study>/audit [--bootstrap 1000] [--seed 0]

The per-seed values come from audit.json's ``x<budget>_values``; an audit.json written before they were
kept has each budget's mean and std, from which two seeds' values are exact up to their order
(mean -+ std/sqrt(2)); with more seeds it is refused. The ladder (which needs the learning curves) is
kept as it was; the zero-cost agreement is computed again from the scores in the rows.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from layernas.trainer.audit.report import _csv, family_lines, flat, markdown
from layernas.trainer.audit.summary import Arch, budget_rows, recommend, zero_cost_rows
from layernas.trainer.plumbing.files import atomic_write_text
from layernas.trainer.plumbing.provenance import git_commit


def seed_values(row: dict, budget: float) -> dict[int, float]:
    """One architecture's values at ``budget`` by seed index, from its row of audit.json."""
    name = f"x{budget:g}"
    if row.get(f"{name}_values"):
        return dict(enumerate(row[f"{name}_values"]))
    mean, std, n = row.get(f"{name}_mean"), row.get(f"{name}_std"), row.get(f"{name}_seeds") or 0
    if mean is None or n == 0:
        return {}
    if n == 1:
        return {0: mean}
    if n == 2:
        return {0: mean - std / math.sqrt(2), 1: mean + std / math.sqrt(2)}
    raise ValueError(f"{name} of trial {row['trial']} has {n} seeds but no per-seed values: it cannot be re-read")


def archs_of(doc: dict) -> tuple[list[Arch], dict[int, dict[str, float]]]:
    """The audited architectures (signed: lower is better) and their zero-cost scores."""
    sign = 1.0 if doc["direction"] == "minimize" else -1.0
    archs, scores = [], {}
    for row in doc["archs"]:
        arch = Arch(row["trial"], row["arch"], row["baseline"] or None, sign * row["proxy"])
        for b in doc["budgets"]:
            values = seed_values(row, float(b))
            if values:
                arch.budgets[float(b)] = {s: sign * v for s, v in values.items()}
        archs.append(arch)
        zero = {k.removeprefix("zc_"): v for k, v in row.items() if k.startswith("zc_")}
        if zero:
            scores[row["trial"]] = zero
    return archs, scores


def reread(folder: Path, n_boot: int = 1000, seed: int = 0) -> dict:
    """Write ``folder``'s audit.json, audit.md and audit.csv again from audit.json; returns the new doc."""
    doc = json.loads((folder / "audit.json").read_text())
    archs, scores = archs_of(doc)
    reference = float(doc["reference"])
    budgets = budget_rows(archs, [float(b) for b in doc["budgets"]], n_boot, seed)
    zero = zero_cost_rows(archs, scores, reference, n_boot, seed)
    steps = [r for r in doc.get("ladder", []) if r["step"] < doc["proxy_steps"]]
    doc["reread_with"] = git_commit()  # the statistics' code; git_commit stays the runs'
    doc.update(agreement={f"x{b:g}": row for b, row in budgets.items()}, zero_cost=zero,
               recommendation=recommend(zero, steps, budgets, doc["proxy_steps"], reference, doc.get("proxy")))
    for row, arch in zip(doc["archs"], archs, strict=True):
        for b in doc["budgets"]:
            row[f"x{float(b):g}_values"] = [v if doc["direction"] == "minimize" else -v
                                            for v in arch.budgets.get(float(b), {}).values()]
    order = ["proxy_vs_budget", "ranks", "ladder"]  # write_audit's
    found = sorted((folder / "plots").glob("*.png"),
                   key=lambda p: (order.index(p.stem) if p.stem in order else 9, p.name))
    images = {p.stem: p for p in found}
    atomic_write_text(folder / "audit.json", json.dumps(doc, indent=2, default=str))
    atomic_write_text(folder / "audit.csv", _csv(flat(doc["archs"])))
    atomic_write_text(folder / "audit.md", markdown(doc, images))
    return doc


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m layernas.trainer.audit.reread",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="an audit's folder: results/<study>/audit")
    parser.add_argument("--bootstrap", type=int, default=1000, help="resamples for the 95%% intervals")
    parser.add_argument("--seed", type=int, default=0, help="the bootstrap's seed")
    args = parser.parse_args(argv)
    if not (args.folder / "audit.json").is_file():
        parser.exit(2, f"error: {args.folder}/audit.json is not there; allowed: an audit's folder "
                       "(results/<study>/audit)\n")
    doc = reread(args.folder, args.bootstrap, args.seed)
    print(doc["recommendation"]["line"])
    for line in family_lines(doc):
        print(line)
    print(f"wrote {args.folder}/audit.json, audit.md, audit.csv")


if __name__ == "__main__":
    main()
