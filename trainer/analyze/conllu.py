"""Dependency relations in attention heads (Htut et al. 2019, "Do Attention Heads in BERT Track Syntactic
Dependencies?", the maximum-attention method), read from a CoNLL-U file.

Words become word pieces with the model's tokenizer (each word separately, so alignment is exact).
Word-level attention follows Clark et al. 2019 (section 4.1), which Htut et al. use too: attention *to* a
word is the sum over its pieces, attention *from* a word the mean over its pieces; special tokens drop
out. A head predicts, for each dependent word, the other word it attends to most; per relation (the
universal relation, the part of DEPREL before ':'), the best head's accuracy is set beside the
positional baseline: the accuracy of the relation's most common relative offset of the head word.
Relations to the root are not scored. Sentences longer than the model's inputs are left out and counted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from layernas.search_space.attention_maps import capture
from layernas.trainer.analyze.capture import sublayer_of
from layernas.trainer.analyze.inputs import InputFormat, batches

ALL = "all"  # every scored dependency together


@dataclass(frozen=True)
class Sentence:
    """Words with their (1-based) head word, 0 for the root, and universal relation."""

    words: tuple[str, ...]
    heads: tuple[int, ...]
    relations: tuple[str, ...]


def _bad(path: Path, line: int, why: str) -> ValueError:
    return ValueError(f"analyze.conllu={str(path)!r} line {line}: {why}; allowed: CoNLL-U (10 tab-separated "
                      "fields per word line, integer ID and HEAD, blank lines between sentences)")


def read_conllu(path: str | Path) -> list[Sentence]:
    """The sentences of a CoNLL-U file (multi-word token ranges and empty nodes are skipped)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"analyze.conllu={str(path)!r} is not a file; allowed: the path of a CoNLL-U file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"analyze.conllu={str(path)!r} is not UTF-8 text ({e.reason} at byte {e.start}); "
                         "allowed: a UTF-8 CoNLL-U file") from None
    sentences, words, start = [], [], 1
    for number, line in enumerate([*text.splitlines(), ""], 1):
        if not line.strip():
            if words:
                sentences.append(_sentence(path, start, words))
            words, start = [], number + 1
            continue
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 10:
            raise _bad(path, number, f"{len(fields)} fields")
        if "-" in fields[0] or "." in fields[0]:
            continue  # a multi-word token's range, or an empty node: not a word of the tree
        if not fields[0].isdigit() or not fields[6].isdigit():
            raise _bad(path, number, f"ID {fields[0]!r} and HEAD {fields[6]!r} must be integers")
        words.append((int(fields[0]), fields[1], int(fields[6]), fields[7].split(":")[0]))
    if not sentences:
        raise ValueError(f"analyze.conllu={str(path)!r} has no sentence; allowed: a CoNLL-U file with at least one")
    return sentences


def _sentence(path: Path, line: int, words: list[tuple]) -> Sentence:
    ids = [w[0] for w in words]
    if ids != list(range(1, len(ids) + 1)):
        raise _bad(path, line, f"word IDs {ids[:6]} are not 1, 2, 3, ...")
    if any(w[2] > len(words) for w in words):
        raise _bad(path, line, f"a HEAD points past the sentence's {len(words)} words")
    return Sentence(tuple(w[1] for w in words), tuple(w[2] for w in words), tuple(w[3] for w in words))


@dataclass(frozen=True)
class Aligned:
    """A sentence as model input: ``ids``, and ``word_of`` each position's word index (-1: special)."""

    sentence: Sentence
    ids: list[int]
    word_of: list[int]


def align(tokenizer, sentences: list[Sentence], fmt: InputFormat) -> tuple[list[Aligned], int]:
    """The sentences that fit the model's inputs, aligned to word pieces, and how many did not fit."""
    out, dropped = [], 0
    for s in sentences:
        enc = tokenizer.encode(list(s.words), is_pretokenized=True, add_special_tokens=False)
        word_ids = list(enc.word_ids)
        if len(enc.ids) > fmt.room or set(word_ids) != set(range(len(s.words))):
            dropped += 1  # too long, or a word the tokenizer reads as nothing
            continue
        word_of = [-1] * fmt.offset + word_ids + [-1]
        out.append(Aligned(s, fmt.wrap(enc.ids), word_of))
    return out, dropped


