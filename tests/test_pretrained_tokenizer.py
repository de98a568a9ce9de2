"""``data.tokenizer.path``: a pretrained tokenizer (a tokenizer.json or a Hugging Face folder) instead of a trained
one: its role tokens renumbered to the ids this package relies on, tokenization unchanged, the vocabulary size
the file's, token caches keyed on its content, and one line when a role token is missing."""

from __future__ import annotations

import json
import lzma
import subprocess
from pathlib import Path

import pytest
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from layernas.trainer.data import DataConfig, get_tokenizer
from layernas.trainer.data.pretrained import load_pretrained
from layernas.trainer.data.tokenizer import SPECIAL_IDS
from layernas.trainer.data.tokens import mlm_sequences, token_cache_path
from tests.helpers import WANDB, proxy

ROOT = Path(__file__).resolve().parents[1]
TEXTS = lzma.open(ROOT / "data" / "sst2" / "train.tsv.xz", "rt").read().splitlines()[1:1500]
SAMPLES = [TEXTS[7], TEXTS[300].upper() + " <mask> zzqx", "an unseen wordpiece: qwertyuiop"]


def bert_like(vocab_size: int = 500) -> Tokenizer:
    """WordPiece with BERT's special tokens, but not at this package's ids ([UNK] at 4, [MASK] at 7)."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer, tok.pre_tokenizer = normalizers.BertNormalizer(), pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[unused0]", "[unused1]", "[unused2]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(TEXTS, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials))
    return tok


def roberta_like() -> Tokenizer:
    """Byte-level BPE with RoBERTa's names, [MASK]'s role added after training (the last id)."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.ByteLevel(add_prefix_space=True), decoders.ByteLevel()
    tok.train_from_iterator(TEXTS, trainers.BpeTrainer(vocab_size=600, special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.add_special_tokens(["<mask>"])
    return tok


def unigram_like() -> Tokenizer:
    """Unigram (SentencePiece's model; the id is the position in its list) with custom role names."""
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.train_from_iterator(TEXTS, trainers.UnigramTrainer(vocab_size=400, unk_token="<unk>",
                                                           special_tokens=["<unk>", "<cls>", "<sep>", "<blank>"]))
    tok.add_special_tokens(["<msk>"])
    return tok


def save_folder(tok: Tokenizer, folder: Path, names: dict | None = None) -> Path:
    """A Hugging Face tokenizer folder: tokenizer.json and, when given, special_tokens_map.json."""
    folder.mkdir(parents=True)
    tok.save(str(folder / "tokenizer.json"))
    if names:
        (folder / "special_tokens_map.json").write_text(json.dumps(names))
    return folder


UNIGRAM_NAMES = {"pad_token": "<blank>", "unk_token": "<unk>", "cls_token": "<cls>", "sep_token": "<sep>",
                 "mask_token": {"content": "<msk>", "special": True}}  # an AddedToken's fields, as HF writes them


@pytest.mark.parametrize(("make", "names", "roles"), [
    (bert_like, None, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]),
    (roberta_like, None, ["<pad>", "<unk>", "<s>", "</s>", "<mask>"]),
    (unigram_like, UNIGRAM_NAMES, ["<blank>", "<unk>", "<cls>", "<sep>", "<msk>"]),
], ids=["wordpiece", "bpe", "unigram"])
def test_roles_renumbered_and_tokenization_unchanged(tmp_path, make, names, roles):
    original = make()
    loaded = load_pretrained(save_folder(original, tmp_path / "tok", names))
    assert [loaded.id_to_token(i) for i in SPECIAL_IDS] == roles
    assert [original.token_to_id(t) for t in roles] != list(SPECIAL_IDS)  # they were elsewhere
    assert loaded.get_vocab_size() == original.get_vocab_size()
    for text in SAMPLES:
        before, after = original.encode(text, add_special_tokens=False), loaded.encode(text, add_special_tokens=False)
        assert after.tokens == before.tokens and len(set(after.ids)) == len(set(before.ids))
    assert loaded.encode("a film").tokens[0] == roles[2] and loaded.encode("a film").tokens[-1] == roles[3]


def test_a_bare_file_and_its_folder_give_the_same_tokenizer(tmp_path):
    folder = save_folder(bert_like(), tmp_path / "bert", None)
    assert load_pretrained(folder).to_str() == load_pretrained(folder / "tokenizer.json").to_str()
    again = load_pretrained(folder)
    assert load_pretrained(folder).to_str() == again.to_str()  # deterministic


@pytest.mark.parametrize(("vocab", "message"), [
    ({"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "a": 4},
     "has no mask token ([MASK] or <mask> is not in its vocabulary); allowed: a tokenizer with all of pad, unk, cls, "
     "sep, mask tokens"),
    ({"<unk>": 0, "<s>": 1, "</s>": 2, "<mask>": 3, "a": 4}, "has no pad token ([PAD] or <pad>"),
])
def test_a_missing_role_is_one_line_naming_it(tmp_path, vocab, message):
    Tokenizer(models.WordLevel(vocab, unk_token=next(iter(vocab)))).save(str(tmp_path / "t.json"))
    with pytest.raises(ValueError) as error:
        load_pretrained(tmp_path / "t.json")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_folder_without_tokenizer_json_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="is a folder without tokenizer.json; allowed: a tokenizer.json"):
        load_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="is not found"):
        load_pretrained(tmp_path / "nope.json")


def sst2(tmp_path: Path, path: Path | None, **extra) -> DataConfig:
    return DataConfig(name="sst2", train="sst2/train.tsv.xz", validation="sst2/dev.tsv.xz", text_column="sentence",
                      max_train_docs=300, max_eval_docs=60, seq_len=16,
                      tokenizer={"path": None if path is None else str(path)}, cache_dir=str(tmp_path / "cache"),
                      **extra)


def test_token_caches_key_on_the_files_content(tmp_path):
    file = tmp_path / "tok" / "tokenizer.json"
    save_folder(bert_like(500), tmp_path / "tok")
    cfg = sst2(tmp_path, file)
    first = get_tokenizer(cfg)
    rows = mlm_sequences(cfg, "train", first)
    assert int(rows.max()) < 500 and first.get_vocab_size() == 500  # the file's vocabulary, not 8000
    bert_like(300).save(str(file))  # another tokenizer at the same path
    second = get_tokenizer(cfg)
    assert second.get_vocab_size() == 300
    assert token_cache_path(cfg, "train", first, "mlm", ".npy") != token_cache_path(cfg, "train", second, "mlm", ".npy")
    assert int(mlm_sequences(cfg, "train", second).max()) < 300


def test_a_proxy_run_trains_with_a_pretrained_tokenizer_and_logs_it(proxy_cfg, tmp_path):
    folder = save_folder(roberta_like(), tmp_path / "roberta")
    r = proxy("sa ffn", proxy_cfg("logger=wandb_offline", f"data.tokenizer.path={folder}"))
    assert r.state == "complete"
    run = json.loads(subprocess.run([WANDB, "leet", "inspect", "--summary", "--json", r.run_dir], capture_output=True,
                                    text=True, check=True).stdout)
    assert run["config"]["data"]["tokenizer"]["path"] == str(folder) and run["state"] == "finished"
    d = 32  # TINY's d_model: the embedding (tied to the decoder) and the decoder's bias hold the file's 601 tokens
    assert run["summary"]["model_params"] - run["summary"]["params"] == d * d + d + 2 * d + 601
