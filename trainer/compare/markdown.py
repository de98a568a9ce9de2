"""compare.md from compare.json's document."""

from __future__ import annotations

import math

from layernas.trainer.results.format import fmt

ALPHA = 0.05


def _ms(d: dict, digits: int = 4) -> str:
    if d["mean"] is None:
        return "-"
    return f"{d['mean']:.{digits}f} ± {d['std']:.{digits}f} (n={d['n']})"


def verdict(doc: dict) -> str:
    """One line per pair of arms, each direction named with its test, seeds and level."""
    lines = []
    seen = set()
    for p in doc["pairs"]:
        key = frozenset((p["a"], p["b"]))
        if key in seen:
            continue
        seen.add(key)
        back = next(q for q in doc["pairs"] if q["a"] == p["b"] and q["b"] == p["a"])
        empty = [arm for arm, n in zip((p["a"], p["b"]), p["n"], strict=True) if n == 0]
        if empty:
            lines.append(f"{' and '.join(empty)} found nothing within {doc['budget']:,} training steps (the arms are "
                         "judged at the smallest total of any run: size each arm to the same steps, or set "
                         "compare.budget)")
            continue
        first, second = (p, back) if p["p_value"] <= back["p_value"] else (back, p)
        test = (f"P = {first['p_lower']:.2f} (95% CI {first['ci'][0]:.2f}-{first['ci'][1]:.2f}) that a "
                f"{first['a']} run's best at {doc['budget']:,} steps is better than a {first['b']} run's; one-sided "
                f"Mann-Whitney U over {first['n'][0]} x {first['n'][1]} seeds, p = {first['p_value']:.3f}")
        said = (f"{first['a']} finds better {doc['metric']} than {first['b']} within {doc['budget']:,} steps"
                if first["p_value"] <= ALPHA else
                f"no difference between {first['a']} and {first['b']} at alpha {ALPHA}")
        lines.append(f"{said} ({test})")
    return "; ".join(lines)


def markdown(doc: dict, images: dict) -> str:
    check = doc["check_budget"]
    x = f"x{check:g}" if check else None
    out = [f"# Compare `{doc['name']}`", "", f"**{doc['line']}**", "",
           f"Each arm searched the same space once per seed ({', '.join(map(str, doc['seeds']))}), each run its own "
           f"study `{doc['name']}-<arm>-s<seed>`. Arms are judged by the best {doc['metric']} "
           f"({'lower' if doc['sign'] > 0 else 'higher'} is better) each run found within {doc['budget']:,} training "
           f"steps ({doc['budget_how']}); a pruned or failed trial costs the steps it trained, a supernet's own "
           "training counts before its first checked value.", ""]
    head = "| arm | overrides | best at budget (mean ± std) | steps per run | "
    out += [head + (f"{x} check of the pick | regret at {x} |" if x else ""),
            "|---|---|---|---|" + ("---|---|" if x else "")]
    for a in doc["arms"]:
        steps = fmt(round(a["steps"]["mean"])) if a["steps"]["mean"] is not None else "-"
        row = f"| {a['arm']} | `{a['overrides']}` | {_ms(a['best'])} | {steps} |"
        out.append(row + (f" {_ms(a['check'])} | {_ms(a['regret'])} |" if x else ""))
    out += ["", "The regret of a run: how much worse its answer trained at the check budget than the best answer of "
            "any run (what a user who trusted that run got)."]
    for p in doc.get("regret_pairs", [])[:1]:
        out += ["", f"At {x}: P = {p['p_lower']:.2f} (95% CI {p['ci'][0]:.2f}-{p['ci'][1]:.2f}) that a {p['a']} run's "
                f"answer has a lower regret than a {p['b']} run's (one-sided Mann-Whitney U, p = {p['p_value']:.3f})."]
    out += ["",
            "## Arm against arm", "",
            "| A | B | P(A's best better than B's) | 95% CI (bootstrap) | one-sided Mann-Whitney p |",
            "|---|---|---|---|---|"]
    for p in doc["pairs"]:
        out.append(f"| {p['a']} | {p['b']} | {p['p_lower']:.2f} | {p['ci'][0]:.2f}-{p['ci'][1]:.2f} | "
                   f"{p['p_value']:.3f} |")
    n = [len(a["seeds"]) for a in doc["arms"]]
    smallest = 1 / math.comb(n[0] + n[1], n[0]) if len(n) > 1 else math.nan
    out += ["", "P is over every pair of a run of A and a run of B (the arms are searched independently); ties count "
            "half; the interval resamples each arm's runs. The p-value tests \"A's best is better\" (exact "
            f"Mann-Whitney U); with {n[0]} and {n[1] if len(n) > 1 else '-'} seeds the smallest it can be is "
            f"{smallest:.3f}, so \"better\" at 0.05 needs every run of A ahead of every run of B.", "", "## Runs", "",
            "| arm | seed | study | steps | best at budget | best of the run | answer (trial: proxy value) |"
            + (f" {x} check per seed | regret |" if x else ""),
            "|---|---|---|---|---|---|---|" + ("---|---|" if x else "")]
    for r in doc["runs"]:
        pick = r["pick"]
        row = (f"| {r['arm']} | {r['seed']} | `{r['study']}` | {r['steps']:,} | {fmt(r['best_at_budget'])} | "
               f"{fmt(r['final_best'])} | "
               + (f"#{pick['trial']}: {fmt(pick['value'])} `{pick['arch']}`" if pick else "-") + " |")
        if x:
            values = ", ".join(fmt(v) for v in (r["check"] or {}).get("values", {}).values()) or "-"
            row += f" {values} | {fmt(r['regret'])} |"
        out.append(row)
    if images:
        out += ["", "## Plots", ""] + [f"![{k}](plots/{p.name})" for k, p in images.items()]
    return "\n".join(out) + "\n"
