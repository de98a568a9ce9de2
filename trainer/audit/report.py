"""``results/<study>/audit/``: audit.md, audit.csv, audit.json, plots, and one W&B run ``job_type=audit``."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
import sys
from pathlib import Path

from layernas.trainer.audit.plots import ladder_plot, rank_plot, scatter_plot
from layernas.trainer.audit.summary import budget_rows, ladder, recommend, zero_cost_rows
from layernas.trainer.plan.recorded import Recorded
from layernas.trainer.plan.views import plain
from layernas.trainer.plumbing.files import atomic_write_text
from layernas.trainer.plumbing.provenance import git_commit
from layernas.trainer.results.writer import write_results


def _num(value, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and math.isfinite(value) else "-"


def _ci(ci) -> str:
    return f"[{_num(ci[0], 2)}, {_num(ci[1], 2)}]"


def proxy_label(plan) -> str:
    """What the study's values are: its proxy runs', or a supernet's scores (``strategy=supernet``)."""
    strategy = Recorded.of(plan.study).strategy
    if strategy.supernet is not None:
        steps = strategy.supernet.steps
        return f"supernet score (inherited weights of a {steps}-step supernet; budgets are multiples of the " \
               f"{plan.proxy_steps}-step stand-alone proxy)"
    return f"{plan.proxy_steps}-step proxy"


def analyse(plan, archs, scores: dict, n_boot: int, seed: int) -> dict:
    reference = plan.budgets[-1]
    budgets = budget_rows(archs, plan.budgets, n_boot, seed)
    steps = ladder(archs, reference, n_boot, seed)
    zero = zero_cost_rows(archs, scores, reference, n_boot, seed)
    return {"study": plan.study.study_name, "metric": plan.run.objective.name,
            "direction": "minimize" if plan.sign > 0 else "maximize", "proxy_steps": plan.proxy_steps,
            "budgets": plan.budgets, "seeds": plan.seeds, "reference": reference, "git_commit": git_commit(),
            "agreement": {f"x{b:g}": row for b, row in budgets.items()}, "ladder": steps, "zero_cost": zero,
            "proxy": proxy_label(plan),
            "recommendation": recommend(zero, steps, budgets, plan.proxy_steps, reference, proxy_label(plan)),
            "archs": [_arch_row(plan, a, scores.get(a.trial, {})) for a in archs]}


def _arch_row(plan, a, zero: dict) -> dict:
    row = {"trial": a.trial, "arch": a.arch, "baseline": a.baseline or "", "proxy": plan.sign * a.proxy}
    for b in plan.budgets:
        values = [plan.sign * v for v in a.budgets.get(b, {}).values()]
        row[f"x{b:g}_mean"] = statistics.fmean(values) if values else None
        row[f"x{b:g}_std"] = statistics.stdev(values) if len(values) > 1 else None
        row[f"x{b:g}_seeds"] = len(values)
        row[f"x{b:g}_values"] = values
    return {**row, **{f"zc_{k}": v for k, v in zero.items()}}


def family_lines(doc: dict) -> list[str]:
    """The within-family tau against the reference budget, in words, and whether the proxy's seed noise is
    in the intervals."""
    row = doc["agreement"].get(f"x{doc['reference']:g}") or {}
    fam = row.get("family") or {}
    resampled = "the intervals resample the proxy's own seeds (x1 runs)" if row.get("proxy_seeds_resampled") else \
        "the intervals hold the proxy's single-seed values fixed (add 1 to audit.budgets to resample them)"
    if not isinstance(fam.get("tau"), float) or not math.isfinite(fam["tau"]):
        return [f"Among the searched networks alone: fewer than 3 were audited, no tau; {resampled}."]
    return [f"Among the {fam['n']} searched networks alone the proxy's tau against x{doc['reference']:g} is "
            f"**{_num(fam['tau'], 2)}** (95% CI {_num(fam['tau_ci'][0], 2)} to {_num(fam['tau_ci'][1], 2)}), against "
            f"{_num(row['tau'], 2)} over all {row['n']}; {resampled}."]


def flat(rows: list[dict]) -> list[dict]:
    """The rows without their lists of per-seed values (audit.json keeps them; a CSV cell holds one value)."""
    return [{k: v for k, v in r.items() if not k.endswith("_values")} for r in rows]


