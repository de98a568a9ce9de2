"""Classification metrics from a confusion matrix, defined as GLUE and scikit-learn define them.

torchmetrics' ``MulticlassMatthewsCorrCoef`` gives a small non-zero value (e.g. 0.036) for a model that
predicts one class for every example, which made constant predictors look like weak signal; here the
Matthews correlation of a constant predictor (or of constant labels) is 0, as in
``sklearn.metrics.matthews_corrcoef``.
"""

from __future__ import annotations

# The validation metrics each task reports and the direction in which each is better. ``task.objective``
# names one of them; ``objectives=[...]`` names them as val_<name> (val_loss is the task's loss).
TASK_METRICS = {
    "mlm": {"val/mlm_loss": "minimize", "val/mlm_acc": "maximize", "val/ppl": "minimize"},
    "classify": {"val/loss": "minimize", "val/acc": "maximize", "val/mcc": "maximize", "val/f1": "maximize"},
}
TASK_METRICS["pretrain_finetune"] = TASK_METRICS["classify"]
# regression (task=regress): the mean squared error (its loss) and the correlations GLUE reports for STS-B
TASK_METRICS["regress"] = {"val/mse": "minimize", "val/pearson": "maximize", "val/spearman": "maximize"}

# What a predictor that ignores the input scores on each metric, logged beside it
REFERENCES = {"val/mlm_loss": "val/unigram_loss", "val/acc": "val/majority_acc", "val/mcc": "val/majority_mcc",
              "val/f1": "val/majority_f1", "val/loss": "val/majority_loss",
              # regression: predicting the training mean (its squared error; correlation 0)
              "val/mse": "val/mean_mse", "val/pearson": "val/mean_pearson", "val/spearman": "val/mean_spearman"}


def objective_names(task: str) -> dict[str, str]:
    """``objectives=[...]`` names of a task's metrics: val_loss, val_acc, val_mcc... -> val/<metric> (val_loss is
    regression's val/mse too)."""
    names = {"val_" + key.removeprefix("val/").removeprefix("mlm_"): key for key in TASK_METRICS[task]}
    return {**names, "val_loss": "val/mse"} if "val/mse" in TASK_METRICS[task] else names


DIRECTIONS = {name.split("/", 1)[1]: d for metrics in TASK_METRICS.values() for name, d in metrics.items()}


def reference_of(metric: str) -> str | None:
    """The input-blind reference logged beside ``metric`` on the same split: ``val/acc`` ->
    ``val/majority_acc``, ``test/mlm_loss`` -> ``test/unigram_loss``; None where there is none."""
    split, _, name = metric.partition("/")
    reference = REFERENCES.get(f"val/{name}")
    return f"{split}/{reference.split('/', 1)[1]}" if reference else None


def reference_label(reference: str) -> str:
    """What the reference is, in words."""
    if "mean_" in reference:
        return "training mean"
    return "unigram model" if "unigram" in reference else "majority class"


def reference_text(reference: str, value: str, classes: dict | None = None) -> str:
    """``majority class 0.6959``, or with named classes (``classes``: ``{"names", "majority"}``) the class:
    ``majority class `entailment`: 0.5270``."""
    label = reference_label(reference)
    # the loss's reference predicts the training frequencies, not one class
    if classes and classes.get("majority") is not None and label == "majority class" and "loss" not in reference:
        return f"{label} `{classes['majority']}`: {value}"
    return f"{label} {value}"


def beats(metric: str, value: float, reference: float) -> bool:
    """Whether ``value`` of ``metric`` is strictly better than its reference (the metric's direction)."""
    better = DIRECTIONS.get(metric.split("/", 1)[-1], "minimize")
    return value > reference if better == "maximize" else value < reference


def with_reference(metrics: dict[str, float], metric: str, fmt=lambda v: f"{v:.4f}",
                   classes: dict | None = None) -> str:
    """``0.6533 (majority class 0.6959; not better)``: a value beside its input-blind reference, flagged when
    it does not beat it (``classes``: named classes, see :func:`reference_text`)."""
    value = metrics.get(metric)
    if value is None:
        return "-"
    reference = reference_of(metric)
    if reference is None or reference not in metrics:
        return fmt(value)
    ref = metrics[reference]
    verdict = "" if beats(metric, value, ref) else "; not better"
    return f"{fmt(value)} ({reference_text(reference, fmt(ref), classes)}{verdict})"


def per_class_text(metrics: dict[str, float], split: str, classes: dict | None = None,
                   fmt=lambda v: f"{v:.4f}") -> str | None:
    """Each class's recall on ``split`` (val, test): ```entailment` 0.8100, `not_entailment` 0.4000`` (the
    class index where the classes have no names); None when the run logged none."""
    prefix = f"{split}/recall_"
    found = sorted((int(k.removeprefix(prefix)), v) for k, v in metrics.items()
                   if k.startswith(prefix) and k.removeprefix(prefix).isdigit())
    if not found:
        return None
    names = (classes or {}).get("names") or []
    return ", ".join(f"`{names[c] if c < len(names) else c}` {fmt(v)}" for c, v in found)


def flags(metrics: dict[str, float], objective: str | None = None) -> list[str]:
    """What a result's numbers say about the run itself: ``constant predictor`` when every validation
    example got the same class (its accuracy is the majority class's, not signal); for the ``objective``
    (and its test split) a value that does not beat its input-blind reference; a masked LM above the
    context-free loss has not learned to use context yet, nor has a pre-training phase that ends there."""
    out = []
    if metrics.get("val/predicted_classes") == 1:
        out.append("constant predictor")
    for name in (objective, f"test/{objective.split('/', 1)[1]}" if objective else None):
        reference = reference_of(name) if name else None
        if reference and name in metrics and reference in metrics and not beats(name, metrics[name],
                                                                                 metrics[reference]):
            out.append(f"{name} not better than the {reference_label(reference)}")
    if _above(metrics, "val/mlm_loss", "val/context_free_loss"):
        out.append("not yet using context")
    if _above(metrics, "pretrain/mlm_loss", "pretrain/context_free_loss"):
        out.append(PRETRAIN_FLAG)
    return out


PRETRAIN_FLAG = "pre-training did not beat the context-free reference"


def _above(metrics: dict[str, float], loss: str, floor: str) -> bool:
    return loss in metrics and floor in metrics and metrics[loss] >= metrics[floor]
