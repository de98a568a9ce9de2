"""The audit's lines at the top of report.md (registered as a results extension)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import optuna

from layernas.trainer.results.extensions import Extension, register


def audit_lines(study: optuna.Study, study_dir: Path) -> list[str]:
    """report.md's lines on the study's audit (``layernas audit``), if it has one."""
    path = study_dir / "audit" / "audit.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    taus = ", ".join(f"{name}: tau {r['tau']:.2f} (95% CI {r['tau_ci'][0]:.2f} to {r['tau_ci'][1]:.2f})"
                     + _family(r) for name, r in doc.get("agreement", {}).items() if r.get("tau") is not None)
    return [f"- audit of the proxy ranking ([audit/audit.md](audit/audit.md), {len(doc.get('archs', []))} "
            f"architectures, seeds {doc.get('seeds')}): {taus or 'no budget finished'}",
            f"- {doc.get('recommendation', {}).get('line', '')}"]


def _family(row: dict) -> str:
    """`` and among the 4 searched networks tau 0.00 (95% CI ...)``; empty for an audit without it."""
    fam = row.get("family") or {}
    tau, ci = fam.get("tau"), fam.get("tau_ci") or (None, None)
    if not isinstance(tau, (int, float)) or not math.isfinite(tau):
        return ""
    return f" and among the {fam['n']} searched networks tau {tau:.2f} (95% CI {ci[0]:.2f} to {ci[1]:.2f})"


register(Extension("audit", summary=audit_lines))
