"""A pretrained tokenizer (``data.tokenizer.path``): a ``tokenizer.json`` file, or a Hugging Face tokenizer
folder holding one, used instead of training a tokenizer.

This package relies on the special tokens having the ids 0..4 ([PAD], [UNK], [CLS], [SEP], [MASK]; see
``tokenizer.py``). A pretrained tokenizer keeps its own tokens for those roles (``<pad>``, ``<s>``, ...: a
folder's ``special_tokens_map.json`` or ``tokenizer_config.json`` names them; a bare file uses BERT's or
RoBERTa's names) and is renumbered: the five role tokens first, in that order, then every other token in its
old order. Tokenization does not change, only the ids (the vocabulary size is the file's). A tokenizer written
by ``layernas export`` already has that order and comes back unchanged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tokenizers import Tokenizer, processors

from layernas.trainer.data.special import CLS_ID, SEP_ID, check_special_ids

ROLES = ("pad", "unk", "cls", "sep", "mask")  # in the order of SPECIAL_IDS
KNOWN_NAMES = {"pad": ("[PAD]", "<pad>"), "unk": ("[UNK]", "<unk>"), "cls": ("[CLS]", "<s>"),
               "sep": ("[SEP]", "</s>"), "mask": ("[MASK]", "<mask>")}
NAMING_FILES = ("special_tokens_map.json", "tokenizer_config.json")  # the folder's names for the roles


def tokenizer_file(path: str | os.PathLike) -> Path:
    """The tokenizer.json that ``path`` names (the file itself, or the one in a folder); one-line errors."""
    given = Path(os.path.expanduser(str(path)))
    file = given / "tokenizer.json" if given.is_dir() else given
    if not file.is_file():
        what = "a folder without tokenizer.json" if given.is_dir() else "not found"
        raise FileNotFoundError(f"data.tokenizer.path='{path}' is {what}; allowed: a tokenizer.json file or a "
                                "Hugging Face tokenizer folder holding one")
    return file


def load_pretrained(path: str | os.PathLike) -> Tokenizer:
    """The tokenizer at ``path`` with its role tokens renumbered to the ids this package uses."""
    file = tokenizer_file(path)
    try:
        tokenizer = Tokenizer.from_file(str(file))
    except Exception as err:  # tokenizers raises a bare Exception for a file it cannot read
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"data.tokenizer.path='{path}': {file} is not a tokenizers JSON file ({reason})") from None
    tokens = role_tokens(tokenizer, folder_names(file.parent), path)
    renumbered = renumber(tokenizer, tokens)
    check_special_ids(renumbered)
    return renumbered


def folder_names(folder: Path) -> dict[str, str]:
    """The role tokens a Hugging Face folder names (``cls_token`` ...), from its json files."""
    names: dict[str, str] = {}
    for file in NAMING_FILES:
        try:
            doc = json.loads((folder / file).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for role in ROLES:
            value = doc.get(f"{role}_token") if isinstance(doc, dict) else None
            value = value.get("content") if isinstance(value, dict) else value  # an AddedToken's fields
            if isinstance(value, str) and role not in names:
                names[role] = value
    return names


def role_tokens(tokenizer: Tokenizer, named: dict[str, str], path) -> list[str]:
    """The token of each role, in ROLES order; one line naming the first role the tokenizer lacks."""
    tokens = []
    for role in ROLES:
        candidates = (named[role],) if role in named else KNOWN_NAMES[role]
        found = next((t for t in candidates if tokenizer.token_to_id(t) is not None), None)
        if found is None:
            shown = " or ".join(candidates)
            raise ValueError(f"data.tokenizer.path='{path}' has no {role} token ({shown} is not in its vocabulary); "
                             f"allowed: a tokenizer with all of {', '.join(ROLES)} tokens (a folder's "
                             f"special_tokens_map.json may name them)")
        tokens.append(found)
    if len(set(tokens)) < len(tokens):
        roles = dict(zip(ROLES, tokens, strict=True))
        raise ValueError(f"data.tokenizer.path='{path}' uses one token for two roles ({roles}); allowed: five "
                         "distinct tokens")
    return tokens


def renumber(tokenizer: Tokenizer, tokens: list[str]) -> Tokenizer:
    """The same tokenizer with ``tokens`` at ids 0..4 and every other token after them in its old order; its
    template adds the cls and sep tokens (for users of the saved file; this package adds them itself)."""
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    order = tokens + sorted((t for t in vocab if t not in tokens), key=vocab.__getitem__)
    doc = json.loads(tokenizer.to_str())
    doc["model"]["vocab"] = _model_vocab(doc["model"], order)
    if doc["model"].get("unk_id") is not None:  # Unigram names its unknown token by id
        doc["model"]["unk_id"] = order.index(tokenizer.id_to_token(doc["model"]["unk_id"]))
    for added in doc.get("added_tokens") or []:
        added["id"] = order.index(added["content"])
    doc["truncation"] = doc["padding"] = None  # documents are cut and padded by this package
    result = Tokenizer.from_str(json.dumps(doc))
    result.add_special_tokens(tokens)  # the role tokens are special tokens (already in the vocabulary: same ids)
    cls, sep = tokens[CLS_ID], tokens[SEP_ID]
    result.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}", pair=f"{cls} $A {sep} $B:1 {sep}:1",
        special_tokens=[(cls, CLS_ID), (sep, SEP_ID)])
    return result


def _model_vocab(model: dict, order: list[str]):
    """The model's vocabulary holding every token at its place in ``order`` (added tokens too, so no id is a
    gap): a token -> id map (WordPiece, WordLevel, BPE, whose merges name tokens, not ids), or Unigram's list
    of (piece, score) whose position is the id (an added token scores 0: the added vocabulary matches it
    before the model)."""
    if isinstance(model.get("vocab"), dict):
        return {token: i for i, token in enumerate(order)}
    if isinstance(model.get("vocab"), list):
        scores = {piece: score for piece, score in model["vocab"]}
        return [[token, scores.get(token, 0.0)] for token in order]
    raise ValueError(f"a tokenizer model of type {model.get('type')!r} is not supported; allowed: WordPiece, "
                     "WordLevel, BPE, Unigram")
