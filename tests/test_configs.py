"""Every option of every config group, and every experiment preset, composes with every command, and the
typed views (TrainerConfig, TaskConfig, DataConfig, ModelConfig, spaces, samplers, pruners, storages) accept
what it composes. Compose only: nothing is trained. The commands, groups and options are read from the CLI
and from conf/, so a new option or preset is tested without editing this file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

from layernas.search_space import ModelConfig
from layernas.search_space.space import make_space
from layernas.trainer.apps.overrides import CONF_DIR, check_overrides, group_options
from layernas.trainer.cli import COMMANDS
from layernas.trainer.data import DataConfig
from layernas.trainer.plan.logger import LoggerConfig
from layernas.trainer.plan.search import ComponentConfig
from layernas.trainer.plan.strategy import strategy_config
from layernas.trainer.plan.study import StorageConfig, StudyConfig
from layernas.trainer.plan.task import TaskConfig
from layernas.trainer.plan.trainer import TrainerConfig
from layernas.trainer.plumbing.errors import UserError
from layernas.trainer.search.samplers import make_pruner, make_sampler
from layernas.trainer.search.storage import storage_url

# what a command cannot do without
REQUIRED = {"retrain": ["study.name=x"], "report": ["study.name=x"], "audit": ["study.name=x"],
            "analyze": ["study.name=x"], "race": ["study.name=x"], "export": ["study.name=x"], "glue": ["study.name=x"]}
OWN_FILE = "data.train"  # the own-file data options (csv, tsv, jsonl, text) ask for it and only for it


def _compose(command: str, overrides: list[str], hydra: bool = False):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(command, overrides=[*REQUIRED.get(command, []), *overrides], return_hydra_config=hydra)


def used_groups(command: str) -> list[str]:
    """The groups a command selects an option of by default (null entries are there only for presets)."""
    choices = _compose(command, [], hydra=True).hydra.runtime.choices
    return sorted(g for g, option in choices.items()
                  if option is not None and not g.startswith("hydra") and (Path(CONF_DIR) / g).is_dir())


GROUPS = {command: used_groups(command) for command in COMMANDS}
CASES = [(c, g, o) for c in COMMANDS for g in GROUPS[c] for o in group_options(g)]
PRESETS = group_options("experiment")


def test_the_lists_are_not_empty():
    """The parametrisation below is read from conf/; an empty folder or a broken listing would pass vacuously."""
    assert set(COMMANDS) == {"search", "retrain", "report", "proxy", "audit", "analyze", "race", "export", "compare",
                             "glue"}
    assert len(GROUPS["search"]) == 11 and GROUPS["report"] == ["storage"]
    assert set(GROUPS["retrain"]) == {"data", "task", "model", "trainer", "storage", "logger"}
    assert {"smoke", "cpu_demo", "gpu_small"} <= set(PRESETS) and "_base" not in group_options("data")
    assert {"glue/mrpc", "glue/stsb", "glue/mnli"} <= set(group_options("data"))  # nested options are options too
    assert len(CASES) > 70


def plain(cfg) -> dict:
    """The composed config as the commands see it (resolved), with the own-file corpus path given."""
    missing = OmegaConf.missing_keys(cfg)
    assert missing <= {OWN_FILE}, f"keys left ??? by the config: {sorted(missing)}"
    if missing:
        cfg.data.train = "train.txt"
    return OmegaConf.to_container(cfg, resolve=True)


def check_views(command: str, cfg: dict, tmp_path: Path) -> None:
    """Build each typed view of the groups the command uses from the composed values."""
    used = GROUPS[command]
    if "model" in used:
        assert ModelConfig.from_dict(cfg["model"]).d_model == cfg["model"]["d_model"]
    if "trainer" in used:
        assert TrainerConfig.from_dict(cfg["trainer"]).max_steps == cfg["trainer"]["max_steps"]
    if "task" in used:
        task = TaskConfig.from_dict(cfg["task"])
        if task.finetune_data is not None:
            assert isinstance(task.finetune_data, DataConfig)  # typed once, with the task
    if "data" in used:
        assert DataConfig.from_dict(cfg["data"]).name == cfg["data"]["name"]
    if "space" in used:
        space = dict(cfg["space"])
        made = make_space(space.pop("name"), space.pop("structure"), space.pop("n_sublayers"), space.pop("ops"),
                          ModelConfig.from_dict(cfg["model"]), vocab_size=cfg["data"]["tokenizer"]["vocab_size"],
                          seq_len=cfg["data"]["seq_len"], **space)
        assert made.n_sublayers == cfg["model"]["n_sublayers"]  # a space fills the model's depth by default
    if "logger" in used:
        assert LoggerConfig.from_dict(cfg["logger"]).kind == cfg["logger"]["kind"]
    if command in ("search", "retrain"):
        assert StudyConfig.from_dict(cfg["study"]).name == cfg["study"]["name"]
    if "strategy" in used:
        supernet = strategy_config(cfg["strategy"], cfg["task"]["name"] if "task" in used else "mlm").supernet
        assert (supernet is None) == (cfg["strategy"]["name"] == "standalone")
    if "sampler" in used:
        assert make_sampler(ComponentConfig.from_dict(cfg["sampler"]), 1) is not None
    if "pruner" in used:
        assert make_pruner(ComponentConfig.from_dict(cfg["pruner"]), 1) is not None
    if "storage" in used:
        assert StorageConfig.from_dict(cfg["storage"]).kind == cfg["storage"]["kind"]
        storage = StorageConfig.from_dict(cfg["storage"])
        if storage.kind == "postgres" and not storage.url:
            with pytest.raises(ValueError, match="^storage=postgres needs storage.url="):
                storage_url(storage, tmp_path)
        else:
            assert storage_url(storage, tmp_path)


@pytest.mark.parametrize(("command", "group", "option"), CASES, ids=[f"{c}-{g}={o}" for c, g, o in CASES])
def test_every_option_composes_with_every_command(command, group, option, tmp_path):
    cfg = _compose(command, [f"{group}={option}"], hydra=True)
    assert cfg.hydra.runtime.choices[group] == option
    with open_dict(cfg):
        del cfg["hydra"]
    check_views(command, plain(cfg), tmp_path)


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("command", COMMANDS)
def test_every_preset_composes_with_every_command(command, preset, tmp_path):
    cfg = _compose(command, [f"experiment={preset}"])
    check_views(command, plain(cfg), tmp_path)
    check_overrides(command, [*REQUIRED.get(command, []), f"experiment={preset}"])  # what the CLI checks first


def test_a_preset_sets_what_the_command_has_and_adds_what_it_does_not():
    retrain = _compose("retrain", ["experiment=smoke"])  # the preset's study.name replaces the ??? ...
    assert retrain.study.name == "x" and retrain.model.n_sublayers == 4 and retrain.trainer.max_steps == 40
    assert _compose("report", ["experiment=smoke"]).study.name == "x"
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        assert compose("retrain", overrides=["experiment=smoke"]).study.name == "smoke"  # ... when none is given
    proxy = _compose("proxy", ["experiment=gpu_small"])
    assert proxy.model.d_model == 256 and proxy.data.seq_len == 256 and proxy.study.name == "gpu_small"


@pytest.mark.parametrize("command", COMMANDS)
def test_a_misspelt_key_is_still_an_error(command):
    with pytest.raises(UserError, match=r"^unknown key 'study.n_trialz' \(add it with \+study.n_trialz="):
        check_overrides(command, [*REQUIRED.get(command, []), "experiment=smoke", "study.n_trialz=3"])
    with pytest.raises(UserError, match=r"^unknown key 'model.d_modle'"):
        check_overrides(command, [*REQUIRED.get(command, []), "model.d_modle=3"])


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_gets_the_shared_hydra_settings(command):
    hydra = _compose(command, [], hydra=True).hydra
    assert hydra.run.dir == "." and hydra.output_subdir is None and hydra.job.chdir is False
    assert hydra.job.name == command and hydra.help.header.startswith(f"layernas {command}: ")
    assert hydra.help.app_name == "layernas" and hydra.job_logging.root.handlers == ["console"]
    assert hydra.runtime.choices["hydra/job_logging"] == "stdout"


def test_the_model_presets_differ_only_in_sizes():
    models = {o: OmegaConf.to_container(_compose("proxy", [f"model={o}"]).model) for o in group_options("model")}
    sizes = {"d_model", "n_sublayers"}
    rest = {o: {k: v for k, v in m.items() if k not in sizes} for o, m in models.items()}
    assert len({str(r) for r in rest.values()}) == 1, rest
    assert [models[o]["d_model"] for o in ("tiny", "small", "base")] == [64, 128, 256]


def test_retrain_with_the_search_preset_runs_from_the_command_line(tmp_path):
    """The same preset the search used, given to retrain: composes and prints (``--cfg job``: what would run,
    here an architecture given by hand since study X does not exist), no error, nothing written."""
    wrapper = Path(sys.executable).parent / "layernas"
    out = subprocess.run([str(wrapper), "retrain", "experiment=smoke", "study.name=X", "arch=sa ffn", "--cfg", "job"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "name: X" in out.stdout and "n_sublayers: 4" in out.stdout and not list(tmp_path.iterdir())
    assert "arch: sa ffn" in out.stdout and "- objective" in out.stdout
    bad = subprocess.run([str(wrapper), "search", "study.n_trialz=3"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("error: unknown key 'study.n_trialz'")
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("override", ["pruner=none", "pruner=hyperband", "sampler=random", "sampler=nsga2"])
def test_a_preset_tuning_the_default_option_works_with_another_option(override, capsys):
    """experiment=cpu_demo sets the median pruner's and TPE's keys; another option chosen on the command
    line ignores the keys its class does not take, with a note, instead of failing in Optuna."""
    from layernas.trainer.search.samplers import _note, make_pruner, make_sampler

    _note.cache_clear()  # the note is printed once per process
    cfg = plain(_compose("search", ["experiment=cpu_demo", override]))
    make_sampler(ComponentConfig.from_dict(cfg["sampler"]), 1)
    make_pruner(ComponentConfig.from_dict(cfg["pruner"]), 1)
    err = capsys.readouterr().err
    if override in ("pruner=none", "sampler=random"):  # neither takes n_startup_trials
        assert f"note: {override} takes no n_startup_trials" in err
