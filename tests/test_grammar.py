import random

import pytest

from layernas.search_space import OPS, Architecture, LayerSpec
from tests.helpers import random_arch


def test_canonical_string_writes_every_key_in_registry_order():
    a = Architecture.parse("sdconv(k=9) ffn sa ffn bsa(b=4) ffn(r=2)", d_model=128, n_heads=4)
    assert str(a) == "sdconv(k=9,h=4) ffn(r=4) sa(h=4) ffn(r=4) bsa(b=4,h=4,i=1) ffn(r=2)"
    assert a.d_model == 128 and len(a) == 6


def test_defaults_come_from_the_model_settings():
    a = Architecture.parse("sa dconv mixed ffn bsa", n_heads=2, kernel_size=5, ffn_ratio=3, n_blocks=4,
                           head_ratio=1)
    assert str(a) == "sa(h=2) dconv(k=5,h=2) mixed(k=5,h=2,hr=1) ffn(r=3) bsa(b=4,h=2,i=1)"


def test_whitespace_and_key_order_do_not_matter():
    a = Architecture.parse("  mixed( hr=1 , k=3,h=2 )\n\tffn(r=1)  ")
    assert str(a) == "mixed(k=3,h=2,hr=1) ffn(r=1)"


def test_round_trip_1000_random_architectures():
    rng = random.Random(0)
    seen_ops = set()
    for _ in range(1000):
        a = random_arch(rng)
        seen_ops |= {s.op for s in a}
        assert Architecture.parse(str(a)) == a
        assert Architecture.from_dict(a.to_dict()) == a
        assert Architecture.parse([str(s) for s in a]) == a
    assert seen_ops == set(OPS)


def test_round_trip_keeps_d_model():
    rng = random.Random(1)
    for _ in range(200):
        a = random_arch(rng, d_model=64)
        assert Architecture.parse(str(a), d_model=64) == a
        assert Architecture.from_dict(a.to_dict()) == a


def test_key_identifies_networks():
    a = Architecture.parse("sa(h=4) ffn", d_model=64)
    assert a.key() == Architecture.parse("bsa(b=1,h=4) ffn(r=4)", d_model=64).key()
    assert a.key() != Architecture.parse("bsa(b=2,h=4) ffn", d_model=64).key()
    assert a.key() != Architecture.parse("sa(h=4) ffn", d_model=128).key()
    assert a.key() != Architecture.parse("ffn sa(h=4)", d_model=64).key()
    assert len(a.key()) == 12


def test_flat_view_for_trackers():
    flat = Architecture.parse("sdconv(k=9,h=4) ffn(r=2)").flat()
    assert flat == {"l00/op": "sdconv", "l00/k": 9, "l00/h": 4, "l01/op": "ffn", "l01/r": 2}


BAD = [
    ("sa conv ffn", 64, "unknown op 'conv'", f"allowed ops: {', '.join(sorted(OPS))}"),
    ("sa(q=1)", 64, "unknown key 'q'", "keys allowed for sa: h"),
    ("sdconv(k=4)", 64, "k=4", "odd integer"),
    ("sa(h=3)", 64, "h=3", "divide d_model=64"),
    ("ffn(r=1.5)", 64, "r='1.5'", "not an integer"),
    ("", 64, "empty architecture", "at least one sublayer"),
    ("sa(h=4 ffn", 64, "unclosed '('", "sa(h=4 ffn"),
    ("sa(h=2,h=4)", 64, "key 'h' given twice", "sa(h=2,h=4)"),
    ("mixed(h=4,hr=3)", 64, "hr=3", "must divide heads h=4"),
    ("bsa(b=0)", 64, "b=0", "integer >= 1"),
    ("sa(h=)", 64, "bad key=value 'h='", "key=integer"),
    ("sa((h=4))", 64, "nested parentheses", "sa((h=4))"),
    ("3sa ffn", 64, "bad sublayer '3sa'", "op(key=value,...)"),
    ("mixed(h=4,hr=1)", 68, "d_model=68", "2*h/hr=8"),
    ("lconv(k=-3)", 64, "k=-3", "odd integer >= 1"),
]


@pytest.mark.parametrize(("text", "d_model", "bad", "allowed"), BAD, ids=[b[0] or "empty" for b in BAD])
def test_bad_strings_give_one_line_errors(text, d_model, bad, allowed):
    with pytest.raises(ValueError) as info:
        Architecture.parse(text, d_model=d_model)
    message = str(info.value)
    assert "\n" not in message
    assert bad in message and allowed in message


def test_bad_default_is_named():
    with pytest.raises(ValueError, match="unknown default 'heads'"):
        Architecture.parse("sa", heads=4)


def test_layer_spec_make_validates_like_parse():
    assert LayerSpec.make("bsa", 64, b=2) == LayerSpec.parse("bsa(b=2)", 64)
    with pytest.raises(ValueError, match="unknown op 'attn'"):
        LayerSpec.make("attn", 64)


@pytest.mark.parametrize("op", sorted(OPS))
def test_every_op_has_an_example_that_sets_every_key(op):
    spec = LayerSpec.parse(OPS[op].example, d_model=32)
    assert spec.op == op and str(spec) == OPS[op].example and set(spec.kwargs) == set(OPS[op].key_names)
