"""``results/<study>/analysis/<key>/``: analysis.md (conclusions, per-sublayer tables, heatmaps), analysis.json,
heads.csv, plots/ (PNG + HTML), and one W&B run ``job_type=analysis`` with the same tables and panels."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
import sys
from pathlib import Path

from layernas.trainer.analyze.capture import ATTENTION, CONVOLUTION
from layernas.trainer.analyze.measures import SPAN_MASS, attention_measures, kernel_measures, window_name
from layernas.trainer.analyze.plots import heatmap
from layernas.trainer.plumbing.files import atomic_write_text

SHARES = {"cls", "sep", "self", "prev", "next"}


def describe(measure: str) -> str:
    if measure.startswith("window"):
        return f"share within a span-{measure.removeprefix('window')} window"
    return {"distance": "mean distance (tokens)", "entropy": "entropy (nats)", "cls": "share on [CLS]",
            "sep": "share on [SEP]", "self": "share on the token itself", "prev": "share on the previous token",
            "next": "share on the next token", "span": f"effective span ({SPAN_MASS:.0%} of the mass, taps)",
            "usage": "effective span / k"}[measure]


def _num(value, digits: int = 3) -> str:
    return f"{value:.{digits}g}" if isinstance(value, (int, float)) and math.isfinite(value) else "-"


def _mean(values) -> float:
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return statistics.fmean(finite) if finite else math.nan


def labels(parts: list[dict]) -> list[str]:
    """``3 sa(h=4)``; a sublayer with two parts (mixed) names the part too."""
    per = [p["sublayer"] for p in parts]
    return [f"{p['sublayer']} {p['op']}" + (f" ({p['kind']})" if per.count(p["sublayer"]) > 1 else "")
            for p in parts]


def _measures(kind: str, spans: list[int]) -> list[str]:
    return attention_measures(spans) if kind == ATTENTION else kernel_measures(spans)


def _threshold_note(measure: str, kind: str, heads: list[float], uniform: float) -> str:
    finite = [v for v in heads if math.isfinite(v)]
    if measure in SHARES or measure.startswith("window"):
        what = "mass" if kind == CONVOLUTION else "attention"
        return f"{sum(v > 0.5 for v in finite)} of {len(finite)} heads put more than half their {what} there"
    if measure == "usage":
        return f"{sum(v < 0.5 for v in finite)} of {len(finite)} heads use less than half their span"
    if measure == "span":
        return ""
    below = sum(v < 0.5 * uniform for v in finite) if math.isfinite(uniform) else 0
    return f"{below} of {len(finite)} heads below half the uniform value"


def conclusion(measure: str, kind: str, parts: list[dict], names: list[str]) -> str:
    """One line: the spread over sublayers and heads, the uniform reference, and how many heads stand out."""
    chosen = [(p, n) for p, n in zip(parts, names, strict=True) if p["kind"] == kind]
    means = [(_mean(p["measures"][measure]), n) for p, n in chosen]
    heads = [v for p, _ in chosen for v in p["measures"][measure]]
    finite = [(m, n) for m, n in means if math.isfinite(m)]
    if not finite:
        return (f"**{describe(measure)}**: not measured: no input contains that token (masked-LM inputs have no "
                "[CLS]; each document ends in [SEP])")
    uniform = _mean([_mean(p["measures"].get(f"uniform/{measure}", [])) for p, _ in chosen])
    lo, hi = min(finite), max(finite)
    reference = "uniform kernel" if kind == CONVOLUTION else "uniform attention"
    spread = (f"sublayer means {_num(lo[0])} (`{lo[1]}`) to {_num(hi[0])} (`{hi[1]}`)" if len(finite) > 1
              else f"`{lo[1]}` {_num(lo[0])}")
    parts_text = [spread,
                  f"heads {_num(min(v for v in heads if math.isfinite(v)))} to "
                  f"{_num(max(v for v in heads if math.isfinite(v)))}"]
    if math.isfinite(uniform):
        parts_text.append(f"{reference} {_num(uniform)}")
    note = _threshold_note(measure, kind, heads, uniform)
    return f"**{describe(measure)}**: " + "; ".join([*parts_text, *([note] if note else [])])


def _table(parts: list[dict], names: list[str], kind: str, spans: list[int]) -> list[str]:
    measures = _measures(kind, spans)
    lines = ["| sublayer | heads | " + " | ".join(describe(m) for m in measures) + " |",
             "|---|---|" + "---|" * len(measures)]
    for p, name in zip(parts, names, strict=True):
        if p["kind"] == kind:
            cells = [_cell(p, m) for m in measures]
            lines.append(f"| `{name}` | {p['heads']} | " + " | ".join(cells) + " |")
    return lines


def _cell(part: dict, measure: str) -> str:
    value = _num(_mean(part["measures"][measure]))
    uniform = _mean(part["measures"].get(f"uniform/{measure}", []))
    return f"{value} ({_num(uniform)})" if value != "-" and math.isfinite(uniform) else value


def figures(doc: dict, folder: Path) -> dict[str, Path]:
    """Every measure's layer x head heatmap, per kind: name -> PNG path (HTML beside it)."""
    names, out = labels(doc["parts"]), {}
    for kind in (ATTENTION, CONVOLUTION):
        chosen = [(p, n) for p, n in zip(doc["parts"], names, strict=True) if p["kind"] == kind]
        if not chosen:
            continue
        for measure in _measures(kind, doc["spans"]):
            grid = [p["measures"][measure] for p, _ in chosen]
            if not any(math.isfinite(v) for row in grid for v in row):
                continue
            title = f"{'attention' if kind == ATTENTION else 'convolution kernel'}: {describe(measure)}"
            bounds = (0.0, 1.0) if measure in SHARES or measure.startswith("window") or measure == "usage" else None
            out[f"{kind}_{measure}"] = heatmap(grid, [n for _, n in chosen], title, folder, f"{kind}_{measure}",
                                               bounds)
    return out


