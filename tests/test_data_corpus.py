"""Reading corpora: the real sets, every file format, compression, headers, the HF path, errors."""

from __future__ import annotations

import json

import pytest

from layernas.trainer.data import DataConfig, load_split
from tests.data_helpers import IMDB, sst2, wikitext, write

CSV = 'id,label,review\n1,1,"good, very good"\n2,0,"said ""meh""\nthen left"\n3,1,fine\n'


def local(tmp_path, train, **overrides) -> DataConfig:
    return DataConfig.from_dict({"name": "t", "train": str(train), "cache_dir": str(tmp_path / "cache"), **overrides})


def test_wikitext2_shipped_copy(tmp_path):
    cfg = wikitext(tmp_path, max_train_docs=1000, max_eval_docs=None)
    train, valid, test = (load_split(cfg, s) for s in ("train", "validation", "test"))
    assert (len(train), len(valid), len(test)) == (1000, 2461, 2891)  # non-blank lines
    assert train.texts[0] == "= Valkyria Chronicles III =" and train.labels is None
    assert valid.texts[0] == "= Homarus gammarus ="
    assert all(t and t == t.strip() for t in train.texts)


def test_sst2_shipped_copy(tmp_path):
    cfg = sst2(tmp_path, max_train_docs=None, max_eval_docs=None)
    train, dev = load_split(cfg, "train"), load_split(cfg, "validation")
    assert (len(train), sum(train.labels)) == (67349, 37569)
    assert (len(dev), sum(dev.labels)) == (872, 444)
    assert train.texts[0] == "hide new secretions from the parental units"
    with pytest.raises(ValueError, match="data 'sst2' has no test split; set test"):
        load_split(cfg, "test")


@pytest.mark.skipif(not IMDB.is_dir(), reason="shared IMDB subset not present")
def test_imdb_from_shared_data(tmp_path):
    cfg = DataConfig.from_dict({"name": "imdb", "train": str(IMDB / "train_subset.csv"),
                                "test": str(IMDB / "test_subset.csv"), "label_column": "label",
                                "validation_fraction": 0.1, "cache_dir": str(tmp_path)})
    train, valid, test = (load_split(cfg, s) for s in ("train", "validation", "test"))
    assert (len(train), len(valid), len(test)) == (4500, 500, 5000)
    assert sum(train.labels) + sum(valid.labels) == 2500 and sum(test.labels) == 2500
    assert train.texts[0].startswith("Story of a man who has unnatural feelings for a pig.")
    assert "<br />" in " ".join(test.texts[:50])


def test_validation_carve_out_is_fixed_and_disjoint(tmp_path):
    lines = [f"doc {i}" for i in range(200)]
    path = write(tmp_path / "c.txt", "\n".join(lines) + "\n")
    cfg = local(tmp_path, path, validation_fraction=0.1)
    train, valid = load_split(cfg, "train"), load_split(cfg, "validation")
    assert (len(train), len(valid)) == (180, 20)
    assert sorted(train.texts + valid.texts, key=lambda t: int(t.split()[1])) == lines
    assert load_split(cfg, "validation") == valid  # same every call: seeded by split_seed, not the run
    assert load_split(local(tmp_path, path, validation_fraction=0.1, split_seed=1), "validation") != valid
    sliced = local(tmp_path, path, validation_fraction=0.1, max_train_docs=5, max_eval_docs=3)
    assert load_split(sliced, "train").texts == train.texts[:5]
    assert load_split(sliced, "validation").texts == valid.texts[:3]  # the slice does not move the split


def test_plain_text_skips_blank_lines_keeps_headings(tmp_path):
    path = write(tmp_path / "w.txt", " = Title = \n \n\n body text \n\t\n = = Sec = = \n")
    assert load_split(local(tmp_path, path), "train").texts == ["= Title =", "body text", "= = Sec = ="]


@pytest.mark.parametrize("suffix", ["", ".gz", ".xz", ".bz2"])
def test_csv_by_name_with_header_and_compression(tmp_path, suffix):
    path = write(tmp_path / f"r.csv{suffix}", CSV)
    corpus = load_split(local(tmp_path, path, text_column="review", label_column="label"), "train")
    assert corpus.texts == ["good, very good", 'said "meh"\nthen left', "fine"]  # RFC 4180 quoting
    assert corpus.labels == [1, 0, 1]


def test_csv_by_index_with_and_without_header(tmp_path):
    with_header = write(tmp_path / "h.csv", CSV)
    corpus = load_split(local(tmp_path, with_header, text_column=2, label_column=1), "train")
    assert corpus.labels == [1, 0, 1]  # header detected: its label cell is not an integer
    no_header = write(tmp_path / "n.csv", "0,first one\n1,second\n")
    corpus = load_split(local(tmp_path, no_header, text_column=1, label_column=0), "train")
    assert (corpus.texts, corpus.labels) == (["first one", "second"], [0, 1])
    forced = load_split(local(tmp_path, no_header, text_column=1, label_column=0, header=True), "train")
    assert forced.texts == ["second"]


def test_tsv_is_unquoted_like_glue(tmp_path):
    path = write(tmp_path / "g.tsv.gz", 'sentence\tlabel\n"quoted" start \t1\nit \'s " odd\t0\n')
    corpus = load_split(local(tmp_path, path, text_column="sentence", label_column="label"), "train")
    assert corpus.texts == ['"quoted" start', "it 's \" odd"] and corpus.labels == [1, 0]