def _csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["trial"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def markdown(doc: dict, images: dict[str, Path]) -> str:
    ref = f"x{doc['reference']:g}"
    lines = [f"# Audit of study `{doc['study']}`", "",
             f"How well the study's {doc['proxy']} ranks {len(doc['archs'])} of its architectures "
             f"against training {', '.join(f'x{b:g}' for b in doc['budgets'])} as long, on seeds {doc['seeds']} "
             f"({doc['metric']}, {doc['direction']}; 95% intervals by a bootstrap over architectures and seeds).", "",
             f"**{doc['recommendation']['line']}**", "",
             *family_lines(doc), "",
             "| budget | Kendall tau | 95% CI | tau among searched | 95% CI | Spearman rho | 95% CI | top-1 regret "
             "| top-3 regret | seed std | arch std |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in doc["agreement"].items():
        fam = r.get("family") or {}
        lines.append(f"| {name} | {_num(r['tau'], 2)} | {_ci(r['tau_ci'])} | {_num(fam.get('tau'), 2)} "
                     f"({fam.get('n', 0)}) | {_ci(fam.get('tau_ci', (None, None)))} | {_num(r['rho'], 2)} | "
                     f"{_ci(r['rho_ci'])} | {_num(r['regret_top1'])} | {_num(r['regret_top3'])} | "
                     f"{_num(r['seed_std'])} | {_num(r['arch_std'])} |")
    lines += ["", "Tau among searched: the same agreement over the searched (non-baseline) networks only, how many "
              "in brackets: the order inside the family that the search's pick depends on (the all-networks tau "
              "also counts how the family separates from the baselines). Regret: how much worse, at that budget, the "
              "proxy's pick (or the best of its top 3) is than the budget's best. Seed std at or above arch std: "
              "the seeds move a result as much as the architecture.", ""]
    if doc["zero_cost"]:
        lines += [f"## Zero-cost proxies at initialisation, against {ref}", "", "| proxy | tau | 95% CI | rho |",
                  "|---|---|---|---|"]
        lines += [f"| {n} | {_num(r['tau'], 2)} | {_ci(r['tau_ci'])} | {_num(r['rho'], 2)} |"
                  for n, r in doc["zero_cost"].items()]
        lines.append("")
    if doc["ladder"]:
        lines += [f"## The proxy's ranking at each validation step, against {ref}", "", "| step | tau | 95% CI |",
                  "|---|---|---|"]
        lines += [f"| {r['step']} | {_num(r['tau'], 2)} | {_ci(r['tau_ci'])} |" for r in doc["ladder"]]
        lines.append("")
    lines += ["## Architectures", "", "| trial | baseline | proxy | " + " | ".join(
        f"x{b:g} (mean +- std, seeds)" for b in doc["budgets"]) + " | architecture |",
              "|---|---|---|" + "---|" * len(doc["budgets"]) + "---|"]
    for a in doc["archs"]:
        cells = [f"{_num(a[f'x{b:g}_mean'])}"
                 + (f" +- {_num(a[f'x{b:g}_std'])}" if a[f'x{b:g}_seeds'] > 1 else "") + f" ({a[f'x{b:g}_seeds']})"
                 for b in doc["budgets"]]
        lines.append(f"| #{a['trial']} | {a['baseline']} | {_num(a['proxy'])} | " + " | ".join(cells)
                     + f" | `{a['arch']}` |")
    lines += ["", *[f"![{name}](plots/{path.name})" for name, path in images.items()], "",
              f"git commit {doc['git_commit']}", ""]
    return "\n".join(lines)


def write_audit(plan, archs, scores: dict) -> dict:
    folder = plan.folder
    doc = analyse(plan, archs, scores, plan.settings.bootstrap, plan.seed)
    images = {k: v for k, v in {"proxy_vs_budget": scatter_plot(plan, archs, folder / "plots" / "proxy_vs_budget.png"),
                                "ranks": rank_plot(plan, archs, folder / "plots" / "ranks.png"),
                                "ladder": ladder_plot(doc, folder / "plots" / "ladder.png")}.items() if v}
    atomic_write_text(folder / "audit.json", json.dumps(doc, indent=2, default=str))
    atomic_write_text(folder / "audit.csv", _csv(flat(doc["archs"])))
    atomic_write_text(folder / "audit.md", markdown(doc, images))
    print(doc["recommendation"]["line"], flush=True)
    for name, r in doc["agreement"].items():
        fam = r.get("family") or {}
        print(f"  proxy vs {name}: tau {_num(r['tau'], 2)} {_ci(r['tau_ci'])}, among {fam.get('n', 0)} searched "
              f"{_num(fam.get('tau'), 2)} {_ci(fam.get('tau_ci', (None, None)))}, top-1 regret "
              f"{_num(r['regret_top1'])}", flush=True)
    write_results(plan.study, folder.parent)  # report.md links the audit
    print(f"wrote {folder}/audit.md, audit.csv, audit.json, plots/; {folder.parent}/report.md links it", flush=True)
    _log_run(doc, images, plan)
    return doc


def _log_run(doc: dict, images: dict, plan) -> None:
    """The audit's W&B run: a record of files already written, so a failure is a warning."""
    from layernas.trainer.core.tracking import RunInfo, log_summary
    from layernas.trainer.plumbing.secrets import redact

    rows = flat(doc["archs"])
    table = (list(rows[0]), [list(r.values()) for r in rows]) if rows else (["trial"], [])
    summary = {f"tau/{k}": r["tau"] for k, r in doc["agreement"].items()}
    summary.update({f"tau_ci_low/{k}": r["tau_ci"][0] for k, r in doc["agreement"].items()})
    summary.update({f"tau_family/{k}": r["family"].get("tau") for k, r in doc["agreement"].items()
                    if r.get("family")})
    summary.update({f"zero_cost_tau/{k}": r["tau"] for k, r in doc["zero_cost"].items()})
    summary["recommendation"] = doc["recommendation"]["line"]
    run = RunInfo(name=f"{doc['study']} audit", group=doc["study"], job_type="audit", save_dir=plan.folder,
                  config={"audit": plain(plan.settings), "study": doc["study"]})
    try:
        log_summary(plan.run.logger, run, table, images, summary)
    except Exception as e:  # noqa: BLE001  (W&B raises many types; none may fail a finished audit)
        reason = (str(e).strip().splitlines() or [""])[0]
        print(f"warning: the W&B audit run was not written ({type(e).__name__}: {redact(reason)})", file=sys.stderr)