def word_attention(probs: torch.Tensor, word_of: list[int], n_words: int) -> torch.Tensor:
    """(h, T, T) token attention of one sentence -> (h, W, W) word attention (mean over the query word's
    pieces, sum over the key word's pieces; other positions, padding and special tokens, drop out)."""
    T = probs.shape[-1]
    member = torch.zeros(n_words, T, dtype=probs.dtype, device=probs.device)  # (W, T)
    for position, word in enumerate(word_of[:T]):
        if word >= 0:
            member[word, position] = 1.0
    mean_from = member / member.sum(-1, keepdim=True)
    return mean_from @ probs @ member.T  # (h, W, W)


def positional_baseline(sentences: list[Sentence]) -> dict[str, dict]:
    """Per relation: the most common offset (head - dependent) and the share of dependencies it predicts."""
    offsets: dict[str, Counter] = {}
    for s in sentences:
        for dep, (head, rel) in enumerate(zip(s.heads, s.relations, strict=True), 1):
            if head:
                for name in (rel, ALL):
                    offsets.setdefault(name, Counter())[head - dep] += 1
    out = {}
    for rel, counts in offsets.items():
        offset, hits = max(counts.items(), key=lambda kv: (kv[1], -abs(kv[0]), kv[0]))
        out[rel] = {"offset": offset, "accuracy": hits / sum(counts.values()), "count": sum(counts.values())}
    return out


@torch.no_grad()
def head_accuracy(encoder, aligned: list[Aligned], batch_size: int,
                  width: int | None = None) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, int]]:
    """Per attention module and relation, each head's number of correct predictions (h,), and per
    relation the number of dependencies scored; sentences padded to ``width`` (see :mod:`.inputs`)."""
    device = next(encoder.parameters()).device
    encoder.eval()
    correct: dict[str, dict[str, torch.Tensor]] = {}
    totals: Counter = Counter()
    for s in aligned:
        for head, rel in zip(s.sentence.heads, s.sentence.relations, strict=True):
            if head:
                totals[rel] += 1
                totals[ALL] += 1
    with capture(encoder, kernels=False) as seen:
        chunks = batches([a.ids for a in aligned], batch_size, width)
        for first, batch in zip(range(0, len(aligned), batch_size), chunks, strict=True):
            seen.clear()
            encoder(batch.ids.to(device), batch.real.to(device))
            for name, probs in seen.maps.items():
                per_rel = correct.setdefault(name, {})
                for row, a in enumerate(aligned[first:first + batch_size]):
                    _score(probs[row], a, per_rel)
    return correct, dict(totals)


def _score(probs: torch.Tensor, a: Aligned, per_rel: dict[str, torch.Tensor]) -> None:
    n_words = len(a.sentence.words)
    words = word_attention(probs.double().cpu(), a.word_of, n_words)  # (h, W, W)
    words = words.masked_fill(torch.eye(n_words, dtype=torch.bool), float("-inf"))  # never the word itself
    predicted = words.argmax(dim=-1)  # (h, W): the word each dependent attends to most
    for dep, (head, rel) in enumerate(zip(a.sentence.heads, a.sentence.relations, strict=True)):
        if not head:
            continue
        hit = (predicted[:, dep] == head - 1).double()
        for name in (rel, ALL):
            per_rel[name] = per_rel.get(name, torch.zeros_like(hit)) + hit


def dependency_table(encoder, tokenizer, sentences: list[Sentence], fmt: InputFormat, batch_size: int) -> dict:
    """Htut et al.'s table: per relation, its count, the best head (sublayer, op, head) and its accuracy,
    and the positional baseline; sorted by count, ``all`` first."""
    aligned, dropped = align(tokenizer, sentences, fmt)
    if not aligned:
        raise ValueError(f"no sentence of analyze.conllu fits the model's inputs ({dropped} longer than "
                         f"{fmt.room} word pieces); allowed: sentences of at most {fmt.room} word pieces")
    correct, totals = head_accuracy(encoder, aligned, batch_size, fmt.seq_len)
    baseline = positional_baseline([a.sentence for a in aligned])
    rows = []
    for rel in sorted(totals, key=lambda r: (r != ALL, -totals[r], r)):
        best = max(((hits[rel] / totals[rel], name) for name, hits in correct.items() if rel in hits),
                   key=lambda t: float(t[0].max()), default=None)
        row = {"relation": rel, "count": totals[rel], "baseline_offset": baseline[rel]["offset"],
               "baseline": baseline[rel]["accuracy"]}
        if best is not None:
            accuracy, name = best
            i = sublayer_of(name)
            row.update(sublayer=i, op=str(encoder.arch[i]), head=int(accuracy.argmax()),
                       accuracy=float(accuracy.max()))
        rows.append(row)
    return {"sentences": len(aligned), "dropped": dropped, "relations": rows}