def markdown(doc: dict, images: dict[str, Path]) -> str:
    names, parts = labels(doc["parts"]), doc["parts"]
    trial = f", trial #{doc['trial']}" if doc["trial"] is not None else ""
    lines = [f"# Attention analysis of `{doc['arch']}`", "",
             f"Study `{doc['study']}`{trial}, key `{doc['key']}`. {doc['source']['line']}", "",
             f"Inputs: the first {doc['documents']:,} documents of the `{doc['split']}` split of `{doc['data']}` "
             f"with at least one token ({doc['tokens']:,} tokens), each read as `{doc['input_format']}`, at most "
             f"{doc['seq_len']} tokens; padding gets no attention and is not counted. Every value is a mean over "
             "the real query tokens (positions, for kernels); in the tables, a sublayer's mean over its heads with "
             "the uniform reference (attention spread evenly over the real tokens; a flat kernel) in brackets.", ""]
    kinds = [k for k in (ATTENTION, CONVOLUTION) if any(p["kind"] == k for p in parts)]
    for kind in kinds:
        heading = "Attention heads" if kind == ATTENTION else "Convolution kernels"
        lines += [f"## {heading}", ""]
        lines += [f"- {conclusion(m, kind, parts, names)}" for m in _measures(kind, doc["spans"])]
        lines += ["", *_table(parts, names, kind, doc["spans"]), ""]
        lines += [f"![{describe(m)}](plots/{images[f'{kind}_{m}'].name}) ([interactive](plots/{kind}_{m}.html))"
                  for m in _measures(kind, doc["spans"]) if f"{kind}_{m}" in images]
        lines.append("")
    if doc["skipped"]:
        lines += ["## Sublayers without attention", ""]
        lines += [f"- `{s['sublayer']} {s['op']}`: {s['why']}" for s in doc["skipped"]]
        lines.append("")
    if doc.get("dependencies"):
        lines += _dependency_lines(doc["dependencies"], doc["conllu"])
    lines += [f"git commit {doc['git_commit']}", ""]
    return "\n".join(lines)


def _dependency_lines(dep: dict, path: str) -> list[str]:
    rows = dep["relations"]
    beaten = [r for r in rows if r["relation"] != "all" and r.get("accuracy", 0) > r["baseline"]]
    scored = [r for r in rows if r["relation"] != "all"]
    lines = ["## Dependency relations (Htut et al. 2019, maximum attention)", "",
             f"{dep['sentences']} sentences of `{path}` ({dep['dropped']} that do not fit the model's inputs left "
             "out). "
             f"The best head beats the positional baseline on {len(beaten)} of {len(scored)} relations.", "",
             "| relation | dependencies | best head | accuracy | positional baseline (offset) |",
             "|---|---|---|---|---|"]
    for r in rows:
        head = f"`{r['sublayer']} {r['op']}` head {r['head']}" if "head" in r else "-"
        lines.append(f"| {r['relation']} | {r['count']} | {head} | {_num(r.get('accuracy', math.nan))} | "
                     f"{_num(r['baseline'])} ({r['baseline_offset']:+d}) |")
    return [*lines, ""]


