"""Passwords stay secret: masking in every URL form, the storage URL from the environment, and a real search
on PostgreSQL (plain and Hydra multirun, W&B offline) that writes its password nowhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from layernas.trainer.plumbing.secrets import ENV_STORAGE_URL, redact, storage_url_from_env
from tests.conftest import TINY

ROOT = Path(__file__).resolve().parents[1]
PW = "Zq7vLeakCheck"

# (URL, what must stay visible)
URLS = [
    (f"postgresql+psycopg2://bob:{PW}@db:5432/nas", ["postgresql+psycopg2://bob:***@db:5432/nas"]),
    (f"postgresql+psycopg2://:{PW}@127.0.0.1:1/db", ["postgresql+psycopg2://:***@127.0.0.1:1/db"]),
    (f"postgresql+psycopg2://127.0.0.1:1/db?user=u&password={PW}", ["127.0.0.1:1/db?", "user=u", "password=***"]),
    (f"postgresql://u@h/db?sslpassword={PW}&application_name=nas",
     ["u@h/db", "sslpassword=***", "application_name=nas"]),
    (f"postgresql://u:{PW}%40x%3Ay%2Fz@h/db", ["postgresql://u:***@h/db"]),  # percent-encoded @ : /
    (f"postgresql://u:{PW}@x@h/db", ["postgresql://u:***@h/db"]),  # a raw '@'
    (f"postgresql://u:{PW}:x/y@h:5/db", ["postgresql://u:***@h:5/db"]),  # raw ':' and '/'
    (f"mysql+pymysql://u:{PW}@h/db?charset=utf8", ["mysql+pymysql://u:***@h/db?charset=utf8"]),
    (f"cannot open storage postgresql://u:{PW}@h/db: connection refused",
     ["cannot open storage postgresql://u:***@h/db: connection refused"]),  # inside a message
    (f"['mysql://u:{PW}@h/db', 'redis://:{PW}@r:6379/0']", ["mysql://u:***@h/db", "redis://:***@r:6379/0"]),
    (f"url=postgresql://u:{PW}@h/db?password={PW}&sslmode=require then more",
     ["url=postgresql://u:***@h/db?password=***&sslmode=require then more"]),  # inside a longer text
]


@pytest.mark.parametrize(("url", "visible"), URLS, ids=[str(i) for i in range(len(URLS))])
def test_redact_hides_the_password_of_every_url_form(url, visible):
    out = redact(url)
    assert PW not in out and "Zq7" not in out, out
    assert all(v in out for v in visible), out
    assert redact(out) == out  # masking twice changes nothing


def test_redact_leaves_urls_without_secrets_and_other_texts_as_they_are():
    for text in ["sqlite:////tmp/x/study.db", "https://hf.co/x?b=1&a=2", "/tmp/journal.log", "no url", ""]:
        assert redact(text) == text


def test_redact_masks_nested_urls_and_secret_keys():
    cfg = {"storage": {"url": f"postgresql+psycopg2://bob:{PW}@db/nas"}, "wandb_api_key": PW, "hf_token": PW,
           "list": [f"mysql://u:{PW}@h/db"], "plain": "no secret", "password": None}
    out = redact(cfg)
    assert PW not in str(out) and out["wandb_api_key"] == out["hf_token"] == "***" and out["password"] is None
    assert out["storage"]["url"] == "postgresql+psycopg2://bob:***@db/nas" and out["plain"] == "no secret"


def test_redact_is_still_importable_from_tracking():
    from layernas.trainer.core.tracking import redact as from_tracking

    assert from_tracking is redact


def test_the_storage_url_comes_from_the_environment_when_none_is_given(monkeypatch, tmp_path):
    from layernas.trainer.plan.study import StorageConfig
    from layernas.trainer.search.storage import storage_url

    url = f"postgresql+psycopg2://u:{PW}@h/db"
    monkeypatch.delenv(ENV_STORAGE_URL, raising=False)
    assert storage_url_from_env("postgres", None) is None
    monkeypatch.setenv(ENV_STORAGE_URL, url)
    assert storage_url(StorageConfig("postgres", None, None, None, 3), tmp_path) == url
    assert storage_url(StorageConfig("postgres", "sqlite:///x.db", None, None, 3), tmp_path) == "sqlite:///x.db"
    assert storage_url_from_env("journal", None) is None  # a journal is a file


def test_a_password_on_the_command_line_moves_to_the_environment():
    from layernas.trainer.apps.overrides import split_secret_storage_url

    url = f"postgresql+psycopg2://u:{PW}@h/db"
    assert split_secret_storage_url(["a=1", f"storage.url={url}"]) == (["a=1"], url)
    assert split_secret_storage_url([f"storage.url='{url}'"]) == ([], url)
    assert split_secret_storage_url(["storage.url=sqlite:///x.db"]) == (["storage.url=sqlite:///x.db"], None)


@pytest.mark.parametrize("url", [f"postgresql+psycopg2://:{PW}@127.0.0.1:1/db",
                                 f"'postgresql+psycopg2://127.0.0.1:1/db?user=u&password={PW}'"],
                         ids=["empty user", "password in the query"])  # a value with '=' needs Hydra's quotes
def test_an_unreachable_database_is_one_line_without_the_password(url, tmp_path):
    from tests.test_bad_input import run_case

    code, err = run_case(["search", "storage=postgres", f"storage.url={url}"], tmp_path / "results", 0)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: cannot open storage postgresql+psycopg2://")
    assert PW not in err and "127.0.0.1:1/db" in lines[0]
    assert ENV_STORAGE_URL not in os.environ and not (tmp_path / "results").exists()


@pytest.fixture(scope="module")
def leak_db(postgres):
    """A role and database of their own on the session's server, with the password PW."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(postgres.url, isolation_level="AUTOCOMMIT")
    with engine.connect() as con:
        con.execute(sqlalchemy.text(f"CREATE ROLE leakcheck LOGIN PASSWORD '{PW}'"))
        con.execute(sqlalchemy.text("CREATE DATABASE leakcheck OWNER leakcheck"))
    engine.dispose()
    return f"postgresql+psycopg2://leakcheck:{PW}@127.0.0.1:{postgres.port}/leakcheck"


