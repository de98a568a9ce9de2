"""What a run trains, by task: ``mlm`` (masked-LM on the data), ``classify`` (a classifier from scratch on
the labelled data), ``regress`` (the same with numbers as labels) and ``pretrain_finetune`` (masked-LM
pre-training, then fine-tuning). Each returns the
fit's outcome, the trained model and its data module, with the input-blind references of every split the
run measured."""

from __future__ import annotations

from layernas.search_space import MaskedLM, SequenceClassifier, add_segments, build_encoder
from layernas.trainer.core.fit import FitContext, Phase, fit
from layernas.trainer.core.module import ClassifierModule, MaskedLMModule
from layernas.trainer.core.regression import RegressorModule
from layernas.trainer.data import ClassificationDataModule, MLMDataModule
from layernas.trainer.data.regression import RegressionDataModule
from layernas.trainer.plan.metrics import PRETRAIN_FLAG
from layernas.trainer.plan.run import RunPlan


def _encoder(arch, plan: RunPlan, vocab_size: int, seq_len: int):
    encoder = build_encoder(arch, vocab_size, seq_len, plan.model)
    if plan.trainer.compile:
        encoder.compile()  # in place: the weights keep their names (export, load_retrained)
    return encoder


def run_mlm(arch, plan: RunPlan, ctx: FitContext, max_steps: int | None = None):
    pretraining = plan.task.name != "mlm"
    dm = MLMDataModule(plan.data, plan.seed, mask_prob=plan.task.mask_prob)
    dm.setup("fit")
    steps = max_steps or plan.trainer.max_steps
    module = MaskedLMModule(MaskedLM(_encoder(arch, plan, dm.vocab_size, dm.data.seq_len)), plan.trainer.optim, steps)
    phase = fit(ctx, module, dm, steps, "val/mlm_loss" if pretraining else plan.task.objective,
                trial=None if pretraining else ctx.trial, label="pretrain" if pretraining else "mlm")
    add_references(phase, dm, ctx)
    return phase, module.model, dm


def run_classify(arch, plan: RunPlan, ctx: FitContext, encoder=None, tokenizer=None, offset: int = 0):
    """A classifier (a regressor for ``task=regress``) on the labelled data: a new encoder, or ``encoder`` (a
    pre-trained one, given segment embeddings when the plan's model has them) with its ``tokenizer``."""
    data = plan.labelled_data
    regress = plan.task.name == "regress"
    dm = (RegressionDataModule if regress else ClassificationDataModule)(data, plan.seed, tokenizer=tokenizer)
    dm.setup("fit")
    if encoder is not None and plan.model.segments:
        add_segments(encoder)
    model = SequenceClassifier(encoder or _encoder(arch, plan, dm.vocab_size, data.seq_len), dm.n_classes,
                               plan.task.pooling)
    module = (RegressorModule(model, plan.trainer.optim, plan.trainer.max_steps) if regress else
              ClassifierModule(model, plan.trainer.optim, plan.trainer.max_steps, dm.n_classes))
    phase = fit(ctx, module, dm, plan.trainer.max_steps, plan.task.objective, ctx.trial, offset,
                label="finetune" if offset else plan.task.name)
    add_references(phase, dm, ctx)
    return phase, model, dm


def add_references(phase: Phase, dm, ctx: FitContext) -> None:
    """What input-blind predictors score on the examples each split's metrics come from (see
    ``dm.references``): the validation batches the run validated on, the proxy's slice, the test split."""
    phase.metrics.update(dm.references("val", ctx.tcfg.limit_val_batches))
    for split, limit in (("val_slice", ctx.val_slice), ("test", None)):
        if any(k.startswith(f"{split}/") for k in phase.metrics):
            phase.metrics.update(dm.references(split, limit))


def run_pretrain_finetune(arch, plan: RunPlan, ctx: FitContext):
    pre, mlm, dm = run_mlm(arch, plan, ctx, max_steps=plan.task.pretrain_steps)
    if pre.reason:
        return pre, mlm, dm
    loss, floor = pre.metrics.get("val/mlm_loss"), pre.metrics.get("val/context_free_loss")
    if loss is not None and floor is not None and loss >= floor:
        print(f"note: {PRETRAIN_FLAG} (val/mlm_loss {loss:.4f} against {floor:.4f} for a predictor that sees only "
              f"each token itself; unigram {pre.metrics['val/unigram_loss']:.4f}): fine-tuning starts from an "
              "encoder that does not use context yet", flush=True)
    fine, model, dm = run_classify(arch, plan, ctx, encoder=mlm.encoder, tokenizer=dm.tokenizer, offset=pre.steps)
    fine.metrics.update({f"pretrain/{k.split('/', 1)[1]}": v for k, v in pre.metrics.items()})
    fine.steps += pre.steps
    return fine, model, dm


RUNNERS = {"mlm": run_mlm, "classify": run_classify, "regress": run_classify,
           "pretrain_finetune": run_pretrain_finetune}
