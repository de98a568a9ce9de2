"""Test-wide settings: nothing lands in the home folder, and tiny proxy configs over the shipped data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

CONF = str(Path(__file__).resolve().parents[1] / "conf")

TINY = [
    "data.max_train_docs=400", "data.max_eval_docs=120", "data.seq_len=32", "data.batch_size=8",
    "data.tokenizer.vocab_size=500", "model.d_model=32", "trainer.max_steps=6", "trainer.val_check_interval=3",
    "trainer.limit_val_batches=2", "trainer.progress_bar=false", "logger=none",
]
TINY_SST2 = ["data.max_train_docs=600", "data.max_eval_docs=100", "data.seq_len=24", "data.batch_size=16",
             "data.tokenizer.vocab_size=400"]


@pytest.fixture(scope="session", autouse=True)
def _isolated_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    for var, sub in [("WANDB_DIR", "wandb"), ("WANDB_CACHE_DIR", "wandb-cache"), ("WANDB_CONFIG_DIR", "wandb-config"),
                     ("WANDB_DATA_DIR", "wandb-data"), ("HF_HOME", "hf"), ("HF_DATASETS_CACHE", "hf-datasets")]:
        os.environ.setdefault(var, str(home / sub))
    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ.pop("LAYERNAS_STORAGE_URL", None)  # a storage of the shell's must not reach the tests
    os.environ["LAYERNAS_CACHE"] = str(home / "layernas-cache")  # shared by the tests: tokenize once
    yield


@pytest.fixture
def proxy_cfg(tmp_path):
    """``proxy_cfg(*overrides)``: the composed ``proxy`` config shrunk to seconds, results under tmp_path."""

    def make(*overrides: str):
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            return compose("proxy", overrides=[*TINY, f"results_dir={tmp_path / 'results'}", *overrides])

    return make


@pytest.fixture
def search_cfg(tmp_path):
    """``search_cfg(*overrides)``: the composed ``search`` config as a plain dict, tiny trials, results
    under tmp_path, no W&B unless asked."""
    from omegaconf import OmegaConf

    def make(*overrides: str, name: str = "search"):
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            cfg = compose(name, overrides=[*TINY, "model.n_sublayers=2", f"results_dir={tmp_path / 'results'}",
                                           "study.name=t", *overrides])
        return OmegaConf.to_container(cfg, resolve=True)

    return make


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session; yields it (``.url``, ``.port``)."""
    from tests.postgres import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()
