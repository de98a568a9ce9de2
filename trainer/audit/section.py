"""The audit's lines at the top of report.md (registered as a results extension)."""

from __future__ import annotations

import json
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
                     for name, r in doc.get("agreement", {}).items() if r.get("tau") is not None)
    return [f"- audit of the proxy ranking ([audit/audit.md](audit/audit.md), {len(doc.get('archs', []))} "
            f"architectures, seeds {doc.get('seeds')}): {taus or 'no budget finished'}",
            f"- {doc.get('recommendation', {}).get('line', '')}"]


register(Extension("audit", summary=audit_lines))
