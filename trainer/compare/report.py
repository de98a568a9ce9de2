"""results/<name>/compare/: compare.md, compare.json, compare.csv, plots/, and one W&B run
(``job_type=compare``)."""

from __future__ import annotations

import csv
import io
import json
import sys

from layernas.trainer.compare.document import anytime, arm_rows, op_frequency, pairs, run_rows
from layernas.trainer.compare.markdown import markdown, verdict
from layernas.trainer.compare.plan import ComparePlan
from layernas.trainer.compare.plots import anytime_plot, final_plot, ops_plot
from layernas.trainer.plumbing.files import atomic_write_text


def compare_doc(plan: ComparePlan, histories: dict, checks: dict) -> dict:
    first = plan.runs[0]
    sign = next(iter(histories.values())).sign
    totals = [h.steps for h in histories.values()]
    budget = plan.settings.budget or min(totals)
    how = ("compare.budget" if plan.settings.budget else
           "the smallest total of any run: every arm is judged at the same number of training steps")
    runs = run_rows(plan.runs, histories, checks, budget, sign)
    arms = plan.settings.arms
    doc = {"name": plan.name, "metric": first.plan.run.objective.key, "sign": sign, "budget": budget,
           "budget_how": how, "seeds": list(plan.settings.seeds), "check_budget": plan.settings.check_budget,
           "check_seeds": list(plan.settings.check_seeds), "proxy_steps": first.plan.run.trainer.max_steps,
           "runs": runs, "arms": arm_rows(arms, runs),
           "pairs": pairs(arms, runs, sign, plan.settings.bootstrap, plan.seed),
           "regret_pairs": pairs(arms, runs, 1.0, plan.settings.bootstrap, plan.seed, key="regret")
           if plan.settings.check_budget else [],
           "anytime": anytime(arms, runs, histories, budget), "op_frequency": op_frequency(arms, runs, histories)}
    doc["line"] = verdict(doc)
    silent = sum(r["no_signal"] for r in runs)
    if silent:
        doc["line"] = (f"no signal at this budget in {silent} of {len(runs)} runs (their best is within the noise of "
                       f"the input-blind reference; see each study's report.md); {doc['line']}")
    return doc


def runs_csv(doc: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["arm", "seed", "study", "steps", "best_at_budget", "final_best", "pick_trial", "pick_value",
                     "check_mean", "regret", "pick_arch"])
    for r in doc["runs"]:
        pick = r["pick"] or {}
        writer.writerow([r["arm"], r["seed"], r["study"], r["steps"], r["best_at_budget"], r["final_best"],
                         pick.get("trial"), pick.get("value"), (r["check"] or {}).get("mean"), r["regret"],
                         pick.get("arch")])
    return out.getvalue()


def write_compare(plan: ComparePlan, histories: dict, checks: dict) -> dict:
    doc = compare_doc(plan, histories, checks)
    folder = plan.folder
    images = {"anytime": anytime_plot(doc, folder / "plots" / "anytime.png"),
              "final": final_plot(doc, folder / "plots" / "final.png")}
    ops = ops_plot(doc, folder / "plots" / "op_frequency.png")
    if ops:
        images["op_frequency"] = ops
    atomic_write_text(folder / "compare.json", json.dumps(doc, indent=2, default=str))
    atomic_write_text(folder / "compare.csv", runs_csv(doc))
    atomic_write_text(folder / "compare.md", markdown(doc, images))
    print(doc["line"], flush=True)
    for a in doc["arms"]:
        best, regret = a["best"], a["regret"]
        found = (f"{best['mean']:.4f} ± {best['std']:.4f} over {best['n']} seeds" if best["mean"] is not None else
                 "nothing found yet (no value within the budget)")
        print(f"  {a['arm']}: best at {doc['budget']:,} steps {found}" +
              (f"; regret at x{doc['check_budget']:g} {regret['mean']:.4f} ± {regret['std']:.4f}"
               if regret["mean"] is not None else ""), flush=True)
    print(f"wrote {folder}/compare.md, compare.json, compare.csv, plots/", flush=True)
    _log_run(plan, doc, images)
    return doc


def _log_run(plan: ComparePlan, doc: dict, images: dict) -> None:
    """The compare's W&B run: a record of files already written, so a failure is a warning."""
    from layernas.trainer.core.tracking import RunInfo, log_summary
    from layernas.trainer.plumbing.secrets import redact

    columns = ["arm", "overrides", "best_mean", "best_std", "seeds", "steps_mean", "check_mean", "regret_mean"]
    table = (columns, [[a["arm"], a["overrides"], a["best"]["mean"], a["best"]["std"], a["best"]["n"],
                        a["steps"]["mean"], a["check"]["mean"], a["regret"]["mean"]] for a in doc["arms"]])
    summary = {"line": doc["line"], "budget": doc["budget"],
               **{f"{a['arm']}/best": a["best"]["mean"] for a in doc["arms"]},
               **{f"{a['arm']}/regret": a["regret"]["mean"] for a in doc["arms"]}}
    run = RunInfo(name=f"{plan.name} compare", group=plan.name, job_type="compare", save_dir=plan.folder,
                  config={"compare": {"arms": {a.name: " ".join(a.overrides) for a in plan.settings.arms},
                                      "seeds": list(plan.settings.seeds), "budget": doc["budget"],
                                      "check_budget": plan.settings.check_budget}})
    try:
        log_summary(plan.logger, run, table, images, summary)
    except Exception as e:  # noqa: BLE001  (W&B raises many types; none may fail a finished compare)
        reason = (str(e).strip().splitlines() or [""])[0]
        print(f"warning: the W&B compare run was not written ({type(e).__name__}: {redact(reason)})", file=sys.stderr)
