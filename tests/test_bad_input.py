"""Bad input, as users type it on the command line (run in this process, as the console script runs it):
each gives exactly one line naming the bad value and what is allowed, exits non-zero, and leaves no
results folder behind.

``python -m tests.test_bad_input`` prints the table of cases with the messages they give now.
"""

from __future__ import annotations

import contextlib
import errno
import io
import sqlite3
import sys
from pathlib import Path

import optuna
import pytest
from tokenizers import Tokenizer, models

FAST = ["trainer.max_steps=2", "logger=none", "data.max_train_docs=200", "data.max_eval_docs=50",
        "data.tokenizer.vocab_size=300", "data.seq_len=16"]

# (what, command arguments, the start of the one-line message); {pg} is a live PostgreSQL port
CASES = [
    ("unknown config group option", ["search", "space=nope"],
     "error: space=nope is not an option; allowed space options: albert, bert, blockbert, convbert, efficientbert, "
     "full, groupbert, lvbert, lvbert_dconv, sandwich"),
    ("unknown sampler", ["search", "sampler=cmaes"],
     "error: sampler=cmaes is not an option; allowed sampler options: bruteforce, gp, nsga2, random, tpe"),
    ("misspelt key", ["search", "study.n_trialz=3"], "error: unknown key 'study.n_trialz'"),
    ("a shared base config as an option", ["proxy", "data=_base"],
     "error: data=_base is not an option; allowed data options: csv, glue/cola, glue/mnli, glue/mrpc, glue/qnli, "
     "glue/qqp, glue/rte, glue/sst2, glue/stsb, glue/wnli, hf, imdb, jsonl, sst2, text, tsv, wikitext2"),
    ("a model setting that does not exist", ["proxy", "+model.n_layers=4"],
     "error: unknown model key 'n_layers'; allowed: attn_dropout, d_model, dropout, ffn_ratio, head_ratio, "
     "identity_heads, kernel_size, n_blocks, n_heads, n_sublayers, norm_eps, position, position_buckets, "
     "segments, weight_dropout"),
    ("negative trial count", ["search", "study.n_trials=-1"], "error: study.n_trials=-1 must be a positive integer"),
    ("no workers", ["search", "study.n_workers=0"], "error: study.n_workers=0 must be a positive integer"),
    ("a cost as the first objective", ["search", "objectives=[params,val_loss]"],
     "error: objectives[0]='params' must be a trained metric (objective, val_loss, val_acc, val_ppl)"),
    ("unknown objective", ["search", "objectives=[val_loss,speed]"],
     "error: objectives has unknown name 'speed' for task=mlm; allowed: objective, val_loss, val_acc, val_ppl, params, "
     "flops, latency_ms"),
    ("a classification metric for masked LM", ["search", "objectives=[val_mcc]"],
     "error: objectives has unknown name 'val_mcc' for task=mlm; allowed: objective, val_loss, val_acc, val_ppl"),
    ("unknown task objective", ["proxy", "task=classify", "task.objective=val/nope"],
     "error: task.objective='val/nope' is not a metric of task=classify; allowed: val/loss, val/acc, val/mcc, val/f1"),
    ("an objective direction that contradicts it", ["proxy", "task=classify", "task.objective=val/loss",
                                                      "task.direction=maximize"],
     "error: task.direction='maximize' does not fit task.objective=val/loss"),
    ("fine-tuning data given as a name", ["proxy", "task=pretrain_finetune", "task.finetune_data=tsv"],
     "error: task.finetune_data='tsv' is not a data config; pick a data option for it with "
     "data@task.finetune_data=tsv"),
    ("fine-tuning data given as a top-level key", ["proxy", "task=pretrain_finetune", "finetune_data=tsv"],
     "error: unknown key 'finetune_data'; the fine-tuning data of task=pretrain_finetune is a data option placed "
     "in the task: data@task.finetune_data=<option>"),
    ("space with no candidate under its constraint", ["search", "space.max_params=1000"],
     "error: space=convbert has no candidate with max_params=1,000: the smallest has"),
    ("zero proxy steps", ["proxy", "trainer.max_steps=0"], "error: trainer.max_steps=0 must be a positive integer"),
    ("unknown op in an arch string", ["proxy", "arch=sa conv ffn"],
     "error: unknown op 'conv'; allowed ops: bsa, csa, dconv, dsa, ffn, gconv, lconv, lvconv, mixed, sa, sdconv "
     "(in 'conv')"),
    ("even convolution span", ["proxy", "arch=sdconv(k=4) ffn"],
     "error: k=4 in 'sdconv(k=4)' is not allowed; k must be an odd integer >= 1"),
    ("heads that do not divide d_model", ["proxy", "arch=sa(h=3) ffn"],
     "error: heads h=3 must divide d_model=64 in 'sa(h=3)'"),
    ("unknown key of an op", ["proxy", "arch=bsa(blocks=2)"],
     "error: unknown key 'blocks' in 'bsa(blocks=2)'; keys allowed for bsa: b, h, i"),
    ("an activation ffn does not have", ["proxy", "arch=sa ffn(a=tanh)"],
     "error: a='tanh' in 'ffn(a=tanh)' is not allowed; a must be one of gelu, relu, swish"),
    ("weight sharing in a sandwich", ["search", "space=sandwich", "+space.share=true"],
     "error: space.share=true is not allowed with structure=sandwich; allowed: free, interleaved"),
    ("a fused optimizer that is not a yes or no", ["proxy", "trainer.optim.fused=maybe"],
     "error: optim.fused='maybe' is not allowed; allowed: true, false, null (auto)"),
    ("missing data file", ["proxy", "data.train=/no/such/train.txt"],
     "error: data file '/no/such/train.txt' of data 'wikitext2' not found"),
    ("unknown data format", ["proxy", "data.format=xml"],
     "error: format='xml' is not allowed; allowed: auto, text, csv, tsv, jsonl"),
    ("label column that is not there", ["proxy", "task=classify", "data.label_column=stars"],
     "error: label_column='stars' is not a column of "),
    ("PostgreSQL with a wrong password", ["search", "storage=postgres",
                                           "storage.url=postgresql+psycopg2://layernas:wrong@127.0.0.1:{pg}/postgres"],
     "error: cannot open storage postgresql+psycopg2://layernas:***@127.0.0.1:{pg}/postgres: "),
    ("unreachable database host", ["search", "storage=postgres",
                                    "storage.url=postgresql+psycopg2://nas:pw@127.0.0.1:1/nas"],
     "error: cannot open storage postgresql+psycopg2://nas:***@127.0.0.1:1/nas: "),
    ("unreachable database, empty user name", ["search", "storage=postgres",
                                               "storage.url=postgresql+psycopg2://:wrong@127.0.0.1:1/nas"],
     "error: cannot open storage postgresql+psycopg2://:***@127.0.0.1:1/nas: "),
    ("unreachable database, password in the query",
     ["search", "storage=postgres", "storage.url='postgresql+psycopg2://127.0.0.1:1/nas?user=nas&password=wrong'"],
     "error: cannot open storage postgresql+psycopg2://127.0.0.1:1/nas?password=***&user=nas: "),
    ("unreachable database, percent-encoded password",
     ["search", "storage=postgres", "storage.url=postgresql+psycopg2://nas:wrong%40pw%2F@127.0.0.1:1/nas"],
     "error: cannot open storage postgresql+psycopg2://nas:***@127.0.0.1:1/nas: "),
    ("PostgreSQL without a URL", ["search", "storage=postgres"],
     "error: storage=postgres needs storage.url=postgresql+psycopg2://user:password@host:5432/db"),
    ("unknown database driver", ["search", "storage.url=nosuchdb://u:pw@host/db"],
     "error: cannot open storage nosuchdb://u:***@host/db: "),
    ("report of a study that does not exist", ["report", "study.name=ghost"],
     "error: study.name='ghost' has no study in "),
    ("retrain of a study that does not exist", ["retrain", "study.name=ghost"],
     "error: study.name='ghost' has no study in "),
    # sizes nobody could train
    ("sequence longer than any model's max_len", ["proxy", "data.seq_len=100000"],
     "error: data.seq_len=100,000 is not allowed; allowed: 4..16,384"),
    ("convolution span longer than the sequence", ["proxy", "arch=sdconv(k=10001) ffn"],
     "error: k=10001 in 'sdconv(k=10001,h=4)' is larger than data.seq_len=16; allowed: an odd k <= 15"),
    ("more attention blocks than tokens", ["proxy", "arch=bsa(b=256) ffn"],
     "error: b=256 in 'bsa(b=256,h=4,i=1)' does not fit data.seq_len=16"),
    ("10,000 sublayers in an arch string", ["proxy", "arch=" + " ".join(["ffn"] * 10_000)],
     "error: the architecture's 10,000 sublayers is too deep; allowed: 1..1,000 sublayers"),
    ("10,000 sublayers in a search", ["search", "model.n_sublayers=10000"],
     "error: model.n_sublayers=10,000 is too deep; allowed: 1..1,000 sublayers"),
    ("a model larger than the machine's memory", ["proxy", "model.d_model=1000000"],
     "error: the model needs ~713.2 TiB for a training step"),
    ("a search space larger than the machine's memory", ["search", "model.d_model=1000000"],
     "error: the largest candidate of space=convbert needs ~"),
    ("a batch larger than the train split", ["proxy", "data.batch_size=5000"],
     "error: the train split of 'wikitext2' has 1,652 rows of 16 tokens, fewer than data.batch_size=5000"),
    ("a label of 1e9 (a class index, not a count)",
     ["proxy", "task=classify", "data=sst2", "data.train={tmp}/labels.tsv"],
     "error: bad label '1000000000' in {tmp}/labels.tsv line 3: labels must be class indices, integers in 0..9,999"),
    ("labels that skip classes", ["proxy", "task=classify", "data=sst2", "data.train={tmp}/gap.tsv"],
     "error: labels of {tmp}/gap.tsv are not the classes 0..5: 4 of them (first 1) never occur"),
    ("a validation label the training split does not have",
     ["proxy", "task=classify", "data=sst2", "data.train={tmp}/words.tsv", "data.validation={tmp}/unseen.tsv"],
     "error: label 'neutral' in {tmp}/unseen.tsv line 3 is not a class of the training split ({tmp}/words.tsv); "
     "allowed: entailment, not_entailment"),
    ("a training label that data.label_names does not list",
     ["proxy", "task=classify", "data=sst2", "data.train={tmp}/words.tsv", "data.label_names=[entailment,neutral]"],
     "error: label 'not_entailment' in {tmp}/words.tsv line 3 is not one of data.label_names (entailment, neutral); "
     "allowed: data.label_names listing every class"),
    ("class names that repeat", ["proxy", "task=classify", "data.label_names=[yes,yes]"],
     "error: label_names=['yes', 'yes'] is not allowed; allowed: null, or a list of 2 or more different class "
     "names"),
    ("labels that mix names and indices", ["proxy", "task=classify", "data=sst2", "data.train={tmp}/mixed.tsv"],
     "error: labels of {tmp}/mixed.tsv mix class names ('good', line 3) and class indices (1, line 2); allowed: "
     "all class indices (integers) or all class names"),
    # files and folders the machine refuses
    ("results_dir that is a file", ["search", "results_dir={tmp}/afile"],
     "error: results_dir='{tmp}/afile' is not allowed: {tmp}/afile is a file; allowed: a folder"),
    ("results_dir under a file", ["proxy", "results_dir={tmp}/afile/results"],
     "error: results_dir='{tmp}/afile/results' is not allowed: {tmp}/afile is a file"),
    ("cache folder that is a file", ["proxy", "data.cache_dir={tmp}/afile"],
     "error: cache folder {tmp}/afile/tokenizers cannot be written ({tmp}/afile is a file); allowed: a writable "
     "folder"),
    ("damaged .xz corpus", ["proxy", "data.train={tmp}/train.txt.xz"],
     "error: {tmp}/train.txt.xz cannot be read as a .xz file near line 1 (Input format not supported by decoder)"),
    ("JSON nested 200,000 deep", ["proxy", "data.train={tmp}/deep.jsonl", "data.format=jsonl"],
     "error: bad JSON in {tmp}/deep.jsonl line 4: nested too deeply"),
    ("CSV field over 128 KiB", ["proxy", "data.train={tmp}/big.csv", "data.format=csv"],
     "error: {tmp}/big.csv line 3: a field is longer than 131,072 characters"),
    ("invalid UTF-8 in a text corpus", ["proxy", "data.train={tmp}/bad.txt"],
     "error: {tmp}/bad.txt line 2 is not valid UTF-8 (invalid start byte at byte 4 of the line)"),
    ("invalid UTF-8 in a tsv corpus", ["proxy", "task=classify", "data=sst2", "data.train={tmp}/bad.tsv"],
     "error: {tmp}/bad.tsv line 3 is not valid UTF-8"),
    ("invalid UTF-8 in a csv corpus", ["proxy", "data.train={tmp}/bad.csv", "data.format=csv"],
     "error: {tmp}/bad.csv line 3 is not valid UTF-8"),
    ("invalid UTF-8 in a jsonl corpus", ["proxy", "data.train={tmp}/bad.jsonl", "data.format=jsonl"],
     "error: {tmp}/bad.jsonl line 2 is not valid UTF-8"),
    ("truncated study.db", ["report", "study.name=s", "results_dir={tmp}/damaged"],
     "error: study storage {tmp}/damaged/s/study.db is damaged (database disk image is malformed); restore it"),
    ("journal with a cut last line", ["report", "study.name=j", "storage=journal", "results_dir={tmp}/journal"],
     "error: journal {tmp}/journal/j/journal.log ends in a cut line"),
    ("unquoted unicode study name", ["search", "study.name=研究ü"],
     "error: cannot read the override study.name=研究ü (characters outside Hydra's unquoted grammar); allowed: "
     "a quoted value, in a shell \"study.name='研究ü'\""),
    ("a study name of spaces", ["search", "study.name='  '"],
     "error: study.name='  ' is not allowed (only whitespace); allowed: a plain folder name of 1-100 characters"),
    ("a study name ending in a space", ["search", "study.name='a '"],
     "error: study.name='a ' is not allowed (begins or ends with whitespace)"),
    ("a journal where no folder can be made", ["search", "storage=journal", "storage.url={tmp}/afile/j.log"],
     "error: storage.url='{tmp}/afile' cannot be written ({tmp}/afile is a file); allowed: a writable folder"),
    ("a negative seed (search)", ["search", "seed=-1"],
     "error: seed=-1 is not allowed; allowed: an integer 0..4,294,967,295"),
    ("a seed that is not a number (proxy)", ["proxy", "seed=abc"],
     "error: seed='abc' is not allowed; allowed: an integer 0..4,294,967,295"),
    ("a seed beyond numpy's range (retrain)", ["retrain", "study.name=x", "seed=4294967296"],
     "error: seed=4294967296 is not allowed; allowed: an integer 0..4,294,967,295"),
    ("retrain on no seeds", ["retrain", "study.name=x", "seeds=[]"],
     "error: seeds=[] is not allowed; allowed: a non-empty list of distinct integers 0..4,294,967,295"),
    ("retrain on a seed twice", ["retrain", "study.name=x", "seeds=[1,1]"],
     "error: seeds=[1, 1] is not allowed: a seed is repeated; allowed: distinct integers"),
    ("report without a study name", ["report"],
     "error: study.name is required: layernas report study.name=NAME; studies in "),
    ("retrain without a study name", ["retrain"],
     "error: study.name is required: layernas retrain study.name=NAME; studies in "),
    ("a trillion trials", ["search", "study.n_trials=1000000000000"],
     "error: study.n_trials=1,000,000,000,000 is not allowed; allowed: 1..100,000"),
    ("a password in a storage URL's query, typed unquoted", ["search", "storage=postgres",
                                                            "storage.url=postgresql+psycopg2://127.0.0.1:1/nas?user=nas"
                                                            "&password=wrong"],
     "error: cannot open storage postgresql+psycopg2://127.0.0.1:1/nas?password=***&user=nas: connection to server "
     "at \"127.0.0.1\", port 1 failed: Connection refused"),
    ("a storage URL's query Hydra cannot read", ["search", "storage=postgres",
                                                 "storage.url=postgresql+psycopg2://nas@127.0.0.1:1/nas?a=1&b=2"],
     "error: cannot read the override storage.url=postgresql+psycopg2://nas@127.0.0.1:1/nas?a=1&b=2 (characters "
     "outside Hydra's unquoted grammar); allowed: a quoted value, in a shell \"storage.url='postgresql+psycopg2://"
     "nas@127.0.0.1:1/nas?a=1&b=2'\""),
    ("export in an unknown format", ["export", "study.name=x", "export.format=tf"],
     "error: export.format='tf' is not allowed; allowed: hf, onnx"),
    ("export of a trial the study does not have", ["export", "study.name=ex", "trial=7", "results_dir={tmp}/studies"],
     "error: trial=7 is not a trial of study 'ex' with an architecture; trials: 0..0"),
    ("export of a seed that was not retrained", ["export", "study.name=ex", "seed=3", "results_dir={tmp}/studies"],
     "error: seed=3 has no retrained weights: {tmp}/studies/ex/retrain/"),
    ("export into a folder of other files", ["export", "study.name=ex", "export.dir={tmp}",
                                             "results_dir={tmp}/studies"],
     "error: export.dir='{tmp}' holds other files (no export.json of an earlier export); allowed: a new or empty "
     "folder, or an earlier export's folder (replaced)"),
    ("a sentence-pair column the file does not have", ["proxy", "task=classify", "data=tsv",
                                                        "data.train={tmp}/pairs.tsv", "data.text_column=first",
                                                        "data.text_pair_column=third", "data.validation_fraction=0.5"],
     "error: text_pair_column='third' is not a column of {tmp}/pairs.tsv; its header has: first, second, label"),
    ("a label that is not a number for regression", ["proxy", "task=regress", "data=tsv", "data.train={tmp}/pairs.tsv",
                                                     "data.text_column=first", "data.text_pair_column=second",
                                                     "data.validation_fraction=0.5"],
     "error: bad label 'high' in {tmp}/pairs.tsv line 3: task=regress needs numbers as labels (label_type=number); "
     "allowed: finite numbers such as 3.8"),
    ("an unknown GLUE task", ["glue", "study.name=x", "glue.tasks=[sst2,mnli_m]"],
     "error: glue.tasks has unknown task 'mnli_m'; allowed: cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli"),
    ("a pretrained tokenizer without a mask token", ["proxy", "data.tokenizer.path={tmp}/nomask.json"],
     "error: data.tokenizer.path='{tmp}/nomask.json' has no mask token ([MASK] or <mask> is not in its "
     "vocabulary); allowed: a tokenizer with all of pad, unk, cls, sep, mask tokens"),
]

