"""DataConfig: validation messages, path lookup, and the conf/data YAML files that mirror it."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from layernas.trainer.data import DataConfig, TokenizerConfig
from layernas.trainer.data.config import DEFAULT_DATA_DIR, REPO_ROOT
from tests.helpers import conf_options

CONF = REPO_ROOT / "conf" / "data"
GOOD = {"name": "t", "train": "a.txt"}


@pytest.mark.parametrize("overrides, message", [
    ({"format": "xml"}, "format='xml' is not allowed; allowed: auto, text, csv, tsv, jsonl"),
    ({"source": "s3"}, "source='s3' is not allowed; allowed: local, hf"),
    ({"header": "yes"}, "header='yes' is not allowed; allowed: auto, True, False"),
    ({"text_column": -1}, "text_column=-1 is not allowed"),
    ({"text_column": ""}, "text_column='' is not allowed"),
    ({"label_column": 1.5}, "label_column=1.5 is not allowed"),
    ({"label_column": "text"}, "label_column='text' is not allowed; it must differ from text_column"),
    ({"validation_fraction": 1.0}, "validation_fraction=1.0 is not allowed; allowed: a number in [0, 1)"),
    ({"validation_fraction": -0.1}, "validation_fraction=-0.1 is not allowed"),
    ({"max_train_docs": 0}, "max_train_docs=0 is not allowed; allowed: an integer >= 1 or null"),
    ({"max_eval_docs": "10"}, "max_eval_docs='10' is not allowed"),
    ({"seq_len": 2}, "seq_len=2 is not allowed; allowed: an integer >= 4"),
    ({"batch_size": 0}, "batch_size=0 is not allowed; allowed: an integer >= 1"),
    ({"split_seed": -1}, "split_seed=-1 is not allowed"),
    ({"train": None}, "train=None is not allowed"),
    ({"test": ""}, "test='' is not allowed"),
    ({"source": "hf"}, "hf_path=None is not allowed with source=hf"),
    ({"data_files": 3}, "data_files=3 is not allowed"),
    ({"name": ""}, "name='' is not allowed"),
    ({"cache_dir": ""}, "cache_dir='' is not allowed"),
    ({"tokenizer": {"kind": "unigram"}}, "tokenizer.kind='unigram' is not allowed; allowed: wordpiece, bpe"),
    ({"tokenizer": {"vocab_size": 5}}, "tokenizer.vocab_size=5 is not allowed; allowed: an integer >= 16"),
    ({"tokenizer": {"min_frequency": 0}}, "tokenizer.min_frequency=0 is not allowed"),
    ({"tokenizer": {"lowercase": "no"}}, "tokenizer.lowercase='no' is not allowed"),
    ({"tokenizer": {"vocab": 10}}, "unknown tokenizer config key 'vocab'"),
    ({"text_col": "x"}, "unknown data config key 'text_col'; allowed: name, source"),
])
def test_bad_values_raise_one_line_errors(overrides, message):
    with pytest.raises(ValueError) as err:
        DataConfig.from_dict({**GOOD, **overrides})
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_defaults_and_round_trip(monkeypatch):
    monkeypatch.setenv("LAYERNAS_CACHE", "/some/cache")
    cfg = DataConfig.from_dict(GOOD)
    assert cfg.tokenizer == TokenizerConfig("wordpiece", 8000, True, 2)
    assert (cfg.seq_len, cfg.batch_size, cfg.cache_dir, cfg.text_column) == (128, 32, "/some/cache", "text")
    assert Path(cfg.data_dir) == DEFAULT_DATA_DIR == REPO_ROOT / "data"
    assert DataConfig.from_dict(cfg.to_dict()) == cfg


def test_the_cache_is_the_users_wherever_a_command_runs(monkeypatch, tmp_path):
    """Without LAYERNAS_CACHE the cache is $XDG_CACHE_HOME/layernas (else ~/.cache/layernas), never a
    folder of the working directory (which would train the tokenizer again in every new folder)."""
    monkeypatch.delenv("LAYERNAS_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    assert DataConfig.from_dict(GOOD).cache_dir == str(tmp_path / "xdg" / "layernas")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert DataConfig.from_dict(GOOD).cache_dir == str(tmp_path / "home" / ".cache" / "layernas")


def test_relative_paths_are_looked_up_in_data_dir_then_repo_root(tmp_path):
    (tmp_path / "mine.txt").write_text("x\n")
    cfg = DataConfig.from_dict({**GOOD, "data_dir": str(tmp_path)})
    assert cfg.resolve("mine.txt") == (tmp_path / "mine.txt").resolve()
    assert cfg.resolve("conf/data/wikitext2.yaml") == CONF / "wikitext2.yaml"  # repository root
    assert cfg.resolve(str(tmp_path / "mine.txt")) == (tmp_path / "mine.txt").resolve()
    with pytest.raises(FileNotFoundError, match=r"data file 'nope.txt' of data 't' not found \(looked in "):
        cfg.resolve("nope.txt")


def composed_data(option: str) -> dict:
    """``data=<option>`` as the commands compose it (the option extends conf/data/_base.yaml)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        return OmegaConf.to_container(compose("proxy", overrides=[f"data={option}"]).data, resolve=False)


def test_the_base_data_config_mirrors_data_config_field_by_field():
    raw = OmegaConf.load(CONF / "_base.yaml")
    assert list(raw.keys()) == [f.name for f in fields(DataConfig)]
    assert list(raw.tokenizer.keys()) == [f.name for f in fields(TokenizerConfig)]


@pytest.mark.parametrize("option", conf_options("data"))
def test_every_data_option_is_a_valid_data_config(option, tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERNAS_CACHE", str(tmp_path))
    assert (CONF / f"{option}.yaml").read_text().startswith("# ")
    raw = OmegaConf.create(composed_data(option))
    assert list(raw.keys()) == [f.name for f in fields(DataConfig)]
    if OmegaConf.is_missing(raw, "train"):  # a template for the user's own files
        raw.train = "/path/to/train"
    cfg = DataConfig.from_dict(OmegaConf.to_container(raw, resolve=True))
    # a nested option (glue/mrpc) is named without the slash: the name is part of cache keys and run names
    assert cfg.name == option.replace("/", "-") and cfg.cache_dir == str(tmp_path)


def test_the_imdb_preset_reads_the_subset_shipped_with_the_project(monkeypatch):
    """``data=imdb`` works from a fresh clone, without the developers' shared folder."""
    import hashlib
    import lzma

    monkeypatch.setenv("LAYERNAS_SHARED_DATA", "/nowhere")
    cfg = DataConfig.from_dict(OmegaConf.to_container(OmegaConf.create(composed_data("imdb")), resolve=True))
    assert (cfg.validation, cfg.validation_fraction, cfg.seq_len) == (None, 0.1, 256)
    train, test = cfg.resolve(cfg.train), cfg.resolve(cfg.test)
    assert train.parent == test.parent == Path(cfg.data_dir).resolve() / "imdb"
    assert hashlib.sha256(lzma.decompress(train.read_bytes())).hexdigest().startswith("4870aae7f007")
    assert hashlib.sha256(lzma.decompress(test.read_bytes())).hexdigest().startswith("11369eea192b")