def _plain(value):
    """NaN (a share of a token no input has) as null, so analysis.json is strict JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


def heads_csv(doc: dict) -> str:
    out = io.StringIO()
    measures = sorted({m for p in doc["parts"] for m in p["measures"] if m != "rows"})
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["sublayer", "op", "kind", "head", "rows", *measures])
    for p in doc["parts"]:
        for h in range(p["heads"]):
            values = [p["measures"][m][h] if m in p["measures"] else "" for m in measures]
            writer.writerow([p["sublayer"], p["op"], p["kind"], h, p["measures"]["rows"][h], *values])
    return out.getvalue()


def write_analysis(doc: dict, plan) -> dict:
    folder = plan.folder
    images = figures(doc, folder / "plots")
    atomic_write_text(folder / "analysis.json", json.dumps(_plain(doc), indent=2, default=str))
    atomic_write_text(folder / "heads.csv", heads_csv(doc))
    atomic_write_text(folder / "analysis.md", markdown(doc, images))
    names = labels(doc["parts"])
    for kind in (ATTENTION, CONVOLUTION):
        for m in ("distance", window_name(doc["spans"][-1])):
            if any(p["kind"] == kind for p in doc["parts"]):
                print(f"{kind}: {conclusion(m, kind, doc['parts'], names).replace('**', '')}", flush=True)
    print(f"wrote {folder}/analysis.md, analysis.json, heads.csv, plots/", flush=True)
    _log_run(doc, images, plan)
    return doc


def _log_run(doc: dict, images: dict[str, Path], plan) -> None:
    """The analysis's W&B run: a record of files already written, so a failure is a warning."""
    from layernas.trainer.core.tracking import RunInfo, start_run
    from layernas.trainer.plumbing.secrets import redact

    logger, folder = plan.run.logger, plan.folder
    if not logger.enabled:
        return
    run = RunInfo(name=f"{doc['study']} analysis {doc['key']}", group=doc["study"], job_type="analysis",
                  save_dir=folder, config={"analyze": plan.settings, "study": doc["study"], "arch": doc["arch"],
                                           "arch_key": doc["key"], "trial": doc["trial"], "seed": plan.run.seed})
    try:
        import wandb

        experiment = start_run(logger, run)
        try:
            experiment.log(_panels(doc, images, wandb))
            experiment.summary.update(_summary(doc))
        except BaseException:
            experiment.finish(exit_code=1)
            raise
        experiment.finish()
    except Exception as e:  # noqa: BLE001  (W&B raises many types; none may fail a finished analysis)
        reason = (str(e).strip().splitlines() or [""])[0]
        print(f"warning: the W&B analysis run was not written ({type(e).__name__}: {redact(reason)})", file=sys.stderr)


def _panels(doc: dict, images: dict[str, Path], wandb) -> dict:
    names = labels(doc["parts"])
    panels = {f"plots/{name}": wandb.Image(str(path)) for name, path in images.items() if path.exists()}
    for kind in (ATTENTION, CONVOLUTION):
        measures = _measures(kind, doc["spans"])
        rows = [[n, p["heads"], *[_mean(p["measures"][m]) for m in measures]]
                for p, n in zip(doc["parts"], names, strict=True) if p["kind"] == kind]
        if rows:
            panels[f"sublayers/{kind}"] = wandb.Table(columns=["sublayer", "heads", *measures], data=rows)
    if doc.get("dependencies"):
        rows = doc["dependencies"]["relations"]
        columns = ["relation", "count", "sublayer", "op", "head", "accuracy", "baseline_offset", "baseline"]
        panels["dependencies"] = wandb.Table(columns=columns, data=[[r.get(c) for c in columns] for r in rows])
    return panels


def _summary(doc: dict) -> dict:
    out = {"documents": doc["documents"], "tokens": doc["tokens"], "source": doc["source"]["kind"]}
    for p, name in zip(doc["parts"], labels(doc["parts"]), strict=True):
        for m in _measures(p["kind"], doc["spans"]):
            out[f"{p['kind']}/{m}/{name}"] = _mean(p["measures"][m])
    for r in (doc.get("dependencies") or {}).get("relations", []):
        out[f"dependencies/{r['relation']}/accuracy"] = r.get("accuracy")
        out[f"dependencies/{r['relation']}/baseline"] = r["baseline"]
    return out
