"""A tiny folder in GLUE's original layout: the first rows of the real MRPC, STS-B and SST-2 files of the shared
data (MRPC's byte-order mark and the unbalanced quotes of its sentences kept), and rows written in the real
layout of the tasks the shared data lacks (CoLA without a header, MNLI's many columns and two dev files, ...)."""

from __future__ import annotations

from pathlib import Path

from tests.data_helpers import SHARED_DATA

GLUE = SHARED_DATA / "glue"
ROWS = 40  # per file: enough for a few batches of 8

WRITTEN = {  # task folder: (header or None, a row template of i)
    "CoLA": (None, "gj04\t{label}\t{star}\tsentence {i} of the acceptability corpus , number {i} ."),
    "QQP": ("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate",
            "{i}\t{q1}\t{q2}\thow do i learn \"python\" fast {i} ?\t"
            "what is the fastest way to learn python {i} ?\t{label}"),
    "QNLI": ("index\tquestion\tsentence\tlabel",
             "{i}\twhen did the war {i} end ?\tthe war {i} ended in 1945 .\t{name}"),
    "RTE": ("index\tsentence1\tsentence2\tlabel",
            "{i}\ta man {i} walks a dog in the park .\ta man {i} is outside .\t{name}"),
    "WNLI": ("index\tsentence1\tsentence2\tlabel",
             "{i}\tthe trophy {i} does not fit in the case because it is too big .\t"
             "the trophy {i} is too big .\t{label}"),
}
MNLI_TRAIN = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
              "sentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label")
MNLI_DEV = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
            "sentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label")
MNLI_CLASSES = ("entailment", "neutral", "contradiction")


def _head(source: Path, target: Path, rows: int = ROWS) -> None:
    """The first ``rows`` lines after the header, bytes as they are (a BOM included)."""
    with open(source, "rb") as f:
        lines = [f.readline() for _ in range(rows + 1)]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"".join(lines))


def _written(folder: Path, task: str, name: str, offset: int) -> None:
    header, row = WRITTEN[task]
    lines = [] if header is None else [header]
    for i in range(offset, offset + ROWS):
        label = i % 2
        lines.append(row.format(i=i, label=label, star="" if label else "*", q1=2 * i, q2=2 * i + 1,
                                name="entailment" if label else "not_entailment"))
    (folder / task).mkdir(parents=True, exist_ok=True)
    (folder / task / name).write_text("\n".join(lines) + "\n")


def _mnli(folder: Path, name: str, header: str, votes: int, offset: int) -> None:
    lines = [header]
    for i in range(offset, offset + ROWS):
        gold = MNLI_CLASSES[i % 3]
        parse = f"( ( the cat {i} ) ( sat . ) )"
        lines.append("\t".join([str(i), str(1000 + i), f"{1000 + i}e", "fiction", parse, parse, f"(ROOT {parse})",
                                f"(ROOT {parse})", f"the cat {i} sat on the mat .", f"a cat {i} sat .",
                                *[gold] * votes, gold]))
    (folder / "MNLI").mkdir(parents=True, exist_ok=True)
    (folder / "MNLI" / name).write_text("\n".join(lines) + "\n")


def glue_folder(root: Path) -> Path:
    """Every GLUE task's train and dev files in GLUE's layout under ``root/glue``."""
    folder = root / "glue"
    for task in ("MRPC", "STS-B", "SST-2"):
        for name in ("train.tsv", "dev.tsv"):
            _head(GLUE / task / name, folder / task / name)
    for task in WRITTEN:
        _written(folder, task, "train.tsv", 0)
        _written(folder, task, "dev.tsv", 1000)
    _mnli(folder, "train.tsv", MNLI_TRAIN, 1, 0)
    _mnli(folder, "dev_matched.tsv", MNLI_DEV, 5, 1000)
    _mnli(folder, "dev_mismatched.tsv", MNLI_DEV, 5, 2000)
    return folder
