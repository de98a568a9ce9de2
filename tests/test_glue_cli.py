"""``layernas glue`` end to end on smoke sizes: a tiny masked-LM study, its best network and BERT baseline
pre-trained and fine-tuned on MRPC and STS-B from a folder in GLUE's layout on two seeds, stopped by SIGINT after
its first finished run, resumed without repeating a finished run, and its table and W&B runs written."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from tests.conftest import TINY
from tests.glue_helpers import glue_folder
from tests.helpers import WANDB

ROOT = Path(__file__).resolve().parents[1]
GLUE = ["study.name=t", "glue.tasks=[mrpc,stsb]", "seeds=[0,1]", "glue.pretrain_steps=12", "glue.steps.mrpc=6",
        "glue.steps.stsb=6"]


def records(results: Path) -> dict:
    study = optuna.load_study(study_name="t", storage=f"sqlite:///{results / 't' / 'study.db'}")
    return {k: v for k, v in study.user_attrs.items() if k.startswith("glue/")}


def glue(results: Path, glue_dir: Path, *extra: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "layernas.trainer.cli", "glue", *GLUE, f"glue.glue_dir={glue_dir}",
            f"results_dir={results}", *extra]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ)


@pytest.mark.slow
def test_glue_stopped_by_sigint_resumes_and_writes_the_table(tmp_path):
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from layernas.trainer.apps.search import search
    from tests.conftest import CONF

    results = tmp_path / "results"
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("search", overrides=[*TINY, "model.n_sublayers=2", f"results_dir={results}", "study.name=t",
                                           "space=lvbert", "sampler=random", "study.n_trials=4",
                                           "data.seq_len=64", "data.batch_size=8"])
    search(OmegaConf.to_container(cfg, resolve=True))
    folder = glue_folder(tmp_path)

    first = glue(results, folder, "logger=none")
    deadline = time.time() + 300
    while time.time() < deadline and not any(r.get("state") == "complete" for r in records(results).values()):
        time.sleep(0.5)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130 and "stopped by SIGINT" in err, err
    assert re.search(r"^interrupted: finished runs are kept; run the same command to resume \(\d+ of \d+ runs done\)$",
                     err, re.M), err
    kept = {k: v for k, v in records(results).items() if v.get("state") == "complete"}
    assert kept and not any(v.get("state") == "running" for v in records(results).values())

    second = glue(results, folder, "logger=wandb_offline")
    out, err = second.communicate(timeout=600)
    assert second.returncode == 0, err
    done = records(results)
    assert all(done[k] == v for k, v in kept.items()), "a finished run was trained again"
    total = int(re.search(r"(\d+) fine-tuning runs \((\d+) done\)", out).group(1))
    trained = re.findall(r"^\[glue \d+/\d+\] ", out, re.M)
    assert len(trained) == total - len(kept) and len(done) == total

    glue_dirs = list((results / "t" / "glue").iterdir())
    assert len(glue_dirs) == 1
    doc = json.loads((glue_dirs[0] / "glue.json").read_text())
    assert doc["columns"] == ["mrpc F1", "mrpc accuracy", "stsb Pearson", "stsb Spearman"]
    for row in doc["rows"]:
        assert all(row["cells"][c]["n"] == 2 for c in doc["columns"]) and row["average"] is not None
    assert doc["references"]["stsb Pearson"] == {"value": 0.0, "what": "training mean"}
    assert doc["references"]["mrpc accuracy"]["what"] == "majority class"
    table = (glue_dirs[0] / "glue.md").read_text()
    assert "| input-blind reference |" in table and "GLUE average" in table and " ± " in table
    assert (glue_dirs[0] / "glue.csv").read_text().startswith("network,arch,metric,mean,std,n,values,reference")
    assert len(list((glue_dirs[0] / "pretrained").glob("*.safetensors"))) == 2 * len(doc["rows"])
    runs = [json.loads(subprocess.run([WANDB, "leet", "inspect", "--summary", "--json", str(r)], capture_output=True,
                                      text=True, check=True).stdout)
            for r in (glue_dirs[0] / "wandb").glob("offline-run-*")]
    names = [r.get("name", "") for r in runs]
    assert "t glue" in names, names
    summary = next(r for r in runs if r.get("name") == "t glue")
    values = summary.get("summary") or {}
    reference = values.get("reference/stsb Pearson", (values.get("reference") or {}).get("stsb Pearson"))
    assert reference == 0.0, sorted(values)
