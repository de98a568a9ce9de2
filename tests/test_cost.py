import random
from types import SimpleNamespace

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from layernas.search_space import (
    OPS,
    Architecture,
    LayerSpec,
    MaskedLM,
    SequenceClassifier,
    build_encoder,
    build_layer,
    cost,
)
from layernas.search_space.config import POSITIONS
from layernas.search_space.cost import (
    classifier_head_params,
    count_params,
    encoder_params,
    flops,
    forward_latency_ms,
    measure_latency,
    mlm_head_params,
    op_flops,
    sublayer_params,
)
from layernas.search_space.ops import convolution
from tests.helpers import random_arch, random_spec, span_conv_as_matmul

ALL_OPS = sorted(OPS)


@pytest.fixture
def countable_span_conv(monkeypatch):
    """Span convolutions as a matrix product, so FlopCounterMode counts them."""
    monkeypatch.setattr(convolution, "apply_span_kernel", span_conv_as_matmul)


def test_span_conv_equals_its_matmul_form():
    u, kernel = torch.randn(2, 11, 12, dtype=torch.float64), torch.randn(2, 11, 3, 5, dtype=torch.float64)
    torch.testing.assert_close(convolution.apply_span_kernel(u, kernel), span_conv_as_matmul(u, kernel),
                               atol=1e-12, rtol=0)


@pytest.mark.parametrize("op", ALL_OPS)
@pytest.mark.parametrize("d_model", [32, 48])
def test_sublayer_params_equal_numel(op, d_model):
    rng = random.Random(op)
    for _ in range(5):
        spec = random_spec(rng, d_model, op)
        assert sublayer_params(spec, d_model) == count_params(build_layer(spec, d_model=d_model)), str(spec)


def flop_count(module, *inputs) -> int:
    # The math backend, because FlopCounterMode does not count the fused CPU attention kernel.
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        module(*inputs)
    return counter.get_total_flops()


@pytest.mark.parametrize("op", ALL_OPS)
@pytest.mark.parametrize("T", [16, 37])
def test_op_flops_equal_torch_flop_counter(op, T, countable_span_conv):
    rng = random.Random(op)
    for _ in range(3):
        spec = random_spec(rng, 32, op)
        layer = build_layer(spec, d_model=32, position="none")
        assert op_flops(spec, T, 32) == flop_count(layer.op, torch.randn(1, T, 32)), str(spec)


@pytest.mark.parametrize("position", POSITIONS)
def test_encoder_params_equal_numel(position):
    rng = random.Random(position)
    for _ in range(20):
        arch = random_arch(rng, d_model=32)
        enc = build_encoder(arch, vocab_size=101, max_len=40, position=position)
        assert encoder_params(arch, 101, 40, position=position) == count_params(enc), str(arch)
        mlm = MaskedLM(enc)
        assert encoder_params(arch, 101, 40, position=position) + mlm_head_params(32, 101) == count_params(mlm)
        clf = SequenceClassifier(build_encoder(arch, vocab_size=101, max_len=40, position=position), 3)
        assert count_params(clf) == encoder_params(arch, 101, 40, position=position) + classifier_head_params(32, 3)


def test_encoder_flops_are_the_sum_of_its_sublayers(countable_span_conv):
    arch = Architecture.parse("sa ffn bsa(b=4) ffn sdconv(k=9) mixed lconv dconv(k=3)", d_model=32)
    enc = build_encoder(arch, vocab_size=50, max_len=64, position="none")
    ids = torch.randint(0, 50, (1, 64))
    expected = flop_count(enc, ids)
    assert flops(arch, 64) == expected


def test_block_sparse_flops_scale_like_t_squared_over_b():
    d = 256
    sa, bsa = LayerSpec.parse("sa", d), LayerSpec.parse("bsa(b=4)", d)
    attn = lambda spec, T: op_flops(spec, T, d) - 8 * T * d * d  # noqa: E731  (projections removed)
    assert attn(bsa, 2048) * 4 == attn(sa, 2048)


def test_measure_latency_is_the_median_of_the_timed_repeats(monkeypatch):
    """A fake clock that each call advances by a known duration: the warm-up calls (8 s each) are not
    timed, and of 500, 125, 1000, 250 and 750 ms the result is the median, 500 (the mean would be 525)."""
    durations = iter([8.0, 8.0, 0.5, 0.125, 1.0, 0.25, 0.75])
    clock = [0.0]

    def call():
        clock[0] += next(durations)

    monkeypatch.setattr(cost, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    assert measure_latency(call, repeats=5, warmup=2) == 500.0
    assert next(durations, None) is None  # exactly warmup + repeats calls


def test_forward_latency_times_the_backward_pass_when_asked():
    layer = build_layer("sa", d_model=32)
    assert forward_latency_ms(layer, torch.randn(2, 8, 32), backward=True, repeats=2, warmup=1) > 0.0
    assert all(p.grad is not None for p in layer.parameters())
    layer = build_layer("sa", d_model=32)
    assert forward_latency_ms(layer, torch.randn(2, 8, 32), backward=True, repeats=2, warmup=1) > 0.0
