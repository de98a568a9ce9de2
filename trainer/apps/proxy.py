"""``layernas proxy``: run one proxy and print its metrics as a small table."""

from __future__ import annotations

import math

from omegaconf import DictConfig, OmegaConf

from ..config import check_run_config
from ..metrics import REFERENCES, flags, per_class_text, reference_text


def format_result(result) -> str:
    """A two-column table of what a proxy run measured."""
    rows = [("arch", result.arch), ("key", result.key), ("task", result.task), ("state", result.state)]
    if result.reason:
        rows.append(("reason", result.reason))
    rows += [(name, _num(value)) for name, value in sorted(result.metrics.items()) if "/recall_" not in name]
    per_class = per_class_text(result.metrics, "val", result.classes)
    rows += [("val recall by class", per_class)] if per_class else []
    t = result.timings
    reference = REFERENCES.get(result.objective_name)
    rows += [
        ("objective", f"{result.objective_name} = {_num(result.objective)}"
                      + (f" ({reference_text(reference, _num(result.metrics[reference]), result.classes)}; "
                         f"{'higher' if result.direction == 'maximize' else 'lower'} is better)"
                         if reference in result.metrics else "")),
        *([("flags", ", ".join(flags(result.metrics, result.objective_name)))]
          if flags(result.metrics, result.objective_name) else []),
        ("parameters", f"{result.params:,} in the encoder, {result.model_params:,} with the task head"),
        ("FLOPs / sequence", f"{result.flops:,}"),
        ("optimizer steps", str(result.steps)),
        ("train tokens/s", f"{result.tokens_per_s:,.0f}"),
        ("wall time", f"{result.wall_s:.1f} s (first step after {t.get('first_step_s', math.nan):.1f} s; "
                      f"{100 * t.get('other_frac', math.nan):.1f}% outside train/val steps)"),
    ]
    if t.get("warmup_s", 0.0) >= 1.0:  # torch.compile (trainer.compile=true) or a slow first allocation
        rows.append(("first step", f"{t['warmup_s']:.1f} s longer than the others (compilation and warm-up)"))
    if result.run_dir:
        rows.append(("W&B run", result.run_dir))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _num(value) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def main(cfg: DictConfig) -> int:
    plain = OmegaConf.to_container(cfg, resolve=True)
    checked = check_run_config(cfg.arch, plain)  # fail fast, before Lightning
    from ..budget import check_budget
    from ..logs import quiet_lightning
    from ..proxy import prepare_data, run_proxy

    quiet_lightning()
    info = prepare_data(cfg)  # data errors as one-line errors, not as a failed run
    print(check_budget(checked.arch, plain, info.vocab_size, info.n_classes), flush=True)
    result = run_proxy(cfg.arch, cfg)
    print(format_result(result))
    return 0 if result.state != "failed" else 1
