"""Sentence pairs and GLUE's data: ``[CLS] a [SEP] b [SEP]`` with segment ids, longest-first truncation as the
``tokenizers`` library does it, every ``data=glue/<task>`` preset's columns, labels and metric read from a tiny
folder in GLUE's layout (real rows where the shared data has the task), and the one-line errors of pair data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers

from layernas.trainer.data import DataConfig, load_split
from layernas.trainer.data.batches import PaddedBatches
from layernas.trainer.data.glue import TASKS
from layernas.trainer.data.special import CLS_ID, PAD_ID, SEP_ID
from layernas.trainer.data.tokenizer import get_tokenizer
from layernas.trainer.data.tokens import classification_examples, truncate_pairs
from layernas.trainer.glue.plan import finetune_plan, task_data
from layernas.trainer.glue.settings import GlueConfig
from tests.data_helpers import write
from tests.glue_helpers import glue_folder


def pair_data(tmp_path, rows: list[str], **overrides) -> DataConfig:
    train = write(tmp_path / "pairs.tsv", "first\tsecond\tlabel\n" + "\n".join(rows) + "\n")
    base = {"name": "pairs", "train": str(train), "validation": str(train), "format": "tsv", "text_column": "first",
            "text_pair_column": "second", "label_column": "label", "seq_len": 12, "batch_size": 2,
            "tokenizer": {"vocab_size": 100, "min_frequency": 1}, "cache_dir": str(tmp_path / "cache")}
    return DataConfig.from_dict({**base, **overrides})


def test_truncation_is_the_tokenizers_librarys_longest_first():
    vocab = {"[UNK]": 0, **{f"w{i}": i + 1 for i in range(30)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    checked = 0
    for budget in range(1, 14):
        tok.enable_truncation(max_length=budget, strategy="longest_first")
        for la in range(1, 16):
            for lb in range(1, 16):
                enc = tok.encode(" ".join(f"w{i}" for i in range(la)), " ".join(f"w{i}" for i in range(lb)),
                                 add_special_tokens=False)
                want = (enc.type_ids.count(0), enc.type_ids.count(1))
                got = truncate_pairs(np.array([la]), np.array([lb]), budget)
                assert (int(got[0][0]), int(got[1][0])) == want, (budget, la, lb)
                checked += 1
    assert checked == 13 * 15 * 15


def test_a_pair_is_cls_a_sep_b_sep_with_segment_ids_and_truncated_longest_first(tmp_path):
    long_a = " ".join(["alpha"] * 20)
    cfg = pair_data(tmp_path, ["red cat\tblue dog runs\t1", f"{long_a}\tbeta gamma\t0", "x\ty\t1"])
    tokenizer = get_tokenizer(cfg)
    examples = classification_examples(cfg, "train", tokenizer)
    ids = lambda word: tokenizer.token_to_id(word)  # noqa: E731
    first = examples[0][0].tolist()
    assert first == [CLS_ID, ids("red"), ids("cat"), SEP_ID, ids("blue"), ids("dog"), ids("runs"), SEP_ID]
    assert examples.firsts.tolist()[0] == 4  # [CLS] red cat [SEP]
    second = examples[1][0].tolist()  # 20 + 2 tokens into 12 - 3 = 9: b kept whole, a cut to 7
    assert len(second) == 12 and second == [CLS_ID, *[ids("alpha")] * 7, SEP_ID, ids("beta"), ids("gamma"), SEP_ID]
    batch = PaddedBatches(examples).__getitems__([0, 1, 2])
    assert batch["token_type_ids"][0].tolist() == [0, 0, 0, 0, 1, 1, 1, 1] + [0] * 4  # padding: segment 0
    assert batch["token_type_ids"][1].tolist() == [0] * 9 + [1] * 3
    assert batch["input_ids"][2].tolist()[:5] == [CLS_ID, ids("x"), SEP_ID, ids("y"), SEP_ID]
    assert (batch["input_ids"][2, 5:] == PAD_ID).all() and batch["labels"].tolist() == [1, 0, 1]
    single = DataConfig.from_dict({**cfg.to_dict(), "text_pair_column": None})
    plain = classification_examples(single, "train", get_tokenizer(single))
    assert plain.firsts is None and "token_type_ids" not in PaddedBatches(plain).__getitems__([0])


@pytest.mark.parametrize(("overrides", "message"), [
    ({"text_pair_column": "third"}, "text_pair_column='third' is not a column of"),
    ({"text_pair_column": 7}, "has 3 columns; column index 7 is missing"),
])
def test_a_bad_pair_column_is_one_line(tmp_path, overrides, message):
    cfg = pair_data(tmp_path, ["a\tb\t1", "c\td\t0"], **overrides)
    with pytest.raises(ValueError, match=message) as err:
        load_split(cfg, "train")
    assert "\n" not in str(err.value)


def test_a_pair_column_equal_to_the_text_column_is_refused():
    with pytest.raises(ValueError, match="^text_pair_column='a' is not allowed; it must differ from text_column"):
        DataConfig.from_dict({"name": "x", "train": "t.tsv", "text_column": "a", "text_pair_column": "a"})


def test_a_glue_dir_with_data_that_is_not_a_glue_preset_is_refused():
    with pytest.raises(ValueError, match="^glue_dir='/g' is not allowed with data 'x'; allowed: a data=glue/<task>"):
        DataConfig.from_dict({"name": "x", "train": "t.tsv", "glue_dir": "/g"})


# task: (first text, its pair, first label as a class id or number, validation size)
EXPECTED = {
    "cola": ("sentence 0 of the acceptability corpus , number 0 .", None, 0),
    "sst2": ("hide new secretions from the parental units", None, 0),
    "mrpc": ('Amrozi accused his brother, whom he called "the witness", of deliberately distorting his evidence.',
             'Referring to him as only "the witness", Amrozi accused his brother of deliberately distorting his '
             'evidence.', 1),
    "stsb": ("A plane is taking off.", "An air plane is taking off.", 5.0),
    "qqp": ('how do i learn "python" fast 0 ?', "what is the fastest way to learn python 0 ?", 0),
    "mnli": ("the cat 0 sat on the mat .", "a cat 0 sat .", 0),
    "qnli": ("when did the war 0 end ?", "the war 0 ended in 1945 .", 1),  # not_entailment is class 1
    "rte": ("a man 0 walks a dog in the park .", "a man 0 is outside .", 1),
    "wnli": ("the trophy 0 does not fit in the case because it is too big .", "the trophy 0 is too big .", 0),
}
OFFICIAL = {"cola": "val/mcc", "sst2": "val/acc", "mrpc": "val/f1", "stsb": "val/pearson", "qqp": "val/f1",
            "mnli": "val/acc", "qnli": "val/acc", "rte": "val/acc", "wnli": "val/acc"}


@pytest.fixture(scope="module")
def glue_dir(tmp_path_factory):
    return glue_folder(tmp_path_factory.mktemp("glue"))


@pytest.mark.parametrize("task", list(TASKS))
def test_every_glue_preset_reads_its_task_from_a_folder_in_glues_layout(task, glue_dir, tmp_path):
    settings = GlueConfig(tasks=(task,), pretrain_steps=1, steps={task: 1}, glue_dir=str(glue_dir))
    pretraining = DataConfig.from_dict({"name": "wt", "train": "wikitext-2/train.txt.xz", "format": "text",
                                        "label_column": None, "seq_len": 32, "batch_size": 8,
                                        "cache_dir": str(tmp_path / "cache")})
    data = task_data(task, settings, pretraining)
    assert data.source == "local" and data.train == str(glue_dir / TASKS[task].folder / "train.tsv")
    text, pair, label = EXPECTED[task]
    train = load_split(data, "train")
    assert (train.texts[0], (train.pairs or [None])[0], train.labels[0]) == (text, pair, label)
    assert len(train) == 40 and len(load_split(data, "validation")) == 40
    if task == "mnli":  # matched as validation, mismatched in the test slot
        assert load_split(data, "validation").texts[0] == "the cat 1000 sat on the mat ."
        assert load_split(data, "test").texts[0] == "the cat 2000 sat on the mat ."
        assert set(load_split(data, "test").labels) == {0, 1, 2}
    plan = finetune_plan(_study_run(pretraining), task, settings)
    assert plan.objective.key == OFFICIAL[task] and [o.name for o in plan.objectives] == list(TASKS[task].metrics)
    assert plan.task.name == ("regress" if task == "stsb" else "classify")
    assert plan.model.segments is (pair is not None)


def _study_run(data: DataConfig):
    from layernas.search_space import ModelConfig
    from layernas.trainer.plan.logger import LoggerConfig
    from layernas.trainer.plan.objectives import objectives_from
    from layernas.trainer.plan.run import RunPlan
    from layernas.trainer.plan.task import TaskConfig
    from layernas.trainer.plan.trainer import TrainerConfig

    task = TaskConfig()
    return RunPlan(ModelConfig(d_model=32), data, task, TrainerConfig.from_dict({}), LoggerConfig.from_dict(None),
                   tuple(objectives_from(["objective"], task)))


def test_the_hub_presets_name_the_hubs_columns_and_classes():
    """Without glue_dir a preset reads nyu-mll/glue: its split and column names, class 0 first (no network here:
    the config only)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from tests.conftest import CONF

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        mnli = compose("proxy", overrides=["data=glue/mnli", "task=classify"]).data
        mrpc = compose("proxy", overrides=["data=glue/mrpc"]).data
    mnli = DataConfig.from_dict(OmegaConf.to_container(mnli))
    assert (mnli.source, mnli.hf_path, mnli.hf_name) == ("hf", "nyu-mll/glue", "mnli")
    assert (mnli.validation, mnli.test) == ("validation_matched", "validation_mismatched")
    assert (mnli.text_column, mnli.text_pair_column) == ("premise", "hypothesis")
    assert mnli.label_names == ("entailment", "neutral", "contradiction") and mnli.metrics == ("val_acc",)
    assert OmegaConf.to_container(mrpc)["label_names"] == ["not_equivalent", "equivalent"]


def test_a_pair_batch_through_the_encoder_uses_the_segments(tmp_path):
    """Segment 1's embedding reaches b's tokens: the same ids with another segment split give other outputs."""
    from layernas.search_space import ModelConfig, build_encoder

    torch.manual_seed(0)
    encoder = build_encoder("sa ffn", 50, 16, ModelConfig(d_model=16, segments=True, dropout=0.0)).eval()
    ids = torch.randint(5, 50, (1, 8))
    types = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1]])
    assert not torch.allclose(encoder(ids, None, types), encoder(ids, None, torch.zeros_like(types)))
    assert torch.equal(encoder(ids, None, torch.zeros_like(types)), encoder(ids))