# names that become folders: every command, the same check
NAMED = {"search": "study.name", "retrain": "study.name", "report": "study.name", "proxy": "run_name"}
for _command, _key in NAMED.items():
    CASES += [
        (f"{_key} climbing out of results_dir ({_command})", [_command, f"{_key}=../escape"],
         f"error: {_key}='../escape' is not allowed (a path, not a name); allowed: a plain folder name of 1-100"),
        (f"{_key} that is an absolute path ({_command})", [_command, f"{_key}=/abs/path"],
         f"error: {_key}='/abs/path' is not allowed (a path, not a name)"),
        (f"300-character {_key} ({_command})", [_command, f"{_key}={'a' * 300}"],
         f"error: {_key}='{'a' * 20}...(300 characters)' is not allowed (300 characters, more than 100)"),
    ]


def make_bad_files(folder: Path) -> Path:
    """The damaged inputs the cases above point at ({tmp}); returns ``folder``."""
    import optuna

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "afile").write_text("not a folder\n")
    (folder / "train.txt.xz").write_bytes(b"garbage, not xz")
    (folder / "deep.jsonl").write_text('{"text": "a b"}\n' * 3 + "[" * 200_000 + "\n")
    (folder / "big.csv").write_text('text\nhello\n"' + "x" * 140_000 + '"\n')
    (folder / "bad.txt").write_bytes(b"hello world\nbad \xff\xfe byte\n")
    (folder / "bad.tsv").write_bytes(b"sentence\tlabel\nit is good\t1\nbad \xff\t0\n")
    (folder / "bad.csv").write_bytes(b"text\nhello\nbad \xff byte\n")
    (folder / "bad.jsonl").write_bytes(b'{"text": "a"}\n{"text": "\xff"}\n')
    (folder / "labels.tsv").write_text("sentence\tlabel\nit is good\t1\nit is bad\t1000000000\n")
    (folder / "gap.tsv").write_text("sentence\tlabel\n" + "".join(f"good {i}\t0\nbad {i}\t5\n" for i in range(40)))
    (folder / "words.tsv").write_text("sentence\tlabel\n" + "".join(f"it rains {i}\tentailment\nit is dry {i}\t"
                                                                     "not_entailment\n" for i in range(40)))
    (folder / "unseen.tsv").write_text("sentence\tlabel\nit rains\tentailment\nit may rain\tneutral\n")
    (folder / "mixed.tsv").write_text("sentence\tlabel\nit is good\t1\nit is fine\tgood\n")
    (folder / "pairs.tsv").write_text("first\tsecond\tlabel\nit rains\tit is wet\t4.5\nit rains\tit is dry\thigh\n")
    study = folder / "damaged" / "s"
    study.mkdir(parents=True)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    optuna.create_study(study_name="s", storage=f"sqlite:///{study / 'study.db'}").optimize(lambda t: 0.0, n_trials=2)
    (study / "study.db").write_bytes((study / "study.db").read_bytes()[:3000])
    make_export_study(folder / "studies")
    Tokenizer(models.WordLevel({"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3}, unk_token="[UNK]")).save(
        str(folder / "nomask.json"))
    (folder / "journal" / "j").mkdir(parents=True)
    (folder / "journal" / "j" / "journal.log").write_text('{"op_code": 0, "worker_id": "a", "study_name": "j", '
                                                         '"directions": [1]}\n{"op_code": 4, "wor')
    return folder


def make_export_study(results: Path) -> None:
    """Study ``ex``: one complete trial, its network retrained on seed 0 only (a stand-in weights file)."""
    from layernas.search_space import Architecture

    arch = "sa(h=4) ffn(r=4)"
    (results / "ex").mkdir(parents=True)
    study = optuna.create_study(study_name="ex", storage=f"sqlite:///{results / 'ex' / 'study.db'}")
    study.add_trial(optuna.trial.create_trial(value=1.0, user_attrs={"arch": arch}))
    retrained = results / "ex" / "retrain" / Architecture.parse(arch, 64).key()  # model=tiny: d_model 64
    retrained.mkdir(parents=True)
    (retrained / "model-seed0.safetensors").write_bytes(b"weights")


def run_case(args: list[str], results: Path, pg_port: int, tmp: Path | None = None) -> tuple[int, str]:
    """Run ``layernas <args>`` in this process (as the console script does); return (exit code, stderr).
    ``{pg}`` is the PostgreSQL port, ``{tmp}`` the folder of :func:`make_bad_files`."""
    from layernas.trainer.cli import main

    args = [a.replace("{pg}", str(pg_port)).replace("{tmp}", str(tmp)) for a in args]
    extra = FAST if args[0] in ("proxy", "search") else []
    own = [] if any(a.startswith("results_dir=") for a in args) else [f"results_dir={results}"]
    argv, err, code = list(sys.argv), io.StringIO(), 0
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            main([args[0], *extra, *args[1:], *own])
    except SystemExit as e:
        code = e.code
    finally:
        sys.argv = argv
    return code, err.getvalue()


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> Path:
    return make_bad_files(tmp_path_factory.mktemp("bad-files"))


@pytest.mark.parametrize(("what", "args", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line(what, args, message, tmp_path, postgres, bad_files):
    code, err = run_case(args, tmp_path / "results", postgres.port, bad_files)
    lines = err.strip().splitlines()
    assert code == 2, err
    expected = message.replace("{pg}", str(postgres.port)).replace("{tmp}", str(bad_files))
    assert len(lines) == 1 and lines[0].startswith(expected), err
    assert "wrong" not in lines[0] and ":pw@" not in lines[0]  # passwords never shown
    assert not (tmp_path / "results").exists()


def _refuse_mkdir(real):
    def mkdir(self, *args, **kwargs):
        if "results" in self.parts:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real(self, *args, **kwargs)
    return mkdir


def _full_disk_store(*args, **kwargs):
    try:
        raise sqlite3.OperationalError("database or disk is full")
    except sqlite3.OperationalError as e:
        raise optuna.exceptions.StorageInternalError("An exception is raised during the commit. This typically "
                                                     "happens due to invalid data in the commit, e.g. exceeding "
                                                     "max length.") from e


def _full_disk_write(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


# (what, command, the function to replace, its replacement, the start of the one-line message): writes that the
# machine refuses, simulated (tests run as root, where permissions do not stop writes)
REFUSED_WRITES = [
    ("read-only results_dir", ["search"], "pathlib.Path.mkdir", lambda: _refuse_mkdir(Path.mkdir),
     "error: cannot write {results}/search-mlm (Read-only file system); results_dir, the study folders and the "
     "cache must be writable folders"),
    ("disk full when a trial is stored", ["search", "study.n_trials=1"],
     "optuna.storages.RDBStorage.set_trial_state_values", lambda: _full_disk_store,
     "error: disk full: cannot write in {results}/search-mlm; free space there"),
    ("disk full when the results are written", ["search", "study.n_trials=1"],
     "layernas.trainer.plumbing.files.atomic_write_bytes", lambda: _full_disk_write,
     "error: disk full: cannot write in {results}/search-mlm; free space there"),
]


def run_refused_write(args, target, make, results: Path) -> tuple[int, str]:
    from unittest import mock

    with mock.patch(target, make()):
        return run_case([*args, "space=bert", "study.name=search-mlm"], results, 0)


@pytest.mark.parametrize(("what", "args", "target", "make", "message"), REFUSED_WRITES,
                         ids=[c[0] for c in REFUSED_WRITES])
def test_a_refused_write_is_one_line(what, args, target, make, message, tmp_path):
    code, err = run_refused_write(args, target, make, tmp_path / "results")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(message.replace("{results}", str(tmp_path / "results"))), err
    assert not list(tmp_path.rglob("*.tmp"))  # no half-written file


def test_a_programming_error_keeps_its_traceback(tmp_path):
    from unittest import mock

    with mock.patch("layernas.trainer.search.loop.run_search", side_effect=KeyError("a bug")):
        code, err = run_case(["search"], tmp_path / "results", 0)
    assert code == 1 and "KeyError: 'a bug'" in err and len(err.strip().splitlines()) > 1, err


# (what, cache file to damage, the bytes written over it)
DAMAGED_CACHES = [
    ("damaged tokenizer cache", "tokenizers/*.json", b'{"version": "1.0", "trunc'),
    ("damaged token cache", "tokens/*-train-*.npy", b"\x93NUMPY garbage"),
]


def build_cache(cache: Path) -> int:
    """Tokenize the FAST proxy's data into ``cache``; returns the vocabulary size."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from layernas.trainer.core.prepare import prepare_data
    from layernas.trainer.plan.run import run_plan
    from tests.conftest import CONF

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("proxy", overrides=[*FAST, f"data.cache_dir={cache}"])
    return prepare_data(run_plan(OmegaConf.to_container(cfg, resolve=True))).vocab_size


def run_damaged_cache_case(pattern: str, damage: bytes, tmp: Path) -> tuple[Path, int, str]:
    """Build a cache, overwrite one of its files with ``damage``, run ``layernas proxy`` on it."""
    build_cache(tmp / "cache")
    (path,) = (tmp / "cache").glob(pattern)
    path.write_bytes(damage)
    return path, *run_case(["proxy", f"data.cache_dir={tmp / 'cache'}"], tmp / "results", 0)


@pytest.mark.parametrize(("what", "pattern", "damage"), DAMAGED_CACHES, ids=[c[0] for c in DAMAGED_CACHES])
def test_a_damaged_cache_file_is_named_not_overwritten(what, pattern, damage, tmp_path):
    path, code, err = run_damaged_cache_case(pattern, damage, tmp_path)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"error: cache file {path} is unreadable (")
    assert lines[0].endswith("; delete it to rebuild")
    assert path.read_bytes() == damage and not (tmp_path / "results").exists()
    path.unlink()  # what the message says to do
    assert build_cache(tmp_path / "cache") == 300 and path.exists()


def test_a_file_that_is_not_weights_is_refused(tmp_path):
    from layernas.trainer.retrain import load_retrained

    folder = tmp_path / "retrain"
    folder.mkdir()
    (folder / "config.yaml").write_text("arch: sa ffn\nvocab_size: 50\nn_classes: null\nmodel: {d_model: 32}\n"
                                        "task: {name: mlm}\ndata: {seq_len: 16}\n")
    (folder / "model-seed0.safetensors").write_bytes(b"PK\x03\x04 this is a zip, not weights")
    with pytest.raises(ValueError, match=r"model-seed0.safetensors is not a safetensors weights file of this model"):
        load_retrained(folder)


def _shown(arg: str) -> str:
    return arg if len(arg) <= 80 else f"{arg[:24]}...({len(arg):,} characters)"


if __name__ == "__main__":
    import tempfile

    from layernas.trainer.plumbing.paths import REPO_ROOT
    from tests.postgres import PostgresServer

    def tidy(text: str, tmp: str) -> str:
        """No path of this machine in the table."""
        return text.replace(str(REPO_ROOT), "<repo>").replace(tmp, "<tmp>")

    server = PostgresServer().start()
    try:
        print("| input | command | message (exit code) |\n|---|---|---|")
        with tempfile.TemporaryDirectory() as files:
            bad = make_bad_files(Path(files) / "files")
            for what, args, _ in CASES:
                with tempfile.TemporaryDirectory() as tmp:
                    code, err = run_case(args, Path(tmp) / "results", server.port, bad)
                    message = tidy(err.strip().replace(str(server.port), "5432"), tmp).replace(str(bad), "<tmp>")
                shown = " ".join(_shown(a.replace("{pg}", "5432").replace("{tmp}", "<tmp>")) for a in args)
                print(f"| {what} | `layernas {shown}` | `{message}` ({code}) |")
        for what, args, target, make, _ in REFUSED_WRITES:
            with tempfile.TemporaryDirectory() as tmp:
                code, err = run_refused_write(args, target, make, Path(tmp) / "results")
                message = tidy(err.strip().splitlines()[-1], tmp)
            print(f"| {what} | `layernas {' '.join(args)}` ({target} made to fail) | `{message}` ({code}) |")
        for what, pattern, damage in DAMAGED_CACHES:
            with tempfile.TemporaryDirectory() as tmp:
                _, code, err = run_damaged_cache_case(pattern, damage, Path(tmp))
                message = err.strip().splitlines()[-1].replace(f"{tmp}/cache", "<cache>")
            print(f"| {what} | `layernas proxy` (one file of its cache overwritten) | `{message}` ({code}) |")
    finally:
        server.stop()
