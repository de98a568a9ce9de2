"""Fault injection: a trial that raises, one whose loss turns NaN and one that runs out of memory are each
recorded with their reason; the search goes on and the report lists them."""

import optuna
import torch

from layernas.search_space.ops.feedforward import FeedForward
from layernas.trainer.apps.search import search as run_search

REASONS = {1: "RuntimeError: injected failure", 2: "training loss became nan at step 1",
           3: "OutOfMemoryError: CUDA out of memory (simulated)"}


def faulty_forward(original):
    def forward(self, x, mask=None):
        r = self.up.out_features // self.up.in_features
        if r == 1:
            raise RuntimeError("injected failure")
        if r == 3:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        out = original(self, x, mask)
        return out * float("nan") if r == 2 else out

    return forward


def test_failing_trials_are_recorded_with_their_reason_and_the_search_goes_on(search_cfg, monkeypatch, tmp_path):
    monkeypatch.setattr(FeedForward, "forward", faulty_forward(FeedForward.forward))
    cfg = search_cfg("space=bert", "space.domains={h:[4],r:[1,2,3,4]}", "space.baselines=[]", "study.n_trials=4",
                     "sampler=random")
    from layernas.trainer.search.plan import plan_search
    from layernas.trainer.search.study import open_study

    study = open_study(plan_search(cfg))
    for r in (1, 2, 3, 4):
        study.enqueue_trial({"l01.r": r - 1})  # ordered keys are suggested by their position in the domain
    study = run_search(cfg)
    states = {t.params["l01.r"] + 1: (t.state, t.user_attrs.get("reason")) for t in study.trials}
    for r, reason in REASONS.items():
        assert states[r] == (optuna.trial.TrialState.FAIL, reason)
    assert states[4][0] == optuna.trial.TrialState.COMPLETE
    report = (tmp_path / "results" / "t" / "report.md").read_text()
    for reason in REASONS.values():
        assert reason in report
