"""``layernas <command> --help``: every example runs as written (with tiny sizes appended), the groups list
only real options, and ``--cfg job`` prints what a command will run, a study's settings included."""

from __future__ import annotations

import pytest
import yaml

from layernas.trainer.apps.pages import examples
from layernas.trainer.cli import COMMANDS
from tests.conftest import TINY
from tests.test_classification import cli

# Appended to each example: sizes that make it take seconds; the example's own words come first
SMALL = [*TINY, "model.n_sublayers=2", "audit.bootstrap=50", "audit.zero_cost=false"]
# the search examples make the studies; glue's example names the user's GLUE folder (tests/test_glue_cli.py runs it)
ORDER = ["search", "retrain", "report", "audit", "race", "compare", "proxy", "analyze", "export"]


def help_page(command: str) -> str:
    code, out, err = cli(command, "--help")
    assert code == 0, err
    return out


@pytest.mark.parametrize("command", COMMANDS)
def test_help_lists_the_real_options_and_examples(command):
    page = help_page(command)
    groups = dict(line.split(": ", 1) for line in page.split("== Config groups (group=option) ==")[1]
                  .split("==")[0].strip().splitlines())
    assert "_base" not in groups["data"] and "sst2" in groups["data"].split(", ")
    assert examples(page), page
    assert all(e[:2] == ["layernas", command] for e in examples(page))


def small_for(command: str, args: list[str]) -> list[str]:
    keys = {a.split("=", 1)[0] for a in args}
    extra = [o for o in SMALL if o.split("=", 1)[0] not in keys]
    if command == "search":
        extra.append("study.n_trials=5")  # the audit example audits 3 distinct networks of them
    if command in ("retrain", "proxy", "analyze", "search", "export"):
        return [o for o in extra if not o.startswith("audit.")]
    if command == "compare":  # whole searches: the search's sizes, and checks at twice the proxy's steps
        return [o for o in extra if not o.startswith("audit.")] + ["compare.check_budget=2"]
    if command == "audit":
        return [o for o in extra if o.startswith(("audit.", "logger="))]  # the rest is the study's
    return [o for o in extra if o.startswith("logger=")]


@pytest.mark.slow
def test_every_help_example_runs_as_written(tmp_path):
    ran = []
    for command in ORDER:
        for example in examples(help_page(command)):
            args = example[2:]
            code, out, err = cli(command, *args, *small_for(command, args), f"results_dir={tmp_path}")
            assert code == 0, (example, err[-2000:])
            ran.append(" ".join(example))
    assert len(ran) >= len(ORDER), ran


def test_cfg_job_of_retrain_prints_the_studys_settings(search_cfg, tmp_path):
    from layernas.trainer.apps.search import search
    from tests.conftest import TINY_SST2

    search(search_cfg("task=classify", *TINY_SST2, "study.n_trials=1", "objectives=[val_mcc]", "model.n_sublayers=2"))
    code, out, err = cli("retrain", "study.name=t", f"results_dir={tmp_path / 'results'}", "trainer.max_steps=9",
                         "--cfg", "job")
    assert code == 0, err
    job = yaml.safe_load(out)
    assert job["data"]["name"] == "sst2" and job["task"]["name"] == "classify" and job["model"]["n_sublayers"] == 2
    assert job["objectives"] == ["val_mcc"] and job["task"]["objective"] == "val/mcc"
    assert job["trainer"]["max_steps"] == 9 and job["trial"] == 0 and job["arch"]  # the command line's keys win
    assert not (tmp_path / "results" / "t" / "retrain").exists()  # printed, nothing run
