"""An exported network computes what layernas's model computes: the Hugging Face folder, loaded by transformers
in a process where ``import layernas`` fails, and the ONNX graph run by onnxruntime, for every op of the
registry, ALBERT sharing and the absolute position tables, with padding."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest
import torch
from tokenizers import Tokenizer, models

from layernas.search_space import OPS, MaskedLM, SequenceClassifier, build_encoder
from layernas.trainer.data.tokenizer import SPECIAL_TOKENS
from layernas.trainer.export.hf import write_hf
from tests.helpers import op_example

VOCAB, MAX_LEN, D = 40, 24, 16
# every op of the registry (beside an ffn), ALBERT's sharing, the absolute position tables, all ops in one network
CASES = {op: f"{op_example(op, D)} ffn(r=2)" for op in sorted(OPS)}
CASES |= {"albert": "sa(h=4) ffn(r=2) sa(h=4)^ ffn(r=2)^ sa(h=4)^", "learned": "sa ffn", "sinusoidal": "sa ffn",
          "every-op": " ".join(op_example(op, D) for op in sorted(OPS))}
POSITION = {"learned": "learned", "sinusoidal": "sinusoidal"}
HEADS = ("mlm", "classify")
ATOL = 1e-5


def make_model(case: str, head: str) -> torch.nn.Module:
    """A small model whose every weight is drawn from N(0, 0.3) (zero-initialised kernels and biases too)."""
    torch.manual_seed(0)
    encoder = build_encoder(CASES[case], VOCAB, MAX_LEN, d_model=D, n_heads=4, position=POSITION.get(case, "rotary"))
    model = MaskedLM(encoder) if head == "mlm" else SequenceClassifier(encoder, 3)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.3)
    return model.eval()


def inputs() -> dict[str, torch.Tensor]:
    """Two padded batches: the longest length and a shorter one."""
    g = torch.Generator().manual_seed(1)
    out = {}
    for T in (MAX_LEN, 13):
        ids = torch.randint(5, VOCAB, (3, T), generator=g)  # (3, T)
        mask = torch.ones(3, T, dtype=torch.long)
        mask[1, T // 2:] = 0
        mask[2, 3:] = 0
        out[f"ids{T}"], out[f"mask{T}"] = ids, mask
    return out


def word_tokenizer() -> Tokenizer:
    words = [*SPECIAL_TOKENS, *(f"w{i}" for i in range(VOCAB - len(SPECIAL_TOKENS)))]
    return Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))


# Runs with layernas unimportable; prints, per folder, the largest differences from layernas's outputs.
LOADER = textwrap.dedent("""
    import sys
    sys.modules["layernas"] = None  # as on a machine without layernas
    try:
        import layernas  # noqa: F401
        raise SystemExit("layernas is importable")
    except ImportError:
        pass
    import importlib, json
    from pathlib import Path
    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification

    root = Path(sys.argv[1])
    io = torch.load(root / "io.pt")
    report = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        expected = torch.load(folder / "expected.pt")
        config = AutoConfig.from_pretrained(folder, trust_remote_code=True)
        head = AutoModelForMaskedLM if config.task == "mlm" else AutoModelForSequenceClassification
        model = head.from_pretrained(folder, trust_remote_code=True).eval()
        base = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
        model.save_pretrained(root / "resaved" / folder.name)
        again = head.from_pretrained(root / "resaved" / folder.name, trust_remote_code=True).eval()
        worst = {"logits": 0.0, "hidden": 0.0, "resaved": 0.0}
        with torch.no_grad():
            for T in (24, 13):
                ids, mask = io[f"ids{T}"], io[f"mask{T}"]
                logits = model(input_ids=ids, attention_mask=mask).logits
                hidden = base(input_ids=ids, attention_mask=mask).last_hidden_state
                resaved = again(input_ids=ids, attention_mask=mask).logits
                for name, got in (("logits", logits), ("hidden", hidden), ("resaved", resaved)):
                    want = expected[f"hidden{T}" if name == "hidden" else f"logits{T}"]
                    worst[name] = max(worst[name], (got - want).abs().max().item())
        registry = importlib.import_module(type(model).__module__.rsplit(".", 1)[0] + ".layernas_ops").OPS
        report[folder.name] = {**worst, "ops": sorted(registry), "class": type(model).__name__,
                               "arch": config.arch, "layernas_gone": "layernas" not in str(type(model).__module__)}
    print(json.dumps(report))
