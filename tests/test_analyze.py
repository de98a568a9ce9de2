"""``layernas analyze``: each measure against hand-computed attention maps and kernels (padding ignored),
the captured maps against the fused path for every attention op, Htut et al.'s dependency scoring on a
CoNLL-U fixture, and the command end to end on ``experiment=smoke`` (proxy-trained and retrained weights,
its W&B run, its one-line errors)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from layernas.search_space import OPS, build_encoder, build_layer
from layernas.search_space.attention_maps import attention_modules, capture
from layernas.search_space.ops import convolution
from layernas.search_space.ops.functional import merge_heads, split_heads, zero_padding
from layernas.trainer.analyze.capture import measure
from layernas.trainer.analyze.conllu import Aligned, _score, align, positional_baseline, read_conllu, word_attention
from layernas.trainer.analyze.inputs import InputFormat, batches
from layernas.trainer.analyze.measures import AttentionStats, KernelStats
from layernas.trainer.data.tokenizer import CLS_ID, PAD_ID, SEP_ID
from tests.conftest import TINY
from tests.helpers import WANDB, op_example

ROOT = Path(__file__).resolve().parents[1]
ATTENTION_OPS = sorted(n for n, op in OPS.items() if callable(getattr(op.build, "attention_probs", None)))
ATTENTION_SPECS = ["sa(h=4)", "bsa(b=2,h=4)", "bsa(b=3,h=4)", "bsa(b=4,h=4,i=1)", "mixed(k=3,h=4,hr=2)",
                   "mixed(k=5,h=4,hr=1)"]
ATTENTION_SPECS += [op_example(n) for n in ATTENTION_OPS if n not in ("sa", "bsa", "mixed")]  # any new attention op


def attention(probs, real=None, tokens=None, spans=(3, 5)):
    real = torch.ones(probs.shape[0], probs.shape[-1], dtype=torch.bool) if real is None else real
    stats = AttentionStats(probs.shape[1], list(spans))
    stats.add(probs.double(), real, tokens)
    return {k: v[0] if len(v) == 1 else v for k, v in stats.result().items()}


# --- measures on hand-computed maps -------------------------------------------------------------------------

def test_an_identity_map_has_distance_0_self_share_1_and_no_entropy():
    m = attention(torch.eye(5)[None, None])
    assert m["distance"] == 0 and m["self"] == 1 and m["entropy"] == 0 and m["window3"] == 1
    assert m["prev"] == 0 and m["next"] == 0 and m["rows"] == 5
    assert m["uniform/self"] == pytest.approx(1 / 5) and m["uniform/entropy"] == pytest.approx(math.log(5))


def test_a_uniform_map_has_the_known_entropy_distance_and_window_shares():
    m = attention(torch.full((1, 1, 4, 4), 0.25))
    assert m["entropy"] == pytest.approx(math.log(4), abs=1e-12)
    assert m["distance"] == pytest.approx((1.5 + 1 + 1 + 1.5) / 4)  # mean |i - j| of each row, by hand
    assert m["self"] == m["prev"] == m["next"] == pytest.approx(0.25)
    assert m["window3"] == pytest.approx((0.5 + 0.75 + 0.75 + 0.5) / 4)  # keys within 1 of the query
    assert m["window5"] == pytest.approx((0.75 + 1 + 1 + 0.75) / 4)
    for name in ("entropy", "distance", "self", "window3", "window5"):
        assert m[f"uniform/{name}"] == pytest.approx(m[name])  # the reference is this very map


def test_padding_gets_no_mass_and_is_not_counted():
    """A map that spreads mass over two padded keys, with garbage in the padded query rows, measures as
    the uniform map of the four real tokens."""
    probs = torch.full((1, 1, 6, 6), 1 / 6)
    probs[0, 0, 4:] = torch.eye(6)[4:] * 7
    real = torch.tensor([[True] * 4 + [False] * 2])
    padded, plain = attention(probs, real), attention(torch.full((1, 1, 4, 4), 0.25))
    assert padded.keys() == plain.keys()
    for name, value in plain.items():
        assert padded[name] == pytest.approx(value, abs=1e-12, nan_ok=True), name
    assert padded["rows"] == 4


def test_an_empty_row_is_not_counted():
    """bsa gives a zero row to a query whose key block holds no real token: it is not a query that looked."""
    probs = torch.eye(3)[None, None].clone()
    probs[0, 0, 1] = 0
    m = attention(probs)
    assert m["rows"] == 2 and m["self"] == 1


def test_previous_token_and_special_token_shares():
    ids = torch.tensor([[CLS_ID, 7, 8, 9, SEP_ID]])
    tokens = {"cls": ids == CLS_ID, "sep": ids == SEP_ID}
    back = torch.zeros(1, 1, 5, 5)
    back[0, 0, 0, 0] = 1
    back[0, 0, torch.arange(1, 5), torch.arange(4)] = 1  # every query i >= 1 reads i - 1
    m = attention(back, tokens=tokens)
    assert m["prev"] == 1 and m["next"] == 0 and m["self"] == pytest.approx(1 / 5)
    assert m["distance"] == pytest.approx(4 / 5) and m["sep"] == 0
    assert m["cls"] == pytest.approx(2 / 5)  # [CLS] reads itself, and the token after it reads [CLS]
    to_sep = torch.zeros(1, 1, 5, 5)
    to_sep[..., 4] = 1
    m = attention(to_sep, tokens=tokens)
    assert m["sep"] == 1 and m["cls"] == 0 and m["distance"] == pytest.approx((4 + 3 + 2 + 1 + 0) / 5)
    assert m["uniform/sep"] == pytest.approx(1 / 5)
    no_cls = attention(to_sep, tokens={"cls": torch.zeros(1, 5, dtype=torch.bool), "sep": ids == SEP_ID})
    assert math.isnan(no_cls["cls"]) and no_cls["sep"] == 1  # a share of a token no input has: not measured


def test_a_map_two_tokens_ahead_lies_outside_span_3_and_inside_span_5():
    ahead = torch.zeros(1, 1, 6, 6)
    for i in range(6):
        ahead[0, 0, i, i + 2 if i < 4 else i] = 1
    m = attention(ahead)
    assert m["window3"] == pytest.approx(2 / 6) and m["window5"] == 1 and m["distance"] == pytest.approx(8 / 6)


def test_kernel_measures_by_hand_and_padded_positions_ignored():
    taps = torch.tensor([[0, 0, 1, 0, 0], [0.2] * 5, [0, 0.5, 0, 0.5, 0]], dtype=torch.float64)  # (h, k)
    kernel = taps.expand(1, 3, 3, 5).clone()  # (B, T, h, k)
    kernel[0, 2] = torch.tensor([1.0, 0, 0, 0, 0])  # a padded position's garbage
    stats = KernelStats(3, 5, [3])
    stats.add(kernel, torch.tensor([[True, True, False]]))
    m = stats.result()
    assert m["rows"] == [2, 2, 2]
    assert m["distance"] == pytest.approx([0, 1.2, 1]) and m["self"] == pytest.approx([1, 0.2, 0])
    assert m["entropy"] == pytest.approx([0, math.log(5), math.log(2)])
    assert m["prev"] == pytest.approx([0, 0.2, 0.5]) and m["next"] == pytest.approx([0, 0.2, 0.5])
    assert m["span"] == [1, 5, 3] and m["usage"] == pytest.approx([0.2, 1, 0.6])
    assert m["window3"] == pytest.approx([1, 0.6, 1]) and m["uniform/span"] == [5, 5, 5]


# --- the capture against the fused path ----------------------------------------------------------------------

def test_every_attention_op_of_the_registry_is_captured():
    assert {"sa", "bsa", "mixed"} <= set(ATTENTION_OPS)
    for name in ATTENTION_OPS:
        layer = build_layer(op_example(name), 32, n_heads=4)
        assert attention_modules(layer), name


def _inputs(T: int, dtype=torch.float64):
    torch.manual_seed(1)
    mask = torch.ones(3, T, dtype=torch.bool)
    mask[1, T - 4:] = False  # a ragged tail
    mask[2, :] = False  # nothing real
    return torch.randn(3, T, 32, dtype=dtype), mask


@pytest.mark.parametrize("T", [11, 12])
@pytest.mark.parametrize("spec", ATTENTION_SPECS)
@torch.no_grad()
def test_capturing_changes_no_output_and_the_probabilities_reproduce_attend(spec, T):
    torch.manual_seed(0)
    layer = build_layer(spec, 32, n_heads=4).double().eval()
    x, mask = _inputs(T)
    for m in (mask, None):
        plain = layer(x, m)
        with capture(layer) as seen:
            captured = layer(x, m)
        assert torch.equal(plain, captured)
        (probs,) = seen.maps.values()
        assert probs.shape[-2:] == (T, T)
        if m is not None:
            assert probs[..., ~mask[1]][1].abs().max() == 0  # no mass on padded keys
    assert not attention_modules(layer)["op"].__dict__.get("attend")  # the class's own attend is back
    op = layer.op
    heads = probs.shape[1]
    q, k, v = torch.randn(3, 3, heads, T, 8, dtype=torch.float64)
    for m in (mask, None):
        assert torch.allclose(op.attention_probs(q, k, m) @ v, op.attend(q, k, v, m), atol=1e-12, rtol=0)


@pytest.mark.parametrize("spec", ["sa(h=4)", "bsa(b=3,h=4)", "bsa(b=4,h=4,i=2)", "mixed(k=3,h=4,hr=2)"])
@torch.no_grad()
def test_the_captured_maps_are_the_ones_the_op_applied(spec):
    """probs @ v, with v the op's own value projection, rebuilds the op's output from the captured map."""
    torch.manual_seed(0)
    op = build_layer(spec, 32, n_heads=4).double().eval().op
    x, mask = _inputs(10)
    with capture(op) as seen:
        y = op(x, mask)
    probs = seen.maps[""]
    if hasattr(op, "qkv"):
        v = split_heads(op.qkv(x).chunk(3, dim=-1)[2], op.h)  # (B, h, T, d)
        rebuilt = op.out(merge_heads(probs @ v))
    else:  # mixed: the attention half beside the convolution half
        v = split_heads(op.value(x), op.n)
        rebuilt = op.out(torch.cat([merge_heads(probs @ v), op.span(x, op.query(x), mask)], dim=-1))
    real = mask.clone()
    real[2] = False  # an all-padding sequence: its outputs mean nothing
    assert torch.allclose(rebuilt[real], y[real], atol=1e-12, rtol=0)


@pytest.mark.parametrize("spec", ["dconv(k=5,h=4)", "sdconv(k=3,h=4)", "mixed(k=5,h=4,hr=2)", "lvconv(k=5,h=4)"])
@torch.no_grad()
def test_a_captured_kernel_is_the_one_the_convolution_applied(spec, monkeypatch):
    applied = []
    real_apply = convolution.apply_span_kernel

    def recording(u, kernel):
        applied.append(kernel)
        return real_apply(u, kernel)

    monkeypatch.setattr(convolution, "apply_span_kernel", recording)
    torch.manual_seed(0)
    layer = build_layer(spec, 32, n_heads=4).double().eval()
    x, mask = _inputs(9)
    plain = layer(x, mask)
    applied.clear()
    with capture(layer) as seen:
        assert torch.equal(layer(x, mask), plain)
    (kernel,) = seen.kernels.values()
    assert len(applied) == 1 and torch.equal(kernel, applied[0])
    assert torch.allclose(kernel.sum(-1), torch.ones(()).double())


@torch.no_grad()
def test_the_lightweight_kernel_rebuilds_the_convolution():
    torch.manual_seed(0)
    op = build_layer("lconv(k=5,h=4)", 32, n_heads=4).double().eval().op
    x, mask = _inputs(9)
    with capture(op) as seen:
        y = op(x, mask)
    u = zero_padding(F.glu(op.glu_in(x), dim=-1), mask)
    rebuilt = op.out(convolution.apply_span_kernel(u, seen.kernels[""]))
    assert torch.allclose(rebuilt, y, atol=1e-12, rtol=0)


@torch.no_grad()
def test_a_tied_sublayer_is_captured_at_each_of_its_positions():
    enc = build_encoder("sa(h=2) ffn sa(h=2)^ ffn^", 40, 16, d_model=16).double().eval()
    ids = torch.randint(5, 40, (2, 9))
    with capture(enc) as seen:
        enc(ids)
    assert sorted(seen.maps) == ["layers.0.op", "layers.2.op"]
    assert not torch.equal(seen.maps["layers.0.op"], seen.maps["layers.2.op"])  # the same weights, other inputs


DOCS = [[*torch.randint(5, 40, (int(n),), generator=torch.Generator().manual_seed(int(n))).tolist(), SEP_ID]
        for n in torch.randint(2, 15, (9,), generator=torch.Generator().manual_seed(0))]
SPECIAL = {"cls": CLS_ID, "sep": SEP_ID}


def same(a, b, tolerance: float = 0.0) -> None:
    assert [(p.sublayer, p.kind) for p in a] == [(p.sublayer, p.kind) for p in b]
    for x, y in zip(a, b, strict=True):
        for name, values in x.measures.items():
            assert values == pytest.approx(y.measures[name], abs=tolerance, rel=0, nan_ok=True), (x.sublayer, name)


def test_measures_repeat_exactly_and_do_not_depend_on_which_documents_share_a_batch():
    torch.manual_seed(0)
    enc = build_encoder("sa(h=2) ffn bsa(b=2,h=2) mixed(k=3,h=2,hr=1) dconv(k=3,h=2) lconv(k=3,h=2)", 40, 16,
                        d_model=16).double().eval()
    four = measure(enc, batches(DOCS, 4, 16), [3, 5], SPECIAL)
    assert [(p.sublayer, p.kind) for p in four] == [(0, "attention"), (2, "attention"), (3, "attention"),
                                                    (3, "convolution"), (4, "convolution"), (5, "convolution")]
    same(four, measure(enc, batches(DOCS, 4, 16), [3, 5], SPECIAL))
    same(four, measure(enc, batches(DOCS, 1, 16), [3, 5], SPECIAL), 1e-12)
    assert all(p.measures["rows"] == [sum(map(len, DOCS))] * p.heads for p in four if p.sublayer != 2)
    assert math.isnan(four[0].measures["cls"][0])  # no [CLS] in masked-LM inputs


def test_padded_documents_measure_as_the_unpadded_ones():
    """Each document alone at its own length (no padding: the unmasked kernels) against batches padded to
    the full length. (Not for bsa, whose blocks are cut from the padded length, as in training.)"""
    torch.manual_seed(0)
    enc = build_encoder("sa(h=2) ffn mixed(k=3,h=2,hr=1) dconv(k=3,h=2) lvconv(k=3,h=2)", 40, 16,
                        d_model=16).double().eval()
    same(measure(enc, batches(DOCS, 4, 16), [3, 9], SPECIAL), measure(enc, batches(DOCS, 1), [3, 9], SPECIAL), 1e-10)


def test_batches_pad_with_pad_and_mark_real_tokens():
    (batch,) = batches([[5, 6, SEP_ID], [7, SEP_ID]], 4)
    assert batch.ids.tolist() == [[5, 6, SEP_ID], [7, SEP_ID, PAD_ID]]
    assert batch.real.tolist() == [[True, True, True], [True, True, False]]
    assert InputFormat(cls=True, seq_len=4).wrap([5, 6, 7, 8]) == [CLS_ID, 5, 6, SEP_ID]
    assert InputFormat(cls=False, seq_len=4).wrap([5, 6, 7, 8]) == [5, 6, 7, SEP_ID]


# --- dependency relations (Htut et al.) ----------------------------------------------------------------------

CONLLU = """# sent_id = 1
# text = The cats sat.
1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_
2\tcats\tcat\tNOUN\tNNS\t_\t3\tnsubj\t_\t_
3\tsat\tsit\tVERB\tVBD\t_\t0\troot\t_\t_
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_

