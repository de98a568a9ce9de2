"""The tokenizer of an exported network as transformers' ``PreTrainedTokenizerFast`` reads it: the
``tokenizers`` JSON the network was trained with, and its special tokens by role. ``data.tokenizer.path=<the
exported folder>`` reads it back with the same ids (see ``trainer/data/pretrained.py``)."""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer

from layernas.trainer.data.tokenizer import SPECIAL_IDS

ROLE_KEYS = ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token")  # the order of SPECIAL_IDS


def special_tokens(tokenizer: Tokenizer) -> dict[str, str]:
    """``{"pad_token": "[PAD]", ...}``: the tokens at this package's special ids."""
    return {key: tokenizer.id_to_token(i) for key, i in zip(ROLE_KEYS, SPECIAL_IDS, strict=True)}


def write_tokenizer(tokenizer: Tokenizer, folder: Path, max_len: int) -> list[str]:
    """tokenizer.json, tokenizer_config.json and special_tokens_map.json in ``folder``; returns their names."""
    roles = special_tokens(tokenizer)
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": max_len, **roles,
              "model_input_names": ["input_ids", "attention_mask"], "padding_side": "right",
              "clean_up_tokenization_spaces": False}
    (folder / "tokenizer.json").write_text(tokenizer.to_str(pretty=True), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (folder / "special_tokens_map.json").write_text(json.dumps(roles, indent=2) + "\n", encoding="utf-8")
    return ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
