import pytest
import torch

from layernas.search_space import (
    Architecture,
    MaskedLM,
    ModelConfig,
    SequenceClassifier,
    build_encoder,
    build_layer,
)


@pytest.mark.parametrize("position", ["rotary", "learned", "sinusoidal", "none"])
def test_encoder_shapes_and_backward(position):
    torch.manual_seed(0)
    arch = Architecture.parse("sdconv(k=9) ffn sa ffn bsa(b=4) ffn mixed lconv dconv", d_model=32)
    model = MaskedLM(build_encoder(arch, vocab_size=97, max_len=48, position=position))
    ids = torch.randint(0, 97, (3, 30))
    mask = torch.ones(3, 30, dtype=torch.long)
    mask[2, 11:] = 0
    assert model.encoder(ids, mask).shape == (3, 30, 32)
    selected = torch.zeros(3, 30, dtype=torch.bool)
    selected[:, ::5] = True
    logits = model(ids, mask, positions=selected)
    assert logits.shape == (18, 97)
    logits.logsumexp(-1).mean().backward()
    assert model.encoder.embed.weight.grad is not None


def test_mlm_decoder_is_tied_to_the_input_embedding():
    model = MaskedLM(build_encoder("sa ffn", vocab_size=50, max_len=16, d_model=32))
    assert model.head.embedding.weight is model.encoder.embed.weight


def test_classifier_pools_only_real_tokens():
    torch.manual_seed(0)
    model = SequenceClassifier(build_encoder("lconv(k=3) ffn", vocab_size=50, max_len=16, d_model=32,
                                             dropout=0.0), n_classes=2).eval()
    ids = torch.randint(0, 50, (1, 10))
    mask = torch.ones(1, 10, dtype=torch.bool)
    mask[0, 6:] = False
    other = ids.clone()
    other[0, 6:] = 7
    torch.testing.assert_close(model(ids, mask), model(other, mask), atol=0, rtol=0)


def test_build_encoder_takes_d_model_from_the_architecture():
    arch = Architecture.parse("sa ffn", d_model=48)
    assert build_encoder(arch, 10, 8).config.d_model == 48
    with pytest.raises(ValueError, match="d_model=64 differs"):
        build_encoder(arch, 10, 8, d_model=64)
    with pytest.raises(ValueError, match="h=5 must divide d_model=128"):
        build_encoder("sa(h=5)", 10, 8)


def test_a_model_config_and_the_same_settings_as_keywords_build_the_same_encoder():
    config = ModelConfig(d_model=32, n_heads=2, position="learned", dropout=0.0)
    torch.manual_seed(0)
    from_config = build_encoder("sa ffn dconv", 20, 8, config)
    torch.manual_seed(0)
    from_keywords = build_encoder("sa ffn dconv", vocab_size=20, max_len=8, d_model=32, n_heads=2,
                                  position="learned", dropout=0.0)
    assert from_config.config == from_keywords.config == config
    assert str(from_config.arch) == str(from_keywords.arch) == "sa(h=2) ffn(r=4) dconv(k=9,h=2)"
    for a, b in zip(from_config.state_dict().values(), from_keywords.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0)
    with pytest.raises(TypeError, match="give a ModelConfig or model settings, not both"):
        build_encoder("sa", 20, 8, config, dropout=0.1)
    with pytest.raises(ValueError, match="d_model=32 differs from the architecture's d_model=48"):
        build_encoder(Architecture.parse("sa", d_model=48), 20, 8, config)


def test_model_config_from_dict_keeps_n_sublayers_and_refuses_unknown_keys():
    assert ModelConfig.from_dict({"d_model": 32, "n_sublayers": 4}).n_sublayers == 4
    assert ModelConfig.from_dict(ModelConfig(n_sublayers=6).to_dict()) == ModelConfig(n_sublayers=6)
    with pytest.raises(ValueError, match=r"^unknown model key 'n_layers'; allowed: attn_dropout, d_model, dropout, "
                                         r"ffn_ratio, head_ratio, identity_heads, kernel_size, n_blocks, n_heads, "
                                         r"n_sublayers, norm_eps, position, position_buckets, segments, "
                                         r"weight_dropout$"):
        ModelConfig.from_dict({"d_model": 32, "n_layers": 4})
    with pytest.raises(ValueError, match="n_sublayers=0 must be a positive integer"):
        ModelConfig.from_dict({"n_sublayers": 0})


def test_sequence_longer_than_the_position_table_is_refused():
    enc = build_encoder("sa", vocab_size=10, max_len=8, d_model=32, position="learned")
    with pytest.raises(ValueError, match="exceeds max_len=8"):
        enc(torch.zeros(1, 9, dtype=torch.long))


@pytest.mark.parametrize(("field", "value", "match"), [
    ("position", "alibi", "position='alibi' is not allowed; allowed: rotary, learned, sinusoidal, none"),
    ("d_model", 0, "d_model=0 must be a positive integer"),
    ("dropout", 1.5, r"dropout=1.5 must be in \[0, 1\)"),
])
def test_model_config_errors_name_the_value(field, value, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**{field: value})


def test_rotary_needs_an_even_head_dimension():
    with pytest.raises(ValueError, match="even head dimension"):
        build_layer("sa(h=4)", d_model=36, position="rotary")
    build_layer("sa(h=4)", d_model=36, position="none")


def test_rotary_makes_attention_order_aware():
    torch.manual_seed(0)
    x = torch.randn(1, 6, 32)
    perm = torch.tensor([5, 4, 3, 2, 1, 0])
    plain = build_layer("sa", d_model=32, position="none").eval()
    assert torch.allclose(plain(x)[:, perm], plain(x[:, perm]), atol=1e-5)  # permutation-equivariant
    rot = build_layer("sa", d_model=32, position="rotary").eval()
    assert not torch.allclose(rot(x)[:, perm], rot(x[:, perm]), atol=1e-3)


def test_float64_and_train_mode_run():
    enc = build_encoder("mixed ffn bsa(b=2) dconv", vocab_size=30, max_len=16, d_model=32,
                        attn_dropout=0.1, weight_dropout=0.1).double().train()
    out = enc(torch.randint(0, 30, (2, 16)))
    assert out.dtype == torch.float64 and torch.isfinite(out).all()