# sent_id = 2
1\tA\ta\tDET\tDT\t_\t2\tdet\t_\t_
2\tdog\tdog\tNOUN\tNN\t_\t3\tnsubj\t_\t_
3\tran\trun\tVERB\tVBD\t_\t0\troot\t_\t_
4\thome\thome\tADV\tNN\t_\t3\tobl:npmod\t_\t_
5\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_

# sent_id = 3
1\tCats\tcat\tNOUN\tNNS\t_\t4\tnsubj\t_\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tsleep\tsleep\tVERB\tVB\t_\t0\troot\t_\t_
"""


@pytest.fixture
def conllu_file(tmp_path) -> Path:
    path = tmp_path / "fixture.conllu"
    path.write_text(CONLLU)
    return path


def tiny_tokenizer():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    words = ["the", "cat", "##s", "sat", ".", "a", "dog", "ran", "home", "do", "n", "'", "t", "sleep"]
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tokenizer


def test_conllu_sentences_relations_and_the_positional_baseline(conllu_file):
    sentences = read_conllu(conllu_file)
    assert [s.words for s in sentences][2] == ("Cats", "do", "n't", "sleep")  # the 2-3 range is not a word
    assert sentences[1].relations[3] == "obl" and sentences[0].heads == (2, 3, 0, 3)
    base = positional_baseline(sentences)
    assert base["det"] == {"offset": 1, "accuracy": 1.0, "count": 2}
    assert base["nsubj"]["offset"] == 1 and base["nsubj"]["accuracy"] == pytest.approx(2 / 3)  # +1, +1, +3
    assert base["punct"]["offset"] == -1 and base["punct"]["accuracy"] == 0.5  # -1 and -2: the nearer wins the tie
    assert "root" not in base and base["all"]["count"] == 10  # 3 + 4 + 3 words that are not the root


def test_word_pieces_align_and_word_attention_sums_to_and_averages_from_a_word(conllu_file):
    sentences = read_conllu(conllu_file)
    aligned, dropped = align(tiny_tokenizer(), sentences, InputFormat(cls=True, seq_len=16))
    assert dropped == 0 and aligned[0].word_of == [-1, 0, 1, 1, 2, 3, -1]  # [CLS] the cat ##s sat . [SEP]
    assert aligned[2].word_of == [-1, 0, 0, 1, 2, 2, 2, 3, -1]  # cat ##s do n ' t sleep
    probs = torch.zeros(1, 7, 7, dtype=torch.float64)
    probs[0, 1, [2, 3]] = 0.5  # "the" -> both pieces of "cats"
    probs[0, 2, 4] = 1.0  # "cat" -> "sat"
    probs[0, 3, [4, 6]] = 0.5  # "##s" -> "sat" and [SEP], which drops out
    words = word_attention(probs, aligned[0].word_of, 4)
    assert words[0, 0, 1] == 1.0 and words[0, 1, 2] == pytest.approx(0.75) and words[0].sum() == pytest.approx(1.75)
    short, dropped = align(tiny_tokenizer(), sentences, InputFormat(cls=False, seq_len=6))
    assert dropped == 1 and len(short) == 2  # 5 pieces + [SEP] fit; the third sentence has 7 pieces


def test_a_head_pointing_every_dependent_to_its_head_scores_1():
    sentence = read_conllu_text(CONLLU)[0]  # The cats sat .
    a = Aligned(sentence, [0] * 6, [0, 1, 1, 2, 3, -1])
    gold = torch.zeros(6, 6, dtype=torch.float64)
    for position, word in enumerate(a.word_of):
        if word >= 0 and sentence.heads[word]:
            gold[position, a.word_of.index(sentence.heads[word] - 1)] = 1.0
    to_stop = torch.zeros(6, 6, dtype=torch.float64)
    to_stop[:, 4] = 1.0  # every piece reads "."
    to_stop[4] = torch.eye(6, dtype=torch.float64)[0]  # "." reads "The"
    per_rel = {}
    _score(torch.stack([gold, to_stop]), a, per_rel)
    assert per_rel["all"].tolist() == [3, 0] and per_rel["det"].tolist() == [1, 0]
    assert per_rel["nsubj"].tolist() == [1, 0] and per_rel["punct"].tolist() == [1, 0] and "root" not in per_rel


def read_conllu_text(text: str):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.conllu"
        path.write_text(text)
        return read_conllu(path)


@pytest.mark.parametrize(("text", "message"), [
    ("1\tThe\tthe\n", "line 1: 3 fields"),
    ("x\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n", "line 1: ID 'x' and HEAD '2' must be integers"),
    ("1\tThe\tthe\tDET\tDT\t_\t5\tdet\t_\t_\n", "a HEAD points past the sentence's 1 words"),
    ("# only a comment\n", "has no sentence"),
])
def test_a_bad_conllu_file_is_one_line(text, message):
    with pytest.raises(ValueError, match=message) as info:
        read_conllu_text(text)
    assert "\n" not in str(info.value)


# --- the command end to end ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def smoke_study(tmp_path_factory) -> Path:
    """``experiment=smoke`` at the test size: trial #0 the BERT order, #1 ConvBERT's mixed attention."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from layernas.trainer.apps.search import search
    from tests.conftest import CONF

    root = tmp_path_factory.mktemp("analyze") / "results"
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("search", overrides=["experiment=smoke", *TINY, f"results_dir={root}", "study.n_trials=2"])
    search(OmegaConf.to_container(cfg, resolve=True))
    return root


