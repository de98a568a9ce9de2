"""The special tokens and the ids this package relies on: [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4 (a
trained tokenizer has them first in its vocabulary; a pretrained one is renumbered to match, see
``pretrained.py``)."""

from __future__ import annotations

from tokenizers import Tokenizer

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(len(SPECIAL_TOKENS))
SPECIAL_IDS = (PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID)


def check_special_ids(tokenizer: Tokenizer) -> None:
    """Raise ValueError unless the special tokens have the ids this package relies on (for a pretrained
    tokenizer, its own special tokens of those roles: see ``pretrained.py``)."""
    found = [tokenizer.token_to_id(token) for token in SPECIAL_TOKENS]
    added = tokenizer.get_added_tokens_decoder()
    renumbered = all(i in added and added[i].special for i in SPECIAL_IDS)
    if found != list(SPECIAL_IDS) and not renumbered:
        raise ValueError(f"tokenizer special ids {dict(zip(SPECIAL_TOKENS, found, strict=True))} are not allowed; "
                         f"allowed: {dict(zip(SPECIAL_TOKENS, SPECIAL_IDS, strict=True))}")
