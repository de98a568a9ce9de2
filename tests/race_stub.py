"""``python -m tests.race_stub <command> [overrides]``: the layernas command line with training replaced
by a stub, so a race's decisions can be tested on values chosen per network and seed, fast.

``LAYERNAS_STUB`` holds JSON ``{"values": {arch: {seed: value}}, "sleep": seconds}``: a run of ``arch`` on
``seed`` at budget b returns ``value + 1/b`` (so rungs differ, pairs do not) after ``sleep`` seconds in
which a signal stops it as it would stop training. Workers a race starts run this module too.
"""

from __future__ import annotations

import json
import os
import time


def stub_run_proxy(spec):
    from layernas.trainer.core.proxy import ProxyResult
    from layernas.trainer.plumbing import interrupts

    table = json.loads(os.environ["LAYERNAS_STUB"])
    deadline = time.time() + table.get("sleep", 0)
    while time.time() < deadline:
        interrupts.check()
        time.sleep(0.02)
    interrupts.check()
    plan = spec.plan
    budget = plan.trainer.max_steps / table["proxy_steps"]
    value = table["values"][str(spec.arch)][str(plan.seed)]
    if value is None:
        return ProxyResult(state="failed", reason="diverged (stub)", steps=3)
    value += 1.0 / budget
    key = plan.objective.key
    metrics = {key: value}
    if spec.test:
        metrics.update({"test/" + key.split("/", 1)[1]: value + 0.5, "test/unigram_loss": 9.0})
    return ProxyResult(state="complete", objective=value, metrics=metrics, curve=[(plan.trainer.max_steps, value)],
                       steps=plan.trainer.max_steps, wall_s=table.get("sleep", 0))


def main() -> None:
    from layernas.trainer import cli
    from layernas.trainer.core import proxy

    proxy.run_proxy = stub_run_proxy
    cli.main()


if __name__ == "__main__":
    main()