def test_jsonl_by_name(tmp_path):
    rows = [{"body": "one", "y": 0}, {"body": "two", "y": "1"}]
    path = write(tmp_path / "d.jsonl.xz", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    corpus = load_split(local(tmp_path, path, text_column="body", label_column="y"), "train")
    assert (corpus.texts, corpus.labels) == (["one", "two"], [0, 1])


def test_explicit_format_overrides_extension(tmp_path):
    path = write(tmp_path / "data.dat", "a\tb\n")
    assert load_split(local(tmp_path, path, format="text"), "train").texts == ["a\tb"]


def test_hf_packaged_builders_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    train = write(tmp_path / "train.csv", "sentence,label\nnice film,1\nbad film,0\nok film,1\n")
    valid = write(tmp_path / "valid.csv", "sentence,label\nfine,1\n")
    files = {"train": str(train), "validation": str(valid)}
    cfg = DataConfig.from_dict({"name": "hfcsv", "source": "hf", "hf_path": "csv", "train": "train",
                                "validation": "validation", "data_files": files,
                                "text_column": "sentence", "label_column": "label", "max_train_docs": 2,
                                "hf_cache_dir": str(tmp_path / "hf"), "cache_dir": str(tmp_path / "cache")})
    assert load_split(cfg, "train").texts == ["nice film", "bad film"]
    assert load_split(cfg, "validation").labels == [1]
    text = write(tmp_path / "t.txt", "line one\n\nline two\n")
    cfg = DataConfig.from_dict({"name": "hftext", "source": "hf", "hf_path": "text", "train": "train",
                                "data_files": str(text), "hf_cache_dir": str(tmp_path / "hf")})
    assert load_split(cfg, "train").texts == ["line one", "line two"]
    unlabelled = write(tmp_path / "test.csv", "sentence,label\nhidden,-1\n")  # GLUE test splits use -1
    cfg = DataConfig.from_dict({"name": "hfcsv", "source": "hf", "hf_path": "csv", "train": "train",
                                "data_files": str(unlabelled), "text_column": 0, "label_column": 1,
                                "hf_cache_dir": str(tmp_path / "hf")})
    with pytest.raises(ValueError,
                       match=r"^bad label -1 in csv/:train row 1: labels must be class indices, integers in 0..9,999$"):
        load_split(cfg, "train")


BAD_FILES = [
    ("b.csv", "text,label\nfine,1\nawful,pos\n", {"label_column": "label"},
     r"labels of .*b\.csv mix class names \('pos', line 3\) and class indices \(1, line 2\); allowed: all class "
     r"indices \(integers\) or all class names$"),
    ("n.csv", "text,label\nfine,-1\n", {"label_column": "label"}, r"bad label '-1' in .*n\.csv line 2"),
    ("h.csv", "0,first\n", {"text_column": "text"}, r"text_column='text' is a column name but .*h\.csv has no header"),
    ("c.csv", "a,b\nx,1\n", {"text_column": "text", "label_column": "b"},
     r"text_column='text' is not a column of .*c\.csv; its header has: a, b"),
    ("s.csv", "0,x\n1\n", {"text_column": 1, "label_column": 0}, r".*s\.csv line 2 has 1 columns; column index 1"),
    ("f.csv", "text,label\nx,1\n", {"text_column": 0, "label_column": 1, "header": False},  # a header read as data
     r"labels of .*f\.csv mix class names \('label', line 1\) and class indices \(1, line 2\)"),
    ("o.csv", "text,label\nx,yes\ny,yes\n", {"label_column": "label"},
     r"labels of .*o\.csv name one class only \('yes'\); allowed: 2 or more classes, or data\.label_names"),
    ("e.csv", "text,label\nx,1\ny, \n", {"label_column": "label"},
     r"bad label ' ' in .*e\.csv line 3: labels must be class indices, integers in 0..9,999, or class names "
     r"\(non-empty text\)$"),
    ("t.txt", "x\n", {"label_column": "label"}, r"label_column='label' needs a csv, tsv or jsonl file"),
    ("j.jsonl", '{"text": "x"}\n{"text": \n', {}, r"bad JSON in .*j\.jsonl line 2"),
    ("k.jsonl", '{"body": "x"}\n', {}, r"column 'text' missing in .*k\.jsonl line 1; it has: body"),
    ("i.jsonl", '{"text": "x"}\n', {"text_column": 0}, r"text_column=0 is an index, but jsonl columns are named"),
    ("l.jsonl", '{"text": "x", "y": 1.5}\n', {"label_column": "y"}, r"bad label 1\.5 in .*l\.jsonl line 1"),
    ("data.xml", "<x/>\n", {}, r"cannot tell the format of 'data\.xml' from its extension; set format to one of"),
]


@pytest.mark.parametrize("name, content, overrides, message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_files_give_one_line_errors(tmp_path, name, content, overrides, message):
    path = write(tmp_path / name, content)
    with pytest.raises(ValueError, match=message) as err:
        load_split(local(tmp_path, path, **overrides), "train")
    assert "\n" not in str(err.value)


def test_missing_file_and_missing_split(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^data file '.*nope\.txt' of data 't' not found; give the file's "
                                                r"path, e.g. data.train=/path/to/file$"):
        load_split(local(tmp_path, tmp_path / "nope.txt"), "train")
    with pytest.raises(ValueError, match="data 't' has no validation split; set validation or validation_fraction > 0"):
        load_split(local(tmp_path, write(tmp_path / "a.txt", "x\n")), "validation")
    with pytest.raises(ValueError, match="split='dev' is not allowed; allowed: train, validation, test"):
        load_split(local(tmp_path, tmp_path / "a.txt"), "dev")