def analyze(results: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "layernas.trainer.cli", "analyze", "experiment=smoke",
                           f"results_dir={results}", "analyze.n_docs=40", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_analyze_trains_the_proxy_when_no_weights_exist_and_writes_its_report(smoke_study, conllu_file):
    out = analyze(smoke_study, "trial=1", f"analyze.conllu={conllu_file}", "logger=wandb_offline")
    assert out.returncode == 0, out.stderr
    folders = list((smoke_study / "smoke" / "analysis").iterdir())
    assert len(folders) == 1
    folder = folders[0]
    doc = json.loads((folder / "analysis.json").read_text())
    assert doc["arch"] == "mixed(k=9,h=4,hr=2) ffn(r=4) mixed(k=9,h=4,hr=2) ffn(r=4)" and doc["trial"] == 1
    assert doc["source"]["kind"] == "proxy" and doc["documents"] == 40 and doc["spans"] == [3, 5, 9, 15]
    assert [(p["sublayer"], p["kind"], p["heads"]) for p in doc["parts"]] == [
        (0, "attention", 2), (0, "convolution", 2), (2, "attention", 2), (2, "convolution", 2)]
    assert [s["sublayer"] for s in doc["skipped"]] == [1, 3]
    for p in doc["parts"]:
        assert p["measures"]["rows"] == [doc["tokens"]] * p["heads"]  # every real token, no padding
        assert all(0 <= v <= 1 + 1e-6 for m in ("self", "prev", "next", "window3") for v in p["measures"][m])
        assert p["measures"].get("cls", [None])[0] is None  # no [CLS] in masked-LM inputs: null, not a number
    relations = {r["relation"]: r for r in doc["dependencies"]["relations"]}
    assert doc["dependencies"]["sentences"] == 3 and relations["all"]["count"] == 10
    assert relations["det"]["baseline"] == 1.0 and 0 <= relations["nsubj"]["accuracy"] <= 1
    md = (folder / "analysis.md").read_text()
    assert "proxy run was trained" in md and "**mean distance (tokens)**" in md and "Htut et al." in md
    assert "`1 ffn(r=4)`: position-wise: no token mixing" in md and "share on [CLS]**: not measured" in md
    for name in ("attention_distance", "attention_window9", "convolution_usage"):
        assert (folder / "plots" / f"{name}.png").stat().st_size > 1000
        assert "plotly.min.js" in (folder / "plots" / f"{name}.html").read_text()
    assert (folder / "plots" / "plotly.min.js").stat().st_size > 1_000_000
    (run,) = (folder / "wandb").glob("offline-run-*")
    records = subprocess.run([WANDB, "leet", "inspect", "--json", str(run)], capture_output=True, text=True,
                             check=True).stdout
    assert '"job_type":"analysis"' in records and "plots/attention_distance" in records
    summary = json.loads(subprocess.run([WANDB, "leet", "inspect", "--summary", "--json", str(run)],
                                        capture_output=True, text=True, check=True).stdout)
    assert summary["name"] == f"smoke analysis {doc['key']}" and summary["state"] == "finished"


def test_analyze_reads_retrained_weights_and_repeats_exactly(smoke_study, tmp_path):
    import shutil

    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from layernas.trainer.retrain.plan import plan_retrain
    from layernas.trainer.retrain.train import retrain
    from tests.conftest import CONF

    results = tmp_path / "results"
    shutil.copytree(smoke_study / "smoke", results / "smoke", ignore=shutil.ignore_patterns("analysis"))
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("retrain", overrides=["experiment=smoke", f"results_dir={results}", "trial=0",
                                            "trainer.max_steps=4", "trainer.progress_bar=false", "logger=none"])
    key = retrain(plan_retrain(OmegaConf.to_container(cfg, resolve=True)))["key"]
    command = ["analyze", "experiment=smoke", f"results_dir={results}", "analyze.n_docs=40", "trial=0", "logger=none"]
    assert run_cli(command) == (0, "")  # in this process: the command line itself is tested above
    folder = results / "smoke" / "analysis" / key
    doc = json.loads((folder / "analysis.json").read_text())
    assert doc["source"]["kind"] == "retrained" and "model-seed0.safetensors" in doc["source"]["line"]
    assert "4 steps" in doc["source"]["line"]
    assert [p["kind"] for p in doc["parts"]] == ["attention", "attention"] and not (folder / "wandb").exists()
    assert run_cli(command) == (0, "")
    assert json.loads((folder / "analysis.json").read_text()) == doc


def run_cli(args: list[str]) -> tuple[int, str]:
    from layernas.trainer.cli import main

    argv, err, code = list(sys.argv), io.StringIO(), 0
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            main(args)
    except SystemExit as e:
        code = e.code
    finally:
        sys.argv = argv
    return code, err.getvalue()


ERRORS = [
    ("unknown study", ["study.name=ghost"], "error: study.name='ghost' has no study in "),
    ("a trial the study does not have", ["experiment=smoke", "trial=99"],
     "error: trial=99 is not a trial of study 'smoke' with an architecture; trials: 0..1"),
    ("an architecture with no attention", ["experiment=smoke", "arch=dconv(k=3) ffn"],
     "error: arch 'dconv(k=3,h=4) ffn(r=4)' has no sublayer with attention to analyse; allowed: an architecture "
     "with at least one of bsa, mixed, sa"),
    ("a CoNLL-U file that is not there", ["experiment=smoke", "analyze.conllu=/no/such.conllu"],
     "error: analyze.conllu='/no/such.conllu' is not a file; allowed: the path of a CoNLL-U file"),
    ("no documents", ["experiment=smoke", "analyze.n_docs=0"],
     "error: analyze.n_docs=0 is not allowed; allowed: an integer >= 1"),
    ("an unknown split", ["experiment=smoke", "analyze.split=dev"],
     "error: analyze.split='dev' is not allowed; allowed: train, validation, test"),
    ("an even window span", ["experiment=smoke", "analyze.spans=[4]"],
     "error: analyze.spans=[4] is not allowed; allowed: null (the study space's spans) or a non-empty list of odd "
     "integers >= 1 (e.g. [3,9])"),
]


@pytest.mark.parametrize(("what", "args", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_analyze_input_is_one_line_and_writes_nothing(what, args, message, smoke_study):
    before = sorted(smoke_study.rglob("*"))
    code, err = run_cli(["analyze", *args, f"results_dir={smoke_study}"])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(message.replace("bsa, mixed, sa", ", ".join(ATTENTION_OPS))), lines[0]
    assert sorted(smoke_study.rglob("*")) == before