def files_holding(secret: bytes, *folders: Path) -> list[Path]:
    """Every file under the folders whose bytes contain ``secret`` (binary files too)."""
    return [p for folder in folders if folder.exists() for p in folder.rglob("*")
            if p.is_file() and not p.is_symlink() and secret in p.read_bytes()]


@pytest.mark.slow
@pytest.mark.parametrize("multirun", [False, True], ids=["plain", "multirun"])
def test_a_postgres_search_writes_its_password_nowhere(leak_db, tmp_path, multirun):
    """``layernas search storage=postgres storage.url=...`` in a real process, W&B offline: the password is
    in no file under the results (W&B runs, Hydra's multirun.yaml included), W&B's folder, nor the output."""
    import optuna

    name = f"leak{int(multirun)}"
    args = [*TINY[:-1], "logger=wandb_offline", "model.n_sublayers=2", "study.n_trials=2", f"study.name={name}",
            f"results_dir={tmp_path / 'results'}", "storage=postgres", f"storage.url={leak_db}"]
    out = subprocess.run([sys.executable, "-m", "layernas.trainer.cli", "search", *(["-m"] if multirun else []),
                          *args], cwd=ROOT, capture_output=True, timeout=600, env=dict(os.environ))
    assert out.returncode == 0, out.stderr.decode()
    study = optuna.load_study(study_name=name, storage=leak_db)
    assert len(study.trials) == 2 and "leakcheck:***@127.0.0.1" in str(study.user_attrs["config"])
    folder = tmp_path / "results" / name
    assert len(list((folder / "wandb").glob("offline-run-*"))) == 3  # two trials and the summary
    assert (folder / "multirun" / "multirun.yaml").exists() == multirun
    assert files_holding(PW.encode(), tmp_path, Path(os.environ["WANDB_DIR"])) == []
    assert PW.encode() not in out.stdout + out.stderr
