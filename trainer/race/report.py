"""``results/<study>/race/``: race.md, race.json, race.csv (one row per run), the plot; the answer stored
in the study (best.yaml, report.md, retrain and analyze read it); one W&B run ``job_type=race_summary``."""

from __future__ import annotations

import csv
import io
import json
import sys

from layernas.trainer.plan.views import plain
from layernas.trainer.plumbing.files import atomic_write_text
from layernas.trainer.race.document import race_doc
from layernas.trainer.race.markdown import markdown
from layernas.trainer.race.plan import RESULT, RacePlan
from layernas.trainer.race.plots import race_plot
from layernas.trainer.race.standings import Standings
from layernas.trainer.results.writer import write_results


def runs_csv(plan: RacePlan, doc: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["trial", "baseline", "budget", "steps", "seed", doc["metric"], "status", "arch"])
    for rung in doc["rungs"]:
        for row in rung["rows"]:
            c = plan.contender(row["trial"])
            for seed, value in row["values"].items():
                writer.writerow([c.trial, c.baseline or "", rung["budget"], rung["steps"], seed, value, row["status"],
                                 c.arch])
    return out.getvalue()


def write_race(plan: RacePlan, final: Standings) -> dict:
    doc = race_doc(plan, final)
    folder = plan.folder
    image = race_plot(doc, folder / "plots" / "race.png")
    images = {"race": image} if image else {}
    atomic_write_text(folder / "race.json", json.dumps(doc, indent=2, default=str))
    atomic_write_text(folder / "race.csv", runs_csv(plan, doc))
    atomic_write_text(folder / "race.md", markdown(doc, images))
    plan.study.set_user_attr(RESULT, {"winner": doc["winner"], "tie": doc["tie"],
                                      "probabilities": {str(k): v for k, v in doc["probabilities"].items()},
                                      "proxy_pick": doc["proxy_pick"], "line": doc["line"],
                                      "budget": doc["budgets"][-1], "seeds": doc["seeds"]})
    print(doc["line"], flush=True)
    write_results(plan.study, folder.parent)  # report.md's race section, best.yaml's race entry
    print(f"wrote {folder}/race.md, race.json, race.csv, plots/; {folder.parent}/report.md links it", flush=True)
    _log_run(plan, doc, images)
    return doc


def _log_run(plan: RacePlan, doc: dict, images: dict) -> None:
    """The race's W&B summary run: a record of files already written, so a failure is a warning."""
    from layernas.trainer.core.tracking import RunInfo, log_summary
    from layernas.trainer.plumbing.secrets import redact

    columns = ["budget", "trial", "mean", "std", "p", "p_holm", "status"]
    table = (columns, [[r["budget"], row["trial"], row["mean"], row["std"], row["p"], row["p_holm"], row["status"]]
                       for r in doc["rungs"] for row in r["rows"]])
    summary = {"winner": doc["winner"], "tie": doc["tie"], "line": doc["line"], "proxy_pick": doc["proxy_pick"],
               "wall_s": doc["wall_s"]}
    run = RunInfo(name=f"{doc['study']} race", group=doc["study"], job_type="race_summary", save_dir=plan.folder,
                  config={"race": plain(plan.settings), "study": doc["study"]})
    try:
        log_summary(plan.run.logger, run, table, images, summary)
    except Exception as e:  # noqa: BLE001  (W&B raises many types; none may fail a finished race)
        reason = (str(e).strip().splitlines() or [""])[0]
        print(f"warning: the W&B race run was not written ({type(e).__name__}: {redact(reason)})", file=sys.stderr)
