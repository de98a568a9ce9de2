"""``export.format=onnx``: ``torch.onnx.export`` of the encoder with its task head (inputs ``input_ids`` and
``attention_mask``, int64 (B, T); output ``logits``: (B, T, V) for a masked LM, (B, C) for a classifier),
batch and sequence length dynamic up to the model's longest sequence.

The dynamo exporter (``torch.export``) is the one that keeps every op's graph valid for every length (the
TorchScript tracer bakes the traced length into the span convolutions' and blocks' shapes); the ops avoid
value- and length-dependent shortcuts while it traces (``search_space/ops/functional.py: exporting``). It
traces on a length that no block count divides, so no reshape is specialised to a divisible length. After the
export, onnxruntime's outputs are compared with torch's on padded batches at two lengths, and both are timed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import statistics
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

PARITY_ATOL = 1e-4
EXPORTER_LOGGERS = ("torch.onnx", "torch.export", "torch._export", "torch.fx", "onnxscript", "onnx_ir")
FILE = "model.onnx"


class WithMask(nn.Module):
    """The exported signature: (input_ids, attention_mask) -> logits."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids, attention_mask)


def trace_length(max_len: int) -> int:
    """The longest prime length <= max_len (at most 61): a block count b > 1 divides no such length unless b is
    the length itself, so the traced graph pads every blockwise op as any length needs."""
    def prime(n: int) -> bool:
        return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))

    return next((n for n in range(min(max_len, 61), 1, -1) if prime(n)), max_len)


def padded_batch(vocab_size: int, length: int, rows: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids (no special token) and an attention mask: row 0 full, the others right-padded."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab_size, (rows, length), generator=generator)  # (rows, length)
    mask = torch.ones(rows, length, dtype=torch.long)
    for row in range(1, rows):
        mask[row, max(1, length * (rows - row) // rows):] = 0
    return ids, mask


def export_onnx(model: nn.Module, path: Path) -> None:
    """Write ``path`` (the exporter's messages kept off the terminal)."""
    encoder = model.encoder
    ids, mask = padded_batch(encoder.embed.num_embeddings, trace_length(encoder.max_len), rows=2)
    dims = {0: torch.export.Dim("batch", min=1, max=1 << 16), 1: torch.export.Dim("length", min=1, max=encoder.max_len)}
    with quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(WithMask(model).eval(), (ids, mask), dynamo=True, dynamic_shapes=(dims, dims),
                                    input_names=["input_ids", "attention_mask"], output_names=["logits"],
                                    verbose=False)
        program.save(str(path))


@contextlib.contextmanager
def quiet_exporter() -> Iterator[None]:
    """The exporter's and its optimizer's progress messages (prints, log records, warnings) kept off the
    terminal; errors still raise."""
    loggers = [logging.getLogger(name) for name in EXPORTER_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def parity(model: nn.Module, sess, lengths: list[int]) -> dict[int, float]:
    """Largest |onnxruntime - torch| of the logits at each length, on a padded batch."""
    worst = {}
    for length in lengths:
        ids, mask = padded_batch(model.encoder.embed.num_embeddings, length, seed=length)
        with torch.no_grad():
            expected = model(ids, mask).numpy()
        got = sess.run(["logits"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
        worst[length] = float(abs(got - expected).max())
    return worst


@dataclass(frozen=True)
class Latency:
    batch: int
    length: int
    threads: int
    runs: int
    torch_ms: float
    onnxruntime_ms: float

    def line(self) -> str:
        return (f"latency (batch {self.batch} x {self.length} tokens, {self.threads} threads, median of {self.runs} "
                f"runs): torch {self.torch_ms:.1f} ms, onnxruntime {self.onnxruntime_ms:.1f} ms "
                f"({self.onnxruntime_ms / self.torch_ms:.2f}x)")


def latency(model: nn.Module, sess, batch: int, length: int, runs: int) -> Latency:
    """Median forward time of torch (eager, inference mode) and onnxruntime on the same full batch, alternated
    run by run so both see the same machine."""
    ids, mask = padded_batch(model.encoder.embed.num_embeddings, length, rows=batch)
    mask.fill_(1)
    feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
    timings: dict[str, list[float]] = {"torch": [], "onnxruntime": []}
    with torch.inference_mode():
        for run in range(runs + 1):  # the first round warms both up
            for name, call in (("torch", lambda: model(ids, mask)), ("onnxruntime", lambda: sess.run(None, feed))):
                start = time.perf_counter()
                call()
                if run:
                    timings[name].append((time.perf_counter() - start) * 1000)
    return Latency(batch, length, torch.get_num_threads(), runs, statistics.median(timings["torch"]),
                   statistics.median(timings["onnxruntime"]))


def write_onnx(model: nn.Module, folder: Path, batch: int, runs: int) -> dict:
    """model.onnx in ``folder``, checked and timed; returns the report (parity per length, latency)."""
    model = model.eval()
    path = folder / FILE
    export_onnx(model, path)
    sess = session(path, torch.get_num_threads())
    max_len = model.encoder.max_len
    worst = parity(model, sess, sorted({max_len, max(2, max_len // 2 + 1)}))
    if max(worst.values()) > PARITY_ATOL:
        raise ExportFailed(f"onnxruntime's logits differ from torch's by {max(worst.values()):.2e} (more than "
                           f"{PARITY_ATOL:g}) at lengths {', '.join(map(str, worst))}")
    timed = latency(model, sess, batch, max_len, runs)
    return {"file": FILE, "inputs": ["input_ids", "attention_mask"], "outputs": ["logits"],
            "parity_max_abs": {str(k): v for k, v in worst.items()}, "latency": timed.__dict__, "line": timed.line()}


class ExportFailed(RuntimeError):
    """The exported graph does not compute what the model does."""