""")


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict:
    """Every case and head exported to one folder each, then loaded by transformers in one clean process."""
    root = tmp_path_factory.mktemp("hf-exports")
    batches = inputs()
    torch.save(batches, root / "io.pt")
    for case in CASES:
        for head in HEADS:
            model, folder = make_model(case, head), root / f"{case}-{head}"
            folder.mkdir()
            write_hf(model, model.encoder.arch, word_tokenizer(), folder)
            expected = {}
            with torch.no_grad():
                for T in (MAX_LEN, 13):
                    ids, mask = batches[f"ids{T}"], batches[f"mask{T}"]
                    expected |= {f"logits{T}": model(ids, mask), f"hidden{T}": model.encoder(ids, mask)}
            torch.save(expected, folder / "expected.pt")
    run = subprocess.run([sys.executable, "-c", LOADER, str(root)], cwd=root, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    return {"root": root, "report": json.loads(run.stdout.strip().splitlines()[-1])}


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("case", list(CASES))
def test_transformers_without_layernas_gives_layernas_outputs(exported, case, head):
    got = exported["report"][f"{case}-{head}"]
    assert got["class"] == ("LayernasForMaskedLM" if head == "mlm" else "LayernasForSequenceClassification")
    assert got["logits"] <= ATOL and got["hidden"] <= ATOL, got  # the head's logits and the encoder's states
    assert got["resaved"] <= ATOL, got  # save_pretrained, then from_pretrained of what it wrote
    assert got["arch"] == str(make_model(case, head).encoder.arch)


@pytest.mark.parametrize("case", list(CASES))
def test_the_folder_holds_exactly_the_ops_the_network_uses(exported, case):
    folder = exported["root"] / f"{case}-mlm"
    arch = make_model(case, "mlm").encoder.arch
    used = {spec.op for spec in arch}
    assert exported["report"][f"{case}-mlm"]["ops"] == sorted(used)  # the loaded registry
    code = "\n".join(p.read_text() for p in folder.glob("*.py"))
    for name, op in OPS.items():
        needed = any(issubclass(OPS[u].build, op.build) for u in used)  # bsa's class extends sa's
        assert (f"class {op.build.__name__}(" in code) == needed, (name, sorted(p.name for p in folder.glob("*.py")))
    assert not re.search(r"^\s*(from|import)\s+(layernas|search_space|trainer)\b", code, re.M)  # only relative


def test_a_classifier_exported_as_a_masked_lm_and_back_keeps_the_encoder(exported):
    """Loading a folder with another task's class keeps the encoder and starts the new head as layernas would."""
    code = textwrap.dedent("""
        import sys, torch
        from transformers import AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification
        mlm, cls = sys.argv[1], sys.argv[2]
        clf = AutoModelForSequenceClassification.from_pretrained(mlm, trust_remote_code=True, num_labels=5)
        lm = AutoModelForMaskedLM.from_pretrained(cls, trust_remote_code=True)
        ids = torch.randint(5, 40, (2, 9))
        with torch.no_grad():
            same = (clf.layernas(ids).last_hidden_state - AutoModel.from_pretrained(mlm, trust_remote_code=True)(ids)
                    .last_hidden_state).abs().max().item()
        assert lm.head.bias.abs().max().item() == 0.0 and lm.head.embedding is lm.layernas.encoder.embed
        print(clf(ids).logits.shape[-1], same)
    """)
    root = exported["root"]
    run = subprocess.run([sys.executable, "-c", code, str(root / "sa-mlm"), str(root / "sa-classify")], cwd=root,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    labels, diff = run.stdout.split()
    assert int(labels) == 5 and float(diff) == 0.0


@pytest.mark.parametrize("case", list(CASES))
def test_onnxruntime_gives_torchs_outputs(case, tmp_path):
    from layernas.trainer.export.onnx_graph import PARITY_ATOL, parity, session, write_onnx

    model = make_model(case, "classify" if case == "albert" else "mlm")
    report = write_onnx(model, tmp_path, batch=2, runs=1)
    assert list(report["parity_max_abs"]) == [str(MAX_LEN // 2 + 1), str(MAX_LEN)]  # two lengths, padded batches
    assert max(report["parity_max_abs"].values()) <= PARITY_ATOL, report
    sess = session(tmp_path / "model.onnx", 1)
    again = parity(model, sess, [1, 7])  # lengths the export never saw, shorter than its traced one
    assert max(again.values()) <= PARITY_ATOL, again
    assert report["latency"]["torch_ms"] > 0 and report["latency"]["onnxruntime_ms"] > 0
