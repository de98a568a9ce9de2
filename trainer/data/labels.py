"""Class labels: what a labelled file gives (class indices ``0``, ``1``, or class names such as ``entailment``)
and the class indices a classifier predicts.

The mapping is built from the training split and applied to every split:

- every training label an integer: the labels are the class indices, as today; ``data.label_names`` (or the
  names a Hugging Face ``ClassLabel`` column declares) name them, class i being the i-th name;
- labels given as names: class i is the i-th of their sorted names, or of ``data.label_names`` when it gives
  the order (which also makes its last class, class 1 of two, the positive class of F1).

A validation or test label the mapping does not have is a one-line error naming it, its file and line, and
the classes there are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LabelMap:
    """``names``: class i's name (None: indices without names); ``by_name``: the files give names, not indices."""

    names: tuple[str, ...] | None = None
    by_name: bool = False

    def to_dict(self) -> dict:
        return {"names": None if self.names is None else list(self.names), "by_name": self.by_name}

    @classmethod
    def from_dict(cls, data: dict) -> LabelMap:
        names = data["names"]
        return cls(None if names is None else tuple(str(n) for n in names), bool(data["by_name"]))

    def name(self, index: int) -> str:
        """Class ``index``'s name, or the index itself as text when the classes have no names."""
        return self.names[index] if self.names and 0 <= index < len(self.names) else str(index)

    def class_ids(self, labels: Sequence[int | str], lines: Sequence[int], source: str, unit: str,
                  classes: str) -> list[int]:
        """``labels`` (as read from ``source``; ``lines`` say where) as class ids; a label that is not a class
        is a one-line error naming it, where it is, ``classes`` (where the classes come from) and the classes."""
        if self.by_name:
            index = {name: i for i, name in enumerate(self.names)}
            ids = [index.get(str(label), -1) for label in labels]
        else:  # indices: without names any index passes here (the data module checks them against training)
            limit = len(self.names) if self.names else None
            ids = [label if isinstance(label, int) and (limit is None or label < limit) else -1 for label in labels]
        if -1 in ids:
            at = ids.index(-1)
            raise ValueError(f"label {labels[at]!r} in {source} {unit} {lines[at]} is not a class of {classes}; "
                             f"allowed: {self.allowed()}")
        return ids

    def allowed(self) -> str:
        """The labels a file may give, for messages."""
        if self.by_name:
            return ", ".join(self.names)
        if self.names:
            return f"class indices 0..{len(self.names) - 1} ({', '.join(f'{i} {n}' for i, n in enumerate(self.names))})"
        return "class indices (integers)"


def build(labels: Sequence[int | str], lines: Sequence[int], source: str, unit: str,
          label_names: Sequence[str] | None = None, declared: Sequence[str] | None = None) -> LabelMap:
    """The mapping of a training split whose ``labels`` were read from ``source`` (``lines`` say where):
    ``label_names`` (``data.label_names``) wins over the names a dataset ``declared`` (a ClassLabel column)."""
    indices = [i for i, label in enumerate(labels) if isinstance(label, int)]
    if indices and len(indices) < len(labels):
        named = next(i for i, label in enumerate(labels) if not isinstance(label, int))
        raise ValueError(f"labels of {source} mix class names ({labels[named]!r}, {unit} {lines[named]}) and class "
                         f"indices ({labels[indices[0]]!r}, {unit} {lines[indices[0]]}); allowed: all class indices "
                         "(integers) or all class names")
    given = tuple(label_names) if label_names else None
    if indices or not labels:  # class indices, named by data.label_names or the dataset, or not at all
        names = given or (tuple(declared) if declared else None)
        mapping = LabelMap(names, by_name=False)
        mapping.class_ids(labels, lines, source, unit, "data.label_names" if given else "the dataset's names")
        return mapping
    if given is None:
        names = tuple(sorted(set(labels)))
        if len(names) < 2:
            raise ValueError(f"labels of {source} name one class only ({names[0]!r}); allowed: 2 or more classes, "
                             "or data.label_names listing them all")
        return LabelMap(names, by_name=True)
    known = set(given)
    unknown = next((i for i, label in enumerate(labels) if label not in known), None)
    if unknown is not None:
        raise ValueError(f"label {labels[unknown]!r} in {source} {unit} {lines[unknown]} is not one of "
                         f"data.label_names ({', '.join(given)}); allowed: data.label_names listing every class")
    return LabelMap(given, by_name=True)
